"""The audio front end that lives inside the model, so an exported network takes raw 16 kHz audio.

``raw audio [batch, samples]`` -> per-clip normalisation -> STFT as a fixed convolution with DFT kernels -> power
spectrum -> mel filterbank -> ``10 log10(max(x, 1e-10))`` -> ``[batch, 1, frames, mels]``.

Frozen weights: the DFT kernels and the mel filterbank are *buffers*, not parameters. They travel with the state dict
and the ONNX file, but ``model.parameters()`` (and therefore ``count_params``) contains only trainable weights. The
public Wav2Small's "15,030 parameters with the frozen DFT weights" is ``count_params + frozen_size`` of this module.

MACs (extending :mod:`eeea.counting`'s convention): the DFT convolution costs ``frames x 2 bins x n_fft``, the mel
projection ``frames x bins x mels``, and a Gram matrix ``C x C x F``; elementwise work (normalisation, power, log,
softmax) costs 0, like ReLU.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .specs import THOP_RULES, Shape, build_module, conv2d_macs, conv_out, register_module


class ClipNorm(nn.Module):
    """Zero mean, unit variance per clip (over the samples axis)."""

    def __init__(self, eps: float = 1e-7) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x - x.mean(dim=-1, keepdim=True)
        # Written with mean(x*x) rather than torch.std so that the ONNX graph is plain ReduceMean/Sqrt.
        return x / (torch.sqrt((x * x).mean(dim=-1, keepdim=True)) + self.eps)


def dft_kernels(n_fft: int, win_length: int) -> torch.Tensor:
    """``[2 * (n_fft // 2 + 1), 1, n_fft]``: windowed cosines then negated sines (real and imaginary parts)."""
    window = torch.zeros(n_fft, dtype=torch.float64)
    left = (n_fft - win_length) // 2  # a shorter window is centred in the frame, as torch.stft does
    window[left : left + win_length] = torch.hann_window(win_length, periodic=True, dtype=torch.float64)
    n = torch.arange(n_fft, dtype=torch.float64)
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    angle = 2 * math.pi * k * n / n_fft
    kernels = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])
    return kernels[:, None, :].float()


class DFTPower(nn.Module):
    """Power spectrogram by a strided Conv1d with frozen DFT kernels: ``[B, N] -> [B, bins, frames]``, no padding."""

    def __init__(self, n_fft: int = 64, win_length: int = 64, hop: int = 32) -> None:
        super().__init__()
        if not 1 <= win_length <= n_fft or hop < 1:
            raise ValueError(f"need 1 <= win_length <= n_fft and hop >= 1, got {win_length}, {n_fft}, {hop}")
        self.n_fft, self.hop, self.bins = n_fft, hop, n_fft // 2 + 1
        self.register_buffer("kernel", dft_kernels(n_fft, win_length))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = F.conv1d(x.unsqueeze(1), self.kernel, stride=self.hop)
        real, imag = spec[:, : self.bins], spec[:, self.bins :]
        return real * real + imag * imag


def hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int, fmin: float, fmax: float) -> torch.Tensor:
    """``[bins, n_mels]`` triangular filters on the HTK mel scale, unnormalised (peak 1), evaluated at the FFT bins."""
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(torch.tensor(fmin))), float(hz_to_mel(torch.tensor(fmax))),
                                     n_mels + 2, dtype=torch.float64))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (freqs[:, None] - lower) / (centre - lower)
    falling = (upper - freqs[:, None]) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


class LogMel(nn.Module):
    """``[B, bins, frames]`` power -> ``[B, 1, frames, mels]`` log-mel in dB, floored at 1e-10 (-100 dB)."""

    def __init__(self, n_fft: int, n_mels: int, sample_rate: int, fmin: float, fmax: float) -> None:
        super().__init__()
        self.register_buffer("filterbank", mel_filterbank(n_fft, n_mels, sample_rate, fmin, fmax))

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        mel = torch.matmul(power.transpose(1, 2), self.filterbank)
        return (10.0 * torch.log10(torch.clamp(mel, min=1e-10))).unsqueeze(1)


class LogMelFrontEnd(nn.Sequential):
    """Raw audio ``[B, samples]`` to log-mel ``[B, 1, frames, mels]``; every weight frozen (buffers)."""

    def __init__(self, n_fft: int = 64, win_length: int = 64, hop: int = 32, n_mels: int = 26,
                 sample_rate: int = 16000, fmin: float = 0.0, fmax: float = 8000.0, eps: float = 1e-7) -> None:
        super().__init__(ClipNorm(eps), DFTPower(n_fft, win_length, hop), LogMel(n_fft, n_mels, sample_rate, fmin, fmax))

    @property
    def frozen_size(self) -> int:
        """Numbers in the DFT kernels (the "frozen weights" of Wav2Small's card; the filterbank is not counted there)."""
        return self[1].kernel.numel()


def num_frames(samples: int, n_fft: int, hop: int) -> int:
    """STFT frames of a clip without padding."""
    return (samples - n_fft) // hop + 1 if samples >= n_fft else 0


