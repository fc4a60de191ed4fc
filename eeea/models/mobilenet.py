"""MobileNetV3 building blocks and the network they assemble into (Once-for-All layout).

The network is a plain sequence of modules, each described by a hashable spec registered with
:func:`eeea.models.specs.register_module`; residual connections live inside the blocks. :func:`mbv3_net_spec` computes the
layout as data (:class:`MobileNetV3Spec`), :class:`MobileNetV3` builds it, and the exact counters walk the same specs.

The stem's input channels and stride are parameters, and :class:`MobileNetV3` accepts an optional ``front`` module
run before the stem, so a non-image input (for example a log-mel front end over raw audio, giving a 1-channel
spectrogram) reuses the same body unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from .specs import Shape, build_module, conv2d_macs, global_avg_pool_macs, register_module

ACTIVATIONS = ("relu", "h_swish")


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` (at least ``min_value``), never losing over 10 %.

    This is the channel rounding of MobileNetV2/V3 and Once-for-All, so widths match their published models.
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:  # rounding down must not remove more than 10 % of the channels
        rounded += divisor
    return rounded


def activation(name: str) -> nn.Module:
    """``relu`` or ``h_swish`` (x * relu6(x + 3) / 6)."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "h_swish":
        return nn.Hardswish(inplace=True)
    raise ValueError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})")


