"""The NAS-Bench-201 network (Dong & Yang, ICLR 2020): a cell of 4 nodes and 6 edges, stacked N times per stage.

Layout (the benchmark's fixed network): a 3x3 conv stem of ``C`` channels, three stages of ``N`` cells at ``C``,
``2C`` and ``4C`` channels, a residual reduction block (ResNet basic block, stride 2) between stages, then BN, ReLU,
global average pooling and a linear classifier. In a cell, node ``i`` (1..3) sums one op applied to every earlier
node; the cell's output is node 3. Ops: ``none`` (a zero), ``skip_connect`` (identity), ``nor_conv_1x1`` and
``nor_conv_3x3`` (ReLU-Conv-BN), ``avg_pool_3x3``.

The benchmark writes a cell as ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: edges in the order (1<-0), (2<-0), (2<-1),
(3<-0), (3<-1), (3<-2). :func:`cell_string` and :func:`parse_cell_string` convert between that text and the six op
names in that order.

Every module is a spec of :mod:`eeea.models.specs`; a cell is counted as the sum of its ops' specs, so counting one of
the 15,625 cells never builds it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from .ops import OP_MACS, OPS, ReLUConvBN
from .specs import Shape, build_module, conv2d_macs, conv_out, global_avg_pool_macs, register_module

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: the edges of a cell in the benchmark's order, as (to node, from node)
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


def cell_function(ops: Sequence[str]) -> str:
    """What a cell of six edge ops (:data:`EDGES` order) computes, as text that two cells share exactly when they
    compute the same function of the cell input ``x`` (isomorphic cells): each node is the sorted sum of its terms;
    ``none`` and any op on a node that is always zero add nothing; ``skip_connect`` passes its node's terms through
    unchanged; other ops wrap their node (``nor_conv_3x3(x+avg_pool_3x3(x))``). So edges that cannot reach the
    output, the position of a skip on a path, and which of two parallel middle nodes holds which branch do not count.
    An op on a zero node counts as zero, as the benchmark's own isomorphism rule has it (a ReLU-Conv-BN of zeros is
    its batch norm's bias)."""
    if len(ops) != len(EDGES):
        raise ValueError(f"a NAS-Bench-201 cell has {len(EDGES)} edges, got {len(ops)} ops")
    nodes: list[list[str]] = [["x"]]
    for to in range(1, 4):
        terms: list[str] = []
        for op, (node, src) in zip(ops, EDGES):
            if node != to or op == "none" or not nodes[src]:
                continue
            terms += nodes[src] if op == "skip_connect" else [f"{op}({'+'.join(nodes[src])})"]
        nodes.append(sorted(terms))
    return "+".join(nodes[3]) or "0"


def cell_string(ops: Sequence[str]) -> str:
    """The benchmark's text of a cell given its six edge ops in :data:`EDGES` order."""
    if len(ops) != len(EDGES):
        raise ValueError(f"a NAS-Bench-201 cell has {len(EDGES)} edges, got {len(ops)} ops")
    nodes: list[list[str]] = [[] for _ in range(3)]
    for op, (to, src) in zip(ops, EDGES):
        nodes[to - 1].append(f"{op}~{src}")
    return "+".join("|" + "|".join(node) + "|" for node in nodes)


def parse_cell_string(text: str) -> list[str]:
    """The six edge ops (in :data:`EDGES` order) of a benchmark cell string; ValueError names what is wrong."""
    nodes = str(text).strip().split("+")
    if len(nodes) != 3:
        raise ValueError(f"{text!r} is not a NAS-Bench-201 cell (three '+'-separated nodes expected)")
    ops = []
    for to, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|")):
            raise ValueError(f"{text!r}: node {to} is not written |op~input|...|")
        items = node[1:-1].split("|")
        if len(items) != to:
            raise ValueError(f"{text!r}: node {to} must have {to} input edge(s), got {len(items)}")
        for src, item in enumerate(items):
            op, _, inp = item.partition("~")
            if op not in NB201_OPS or inp != str(src):
                raise ValueError(f"{text!r}: edge {item!r} of node {to} is not op~{src} with op one of "
                                 f"{', '.join(NB201_OPS)}")
            ops.append(op)
    return ops


