"""The audio front end: STFT by DFT convolution, log-mel, per-clip normalisation, frozen-weight convention."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from eeea import count_macs, count_params, create_model, resolve_genome
from eeea.models.audio import DFTPower, LogMelFrontEnd, mel_filterbank, num_frames
from eeea.models.specs import profile_macs

torch.set_num_threads(1)


def test_dft_conv_equals_torch_stft_power():
    x = torch.randn(2, 1600, dtype=torch.float32)
    ours = DFTPower(64, 64, 32)(x)
    ref = torch.stft(x, 64, hop_length=32, win_length=64, window=torch.hann_window(64), center=False,
                     return_complex=True).abs() ** 2
    assert ours.shape == ref.shape == (2, 33, num_frames(1600, 64, 32))
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


def test_mel_filterbank_matches_a_direct_htk_reference():
    fb = mel_filterbank(64, 26, 16000, 0.0, 8000.0).numpy()
    mel = lambda f: 2595 * math.log10(1 + f / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    edges = [hz(mel(8000) * i / 27) for i in range(28)]
    ref = np.zeros((33, 26))
    for b in range(33):
        f = b * 8000 / 32
        for m in range(26):
            lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
            ref[b, m] = max(0.0, min((f - lo) / (c - lo), (hi - f) / (hi - c)))
    np.testing.assert_allclose(fb, ref, rtol=0, atol=1e-5)


def test_front_end_shape_floor_and_per_clip_normalisation():
    front = LogMelFrontEnd().eval()
    x = torch.randn(3, 16000)
    out = front(x)
    assert out.shape == (3, 1, 499, 26)  # 500 frames per second at hop 32 (250 after the first max-pool)
    # per-clip normalisation: gain and offset of a clip do not change the features
    torch.testing.assert_close(front(5 * x + 0.3), out, rtol=1e-3, atol=1e-3)
    # log floor: silence is 10 log10(1e-10) = -100 dB
    assert torch.all(front(torch.zeros(1, 640)) == -100.0)


def test_wav2small_17k_trainable_and_frozen_counts():
    """Convention: frozen weights (DFT kernels, mel filterbank) are buffers; count_params counts nn.Parameters only."""
    genome = resolve_genome("wav2small_17k")
    model = create_model("wav2small_17k")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert count_params(genome) == trainable == sum(p.numel() for p in model.parameters()) == 10_806
    assert trainable + model.front.frozen_size == 15_030  # the card's figure "with the frozen DFT weights"
    assert "front.1.kernel" in model.state_dict()


def test_wav2small_17k_macs_per_5s():
    genome = resolve_genome("wav2small_17k")
    model = create_model("wav2small_17k").eval()
    macs = count_macs(genome)
    assert macs == profile_macs(model, torch.zeros(1, 80_000))
    assert 0.30e9 < macs < 0.34e9  # the card: about 0.32 G MACs per 5 s


def test_wav2small_runs_on_raw_audio_in_train_and_eval():
    model = create_model("wav2small_17k")
    out = model(torch.randn(4, 8000))
    assert out.shape == (4, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.front[1].kernel.grad is None
    with pytest.raises(RuntimeError):
        model(torch.randn(1, 32))  # shorter than one STFT frame