class Gram(nn.Module):
    """``[B, C, F] -> [B, C * C]``: the Gram matrix ``M M^T`` of each pooled feature map, flattened."""

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        return torch.matmul(m, m.transpose(1, 2)).flatten(1)


class AttentionPool(nn.Module):
    """Attention over time: a 1x1-conv value branch weighted by the softmax over time of a 1x1-conv score branch.

    ``[B, C, T, F] -> [B, C * F]`` (plus the flattened ``C x C`` Gram matrix when ``gram``).
    """

    def __init__(self, channels: int, gram: bool = True) -> None:
        super().__init__()
        self.value = nn.Conv2d(channels, channels, 1)
        self.score = nn.Conv2d(channels, channels, 1)
        self.gram = Gram() if gram else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(x), dim=2)
        pooled = (self.value(x) * weights).sum(dim=2)
        flat = pooled.flatten(1)
        return torch.cat([flat, self.gram(pooled)], dim=1) if self.gram is not None else flat


class MeanPool(nn.Module):
    """Mean over time: ``[B, C, T, F] -> [B, C * F]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=2).flatten(1)


class ConvBNReLU(nn.Sequential):
    """k x k conv (stride 1, same padding, no bias), BatchNorm, ReLU: one Wav2Small block (fused into one op in ONNX)."""

    def __init__(self, c_in: int, c_out: int, k: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class AudioStudent(nn.Module):
    """``front`` (frozen log-mel) -> ``body`` (conv blocks and pools) -> ``head`` (pooling) -> ``classifier``."""

    #: submodules kept in float when quantising to int8 (the log of a power spectrum does not survive int8)
    float_modules = ("front",)

    def __init__(self, front: tuple, body: list[tuple], head: tuple, classifier: tuple) -> None:
        super().__init__()
        self.front = build_module(front)
        self.body = nn.Sequential(*(build_module(s) for s in body))
        self.head = build_module(head)
        self.classifier = build_module(classifier)

    def forward(self, audio_batch):  # [B, samples] -> [B, outputs]
        return self.classifier(self.head(self.body(self.front(audio_batch))))


# thop rules for the parameter-free matrix products (see the module docstring) --------------------------------------
def _dft_macs(module: DFTPower, inputs: tuple, output: torch.Tensor) -> None:
    batch, bins, frames = output.shape
    module.total_ops += torch.tensor([batch * frames * 2 * bins * module.n_fft], dtype=torch.float64)


def _mel_macs(module: LogMel, inputs: tuple, output: torch.Tensor) -> None:
    bins, mels = module.filterbank.shape
    batch, frames = output.shape[0], output.shape[2]
    module.total_ops += torch.tensor([batch * frames * bins * mels], dtype=torch.float64)


def _gram_macs(module: Gram, inputs: tuple, output: torch.Tensor) -> None:
    batch, c, f = inputs[0].shape
    module.total_ops += torch.tensor([batch * c * c * f], dtype=torch.float64)


THOP_RULES.update({DFTPower: _dft_macs, LogMel: _mel_macs, Gram: _gram_macs})



# Closed-form MACs of each kind (equal to the thop rules above; see eeea.models.specs) --------------------------------
def _log_mel_front_macs(n_fft: int = 64, win_length: int = 64, hop: int = 32, n_mels: int = 26, sample_rate: int = 16000,
                        fmin: float = 0.0, fmax: float = 8000.0, eps: float = 1e-7, in_shape: Shape = ()) -> tuple[int, Shape]:
    frames, bins = num_frames(in_shape[-1], n_fft, hop), n_fft // 2 + 1
    return frames * 2 * bins * n_fft + frames * bins * n_mels, (1, frames, n_mels)


def _conv_bn_relu_macs(c_in: int, c_out: int, k: int, in_shape: Shape) -> tuple[int, Shape]:
    return conv2d_macs(c_in, c_out, k, in_shape, 1, k // 2)


def _max_pool2d_macs(k: int, stride: int | None, padding: int, in_shape: Shape) -> tuple[int, Shape]:
    stride = k if stride is None else stride
    c, h, w = in_shape
    return 0, (c, conv_out(h, k, stride, padding), conv_out(w, k, stride, padding))


def _attention_pool_macs(channels: int, gram: bool = True, in_shape: Shape = ()) -> tuple[int, Shape]:
    c, t, f = in_shape
    macs = 2 * channels * channels * t * f  # value and score 1x1 convs (biases free)
    if gram:
        return macs + c * c * f, (c * f + c * c,)
    return macs, (c * f,)


register_module("log_mel_front", lambda *args: _log_mel_front_macs(*args[:-1], in_shape=args[-1]))(LogMelFrontEnd)
register_module("conv_bn_relu", _conv_bn_relu_macs)(ConvBNReLU)
register_module("max_pool2d", _max_pool2d_macs)(
    lambda k, stride, padding: nn.MaxPool2d(k, stride=stride, padding=padding)
)
register_module("attention_pool", lambda *args: _attention_pool_macs(*args[:-1], in_shape=args[-1]))(AttentionPool)
register_module("mean_pool", lambda shape: (0, (shape[0] * shape[2],)))(MeanPool)