class Zero(nn.Module):
    """The ``none`` op: an all-zero output of the input's shape (the edge carries nothing)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _op_macs(name: str, c: int, in_shape: Shape) -> tuple[int, Shape]:
    """Closed-form MACs of an edge op (thop's convention, see eeea.models.specs): zero and skip cost nothing."""
    if name == "nor_conv_1x1":
        return conv2d_macs(c, c, 1, in_shape)
    if name == "nor_conv_3x3":
        return conv2d_macs(c, c, 3, in_shape, 1, 1)
    if name == "avg_pool_3x3":
        return OP_MACS["avg_pool_3x3"](c, 1, in_shape)
    return 0, tuple(in_shape)


def _reduction_macs(c_in: int, c_out: int, in_shape: Shape) -> tuple[int, Shape]:
    m1, s1 = conv2d_macs(c_in, c_out, 3, in_shape, 2, 1)
    m2, s2 = conv2d_macs(c_out, c_out, 3, s1, 1, 1)
    pooled = (c_in, conv_out(in_shape[1], 2, 2), conv_out(in_shape[2], 2, 2))
    m3, _ = conv2d_macs(c_in, c_out, 1, pooled)
    return m1 + m2 + pooled[0] * pooled[1] * pooled[2] + m3, s2  # average pooling: 1 per output element


def _cell_macs(ops: Sequence[str], c: int, in_shape: Shape) -> tuple[int, Shape]:
    return sum(_op_macs(op, c, in_shape)[0] for op in ops), tuple(in_shape)


@register_module("nb201_op", _op_macs)
def nb201_op(name: str, c: int) -> nn.Module:
    """One op of a NAS-Bench-201 edge at ``c`` channels (stride 1: cells keep the resolution)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, 1, 1)
    if name == "avg_pool_3x3":
        return OPS["avg_pool_3x3"](c, 1)
    raise ValueError(f"unknown NAS-Bench-201 op {name!r} (ops: {', '.join(NB201_OPS)})")


class ResidualReduction(nn.Module):
    """The reduction between stages: a ResNet basic block of stride 2 (two ReLU-Conv-BN 3x3, the first strided), with
    a 2x2 average pool and a 1x1 conv on the shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2, padding=0), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


register_module("nb201_reduction", _reduction_macs)(ResidualReduction)


@register_module("nb201_stem", lambda c, shape: conv2d_macs(3, c, 3, shape, 1, 1))
def _stem(c: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))


@register_module("nb201_head", lambda c, shape: (global_avg_pool_macs(shape), (shape[0],)))
def _head(c: int) -> nn.Module:
    """BN and ReLU after the last cell, then global average pooling (flattened)."""
    return nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False), nn.AdaptiveAvgPool2d(1), nn.Flatten())


class NB201Cell(nn.Module):
    """A cell: node ``i`` = sum of its edges' ops over the earlier nodes; the output is node 3."""

    def __init__(self, ops: Sequence[str], c: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(build_module(("nb201_op", op, c)) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        edge = 0
        for to in range(1, 4):
            total = self.edges[edge](nodes[0])
            for src in range(1, to):
                total = total + self.edges[edge + src](nodes[src])
            edge += to
            nodes.append(total)
        return nodes[3]


register_module("nb201_cell", _cell_macs)(lambda ops, c: NB201Cell(ops, c))


@dataclass(frozen=True)
class NB201Spec:
    """The network as a sequence of module specs; ``("nb201_cell", ops, c)`` specs are counted by their ops."""

    modules: tuple[tuple, ...]


def nb201_net_spec(ops: Sequence[str], channels: int = 16, cells: int = 5, num_classes: int = 10) -> NB201Spec:
    """The benchmark network of a cell: ``cells`` cells per stage, 3 stages of ``channels`` x 1, 2, 4."""
    cell = ("nb201_cell", tuple(ops))
    modules: list[tuple] = [("nb201_stem", channels)]
    c = channels
    for stage in range(3):
        if stage:
            modules.append(("nb201_reduction", c, 2 * c))
            c *= 2
        modules += [(*cell, c)] * cells
    modules += [("nb201_head", c), ("linear", c, num_classes)]
    return NB201Spec(tuple(modules))


def expand_cells(modules: Sequence[tuple]) -> list[tuple]:
    """The specs with each cell replaced by its ops' specs (for counting parameters: a cell is its ops)."""
    out = []
    for spec in modules:
        if spec[0] == "nb201_cell":
            out += [("nb201_op", op, spec[2]) for op in spec[1]]
        else:
            out.append(spec)
    return out


class NB201Network(nn.Module):
    """The NAS-Bench-201 network built from an :class:`NB201Spec` (a plain sequence of its modules)."""

    def __init__(self, spec: NB201Spec) -> None:
        super().__init__()
        self.spec = spec
        self.layers = nn.Sequential(*(build_module(s) for s in spec.modules))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
