"""The spaces of tabular NAS benchmarks: NAS-Bench-201 cells and NAS-Bench-Macro layers.

Both are a fixed number of positions, each choosing one op from a list, so they share :class:`OpChoiceSpace`:
genome ``arch`` is ``{FIELD: [op, ...]}`` and the integer encoding is one gene per position (the op's index).

* ``nb201`` (kind ``nb201``): ``edges``, the six edge ops of a cell in the benchmark's edge order;
  the benchmark names a cell by its cell string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.
* ``nas_bench_macro`` (kind ``nas_bench_macro``): ``layers``, the eight layers' ops;
  the benchmark names a network by its 8-digit key (each layer's op index).

:meth:`OpChoiceSpace.from_benchmark` and :meth:`OpChoiceSpace.benchmark_name` convert a genome from and to the
benchmark's name of its network.

The networks are the benchmarks' own (:mod:`eeea.models.nb201`, :mod:`eeea.models.macro`), built and counted from the
same module specs; ``count_params`` at the evaluation size equals the benchmarks' published parameter counts.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np
from torch import nn

from ..errors import GenomeError, UserError
from ..genome import Genome
from ..models.macro import MACRO_OPS, MacroNetwork, macro_key, macro_net_spec, parse_macro_key
from ..models.nb201 import (NB201_OPS, NB201Network, cell_function, cell_string, expand_cells, nb201_net_spec,
                            parse_cell_string)
from ..models.specs import Walk, chain_params, chain_walk, spec_params, walk_macs
from .base import SearchSpace, register_space_kind

#: the network NAS-Bench-201 trains on each of its data sets: its classifier's classes and its input resolution.
#: The space's evaluation size is CIFAR-10's; a count for CIFAR-100 or ImageNet16-120 needs these (the 100- and
#: 120-class heads add 5,850 and 7,150 parameters; ImageNet16-120's 16x16 input quarters most MACs).
NB201_DATA_SIZES: dict[str, dict[str, int]] = {
    "cifar10": {"num_classes": 10, "input_size": 32},
    "cifar100": {"num_classes": 100, "input_size": 32},
    "imagenet16": {"num_classes": 120, "input_size": 16},
}


class OpChoiceSpace(SearchSpace):
    """``positions`` slots, each one op of ``ops``: genome ``{field: [op, ...]}``, one integer gene per slot."""

    field: ClassVar[str] = "ops"
    positions: ClassVar[int] = 1
    ops: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Mapping[str, Any], source: str) -> None:
        super().__init__(config, source)
        self.xl = np.zeros(self.positions, dtype=np.int64)
        self.xu = np.full(self.positions, len(self.ops) - 1, dtype=np.int64)

    def decode_genes(self, x: np.ndarray) -> Genome:
        self.check_bounds(x)
        return self.validate(Genome(self.name, {self.field: [self.ops[int(g)] for g in x]}))

    def encode(self, genome: Genome) -> np.ndarray:
        ops = self.validate(genome).arch[self.field]
        return np.array([self.ops.index(op) for op in ops], dtype=np.int64)

    def validate(self, genome: Genome) -> Genome:
        self.check_space(genome)
        self.check_fields(genome.arch, (self.field,))
        ops = genome.arch[self.field]
        if not isinstance(ops, list) or len(ops) != self.positions:
            got = len(ops) if isinstance(ops, list) else type(ops).__name__
            raise GenomeError(f"{self.field}: expected {self.positions} ops, got {got}")
        for i, op in enumerate(ops):
            if op not in self.ops:
                raise GenomeError(f"{self.field}[{i}]: unknown op {op!r} (space {self.name} has: {', '.join(self.ops)})")
        return Genome(self.name, {self.field: list(ops)}, genome.name)

    def summary_features(self, X: np.ndarray) -> np.ndarray:
        """The share of positions holding each op."""
        return (X[:, :, None] == np.arange(len(self.ops))).mean(axis=1)

    def ops_of(self, genome: Genome) -> list[str]:
        return list(self.validate(genome).arch[self.field])

    #: the benchmark's name of a network <-> its ops (set by each space; ValueError on a bad name)
    parse_name: Callable[[str], list[str]]
    format_name: Callable[[Sequence[str]], str]

    def from_benchmark(self, name: str) -> Genome:
        """The genome the benchmark calls ``name`` (a NAS-Bench-201 cell string, a NAS-Bench-Macro key)."""
        try:
            return self.validate(Genome(self.name, {self.field: self.parse_name(name)}))
        except ValueError as e:
            raise GenomeError(str(e)) from None

    def benchmark_name(self, genome: Genome) -> str:
        """The benchmark's name of ``genome``'s network."""
        return self.format_name(self.ops_of(genome))

    def size(self, **overrides: Any) -> dict[str, Any]:
        size = super().size(**overrides)
        for key in self.size_keys:
            size.setdefault(key, self.eval_size.get(key))
            if isinstance(size[key], bool) or not isinstance(size[key], int) or size[key] < 1:
                raise UserError(f"space {self.name}: {key} must be a positive integer, got {size[key]!r}")
        return size

    def input_shape(self, **size: Any) -> tuple[int, ...]:
        n = self.size(**size)["input_size"]
        return (3, n, n)

    def chain(self, genome: Genome, **size: Any) -> Sequence[tuple]:
        """Every module spec of the network in forward order, as the counters walk it."""
        raise NotImplementedError

    def count_params(self, genome: Genome, **size: Any) -> int:
        return chain_params(self.chain(genome, **size))

    def spec_walk(self, genome: Genome, **size: Any) -> Walk:
        """The chain's modules, each on its input: every op keeps its input's shape, so a cell's ops (which read
        different nodes of one shape) walk as a chain; the cell's sums are not modules."""
        return chain_walk(self.chain(genome, **size), self.input_shape(**size))

    def count_macs(self, genome: Genome, **size: Any) -> int:
        return walk_macs(self.spec_walk(genome, **size))


