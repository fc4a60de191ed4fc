"""The encoding every search space gives the predictive search's predictor (``SearchSpace.features``): one row per
genome, the same for every vector of one genome, blind to inactive genes, and telling networks apart."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eeea.spaces import get_space, list_spaces

SPACES = list_spaces()


def _vectors(space, seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([space.sample(rng) for _ in range(n)])


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(SPACES), seed=st.integers(0, 2**32 - 1))
def test_features_depend_only_on_the_genome(name, seed):
    """A vector and its genome's canonical vector (inactive genes zeroed) encode alike; so does the vector with its
    inactive genes redrawn, and each row is encoded as it is in a batch."""
    space = get_space(name)
    X = _vectors(space, seed, 6)
    Z = space.features(X)
    assert Z.shape[0] == 6 and Z.dtype == np.float32 and np.isfinite(Z).all()
    canonical = np.array([space.encode(space.decode(x)) for x in X])
    np.testing.assert_array_equal(space.features(canonical), Z)
    rng = np.random.default_rng(seed)
    noisy = np.where(space.active_genes(X), X, rng.integers(space.xl, space.xu + 1, size=X.shape))
    assert all(space.decode(a) == space.decode(b) for a, b in zip(noisy, X))
    np.testing.assert_array_equal(space.features(noisy), Z)
    np.testing.assert_array_equal(space.features(X[2]), Z[2:3])


@pytest.mark.parametrize("name", SPACES)
def test_distinct_genomes_get_distinct_features(name):
    space = get_space(name)
    X = _vectors(space, 0, 200)
    keys = [space.decode(x).key for x in X]
    rows = {space.features(x).tobytes() for x in X}
    assert len(rows) == len(set(keys))


def test_a_user_cell_space_has_an_encoding(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("name: tiny\nkind: cell\nops: [skip_connect, sep_conv_3x3, max_pool_3x3]\nblocks: 2\n")
    space = get_space(str(path))
    X = _vectors(space, 1, 10)
    Z = space.features(X)
    # per gene one-hot (2 cells x 2 blocks x (op of 3, input of 2 or 3)), then each cell's op shares (2 x 3)
    assert Z.shape == (10, 2 * (2 * (3 + 2) + 2 * (3 + 3)) + 6)
    assert np.allclose(Z[:, -6:].reshape(10, 2, 3).sum(axis=2), 1.0)


def test_nb201_features_say_which_paths_carry_the_input():
    space = get_space("nb201")
    ops = ["none", "none", "none", "skip_connect", "none", "none"]  # only the direct edge 0 -> 3
    z = space.features(space.encode(space.from_benchmark(
        "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")))[0]
    assert space.ops_of(space.from_benchmark("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")) == ops
    paths = z[30 + 5:].reshape(4, 5)  # after 6 one-hot edges of 5 ops and the 5 op shares
    assert paths[:, 0].tolist() == [1, 0, 0, 0]  # alive: the direct path only
    assert paths[0].tolist() == [1, 1, 0, 0, 0]  # ... and it is all skip
