"""The mobilenet_audio space: MobileNetV3 students on log-mel with the front end inside the model. Every sampled
genome builds and runs on raw audio of any length, counts exactly without building, round-trips its encoding, and
exports to ONNX that agrees with torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eeea import Genome, GenomeError, UserError, get_space
from eeea.models.specs import profile_macs
from eeea.export import export, run_onnx
from strategies import assert_round_trips, genomes

torch.set_num_threads(1)
SPACE = get_space("mobilenet_audio")
SECONDS = 0.3  # short clips keep the property tests fast; counts at 5 s are tested on the fixed-shape walk


@settings(max_examples=25, deadline=None)
@given(genome=genomes("mobilenet_audio"), samples=st.sampled_from([1200, 4001, 16000]))
def test_sampled_genomes_build_run_on_raw_audio_and_count_exactly(genome, samples):
    model = SPACE.build(genome).eval()
    assert SPACE.count_params(genome) == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        out = model(torch.randn(2, samples))
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    x = torch.randn(1, SPACE.input_shape(seconds=SECONDS)[0])
    assert SPACE.count_macs(genome, seconds=SECONDS) == profile_macs(model, x)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_encoding_and_text_round_trip(seed):
    assert_round_trips(SPACE, seed)


def test_many_members_fit_wav2small_size_and_the_layout_follows_the_genes():
    rng = np.random.default_rng(0)
    params = [SPACE.count_params(SPACE.random_genome(rng)) for _ in range(200)]
    assert np.mean(np.array(params) <= 72_000) > 0.3
    small = Genome("mobilenet_audio", {"mels": 32, "hop": 64, "width": 0.5, "depths": [1, 1, 1, 1],
                                       "kernels": [3, 3, 3, 3], "expansions": [2, 2, 2, 2]})
    wide = Genome("mobilenet_audio", {**small.arch, "width": 1.0})
    assert SPACE.count_params(small) < SPACE.count_params(wide)
    model = SPACE.build(small)
    assert model.front is not None and model.stem[0][0].in_channels == 1 and model.classifier[1].out_features == 3
    assert [b.project[0].out_channels for b in model.blocks] == [8, 16, 24, 24]  # 16/24/40/48 x 0.5, multiples of 8
    assert model.front[1].hop == 64 and model.front[2].filterbank.shape == (33, 32)
    # the frame rate changes MACs, not parameters
    faster = Genome("mobilenet_audio", {**small.arch, "hop": 32})
    assert SPACE.count_params(faster) == SPACE.count_params(small)
    assert SPACE.count_macs(faster) > 1.8 * SPACE.count_macs(small)
    assert "log-mel, 32 bands" in "\n".join(SPACE.describe(small))


def test_onnx_export_takes_raw_audio_and_matches_torch(tmp_path):
    genome = SPACE.random_genome(np.random.default_rng(3))
    torch.manual_seed(0)
    model = SPACE.build(genome).eval()
    report = export(model, SPACE.input_shape(), tmp_path / "m.onnx", "onnx")
    assert report.max_abs_diff < 1e-3
    x = np.random.default_rng(1).standard_normal((1, 23456)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", [x]), expected, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("field, value, message", [
    ("width", 0.6, "width: 0.6 is not a choice"),
    ("hop", 16, "hop: 16 is not a choice"),
    ("depths", [1, 2, 3], "depths: expected 4 values"),
    ("kernels", [3, 3, 3, 9], r"kernels\[3\]: 9 is not one of"),
])
def test_bad_genomes_name_the_field(field, value, message):
    arch = {"mels": 32, "hop": 64, "width": 0.5, "depths": [1, 1, 1, 1], "kernels": [3] * 4, "expansions": [2] * 4}
    with pytest.raises(GenomeError, match=message):
        SPACE.validate(Genome("mobilenet_audio", {**arch, field: value}))
    with pytest.raises(UserError, match="unknown size option 'num_classes'"):
        SPACE.count_params(Genome("mobilenet_audio", arch), num_classes=3)