class SqueezeExcite(nn.Module):
    """Squeeze-and-excite, Once-for-All style: reduction 4, hidden width a multiple of 8, h-sigmoid gate."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = make_divisible(channels // reduction, 8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, hidden, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.expand = nn.Conv2d(hidden, channels, 1, bias=True)
        self.gate = nn.Hardsigmoid(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.relu(self.reduce(self.pool(x)))))


def conv_bn_act(c_in: int, c_out: int, kernel: int, stride: int, act: str) -> nn.Sequential:
    """Bias-free k x k conv ("same" padding), BatchNorm, activation."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        activation(act),
    )


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, k x k depthwise, optional squeeze-excite, linear 1x1 projection.

    The hidden width is ``make_divisible(c_in * expand_ratio, 8)``; with ``expand_ratio == 1`` there is no expansion
    conv (MobileNetV3's first block). The input is added back when the stride is 1 and the widths match.
    """

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, expand_ratio: int, act: str, se: bool
    ) -> None:
        super().__init__()
        hidden = make_divisible(round(c_in * expand_ratio), 8)
        self.residual = stride == 1 and c_in == c_out
        self.expand = conv_bn_act(c_in, hidden, 1, 1, act) if expand_ratio != 1 else None
        self.depthwise = nn.Sequential(
            nn.Conv2d(hidden, hidden, kernel, stride=stride, padding=kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            activation(act),
        )
        self.se = SqueezeExcite(hidden) if se else None
        self.project = nn.Sequential(nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(x) if self.expand is not None else x
        out = self.depthwise(out)
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)
        return x + out if self.residual else out


def _conv_bn_act_macs(c_in: int, c_out: int, kernel: int, stride: int, act: str, in_shape: Shape) -> tuple[int, Shape]:
    return conv2d_macs(c_in, c_out, kernel, in_shape, stride, kernel // 2)


def _mbconv_macs(c_in: int, c_out: int, kernel: int, stride: int, expand_ratio: int, act: str, se: bool,
                 in_shape: Shape) -> tuple[int, Shape]:
    hidden = make_divisible(round(c_in * expand_ratio), 8)
    total, shape = conv2d_macs(c_in, hidden, 1, in_shape) if expand_ratio != 1 else (0, in_shape)
    macs, shape = conv2d_macs(hidden, hidden, kernel, shape, stride, kernel // 2, groups=hidden)
    total += macs
    if se:  # pool, two 1x1 convs on 1 x 1 (biases free), gate 0
        squeezed = make_divisible(hidden // 4, 8)
        total += global_avg_pool_macs(shape) + 2 * hidden * squeezed
    macs, shape = conv2d_macs(hidden, c_out, 1, shape)
    return total + macs, shape


def _feature_mix_macs(c_in: int, c_out: int, act: str, in_shape: Shape) -> tuple[int, Shape]:
    return global_avg_pool_macs(in_shape) + c_in * c_out, (c_out,)


register_module("conv_bn_act", _conv_bn_act_macs)(conv_bn_act)
register_module("mbconv", _mbconv_macs)(MBConv)


@register_module("feature_mix", _feature_mix_macs)
def _feature_mix(c_in: int, c_out: int, act: str) -> nn.Module:
    """Global average pool, then a 1x1 conv without BatchNorm (MobileNetV3's last hidden layer), flattened."""
    return nn.Sequential(
        nn.AdaptiveAvgPool2d(1), nn.Conv2d(c_in, c_out, 1, bias=False), activation(act), nn.Flatten()
    )


@register_module("classifier", lambda c_in, n, dropout, shape: (c_in * n, (n,)))
def _classifier(c_in: int, num_classes: int, dropout: float) -> nn.Module:
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(c_in, num_classes))


@dataclass(frozen=True)
class StageLayout:
    """One stage of the body: output width, stride of its first block, activation, squeeze-excite."""

    width: int
    stride: int
    act: str
    se: bool


# The width-1.0 Once-for-All MobileNetV3 layout (Cai et al., 2020), the space of EEEA-Net-C1/C2.
OFA_STAGES: tuple[StageLayout, ...] = (
    StageLayout(24, 2, "relu", False),
    StageLayout(40, 2, "relu", True),
    StageLayout(80, 2, "h_swish", False),
    StageLayout(112, 1, "h_swish", True),
    StageLayout(160, 2, "h_swish", True),
)


@dataclass(frozen=True)
class MobileNetV3Spec:
    """The layout of a MobileNetV3 as a sequence of module specs: stem, blocks, head (final expand, feature mix)."""

    stem: tuple[tuple, ...]
    blocks: tuple[tuple, ...]
    head: tuple[tuple, ...]
    classifier: tuple

    @property
    def modules(self) -> tuple[tuple, ...]:
        """Every spec in forward order (the network is exactly this sequence)."""
        return (*self.stem, *self.blocks, *self.head, self.classifier)


def mbv3_net_spec(
    kernels: Sequence[int],
    expansions: Sequence[int],
    depths: Sequence[int],
    *,
    num_classes: int = 1000,
    stages: Sequence[StageLayout] = OFA_STAGES,
    in_channels: int = 3,
    stem_width: int = 16,
    stem_stride: int = 2,
    final_expand: int = 960,
    feature_mix: int = 1280,
    dropout: float = 0.0,
) -> MobileNetV3Spec:
    """The layout of a MobileNetV3 whose stage ``s`` has ``depths[s]`` blocks, taking kernel sizes and expansion
    ratios of the active blocks in order from ``kernels`` and ``expansions``."""
    if len(depths) != len(stages):
        raise ValueError(f"expected {len(stages)} stage depths, got {len(depths)}")
    if len(kernels) != sum(depths) or len(expansions) != sum(depths):
        raise ValueError(f"{sum(depths)} active blocks need as many kernels and expansions")
    stem = (
        ("conv_bn_act", in_channels, stem_width, 3, stem_stride, "h_swish"),
        ("mbconv", stem_width, stem_width, 3, 1, 1, "relu", False),
    )
    blocks = []
    c_in, i = stem_width, 0
    for stage, depth in zip(stages, depths):
        for b in range(depth):
            stride = stage.stride if b == 0 else 1
            blocks.append(("mbconv", c_in, stage.width, int(kernels[i]), stride, int(expansions[i]), stage.act, stage.se))
            c_in, i = stage.width, i + 1
    head = (("conv_bn_act", c_in, final_expand, 1, 1, "h_swish"), ("feature_mix", final_expand, feature_mix, "h_swish"))
    return MobileNetV3Spec(stem, tuple(blocks), head, ("classifier", feature_mix, num_classes, float(dropout)))


class MobileNetV3(nn.Module):
    """A MobileNetV3 built from a :class:`MobileNetV3Spec`; ``front`` (optional) runs first, e.g. an audio front end."""

    #: kept in float when quantised (an audio front end's log of a power spectrum does not survive int8)
    float_modules = ("front",)

    def __init__(self, spec: MobileNetV3Spec, front: nn.Module | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.front = front
        self.stem = nn.Sequential(*(build_module(s) for s in spec.stem))
        self.blocks = nn.Sequential(*(build_module(s) for s in spec.blocks))
        self.head = nn.Sequential(*(build_module(s) for s in spec.head))
        self.classifier = build_module(spec.classifier)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled 1280-d (``feature_mix`` wide) embedding before the classifier."""
        if self.front is not None:
            x = self.front(x)
        return self.head(self.blocks(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x))
