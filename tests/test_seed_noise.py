"""SeedNoise: how far a score measured through training noise can rank candidates (bench_ser_rank's ceiling)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import pearsonr

from eeea.search.quality import SeedNoise


def _draw(rng, students, seeds, between, noise):
    true = rng.normal(0.5, between, size=students)
    return true, true[:, None] + rng.normal(0.0, noise, size=(students, seeds))


def test_the_components_are_recovered_from_candidates_times_seeds():
    rng = np.random.default_rng(0)
    _, scores = _draw(rng, 4000, 3, between=0.008, noise=0.023)
    est = SeedNoise.estimate(scores)
    assert est.between == pytest.approx(0.008, rel=0.1)
    assert est.noise == pytest.approx(0.023, rel=0.03)
    # one training's reliability: 0.008^2 / (0.008^2 + 0.023^2) = 0.108
    assert est.reliability(1) == pytest.approx(0.108, abs=0.02)


def test_the_ceiling_bounds_the_correlation_two_noisy_scores_reach():
    rng = np.random.default_rng(1)
    true, valid = _draw(rng, 5000, 2, between=0.01, noise=0.02)
    test = true[:, None] + rng.normal(0.0, 0.015, size=(5000, 4))
    a, b = SeedNoise.estimate(valid), SeedNoise.estimate(test)
    r = pearsonr(valid.mean(axis=1), test.mean(axis=1)).statistic
    assert a.ceiling(2, b, 4) == pytest.approx(r, abs=0.04)
    assert pearsonr(valid.mean(axis=1), true).statistic == pytest.approx(a.ceiling(2), abs=0.04)


def test_no_true_difference_means_nothing_can_rank():
    rng = np.random.default_rng(2)
    scores = np.full((50, 1), 0.6) + rng.normal(0.0, 0.02, size=(50, 4))
    est = SeedNoise.estimate(scores)
    assert est.between < 0.005 and est.reliability(4) < 0.2


@pytest.mark.parametrize("shape", [(1, 5), (5, 1), (7,)])
def test_too_few_candidates_or_seeds_is_an_error(shape):
    with pytest.raises(ValueError, match="candidates x >= 2 seeds"):
        SeedNoise.estimate(np.zeros(shape))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.integers(2, 5), st.floats(0.0, 0.1), st.floats(0.001, 0.1), st.integers(0, 10**6),
       st.floats(-1, 1), st.floats(0.1, 10))
def test_reliability_is_a_share_that_grows_with_seeds_and_ignores_units(students, seeds, between, noise, seed,
                                                                         shift, scale):
    _, scores = _draw(np.random.default_rng(seed), students, seeds, between, noise)
    est = SeedNoise.estimate(scores)
    rel = [est.reliability(n) for n in (1, 2, 4, 8)]
    assert all(0.0 <= r <= 1.0 for r in rel)
    assert rel == sorted(rel)
    moved = SeedNoise.estimate(scores * scale + shift)
    assert moved.reliability(3) == pytest.approx(est.reliability(3), abs=1e-9)
    assert 0.0 <= est.ceiling(2, moved, 3) <= 1.0
