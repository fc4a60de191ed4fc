"""Cell networks: the CIFAR network of DARTS/EEEA-Net and the DARTS-style ImageNet network.

The layout is computed once as a :class:`CellNetSpec` (plain data); the module is built from it, and the exact
counters walk the same spec, so counting never needs the model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from .cells import Cell, CellSpec, Pair
from .ops import build_module, register_module


@register_module("stem_cifar")
def _stem_cifar(c_out: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))


@register_module("stem0_imagenet")
def _stem0_imagenet(c: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, c // 2, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c // 2),
        nn.ReLU(inplace=False),
        nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c),
    )


@register_module("stem1_imagenet")
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
