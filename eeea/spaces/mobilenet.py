"""The Once-for-All MobileNetV3 space (EEEA-Net-C1/C2 on ImageNet): kernel, expansion, depth and input resolution.

Genome ``arch``: ``resolution`` (input pixels), ``depths`` (blocks per stage), and ``kernels`` / ``expansions`` holding
the active blocks in order (``sum(depths)`` each), the form the EEEA-Net paper publishes its configurations in.

Integer encoding (Once-for-All style, fixed length): for each stage and each of its ``max_depth`` block slots a kernel
gene and an expansion gene (indices into the space's choice lists), then one depth gene per stage, then the space's
global genes (:meth:`MobileNetV3Space.global_choices`: here the resolution). Slots beyond a stage's depth are inactive:
:meth:`decode` ignores them and :meth:`encode` writes 0 there.

The stage layout (widths, strides, activations, squeeze-excite) and the stem/head widths may be given in the space
file (``stages``, ``stem_width``, ``stem_stride``, ``final_expand``, ``feature_mix``); they default to Once-for-All's.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from torch import nn

from ..errors import GenomeError, UserError
from ..genome import Genome
from ..models.specs import Walk, build_module, chain_params, chain_walk, walk_macs
from ..models.mobilenet import ACTIVATIONS, OFA_STAGES, MobileNetV3, MobileNetV3Spec, StageLayout, mbv3_net_spec
from .base import SearchSpace, register_space_kind

SIZE_KEYS = {"num_classes", "input_size", "dropout"}


def _int_list(config: Mapping[str, Any], key: str, source: str) -> list[int]:
    value = config.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and v > 0 for v in value):
        raise UserError(f"{source}: {key!r} must be a non-empty list of positive integers")
    return list(value)


def _stages(config: Mapping[str, Any], source: str) -> tuple[StageLayout, ...]:
    """``stages`` as a list of ``{width, stride, act, se}`` mappings (default: the Once-for-All layout)."""
    value = config.get("stages")
    if value is None:
        return OFA_STAGES
    try:
        stages = tuple(StageLayout(int(s["width"]), int(s["stride"]), str(s["act"]), bool(s["se"])) for s in value)
    except (KeyError, TypeError, ValueError):
        raise UserError(f"{source}: 'stages' is a list of {{width, stride, act, se}} mappings") from None
    if not stages or any(s.width < 1 or s.stride not in (1, 2) or s.act not in ACTIVATIONS for s in stages):
        raise UserError(f"{source}: stages need width >= 1, stride 1 or 2 and act one of {', '.join(ACTIVATIONS)}")
    return stages


def _resolutions(config: Mapping[str, Any], source: str) -> list[int]:
    """``resolutions`` is a list of pixel sizes or ``{min, max, step}``."""
    value = config.get("resolutions", [224])
    if isinstance(value, Mapping):
        try:
            lo, hi, step = int(value["min"]), int(value["max"]), int(value.get("step", 4))
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{source}: 'resolutions' as a mapping needs integer min, max (and step)") from None
        if not 0 < lo <= hi or step < 1:
            raise UserError(f"{source}: 'resolutions' needs 0 < min <= max and step >= 1")
        return list(range(lo, hi + 1, step))
    return _int_list({"resolutions": value}, "resolutions", source)


@register_space_kind("mobilenet_v3")
class MobileNetV3Space(SearchSpace):
    """Once-for-All MobileNetV3 subnets: per block kernel and expansion, per stage depth, and input resolution."""
    size_keys = frozenset(SIZE_KEYS)

    def __init__(self, config: Mapping[str, Any], source: str) -> None:
        super().__init__(config, source)
        self.kernels = _int_list(config, "kernels", source)
        self.expansions = _int_list(config, "expansions", source)
        self.depths = _int_list(config, "depths", source)
        self.max_depth = max(self.depths)
        self.stages: tuple[StageLayout, ...] = _stages(config, source)
        try:
            self.layout = {key: int(config.get(key, default)) for key, default in
                           (("stem_width", 16), ("stem_stride", 2), ("final_expand", 960), ("feature_mix", 1280))}
        except (TypeError, ValueError):
            raise UserError(f"{source}: stem_width, stem_stride, final_expand and feature_mix are integers") from None
        self.read_globals(config, source)
        n_slots = len(self.stages) * self.max_depth
        upper = [len(self.kernels) - 1, len(self.expansions) - 1] * n_slots
        upper += [len(self.depths) - 1] * len(self.stages) + [len(c) - 1 for _, c in self.global_choices()]
        self.xu = np.array(upper, dtype=np.int64)
        self.xl = np.zeros_like(self.xu)

    def read_globals(self, config: Mapping[str, Any], source: str) -> None:
        """Read the choice lists of the global genes from the space file."""
        self.resolutions = _resolutions(config, source)
        # Input size when no genome is at hand (its resolution gene decides otherwise).
        self.default_resolution = int(config.get("default_resolution", self.resolutions[-1]))

    def global_choices(self) -> list[tuple[str, list]]:
        """``(field, choices)`` of the genes after the depths, in encoding (and genome field) order."""
        return [("resolution", self.resolutions)]

    # encoding --------------------------------------------------------------------------------------------------
    @property
    def _n_slots(self) -> int:
        return len(self.stages) * self.max_depth

    def gene_groups(self) -> list[list[int]]:
        """A block's kernel and expansion travel together; depths and the resolution alone."""
        slots = [[2 * i, 2 * i + 1] for i in range(self._n_slots)]
        return slots + [[i] for i in range(2 * self._n_slots, self.n_var)]

    def active_genes(self, X: np.ndarray) -> np.ndarray:
        """A block slot's kernel and expansion count only within its stage's depth."""
        X = np.atleast_2d(X)
        slots = 2 * self._n_slots
        depths = np.asarray(self.depths)[X[:, slots : slots + len(self.stages)]]  # n x stages
        used = np.arange(self.max_depth) < depths[:, :, None]  # n x stages x max_depth
        return np.hstack([np.repeat(used.reshape(len(X), -1), 2, axis=1), np.ones((len(X), self.n_var - slots), bool)])

    def summary_features(self, X: np.ndarray) -> np.ndarray:
        """Each stage's depth, and the mean kernel and expansion of its active blocks, as fractions of the largest."""
        X = np.atleast_2d(X)
        used = self.active_genes(X)[:, : 2 * self._n_slots : 2].reshape(len(X), len(self.stages), self.max_depth)
        slots = 2 * self._n_slots
        depth = np.asarray(self.depths)[X[:, slots : slots + len(self.stages)]] / max(self.depths)
        columns = [depth]
        for offset, choices in ((0, self.kernels), (1, self.expansions)):
            values = np.asarray(choices)[X[:, offset:slots:2]].reshape(used.shape) / max(choices)
            columns.append((values * used).sum(axis=2) / np.maximum(used.sum(axis=2), 1))
        return np.hstack(columns)

    def decode_genes(self, x: np.ndarray) -> Genome:
        self.check_bounds(x)
        slots = 2 * self._n_slots
        depths = [self.depths[int(g)] for g in x[slots : slots + len(self.stages)]]
        kernels, expansions = [], []
        for s, depth in enumerate(depths):
            for b in range(depth):
                slot = s * self.max_depth + b
                kernels.append(self.kernels[int(x[2 * slot])])
                expansions.append(self.expansions[int(x[2 * slot + 1])])
        first = slots + len(self.stages)
        arch = {field: choices[int(g)] for (field, choices), g in zip(self.global_choices(), x[first:])}
        arch.update({"depths": depths, "kernels": kernels, "expansions": expansions})
        return self.validate(Genome(self.name, arch))

    def encode(self, genome: Genome) -> np.ndarray:
        arch = self.validate(genome).arch
        x = np.zeros(self.n_var, dtype=np.int64)
        i = 0
        for s, depth in enumerate(arch["depths"]):
            for b in range(depth):
                slot = s * self.max_depth + b
                x[2 * slot] = self.kernels.index(arch["kernels"][i])
                x[2 * slot + 1] = self.expansions.index(arch["expansions"][i])
                i += 1
            x[2 * self._n_slots + s] = self.depths.index(depth)
        first = 2 * self._n_slots + len(self.stages)
        for i, (field, choices) in enumerate(self.global_choices()):
            x[first + i] = choices.index(arch[field])
        return x

    # validation ------------------------------------------------------------------------------------------------
    def validate(self, genome: Genome) -> Genome:
        self.check_space(genome)
        arch = genome.arch
        globals_ = self.global_choices()
        self.check_fields(arch, (*(f for f, _ in globals_), "depths", "kernels", "expansions"))
        canonical: dict[str, Any] = {}
        for field, choices in globals_:
            value = arch[field]
            if isinstance(value, bool) or type(value) is not type(choices[0]) or value not in choices:
                shown = f"{choices[0]}..{choices[-1]}" if len(choices) > 6 else ", ".join(map(str, choices))
                raise GenomeError(f"{field}: {value!r} is not a choice of space {self.name} ({shown})")
            canonical[field] = value
        depths = self._choices("depths", arch["depths"], self.depths, len(self.stages))
        n_blocks = sum(depths)
        kernels = self._choices("kernels", arch["kernels"], self.kernels, n_blocks)
        expansions = self._choices("expansions", arch["expansions"], self.expansions, n_blocks)
        canonical.update({"depths": depths, "kernels": kernels, "expansions": expansions})
        return Genome(self.name, canonical, genome.name)

    @staticmethod
    def _choices(key: str, values: Any, allowed: list[int], n: int) -> list[int]:
        if not isinstance(values, list) or len(values) != n:
            got = len(values) if isinstance(values, list) else type(values).__name__
            why = " (one per active block: sum of depths)" if key != "depths" else " (one per stage)"
            raise GenomeError(f"{key}: expected {n} values{why}, got {got}")
        for i, v in enumerate(values):
            if isinstance(v, bool) or v not in allowed:
                raise GenomeError(f"{key}[{i}]: {v!r} is not one of {allowed}")
        return list(values)

    def describe(self, genome: Genome) -> list[str]:
        arch = self.validate(genome).arch
        return [f"input:  {arch['resolution']} x {arch['resolution']} px (the resolution gene)",
                *self.describe_stages(arch, self.stages)]

    @staticmethod
    def describe_stages(arch: Mapping[str, Any], stages: Sequence[StageLayout]) -> list[str]:
        lines, i = [], 0
        for n, (stage, depth) in enumerate(zip(stages, arch["depths"]), start=1):
            blocks = ", ".join(
                f"k{k}e{e}" for k, e in zip(arch["kernels"][i : i + depth], arch["expansions"][i : i + depth])
            )
            se = ", SE" if stage.se else ""
            lines.append(
                f"stage {n}: {depth} x MBConv -> {stage.width} ch, stride {stage.stride}, {stage.act}{se}: {blocks}"
            )
            i += depth
        return lines

    # networks --------------------------------------------------------------------------------------------------
    def size(self, **overrides: Any) -> dict[str, Any]:
        size = super().size(**overrides)
        if not isinstance(size.get("num_classes"), int) or size["num_classes"] < 1:
            raise UserError(f"space {self.name}: num_classes must be a positive integer, got {size.get('num_classes')!r}")
        # No default input_size: a network runs at its genome's resolution unless told otherwise.
        n = size.get("input_size")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 32):
            raise UserError(f"space {self.name}: input_size must be an integer of at least 32, got {n!r}")
        dropout = size.setdefault("dropout", 0.0)
        if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise UserError(f"space {self.name}: dropout must be in [0, 1), got {dropout!r}")
        return size

    def net_spec(self, genome: Genome, **size: Any) -> MobileNetV3Spec:
        size = self.size(**size)
        arch = self.validate(genome).arch
        return mbv3_net_spec(
            arch["kernels"], arch["expansions"], arch["depths"],
            num_classes=size["num_classes"], stages=self.stages, dropout=size["dropout"], **self.layout,
        )

    def front_of(self, genome: Genome, **size: Any) -> tuple | None:
        """The spec of a module run before the stem (an audio front end), or None: images go straight in."""
        return None

    def chain(self, genome: Genome, **size: Any) -> tuple[tuple, ...]:
        """Every module spec of the network in order: the single description that builds and counts."""
        front = self.front_of(genome, **size)
        return (*((front,) if front else ()), *self.net_spec(genome, **size).modules)

    def build(self, genome: Genome, **size: Any) -> nn.Module:
        front = self.front_of(genome, **size)
        return MobileNetV3(self.net_spec(genome, **size), front=build_module(front) if front else None)

    def count_params(self, genome: Genome, **size: Any) -> int:
        return chain_params(self.chain(genome, **size))

    def spec_walk(self, genome: Genome, **size: Any) -> Walk:
        return chain_walk(self.chain(genome, **size), self.genome_input_shape(genome, **size))

    def count_macs(self, genome: Genome, **size: Any) -> int:
        return walk_macs(self.spec_walk(genome, **size))

    def input_shape(self, **size: Any) -> tuple[int, ...]:
        n = self.size(**size).get("input_size") or self.default_resolution
        return (3, n, n)

    def genome_input_shape(self, genome: Genome, **size: Any) -> tuple[int, ...]:
        """The genome's own resolution unless ``input_size`` is given explicitly."""
        n = size.get("input_size") or self.validate(genome).arch["resolution"]
        return self.input_shape(**{**size, "input_size": n})