#: the cell's paths from its input (node 0) to its output (node 3), as edge indices (edges in the benchmark's order:
#: 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2)
NB201_PATHS = ((3,), (0, 4), (1, 5), (0, 2, 5))


@register_space_kind("nb201")
class NB201Space(OpChoiceSpace):
    """NAS-Bench-201: six edges of a 4-node cell, five ops each (5^6 = 15,625 cells)."""

    field = "edges"
    positions = 6
    ops = NB201_OPS
    size_keys = frozenset({"channels", "cells", "num_classes", "input_size"})

    parse_name = staticmethod(parse_cell_string)
    format_name = staticmethod(cell_string)

    def describe(self, genome: Genome) -> list[str]:
        # the data sets' networks differ only in the classifier's outputs: the body is counted once (a search's
        # report describes every candidate, and three whole counts cost more than the search's own work)
        chain = self.chain(genome)
        body, (kind, width, _) = chain_params(chain[:-1]), chain[-1]
        counts = ", ".join(f"{data} {body + spec_params((kind, width, size['num_classes'])):,}"
                           for data, size in NB201_DATA_SIZES.items())
        return [f"cell: {self.benchmark_name(genome)}", f"params of the benchmark's network per data set: {counts}",
                f"computes: {cell_function(self.ops_of(genome))}"]

    def function_key(self, genome: Genome) -> str:
        """Isomorphic cells (:func:`~eeea.models.nb201.cell_function`) share a key."""
        return "nb201:" + cell_function(self.ops_of(genome))

    def summary_features(self, X: np.ndarray) -> np.ndarray:
        """The op shares, then for each of the cell's four input-to-output paths whether it carries anything (no
        ``none`` on it) and, if so, the share of each other op along it: what flows where decides the accuracy."""
        columns = [super().summary_features(X)]
        for path in NB201_PATHS:
            ops = X[:, path]
            alive = (ops != 0).all(axis=1)
            columns.append(alive[:, None] * np.column_stack([np.ones(len(X))] + [(ops == op).mean(axis=1)
                                                                                for op in range(1, len(self.ops))]))
        return np.hstack(columns)

    def _spec(self, genome: Genome, **size: Any):
        full = self.size(**size)
        return nb201_net_spec(self.ops_of(genome), full["channels"], full["cells"], full["num_classes"])

    def chain(self, genome: Genome, **size: Any) -> Sequence[tuple]:
        return expand_cells(self._spec(genome, **size).modules)  # a cell's count is its ops'

    def build(self, genome: Genome, **size: Any) -> nn.Module:
        return NB201Network(self._spec(genome, **size))


@register_space_kind("nas_bench_macro")
class MacroSpace(OpChoiceSpace):
    """NAS-Bench-Macro: eight layers, each identity, MBConv k3 e3 or MBConv k5 e6 (3^8 = 6,561 networks)."""

    field = "layers"
    positions = 8
    ops = MACRO_OPS
    size_keys = frozenset({"num_classes", "input_size"})

    parse_name = staticmethod(parse_macro_key)
    format_name = staticmethod(macro_key)

    def describe(self, genome: Genome) -> list[str]:
        return [f"key: {self.benchmark_name(genome)}", *(f"layer {i}: {op}" for i, op in enumerate(self.ops_of(genome)))]

    def chain(self, genome: Genome, **size: Any) -> Sequence[tuple]:
        return macro_net_spec(self.ops_of(genome), self.size(**size)["num_classes"])

    def build(self, genome: Genome, **size: Any) -> nn.Module:
        return MacroNetwork(macro_net_spec(self.ops_of(genome), self.size(**size)["num_classes"]))
