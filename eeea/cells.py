"""The NASNet/DARTS cell: blocks of two ops on two earlier states, summed; the output concatenates chosen states.

State indices: 0 = output of cell k-2, 1 = output of cell k-1, 2+j = block j of this cell. In a reduction cell every op
that reads input 0 or 1 has stride 2.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from .ops import build_module

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
