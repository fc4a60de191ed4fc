"""The wav2small space: every sampled genome builds, runs on raw audio, and counts exactly without building."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import assert_round_trips

from eeea import Genome, GenomeError, get_space, resolve_genome
from eeea.models.specs import profile_macs

torch.set_num_threads(1)
SPACE = get_space("wav2small")
SECONDS = 0.25  # short clips keep the property tests fast; the counts scale the same way


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_sampled_genomes_build_run_and_count_exactly(seed):
    genome = SPACE.random_genome(np.random.default_rng(seed))
    model = SPACE.build(genome, seconds=SECONDS).eval()
    x = torch.randn(2, SPACE.input_shape(seconds=SECONDS)[0])
    with torch.no_grad():
        assert model(x).shape == (2, 3)
    assert SPACE.count_params(genome) == sum(p.numel() for p in model.parameters())
    assert SPACE.count_macs(genome, seconds=SECONDS) == profile_macs(model, x[:1])


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_encoding_and_text_round_trip(seed):
    assert_round_trips(SPACE, seed)


def test_public_layout_is_a_point_of_the_space():
    genome = resolve_genome("wav2small_17k")
    assert SPACE.decode(SPACE.encode(genome)) == genome
    assert "max-pool" in "\n".join(SPACE.describe(genome))


@pytest.mark.parametrize("field, value, message", [
    ("mels", 27, "mels: 27 is not one of"),
    ("kernels", [3] * 6, "kernels: expected 7 values"),
    ("pool", [0, 0, 2, 0, 0, 0, 0], "pool[2]: 2 is not one of"),
    ("head", "max", "head: 'max' is not one of"),
    ("channels", [13.0] * 7, "channels[0]: 13.0 is not one of"),
])
def test_bad_genomes_name_the_field(field, value, message):
    arch = dict(resolve_genome("wav2small_17k").arch)
    arch[field] = value
    with pytest.raises(GenomeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        SPACE.validate(Genome("wav2small", arch))


def test_heads_change_the_classifier_width():
    base = dict(resolve_genome("wav2small_17k").arch)
    counts = {h: SPACE.count_params(Genome("wav2small", {**base, "head": h})) for h in ("attention_gram", "attention", "mean")}
    assert counts["attention_gram"] - counts["attention"] == 13 * 13 * 3
    assert counts["attention"] - counts["mean"] == 2 * (13 * 13 + 13)
