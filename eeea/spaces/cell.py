"""Cell search spaces (NASNet/DARTS micro encoding): one normal and one reduction cell.

Genome ``arch``: ``normal`` and ``reduce``, each a list of ``[op, input]`` pairs, two per block; optionally
``normal_concat`` / ``reduce_concat`` (explicit cell outputs) in spaces declared with ``concat: explicit``.
Integer encoding (NSGA-Net micro): per cell, per block, ``op1, input1, op2, input2``; op genes index the space's
``ops`` list, the input gene of block ``b`` ranges over ``0 .. b + 1``.
"""
from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any, Callable, Mapping

import numpy as np
from torch import nn

from ..errors import GenomeError, UserError
from ..genome import Genome
from ..models.cellnet import CellNetSpec, CellNetwork, Pair, cell_net_spec, loose_ends, op_stride
from ..models.ops import OPS
from ..models.specs import Walk, spec_macs, spec_params, walk_macs
from .base import SearchSpace, register_space_kind

CELLS = ("normal", "reduce")
_NET_KEYS = ("channels", "layers", "num_classes", "network")
SIZE_KEYS = {"channels", "layers", "num_classes", "network", "auxiliary", "drop_path_prob", "input_size"}


@register_space_kind("cell")
class CellSpace(SearchSpace):
    size_keys = frozenset(SIZE_KEYS)

    def __init__(self, config: Mapping[str, Any], source: str) -> None:
        super().__init__(config, source)
        self.ops: list[str] = list(config.get("ops", []))
        unknown = [op for op in self.ops if op not in OPS]
        if not self.ops or unknown:
            raise UserError(f"{source}: 'ops' must list ops of the table; unknown: {unknown or 'none given'}")
        self.blocks = int(config.get("blocks", 5))
        self.min_blocks = int(config.get("min_blocks", self.blocks))
        self.concat = config.get("concat", "loose")
        if self.concat not in ("loose", "explicit") or not 1 <= self.min_blocks <= self.blocks:
            raise UserError(f"{source}: 'concat' is loose|explicit and 1 <= min_blocks <= blocks")
        self._op_index = {op: i for i, op in enumerate(self.ops)}
        upper = []
        for b in range(self.blocks):
            upper += [len(self.ops) - 1, b + 1, len(self.ops) - 1, b + 1]
        self.xu = np.array(upper * 2, dtype=np.int64)
        self.xl = np.zeros_like(self.xu)

    # encoding --------------------------------------------------------------------------------------------------
    def gene_groups(self) -> list[list[int]]:
        """Each (op, input) pair travels together."""
        return [[i, i + 1] for i in range(0, self.n_var, 2)]

    def summary_features(self, X: np.ndarray) -> np.ndarray:
        """Per cell, the share of its slots holding each op (a cell's blocks are interchangeable in position)."""
        half = self.n_var // 2
        ops = np.arange(len(self.ops))
        return np.hstack([(X[:, o : o + half : 2, None] == ops).mean(axis=1) for o in (0, half)])

    def decode_genes(self, x: np.ndarray) -> Genome:
        half = self.n_var // 2
        arch = {
            cell: [[self.ops[int(x[o + i])], int(x[o + i + 1])] for i in range(0, half, 2)]
            for cell, o in zip(CELLS, (0, half))
        }
        return self.validate(Genome(self.name, arch))

    def encode(self, genome: Genome) -> np.ndarray:
        genome = self.validate(genome)
        if len(genome.arch["normal"]) != 2 * self.blocks or len(genome.arch["reduce"]) != 2 * self.blocks:
            raise GenomeError(f"space {self.name}: only {self.blocks}-block cells have an integer encoding")
        if self.concat == "explicit" and any(
            genome.arch[f"{c}_concat"] != loose_ends(genome.arch[c]) for c in CELLS
        ):
            raise GenomeError(f"space {self.name}: cells with an explicit concat have no integer encoding")
        genes = [g for cell in CELLS for op, inp in genome.arch[cell] for g in (self._op_index[op], inp)]
        return np.array(genes, dtype=np.int64)

    # validation ------------------------------------------------------------------------------------------------
    def validate(self, genome: Genome) -> Genome:
        if getattr(genome, "_canonical_in", None) is self:  # decoded or validated here already (genomes are values)
            return genome
        self.check_space(genome)
        arch = genome.arch
        allowed = set(CELLS) | ({f"{c}_concat" for c in CELLS} if self.concat == "explicit" else set())
        for key in arch:
            if key not in allowed:
                hint = " (this space concatenates the loose ends)" if key.endswith("_concat") else ""
                raise GenomeError(f"unknown field {key!r} for space {self.name}{hint}")
        canonical: dict[str, Any] = {}
        for cell in CELLS:
            if cell not in arch:
                raise GenomeError(f"missing field {cell!r}")
            canonical[cell] = self._validate_pairs(cell, arch[cell])
        if self.concat == "explicit":
            for cell in CELLS:
                canonical[f"{cell}_concat"] = self._validate_concat(cell, arch, canonical[cell])
        valid = Genome(self.name, canonical, genome.name)
        object.__setattr__(valid, "_canonical_in", self)
        return valid

    def _validate_pairs(self, cell: str, pairs: Any) -> list[list[Any]]:
        if not isinstance(pairs, list) or len(pairs) % 2 or not self.min_blocks <= len(pairs) // 2 <= self.blocks:
            n = len(pairs) if isinstance(pairs, list) else type(pairs).__name__
            want = 2 * self.blocks if self.min_blocks == self.blocks else f"{2 * self.min_blocks}..{2 * self.blocks}"
            raise GenomeError(f"{cell}: expected {want} (op, input) pairs (two per block), got {n}")
        out = []
        for i, pair in enumerate(pairs):
            if not isinstance(pair, list) or len(pair) != 2:
                raise GenomeError(f"{cell}[{i}]: expected [op, input], got {pair!r}")
            op, inp = pair
            if op not in self._op_index:
                raise GenomeError(f"{cell}[{i}]: unknown op {op!r} (space {self.name} has: {', '.join(self.ops)})")
            if isinstance(inp, bool) or not isinstance(inp, int) or not 0 <= inp <= i // 2 + 1:
                raise GenomeError(f"{cell}[{i}]: input {inp!r} out of range for block {i // 2} (0..{i // 2 + 1})")
            out.append([op, inp])
        return out

    def _validate_concat(self, cell: str, arch: Mapping[str, Any], pairs: list) -> list[int]:
        key = f"{cell}_concat"
        if key not in arch:
            return loose_ends(pairs)
        concat = arch[key]
        n_states = 2 + len(pairs) // 2
        if (
            not isinstance(concat, list)
            or not concat
            or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n_states for i in concat)
            or len(set(concat)) != len(concat)
        ):
            raise GenomeError(f"{key}: expected distinct state indices in 0..{n_states - 1}, got {concat!r}")
        return list(concat)

    def cells_of(self, genome: Genome) -> dict[str, tuple[list[Pair], list[int]]]:
        arch = self.validate(genome).arch
        return {
            cell: ([tuple(p) for p in arch[cell]], arch.get(f"{cell}_concat") or loose_ends(arch[cell]))
            for cell in CELLS
        }

    def describe(self, genome: Genome) -> list[str]:
        lines = []
        for cell, (pairs, concat) in self.cells_of(genome).items():
            lines.append(f"{cell} cell (output = concat of states {concat}):")
            for b in range(len(pairs) // 2):
                (op1, in1), (op2, in2) = pairs[2 * b], pairs[2 * b + 1]
                lines.append(f"  state {b + 2} = {op1}({_state(in1)}) + {op2}({_state(in2)})")
        return lines

    # networks --------------------------------------------------------------------------------------------------
    def size(self, **overrides: Any) -> dict[str, Any]:
        size = super().size(**overrides)
        size.setdefault("network", "cifar")
        if size["network"] not in ("cifar", "imagenet"):
            raise UserError(f"space {self.name}: network must be cifar or imagenet, got {size['network']!r}")
        for key in ("channels", "layers", "num_classes"):
            if not isinstance(size.get(key), int) or size[key] < 1:
                raise UserError(f"space {self.name}: {key} must be a positive integer, got {size.get(key)!r}")
        if size["layers"] < 3:
            raise UserError(f"space {self.name}: a cell network needs at least 3 layers, got {size['layers']}")
        if size["network"] == "imagenet" and size["channels"] % 2:
            raise UserError(f"space {self.name}: the ImageNet network needs an even channel count")
        size.setdefault("input_size", 224 if size["network"] == "imagenet" else 32)
        return size

    def net_spec(self, genome: Genome, **size: Any) -> CellNetSpec:
        size = self.size(**size)
        cells = self.cells_of(genome)
        return cell_net_spec(*cells["normal"], *cells["reduce"], **{k: size[k] for k in _NET_KEYS})

    def build(self, genome: Genome, **size: Any) -> nn.Module:
        full = self.size(**size)
        return CellNetwork(
            self.net_spec(genome, **full),
            auxiliary=bool(full.get("auxiliary", False)),
            drop_path_prob=float(full.get("drop_path_prob", 0.0)),
        )

    def count_params(self, genome: Genome, **size: Any) -> int:
        full = self.size(**size)
        cells = self.cells_of(genome)
        fixed, widths = self._skeleton(len(cells["normal"][1]), len(cells["reduce"][1]), tuple(sorted(full.items())))
        total = fixed
        for (reduction, c), n_cells in widths:
            pairs = cells["reduce" if reduction else "normal"][0]
            total += n_cells * sum(spec_params(("op", op, c, op_stride(inp, reduction))) for op, inp in pairs)
        return total

    @lru_cache(maxsize=4096)
    def _skeleton(self, n_normal_out: int, n_reduce_out: int, size: tuple) -> tuple[int, tuple]:
        """Parameters outside the cells' ops (stem, preprocessing, classifier) and how many cells run at each
        (reduction, width): they depend only on how many states each cell type concatenates, not on its ops."""
        spec = cell_net_spec(
            (), range(n_normal_out), (), range(n_reduce_out), **{k: v for k, v in size if k in _NET_KEYS}
        )
        fixed = sum(spec_params(s) for s in spec.stem) + spec_params(spec.classifier_spec)
        fixed += sum(spec_params(c.preprocess0_spec()) + spec_params(c.preprocess1_spec()) for c in spec.cells)
        return fixed, tuple(Counter((c.reduction, c.c) for c in spec.cells).items())

    def spec_walk(self, genome: Genome, **size: Any) -> Walk:
        """Every module of the network with its input shape: stem, per cell its preprocessing and ops (each on the
        state it reads), global pooling, classifier. The cells' sums and concatenations are not modules."""
        full = self.size(**size)
        spec = self.net_spec(genome, **full)
        shape = self.input_shape(**full)
        walk: Walk = []
        for s in spec.stem:
            walk.append((s, shape))
            stem_out, shape = shape, spec_macs(s, shape)[1]
        s0 = stem_out if spec.imagenet else shape
        s1 = shape
        for cell in spec.cells:
            walk += [(cell.preprocess0_spec(), s0), (cell.preprocess1_spec(), s1)]
            states = [spec_macs(cell.preprocess0_spec(), s0)[1], spec_macs(cell.preprocess1_spec(), s1)[1]]
            op_specs = cell.op_specs()
            for b in range(len(cell.pairs) // 2):
                for i in (2 * b, 2 * b + 1):
                    walk.append((op_specs[i], states[cell.pairs[i][1]]))
                    out = spec_macs(op_specs[i], states[cell.pairs[i][1]])[1]
                states.append(out)
            s0, s1 = s1, (cell.c_out, *states[cell.concat[0]][1:])
        walk.append((("global_avg_pool",), s1))
        walk.append((spec.classifier_spec, spec_macs(("global_avg_pool",), s1)[1]))
        return walk

    def count_macs(self, genome: Genome, **size: Any) -> int:
        return walk_macs(self.spec_walk(genome, **size))

    def candidate_size(self, train: Mapping[str, Any], size: Mapping[str, Any]) -> dict[str, Any]:
        """The auxiliary loss of a budget (``auxiliary_weight > 0``) needs the auxiliary head."""
        size = dict(size)
        if train.get("auxiliary_weight", 0) > 0:
            size.setdefault("auxiliary", True)
        return size

    def smallest_genome(self, count: Callable[[Genome], int]) -> Genome:
        """Exact: cells as chains (each block reads the previous one, so the output concatenates a single block: the
        narrowest cell) with the cheapest op in every slot. Op counts do not depend on the other slots, and the fixed
        parts (preprocessing, classifier) only grow with the concatenation width, so trying each op per slot is exact."""
        x = np.zeros(self.n_var, dtype=np.int64)
        half = self.n_var // 2
        for offset in (0, half):
            for b in range(self.blocks):
                for j in (0, 1):
                    x[offset + 4 * b + 2 * j + 1] = b + 1 if b > 0 else j  # block 0 reads the cell inputs
        for i in range(0, self.n_var, 2):  # greedy per slot is exact: a slot's op changes nothing else
            best_op = min(range(len(self.ops)), key=lambda op: count(self.decode(_with(x, i, op))))
            x[i] = best_op
        return self.decode(x)

    def input_shape(self, **size: Any) -> tuple[int, ...]:
        n = self.size(**size)["input_size"]
        return (3, n, n)


def _state(i: int) -> str:
    return {0: "c_{k-2}", 1: "c_{k-1}"}.get(i, f"state {i}")


def _with(x: np.ndarray, i: int, value: int) -> np.ndarray:
    y = x.copy()
    y[i] = value
    return y
