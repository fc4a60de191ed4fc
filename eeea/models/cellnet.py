"""Cell networks, DARTS style: the NASNet/DARTS cell, the CIFAR network of DARTS/EEEA-Net and the DARTS-style
ImageNet network, in one file.

A cell's blocks each apply two ops to two earlier states and sum them; the output concatenates chosen states. State
indices: 0 = output of cell k-2, 1 = output of cell k-1, 2+j = block j of this cell. In a reduction cell every op that
reads input 0 or 1 has stride 2.

The layout is computed once as a :class:`CellNetSpec` (plain data); the module is built from it, and the exact
counters walk the same spec, so counting never needs the model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from .specs import Shape, build_module, conv2d_macs, register_module

Pair = tuple[str, int]


def loose_ends(pairs: Sequence[Pair]) -> list[int]:
    """States of the blocks that no other block of the cell reads: the default cell output."""
    blocks = len(pairs) // 2
    used = {inp for _, inp in pairs}
    return [2 + b for b in range(blocks) if 2 + b not in used]


def op_stride(input_index: int, reduction: bool) -> int:
    return 2 if reduction and input_index < 2 else 1


@dataclass(frozen=True)
class CellSpec:
    """Everything needed to build (or count) one cell of a network."""

    pairs: tuple[Pair, ...]
    concat: tuple[int, ...]
    c_prev_prev: int
    c_prev: int
    c: int
    reduction: bool
    reduction_prev: bool

    @property
    def c_out(self) -> int:
        return len(self.concat) * self.c

    def preprocess0_spec(self) -> tuple:
        if self.reduction_prev:
            return ("factorized_reduce", self.c_prev_prev, self.c)
        return ("relu_conv_bn", self.c_prev_prev, self.c, 1, 1, 0)

    def preprocess1_spec(self) -> tuple:
        return ("relu_conv_bn", self.c_prev, self.c, 1, 1, 0)

    def op_specs(self) -> list[tuple]:
        return [("op", name, self.c, op_stride(inp, self.reduction)) for name, inp in self.pairs]


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples with probability ``drop_prob`` and rescale the rest (stochastic depth per op)."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class Cell(nn.Module):
    def __init__(self, spec: CellSpec) -> None:
        super().__init__()
        self.reduction = spec.reduction
        self.preprocess0 = build_module(spec.preprocess0_spec())
        self.preprocess1 = build_module(spec.preprocess1_spec())
        self.ops = nn.ModuleList(build_module(s) for s in spec.op_specs())
        self.inputs = [inp for _, inp in spec.pairs]
        self.concat = list(spec.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for b in range(len(self.ops) // 2):
            h = []
            for i in (2 * b, 2 * b + 1):
                op = self.ops[i]
                out = op(states[self.inputs[i]])
                if self.training and drop_prob > 0.0 and not isinstance(op, nn.Identity):
                    out = drop_path(out, drop_prob)
                h.append(out)
            states.append(h[0] + h[1])
        return torch.cat([states[i] for i in self.concat], dim=1)



def _stem_cifar_macs(c_out: int, in_shape: Shape) -> tuple[int, Shape]:
    return conv2d_macs(3, c_out, 3, in_shape, 1, 1)


def _stem0_imagenet_macs(c: int, in_shape: Shape) -> tuple[int, Shape]:
    m1, s1 = conv2d_macs(3, c // 2, 3, in_shape, 2, 1)
    m2, s2 = conv2d_macs(c // 2, c, 3, s1, 2, 1)
    return m1 + m2, s2


@register_module("stem_cifar", _stem_cifar_macs)
def _stem_cifar(c_out: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))


@register_module("stem0_imagenet", _stem0_imagenet_macs)
def _stem0_imagenet(c: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, c // 2, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c // 2),
        nn.ReLU(inplace=False),
        nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c),
    )


@register_module("stem1_imagenet", lambda c, shape: conv2d_macs(c, c, 3, shape, 2, 1))
def _stem1_imagenet(c: int) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(inplace=False), nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c)
    )


class AuxiliaryHead(nn.Module):
    """The auxiliary classifier after the second reduction (8x8 input on CIFAR, 14x14 on ImageNet)."""

    def __init__(self, c: int, num_classes: int, pool_stride: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=pool_stride, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


@dataclass(frozen=True)
class CellNetSpec:
    """The layout of a cell network: stem, cells (with their channel counts) and classifier."""

    stem: tuple[tuple, ...]
    cells: tuple[CellSpec, ...]
    num_classes: int
    aux_index: int  # the auxiliary head reads the output of this cell
    imagenet: bool

    @property
    def classifier_spec(self) -> tuple:
        return ("linear", self.cells[-1].c_out, self.num_classes)


def reduction_layers(layers: int) -> tuple[int, int]:
    """Indices of the two reduction cells: one third and two thirds of the way."""
    return layers // 3, 2 * layers // 3


def cell_net_spec(
    normal: Sequence[Pair],
    normal_concat: Sequence[int],
    reduce: Sequence[Pair],
    reduce_concat: Sequence[int],
    *,
    channels: int,
    layers: int,
    num_classes: int,
    network: str = "cifar",
) -> CellNetSpec:
    imagenet = network == "imagenet"
    if imagenet:
        stem = (("stem0_imagenet", channels), ("stem1_imagenet", channels))
        c_pp, c_p, c, reduction_prev = channels, channels, channels, True
    else:
        stem = (("stem_cifar", 3 * channels),)
        c_pp, c_p, c, reduction_prev = 3 * channels, 3 * channels, channels, False
    reductions = reduction_layers(layers)
    cells = []
    for i in range(layers):
        reduction = i in reductions
        if reduction:
            c *= 2
        pairs, concat = (reduce, reduce_concat) if reduction else (normal, normal_concat)
        cell = CellSpec(tuple(map(tuple, pairs)), tuple(concat), c_pp, c_p, c, reduction, reduction_prev)
        cells.append(cell)
        c_pp, c_p, reduction_prev = c_p, cell.c_out, reduction
    return CellNetSpec(stem, tuple(cells), num_classes, reductions[1], imagenet)


class CellNetwork(nn.Module):
    """A stack of cells between a stem and a global-pool classifier (CIFAR or ImageNet layout).

    In training mode with an auxiliary head, ``forward`` returns ``(logits, aux_logits)``; otherwise the logits.
    Set ``drop_path_prob`` to enable drop-path on every non-identity op while training.
    """

    def __init__(self, spec: CellNetSpec, auxiliary: bool = False, drop_path_prob: float = 0.0) -> None:
        super().__init__()
        self.spec = spec
        self.drop_path_prob = drop_path_prob
        stems = [build_module(s) for s in spec.stem]
        self.stem0 = stems[0]
        self.stem1 = stems[1] if len(stems) > 1 else None
        self.cells = nn.ModuleList(Cell(c) for c in spec.cells)
        self.aux_index = spec.aux_index
        self.auxiliary_head = (
            AuxiliaryHead(spec.cells[spec.aux_index].c_out, spec.num_classes, 2 if spec.imagenet else 3)
            if auxiliary
            else None
        )
        self.global_pooling = build_module(("global_avg_pool",))
        self.classifier = build_module(spec.classifier_spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        s0 = self.stem0(x)
        s1 = self.stem1(s0) if self.stem1 is not None else s0
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.aux_index and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1))
        return (logits, aux) if aux is not None else logits
