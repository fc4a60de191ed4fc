"""The Once-for-All MobileNetV3 space (EEEA-Net-C1/C2 on ImageNet): kernel, expansion, depth and input resolution.

Genome ``arch``: ``resolution`` (input pixels), ``depths`` (blocks per stage), and ``kernels`` / ``expansions`` holding
the active blocks in order (``sum(depths)`` each), the form the EEEA-Net paper publishes its configurations in.

Integer encoding (Once-for-All style, fixed length): for each stage and each of its ``max_depth`` block slots a kernel
gene and an expansion gene (indices into the space's choice lists), then one depth gene per stage, then a resolution
gene. Slots beyond a stage's depth are inactive: :meth:`decode` ignores them and :meth:`encode` writes 0 there.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from torch import nn

from ..counting import spec_macs, spec_params
from ..errors import GenomeError, UserError
from ..genome import Genome
from ..mobilenet import OFA_STAGES, MobileNetV3, MobileNetV3Spec, StageLayout, mbv3_net_spec
from .base import SearchSpace, register_space_kind

SIZE_KEYS = {"num_classes", "input_size", "dropout"}


def _int_list(config: Mapping[str, Any], key: str, source: str) -> list[int]:
    value = config.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and v > 0 for v in value):
        raise UserError(f"{source}: {key!r} must be a non-empty list of positive integers")
    return list(value)


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
        self.resolutions = _resolutions(config, source)
        self.max_depth = max(self.depths)
        self.stages: tuple[StageLayout, ...] = OFA_STAGES
        # Input size when no genome is at hand (its resolution gene decides otherwise).
        self.default_resolution = int(config.get("default_resolution", self.resolutions[-1]))
        n_slots = len(self.stages) * self.max_depth
        upper = [len(self.kernels) - 1, len(self.expansions) - 1] * n_slots
        upper += [len(self.depths) - 1] * len(self.stages) + [len(self.resolutions) - 1]
        self.xu = np.array(upper, dtype=np.int64)
        self.xl = np.zeros_like(self.xu)

    # encoding --------------------------------------------------------------------------------------------------
    @property
    def _n_slots(self) -> int:
        return len(self.stages) * self.max_depth

    def gene_groups(self) -> list[list[int]]:
        """A block's kernel and expansion travel together; depths and the resolution alone."""
        slots = [[2 * i, 2 * i + 1] for i in range(self._n_slots)]
        return slots + [[i] for i in range(2 * self._n_slots, self.n_var)]

    def decode(self, x: np.ndarray) -> Genome:
        x = np.asarray(x)
        if x.shape != (self.n_var,):
            raise GenomeError(f"space {self.name}: expected {self.n_var} genes, got shape {x.shape}")
        if (x < self.xl).any() or (x > self.xu).any():
            raise GenomeError(f"space {self.name}: genes out of bounds (repair them first)")
        slots = 2 * self._n_slots
        depths = [self.depths[int(g)] for g in x[slots : slots + len(self.stages)]]
        kernels, expansions = [], []
        for s, depth in enumerate(depths):
            for b in range(depth):
                slot = s * self.max_depth + b
                kernels.append(self.kernels[int(x[2 * slot])])
                expansions.append(self.expansions[int(x[2 * slot + 1])])
        arch = {
            "resolution": self.resolutions[int(x[-1])],
            "depths": depths,
            "kernels": kernels,
            "expansions": expansions,
        }
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
        x[-1] = self.resolutions.index(arch["resolution"])
        return x

    # validation ------------------------------------------------------------------------------------------------
    def validate(self, genome: Genome) -> Genome:
        self.check_space(genome)
        arch = genome.arch
        self.check_fields(arch, ("resolution", "depths", "kernels", "expansions"))
        resolution = arch["resolution"]
        if resolution not in self.resolutions or isinstance(resolution, bool):
            lo, hi = self.resolutions[0], self.resolutions[-1]
            raise GenomeError(f"resolution: {resolution!r} is not a choice of space {self.name} ({lo}..{hi})")
        depths = self._choices("depths", arch["depths"], self.depths, len(self.stages))
        n_blocks = sum(depths)
        kernels = self._choices("kernels", arch["kernels"], self.kernels, n_blocks)
        expansions = self._choices("expansions", arch["expansions"], self.expansions, n_blocks)
        canonical = {"resolution": resolution, "depths": depths, "kernels": kernels, "expansions": expansions}
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
        lines = [f"input:  {arch['resolution']} x {arch['resolution']} px (the resolution gene)"]
        i = 0
        for n, (stage, depth) in enumerate(zip(self.stages, arch["depths"]), start=1):
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
            num_classes=size["num_classes"], stages=self.stages, dropout=size["dropout"],
        )

    def build(self, genome: Genome, **size: Any) -> nn.Module:
        return MobileNetV3(self.net_spec(genome, **size))

    def count_params(self, genome: Genome, **size: Any) -> int:
        return sum(spec_params(s) for s in self.net_spec(genome, **size).modules)

    def count_macs(self, genome: Genome, **size: Any) -> int:
        shape = self.genome_input_shape(genome, **size)
        total = 0
        for s in self.net_spec(genome, **size).modules:
            macs, shape = spec_macs(s, shape)
            total += macs
        return total

    def input_shape(self, **size: Any) -> tuple[int, ...]:
        n = self.size(**size).get("input_size") or self.default_resolution
        return (3, n, n)

    def genome_input_shape(self, genome: Genome, **size: Any) -> tuple[int, ...]:
        """The genome's own resolution unless ``input_size`` is given explicitly."""
        n = size.get("input_size") or self.validate(genome).arch["resolution"]
        return self.input_shape(**{**size, "input_size": n})
