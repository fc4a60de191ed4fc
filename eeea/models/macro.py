"""The NAS-Bench-Macro network (Su et al., CVPR 2021): a MobileNetV2-style CIFAR network of 8 searchable layers.

Layout (the benchmark's fixed network): a 3x3 conv stem of 32 channels (BN, ReLU), three stages of 2, 3 and 3 layers
whose first layer halves the resolution and doubles the width (64, 128, 256), a 1x1 conv to 1280 (BN, ReLU), global
average pooling and a linear classifier. Each layer is one of :data:`MACRO_OPS`: ``identity`` (where the shape
changes, a strided 1x1 conv and BN instead), ``mbconv_k3_e3`` or ``mbconv_k5_e6`` (inverted residuals with ReLU,
residual at stride 1: the ``mbconv`` spec of :mod:`eeea.models.mobilenet`).

The benchmark keys a network by 8 digits, layer by layer, each the index of its op in :data:`MACRO_OPS`
(:func:`macro_key`, :func:`parse_macro_key`).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .specs import Shape, build_module, conv2d_macs, register_module

MACRO_OPS = ("identity", "mbconv_k3_e3", "mbconv_k5_e6")
STAGES = (2, 3, 3)
STEM_WIDTH = 32
HEAD_WIDTH = 1280


def macro_key(ops: Sequence[str]) -> str:
    """The benchmark's 8-digit key of the layers' ops."""
    if len(ops) != sum(STAGES):
        raise ValueError(f"a NAS-Bench-Macro network has {sum(STAGES)} layers, got {len(ops)}")
    return "".join(str(MACRO_OPS.index(op)) for op in ops)


def parse_macro_key(key: str) -> list[str]:
    """The layers' ops of an 8-digit benchmark key; ValueError names what is wrong."""
    text = str(key).strip()
    if len(text) != sum(STAGES) or any(ch not in "012" for ch in text):
        raise ValueError(f"{key!r} is not a NAS-Bench-Macro key ({sum(STAGES)} digits of 0, 1, 2)")
    return [MACRO_OPS[int(ch)] for ch in text]


def _identity_macs(c_in: int, c_out: int, stride: int, in_shape: Shape) -> tuple[int, Shape]:
    if stride == 1 and c_in == c_out:
        return 0, tuple(in_shape)
    return conv2d_macs(c_in, c_out, 1, in_shape, stride)


@register_module("macro_identity", _identity_macs)
def _identity(c_in: int, c_out: int, stride: int) -> nn.Module:
    """The identity layer; where the shape changes, a strided 1x1 conv and BN."""
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))


def layer_spec(op: str, c_in: int, c_out: int, stride: int) -> tuple:
    if op == "identity":
        return ("macro_identity", c_in, c_out, stride)
    kernel, expand = {"mbconv_k3_e3": (3, 3), "mbconv_k5_e6": (5, 6)}[op]
    return ("mbconv", c_in, c_out, kernel, stride, expand, "relu", False)


def macro_net_spec(ops: Sequence[str], num_classes: int = 10) -> tuple[tuple, ...]:
    """Every module spec of the network in forward order."""
    if len(ops) != sum(STAGES):
        raise ValueError(f"a NAS-Bench-Macro network has {sum(STAGES)} layers, got {len(ops)}")
    modules: list[tuple] = [("conv_bn_act", 3, STEM_WIDTH, 3, 1, "relu")]
    c, i = STEM_WIDTH, 0
    for depth in STAGES:
        for b in range(depth):
            c_out = 2 * c if b == 0 else c
            modules.append(layer_spec(ops[i], c, c_out, 2 if b == 0 else 1))
            c, i = c_out, i + 1
    modules += [("conv_bn_act", c, HEAD_WIDTH, 1, 1, "relu"), ("global_avg_pool",), ("linear", HEAD_WIDTH, num_classes)]
    return tuple(modules)


class MacroNetwork(nn.Module):
    """The NAS-Bench-Macro network built from its module specs (a plain sequence)."""

    def __init__(self, modules: Sequence[tuple]) -> None:
        super().__init__()
        self.specs = tuple(modules)
        self.layers = nn.Sequential(*(build_module(s) for s in self.specs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
