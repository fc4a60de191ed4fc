"""The op table: every candidate operation of the cell spaces, DARTS style.

``OPS[name](C, stride)`` builds the op for ``C`` input and output channels. Convs are bias-free, BatchNorm is
affine, and ReLU comes before each conv (the EEEA-Net / DARTS convention). The definitions follow
the EEEA-Net paper and its release exactly, because the published parameter counts depend on every detail.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from .specs import Shape, conv2d_macs, conv_out, global_avg_pool_macs, register_module

OpBuilder = Callable[[int, int], nn.Module]


class ReLUConvBN(nn.Sequential):
    """ReLU -> conv -> BN: the cell's input preprocessing (and a building block of the ops)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


class SepConv(nn.Sequential):
    """Separable conv applied twice: [ReLU, depthwise k x k, 1x1, BN] x 2; the stride sits on the first depthwise."""

    def __init__(self, c: int, k: int, stride: int) -> None:
        p = k // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, k, stride=stride, padding=p, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, k, stride=1, padding=p, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


class DilConv(nn.Sequential):
    """ReLU, depthwise k x k with dilation 2, 1x1, BN."""

    def __init__(self, c: int, k: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, k, stride=stride, padding=k - 1, dilation=2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


class Conv7x1x1x7(nn.Sequential):
    """ReLU, 1x7 conv, 7x1 conv, BN: a factorised 7x7."""

    def __init__(self, c: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
            nn.Conv2d(c, c, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
            nn.BatchNorm2d(c),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2-style block with expansion ratio 1 (as in the EEEA-Net release), residual at stride 1."""

    def __init__(self, c: int, k: int, stride: int) -> None:
        super().__init__()
        self.residual = stride == 1
        self.body = nn.Sequential(
            ReLUConvBN(c, c, 1, 1, 0),
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, k, stride=stride, padding=((stride - 1) + (k - 1)) // 2, groups=c, bias=False),
            nn.BatchNorm2d(c),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing pixels: two 1x1 stride-2 convs, the second shifted by one pixel."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def _skip(c: int, stride: int) -> nn.Module:
    return nn.Identity() if stride == 1 else FactorizedReduce(c, c)


OPS: dict[str, OpBuilder] = {
    "max_pool_3x3": lambda c, s: nn.MaxPool2d(3, stride=s, padding=1),
    "avg_pool_3x3": lambda c, s: nn.AvgPool2d(3, stride=s, padding=1, count_include_pad=False),
    "skip_connect": _skip,
    "sep_conv_3x3": lambda c, s: SepConv(c, 3, s),
    "sep_conv_5x5": lambda c, s: SepConv(c, 5, s),
    "sep_conv_7x7": lambda c, s: SepConv(c, 7, s),
    "dil_conv_3x3": lambda c, s: DilConv(c, 3, s),
    "dil_conv_5x5": lambda c, s: DilConv(c, 5, s),
    "conv_7x1_1x7": lambda c, s: Conv7x1x1x7(c, s),
    "inv_res_3x3": lambda c, s: InvertedResidual(c, 3, s),
    "inv_res_5x5": lambda c, s: InvertedResidual(c, 5, s),
}


# Closed-form MACs of each op (thop's figure of the module OPS builds; see eeea.models.specs) -------------------------
def _pool_macs(in_shape: Shape, stride: int, per_element: int) -> tuple[int, Shape]:
    c, h, w = in_shape
    out = (c, conv_out(h, 3, stride, 1), conv_out(w, 3, stride, 1))
    return per_element * out[0] * out[1] * out[2], out


def _sep_conv_macs(c: int, k: int, stride: int, in_shape: Shape) -> tuple[int, Shape]:
    m1, s1 = conv2d_macs(c, c, k, in_shape, stride, k // 2, groups=c)
    m2, s2 = conv2d_macs(c, c, 1, s1)
    m3, s3 = conv2d_macs(c, c, k, s2, 1, k // 2, groups=c)
    m4, s4 = conv2d_macs(c, c, 1, s3)
    return m1 + m2 + m3 + m4, s4


def _dil_conv_macs(c: int, k: int, stride: int, in_shape: Shape) -> tuple[int, Shape]:
    m1, s1 = conv2d_macs(c, c, k, in_shape, stride, k - 1, dilation=2, groups=c)
    m2, s2 = conv2d_macs(c, c, 1, s1)
    return m1 + m2, s2


def _conv_7x1_1x7_macs(c: int, stride: int, in_shape: Shape) -> tuple[int, Shape]:
    m1, s1 = conv2d_macs(c, c, (1, 7), in_shape, (1, stride), (0, 3))
    m2, s2 = conv2d_macs(c, c, (7, 1), s1, (stride, 1), (3, 0))
    return m1 + m2, s2


def _inv_res_macs(c: int, k: int, stride: int, in_shape: Shape) -> tuple[int, Shape]:
    m1, s1 = conv2d_macs(c, c, 1, in_shape)
    m2, s2 = conv2d_macs(c, c, k, s1, stride, ((stride - 1) + (k - 1)) // 2, groups=c)
    m3, s3 = conv2d_macs(c, c, 1, s2)
    return m1 + m2 + m3, s3


def _factorized_reduce_macs(c_in: int, c_out: int, in_shape: Shape) -> tuple[int, Shape]:
    m1, s1 = conv2d_macs(c_in, c_out // 2, 1, in_shape, 2)
    m2, _ = conv2d_macs(c_in, c_out // 2, 1, (in_shape[0], in_shape[1] - 1, in_shape[2] - 1), 2)  # shifted input
    return m1 + m2, (c_out, *s1[1:])


OP_MACS: dict[str, Callable[[int, int, Shape], tuple[int, Shape]]] = {
    "max_pool_3x3": lambda c, s, shape: _pool_macs(shape, s, 0),
    "avg_pool_3x3": lambda c, s, shape: _pool_macs(shape, s, 1),
    "skip_connect": lambda c, s, shape: (0, shape) if s == 1 else _factorized_reduce_macs(c, c, shape),
    "sep_conv_3x3": lambda c, s, shape: _sep_conv_macs(c, 3, s, shape),
    "sep_conv_5x5": lambda c, s, shape: _sep_conv_macs(c, 5, s, shape),
    "sep_conv_7x7": lambda c, s, shape: _sep_conv_macs(c, 7, s, shape),
    "dil_conv_3x3": lambda c, s, shape: _dil_conv_macs(c, 3, s, shape),
    "dil_conv_5x5": lambda c, s, shape: _dil_conv_macs(c, 5, s, shape),
    "conv_7x1_1x7": lambda c, s, shape: _conv_7x1_1x7_macs(c, s, shape),
    "inv_res_3x3": lambda c, s, shape: _inv_res_macs(c, 3, s, shape),
    "inv_res_5x5": lambda c, s, shape: _inv_res_macs(c, 5, s, shape),
}


def _linear_macs(in_features: int, out_features: int, in_shape: Shape) -> tuple[int, Shape]:
    out = (*in_shape[:-1], out_features)
    return math.prod(out) * in_features, out


# The generic modules of every network family, under their spec kinds (see eeea.models.specs).
register_module("op", lambda name, c, stride, shape: OP_MACS[name](c, stride, shape))(
    lambda name, c, stride: OPS[name](c, stride)
)
register_module("relu_conv_bn", lambda ci, co, k, s, p, shape: conv2d_macs(ci, co, k, shape, s, p))(ReLUConvBN)
register_module("factorized_reduce", _factorized_reduce_macs)(FactorizedReduce)
register_module("linear", _linear_macs)(nn.Linear)
register_module("global_avg_pool", lambda shape: (global_avg_pool_macs(shape), (shape[0],)))(
    lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
)
