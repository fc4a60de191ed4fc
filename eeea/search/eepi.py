"""Early-exit population initialisation (EE-PI): draw genomes, keep those whose exact size at the *evaluation* scale is
within budget, until the population is full.

Counting walks the memoised per-op counts of :mod:`eeea.counting`, so screening costs microseconds per genome instead
of building each network. The screens, cheapest first: ``params``, ``macs``, ``size`` (the int8 ONNX file's bytes,
an upper bound counted from the module specs by :mod:`eeea.filesize`) and ``latency`` (predicted by a latency table).
``EEPI`` also screens offspring (``--eepi-scope all``) through :class:`BudgetRepair`, and refuses up front a budget
that no genome of the space can meet, naming the smallest achievable count.

``initial`` genomes (a known-good layout, e.g. ``wav2small_17k`` for speech emotion) join the first round of any
algorithm: :meth:`EEPI.include_initial` puts them in place of the first rows the algorithm asked for (the search loop
calls it on round 0, before anything is evaluated), and the run's seed decides the rest. One outside the space or
over budget is left out, with a note.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from pymoo.core.repair import Repair
from pymoo.core.sampling import Sampling

from ..errors import GenomeError, UserError
from ..genome import Genome
from ..latency import LatencyTable
from ..spaces.base import SearchSpace
from ..units import format_bytes, format_count, format_duration

#: give up (with a clear error) after this many draws per wanted genome
MAX_DRAWS_PER_GENOME = 20_000


@dataclass
class EEPIStats:
    draws: int = 0
    rejections: int = 0
    rejected_by: dict[str, int] = field(default_factory=dict)  # screen (params, macs, size, latency, prediction) -> count

    @property
    def accepted(self) -> int:
        return self.draws - self.rejections

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.draws if self.draws else 1.0

    def reject(self, screen: str, n: int = 1) -> None:
        """Count ``n`` rejections by ``screen`` (params, macs, latency, or prediction in the predictive search)."""
        self.rejections += n
        self.rejected_by[screen] = self.rejected_by.get(screen, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return {"draws": self.draws, "rejections": self.rejections, "acceptance_rate": round(self.acceptance_rate, 4),
                "rejected_by": dict(self.rejected_by)}


class EEPI:
    """The early-exit screen: ``max_params`` / ``max_macs`` / ``max_bytes`` (of the int8 ONNX file) /
    ``max_latency`` (microseconds predicted by ``latency_table``; None = no limit) at ``eval_size`` of ``space``;
    ``initial``: genomes the first draws return (see the module docstring)."""

    def __init__(
        self,
        space: SearchSpace,
        max_params: int | None = None,
        max_macs: int | None = None,
        eval_size: Mapping[str, Any] | None = None,
        max_latency: float | None = None,
        latency_table: LatencyTable | None = None,
        max_bytes: int | None = None,
        initial: Sequence[Genome] = (),
    ) -> None:
        self.space = space
        self.max_params = max_params or None  # 0 means "no early exit" (the paper's EA-Net, beta = 0)
        self.max_macs = max_macs or None
        self.max_bytes = max_bytes or None
        self.max_latency = max_latency or None
        self.size = space.size(**dict(eval_size or {}))
        self.table = latency_table
        if self.max_latency is not None and latency_table is None:
            raise UserError("--max-latency needs --latency-table FILE (measure one with eeea latency-table)")
        if latency_table is not None:
            latency_table.check_space(space, self.size)
        self.stats = EEPIStats()
        self.notes: list[str] = []  # what became of each initial genome, for the run log
        self.pending: list[Genome] = []  # initial genomes not yet placed in a first round
        for genome in initial:
            self._add_initial(genome)

    def _add_initial(self, genome: Genome) -> None:
        name = genome.name or genome.key
        try:
            genome = self.space.validate(genome)
        except GenomeError:
            self.notes.append(f"initial population: {name} is not in space {self.space.name}; left out")
            return
        if any(g.key == genome.key for g in self.pending):
            return
        failed = self.rejected_by(genome)
        if failed is not None:
            self.notes.append(f"initial population: {name} fails the {failed} screen ({self.describe_budget()}); "
                              f"left out")
            return
        self.pending.append(genome)
        self.notes.append(f"initial population: includes {name} ({genome.to_text()})")

    # counting ----------------------------------------------------------------------------------------------------
    def params(self, genome: Genome) -> int:
        return self.space.count_params(genome, **self.size)

    def macs(self, genome: Genome) -> int:
        return self.space.count_macs(genome, **self.size)

    def bytes(self, genome: Genome) -> int:
        """Upper bound of the genome's int8 ONNX file size in bytes (:mod:`eeea.filesize`)."""
        return self.space.count_int8_bytes(genome, **self.size)

    def latency(self, genome: Genome) -> float:
        """Predicted microseconds of one inference (the latency table's device and runtime)."""
        if self.table is None:
            raise UserError("the latency objective needs --latency-table FILE (measure one with eeea latency-table)")
        return self.table.predict(self.space.spec_walk(genome, **self.size))

    def screens(self) -> list[tuple[str, float, Callable[[Genome], float]]]:
        """The active screens as ``(name, limit, count)``, cheapest count first (params, MACs, size, latency)."""
        return [(name, limit, count) for name, limit, count in (
            ("params", self.max_params, self.params), ("macs", self.max_macs, self.macs),
            ("size", self.max_bytes, self.bytes), ("latency", self.max_latency, self.latency)) if limit is not None]

    def rejected_by(self, genome: Genome) -> str | None:
        """The name of the first screen ``genome`` fails, or None when it is within budget."""
        return next((name for name, limit, count in self.screens() if count(genome) > limit), None)

    def admits(self, genome: Genome) -> bool:
        """Whether ``genome`` is within budget."""
        return self.rejected_by(genome) is None

    def screen(self, genome: Genome) -> bool:
        """:meth:`admits`, counted in the draw statistics (rejections per screen too)."""
        self.stats.draws += 1
        reason = self.rejected_by(genome)
        if reason is not None:
            self.stats.reject(reason)
        return reason is None

    # drawing -----------------------------------------------------------------------------------------------------
    def draw(self, rng: np.random.Generator, exclude: set[str] | None = None) -> np.ndarray:
        """One random in-budget genome's vector whose key is not in ``exclude``."""
        for _ in range(MAX_DRAWS_PER_GENOME):
            x = self.space.sample(rng)
            genome = self.space.decode(x)
            if exclude is not None and genome.key in exclude:
                continue
            if self.screen(genome):
                return x
        raise UserError(
            f"EE-PI: no genome within {self.describe_budget()} in {MAX_DRAWS_PER_GENOME:,} draws "
            f"(acceptance {self.stats.acceptance_rate:.2%}); raise the budget"
        )

    def population(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` distinct in-budget genomes (as an ``n x n_var`` integer matrix)."""
        self.check_feasible()
        seen: set[str] = set()
        rows = []
        for _ in range(n):
            x = self.draw(rng, seen)
            seen.add(self.space.decode(x).key)
            rows.append(x)
        return np.array(rows, dtype=np.int64)

    def include_initial(self, X: np.ndarray) -> np.ndarray:
        """The rows of an algorithm's first round with the initial genomes in place of its first rows (each once;
        one the round already holds is not added again). Deterministic, so a resumed run replays the same round."""
        X = np.array(X, dtype=np.int64, copy=True)
        keys = [self.space.decode(x).key for x in X]
        row = 0
        for genome in self.pending:
            if genome.key in keys:
                continue
            while row < len(X) and keys[row] in {g.key for g in self.pending}:
                row += 1  # never overwrite an initial genome the algorithm drew itself
            if row >= len(X):
                break
            X[row], keys[row] = self.space.encode(genome), genome.key
            row += 1
        self.pending = []
        return X

    # feasibility -------------------------------------------------------------------------------------------------
    def describe_budget(self) -> str:
        parts = []
        if self.max_params is not None:
            parts.append(f"{format_count(self.max_params)} params")
        if self.max_macs is not None:
            parts.append(f"{format_count(self.max_macs)} MACs")
        if self.max_bytes is not None:
            parts.append(f"an int8 file of {format_bytes(self.max_bytes)}")
        if self.max_latency is not None:
            parts.append(f"{format_duration(self.max_latency)} predicted latency")
        shown = ", ".join(f"{k}={v}" for k, v in self.size.items() if k in ("channels", "layers", "num_classes", "seconds"))
        return f"{' and '.join(parts) or 'no budget'} at {shown or 'the evaluation size'}"

    def check_feasible(self) -> None:
        """Raise one line naming the smallest achievable count when a threshold cannot be met."""
        limits = (("params", self.max_params, self.params), ("MACs", self.max_macs, self.macs),
                  ("size", self.max_bytes, self.bytes), ("latency", self.max_latency, self.latency))
        for what, limit, count in limits:
            if limit is None:
                continue
            genome = self.space.smallest_genome(count)
            smallest = count(genome)
            if smallest > limit:
                flag = {"params": "--max-params", "MACs": "--max-macs", "size": "--max-model-bytes"}.get(
                    what, "--max-latency")
                shown = {"latency": format_duration, "size": format_bytes}.get(what, format_count)
                has = {"latency": f"a predicted latency of {format_duration(smallest)}",
                       "size": f"an int8 file of about {format_bytes(smallest)}"}.get(what, f"{smallest:,} {what}")
                raise UserError(
                    f"{flag} {shown(limit)} cannot be met by space {self.space.name} at "
                    f"{self.describe_budget().split(' at ', 1)[1]}: the smallest network has {has}"
                )


# pymoo operators ---------------------------------------------------------------------------------------------------
class EEPISampling(Sampling):
    """pymoo sampling = EE-PI, drawing from pymoo's ``random_state`` so that the run's seed reproduces it."""

    def __init__(self, eepi: EEPI) -> None:
        super().__init__()
        self.eepi = eepi

    def _do(self, problem: Any, n_samples: int, *args: Any, random_state: np.random.Generator, **kwargs: Any):
        return self.eepi.population(random_state, n_samples)


class BudgetRepair(Repair):
    """Offspring over budget are mutated again (one pair redrawn, up to ``tries`` times), then replaced by a fresh
    EE-PI draw: no over-budget network is ever trained."""

    def __init__(self, eepi: EEPI, tries: int = 20) -> None:
        super().__init__()
        self.eepi, self.tries = eepi, tries
        self.screened = self.repaired = self.redrawn = 0  # offspring counts, kept apart from the initial draws

    def _do(self, problem: Any, X: np.ndarray, random_state: np.random.Generator | None = None, **kwargs: Any):
        space = self.eepi.space
        groups = space.gene_groups()
        X = np.asarray(X, dtype=np.int64).copy()
        for row in range(len(X)):
            x = space.repair(X[row])
            self.screened += 1
            if not self.eepi.admits(space.decode(x)):
                for _ in range(self.tries):
                    x = redraw_group(space, x, groups[random_state.integers(len(groups))], random_state)
                    if self.eepi.admits(space.decode(x)):
                        self.repaired += 1
                        break
                else:
                    x = self.eepi.draw(random_state)
                    self.redrawn += 1
            X[row] = x
        return X

    def stats(self) -> dict[str, int]:
        return {"offspring_screened": self.screened, "repaired": self.repaired, "redrawn": self.redrawn}


def redraw_group(space: SearchSpace, x: np.ndarray, group: list[int], rng: np.random.Generator) -> np.ndarray:
    """``x`` with the genes of one group redrawn uniformly within their bounds."""
    y = np.array(x, dtype=np.int64).copy()
    for g in group:
        y[g] = rng.integers(space.xl[g], space.xu[g] + 1)
    return space.repair(y)
