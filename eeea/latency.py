"""Predicted and measured inference latency: a per-module latency table of one device and runtime, and the timing
protocol that fills it and times whole exported networks.

A network is a walk of module specs, each on its input shape (:meth:`SearchSpace.spec_walk`, the same walk that
counts MACs). A :class:`LatencyTable` holds, per module spec, its latency in microseconds measured alone at one or more
input shapes on the target device as it runs inside a network (:func:`module_items`), plus the fixed
per-inference cost (``overhead_us``). The predicted latency of a genome is the table's correction (fitted on whole
networks, :meth:`LatencyTable.fit_correction`) of ``overhead_us + sum of its modules' entries``
(:func:`count_latency`). A module met at a shape the table did not measure is scaled by its input size (linear
between measured shapes, proportional beyond them); a spec the table lacks is estimated from its kind's nearest
entry, and a kind the table lacks entirely is an error. eeea ships reference tables of the SER spaces
(:func:`shipped_table`), measured on its development machine.

Timing protocol (:func:`time_us`): warm-up runs, then the 10th percentile (:data:`QUANTILE`) of timed runs (more runs
for fast modules, at least :data:`MIN_RUNS`), one intra-op thread unless told otherwise; tables and benchmarks time in
interleaved passes and keep each item's fastest pass. Both choices measure the device's own speed on a machine shared
with other work, whose runs fall in a fast and a slow mode and whose slow spells last seconds (docs/decisions.md).
Table files are JSON; they record the machine, runtime, versions, threads, protocol, space and size they were
measured at, so a table measured on a phone or a Raspberry Pi can be brought back and used by a search that never
touches that device.
"""
from __future__ import annotations

import bisect
import json
import math
import platform
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from torch import nn

from .errors import UserError
from .genome import Genome
from .runtime import trim_heap

FORMAT = 1
RUNTIMES = ("onnxruntime", "torch")
WARMUP_RUNS, MIN_RUNS, MAX_RUNS = 2, 5, 50
#: timed runs stop early once they have taken this long (big modules need few runs for a stable figure)
TIME_BUDGET_S = 0.3
#: the figure of a module or network: this quantile of its timed runs. Not the median: on a shared machine the runs
#: fall in a fast and a slow mode (other tenants' load), and the median flips between them from one session to the
#: next (18 % apart, against 3 % for the 10th percentile; docs/decisions.md)
QUANTILE = 0.1
#: a table's modules: interleaved passes over all of them, each timing a module for at most this long
TABLE_PASSES, TABLE_BUDGET_S = 3, 0.1
#: whole networks a table's correction is chosen and fitted on (fewer pick the form by chance: on wav2small, 20 left
#: the handoff term unpicked in 7 of 20 draws, 60 in 4)
CALIBRATE = 60

Shape = tuple[int, ...]


def _as_spec(value: Any) -> Any:
    """A spec back from its JSON form (lists become tuples, as specs are built)."""
    return tuple(_as_spec(v) for v in value) if isinstance(value, list) else value


def spec_key(spec: Sequence[Any]) -> str:
    """The JSON text that names a spec in a table file (tuples become lists)."""
    return json.dumps(list(spec), separators=(",", ":"))


_spec_key = lru_cache(maxsize=None)(spec_key)


# tables ------------------------------------------------------------------------------------------------------------
@dataclass
class LatencyTable:
    """Per-module latencies (microseconds) of one space at one size, on one machine and runtime."""

    space: str
    size: dict[str, Any]
    runtime: str
    threads: int
    overhead_us: float
    #: spec key -> sorted ``[(input numel, input shape, microseconds)]``
    entries: dict[str, list[tuple[int, Shape, float]]]
    machine: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    #: ``predicted = offset_us + scale * (overhead + sum of modules)``, fitted on whole networks timed end to end
    #: (what the sum of modules alone misses: the runtime's fusions across modules, memory traffic between them)
    correction: dict[str, float] = field(default_factory=lambda: {"scale": 1.0, "offset_us": 0.0})
    #: the whole networks the correction was fitted on: ``[{"sum_us", "modules", "handoff", "measured_us"}]``
    calibration: list[dict[str, float]] = field(default_factory=list)
    source: str = "<table>"
    #: spec keys of the modules the runtime runs in its blocked layout (:func:`blocked_layout`)
    blocked: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self._cache: dict[tuple[tuple, Shape], float] = {}
        self._kinds: dict[str, list[tuple[int, float]]] | None = None  # kind -> [(MACs, us)]: see _by_kind

    # prediction ----------------------------------------------------------------------------------------------------
    def module_us(self, spec: tuple, shape: Shape) -> float:
        """Latency of one module on an input of ``shape`` (memoised)."""
        found = self._cache.get((spec, shape))
        if found is None:
            found = self._cache[(spec, shape)] = self._lookup(spec, shape)
        return found

    def _lookup(self, spec: tuple, shape: Shape) -> float:
        points = self.entries.get(_spec_key(spec))
        if not points:
            return self._by_kind(spec, shape)
        for _, s, us in points:
            if s == shape:
                return us
        n = int(np.prod(shape))
        sizes = [p[0] for p in points]
        i = bisect.bisect_left(sizes, n)
        if 0 < i < len(points):  # between two measured sizes: linear
            (n0, _, t0), (n1, _, t1) = points[i - 1], points[i]
            return t0 + (t1 - t0) * (n - n0) / (n1 - n0) if n1 != n0 else t0
        n0, _, t0 = points[min(i, len(points) - 1)]
        return t0 * n / n0 if n0 else t0

    def _by_kind(self, spec: tuple, shape: Shape) -> float:
        """A spec the table lacks, estimated from the measured spec of the same kind nearest in MACs (at its own
        most frequent shape), scaled by MACs: random enumeration misses rare specs (a classifier of an unusual
        width), which should not stop a search. A kind the table has never measured is an error."""
        from .models.specs import spec_macs

        if self._kinds is None:
            self._kinds = {}
            for key, pts in self.entries.items():
                other = _as_spec(json.loads(key))
                _, s, us = pts[len(pts) // 2]
                self._kinds.setdefault(other[0], []).append((max(spec_macs(other, s)[0], 1), us))
        measured = self._kinds.get(spec[0])
        if not measured:
            raise UserError(f"{self.source}: no entry for module {spec_key(spec)} (space {self.space}); rebuild the "
                            f"table with eeea latency-table (more --samples)")
        macs = max(spec_macs(spec, shape)[0], 1)
        near_macs, us = min(measured, key=lambda m: abs(np.log(m[0] / macs)))
        return us * macs / near_macs

    def sum_us(self, walk: Iterable[tuple[tuple, Shape]]) -> float:
        """The runtime's per-inference overhead plus every module's entry: the uncorrected prediction."""
        return self.overhead_us + sum(self.module_us(spec, shape) for spec, shape in walk)

    def handoff(self, walk: Iterable[tuple[tuple, Shape]]) -> int:
        """Elements handed from one module to the next where both run in the runtime's blocked layout
        (:attr:`blocked`). Timed alone, each such module pays for reordering its input into that layout and its
        output out of it; in a network the handoff between two of them needs neither."""
        total, before = 0, False
        for spec, shape in walk:
            here = _spec_key(spec) in self.blocked
            if before and here:
                total += math.prod(shape)
            before = here
        return total

    def predict(self, walk: Iterable[tuple[tuple, Shape]]) -> float:
        """Predicted microseconds of one inference of the network ``walk`` describes (:attr:`correction` applied)."""
        walk = list(walk)
        c = self.correction
        us = c["offset_us"] + c["scale"] * self.sum_us(walk) + c.get("per_module_us", 0.0) * len(walk)
        if c.get("per_handoff_element_us"):
            us += c["per_handoff_element_us"] * self.handoff(walk)
        return us

    def correction_form(self) -> str:
        """The kept correction in words: ``none`` or ``a + b*sum`` with its extra term."""
        c = self.correction
        if c.get("scale", 1.0) == 1.0 and not c.get("offset_us") and not c.get("per_module_us") \
                and not c.get("per_handoff_element_us"):
            return "none (the sum as it is)"
        return "a + b*sum" + (" + c*modules" if c.get("per_module_us") else "") \
            + (" + d*handoff" if c.get("per_handoff_element_us") else "")

    def fit_correction(self, walks: Sequence[Sequence[tuple[tuple, Shape]]], measured: Sequence[float]) -> None:
        """Fit :attr:`correction` to whole networks (``walks``) timed end to end (``measured`` microseconds).

        Forms, fitted by least squares on the relative error: ``offset + scale * sum``; with a cost per module
        (``per_module_us * modules``: what the runtime spends between modules, or saves by fusing across them, that
        timing modules alone cannot see); with a cost per element handed between two modules of the blocked layout
        (``per_handoff_element_us * handoff``, :meth:`handoff`: the layout reorders a module timed alone pays and a
        network does not). The form kept is the one with the smallest leave-one-out median error over the networks
        (a term must predict networks it was not fitted on), the uncorrected sum included (from 8 networks on): a
        correction must earn its place. A form predicting a non-positive time on a network is out; if all are, the
        median ratio measured / sum."""
        self.fit_calibration([self.sum_us(w) for w in walks], [len(w) for w in walks],
                             [self.handoff(w) for w in walks], measured)

    def fit_calibration(self, sums: Sequence[float], modules: Sequence[int], handoffs: Sequence[int],
                        measured: Sequence[float]) -> None:
        """:meth:`fit_correction` on whole networks given by what it reads of them: each one's uncorrected sum
        (:meth:`sum_us`), module count, :meth:`handoff` and measured microseconds (the fields of
        :attr:`calibration`, which this sets)."""
        sums = np.asarray(sums, dtype=float)
        counts = np.asarray(modules, dtype=float)
        handoffs = np.asarray(handoffs, dtype=float)
        y = np.asarray(measured, dtype=float)
        forms: list[tuple[tuple[str, ...], list[np.ndarray]]] = [(("scale",), [sums])]
        for term, x in (("per_module_us", counts), ("per_handoff_element_us", handoffs)):
            if len(set(x)) > 1 and len(y) >= 8:
                forms.append((("scale", term), [sums, x]))
        best, best_err = (0.0, {"scale": float(np.median(y / sums))}), float("inf")
        if len(y) >= 8:  # the sum as it is: no parameter to fit, its error on the networks is out of sample already
            best, best_err = (0.0, {"scale": 1.0}), float(np.median(np.abs(sums - y) / y))
        for names, xs in forms:
            coef = _fit_relative(xs, y)
            if coef[1] <= 0 or min(_affine(coef, xs)) <= 0:
                continue
            errors = []
            for i in range(len(y)):  # leave one out
                keep = np.arange(len(y)) != i
                c = _fit_relative([x[keep] for x in xs], y[keep])
                errors.append(abs(_affine(c, [x[i : i + 1] for x in xs])[0] - y[i]) / y[i])
            if float(np.median(errors)) < best_err:
                best, best_err = (coef[0], dict(zip(names, coef[1:]))), float(np.median(errors))
        offset, terms = best
        self.correction = {"scale": round(terms["scale"], 5), "offset_us": round(offset, 3),
                           "per_module_us": round(terms.get("per_module_us", 0.0), 3),
                           "per_handoff_element_us": round(terms.get("per_handoff_element_us", 0.0), 7),
                           "networks": len(y)}
        self.calibration = [{"sum_us": round(float(a), 1), "modules": int(n), "handoff": int(h),
                             "measured_us": round(float(m), 1)} for a, n, h, m in zip(sums, counts, handoffs, y)]

    @property
    def quantile(self) -> float:
        """The quantile of timed runs the table's figures are (a table that does not record one holds medians)."""
        return float(self.protocol.get("quantile", 0.5))

    @property
    def optimization(self) -> str:
        """onnxruntime's graph optimisation level the table was measured at (:data:`eeea.onnx_io.ORT_OPTIMIZATIONS`)."""
        return str(self.protocol.get("graph_optimization", "all"))

    def timer(self, budget_s: float = TIME_BUDGET_S) -> "Timer":
        """A :class:`Timer` that measures as this table was measured (runtime, threads, quantile, graph optimisation):
        whole networks timed with it compare with the table's predictions."""
        return Timer(self.runtime, self.threads, budget_s, self.quantile, self.optimization)

    def check_space(self, space: Any, size: Mapping[str, Any] | None = None) -> None:
        """Raise one line unless the table was measured for ``space`` at ``size`` (default: the table's own)."""
        if space.name != self.space:
            raise UserError(f"{self.source}: latency table of space {self.space}, not {space.name}; build one with "
                            f"eeea latency-table --space {space.name}")
        if size is not None:
            wanted = space.size(**dict(size))
            if space.size(**self.size) != wanted:
                raise UserError(f"{self.source}: measured at size {self.size}, the search counts at {wanted}; "
                                f"rebuild the table at that size")

    # files ---------------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        entries = [{"spec": json.loads(k), "points": [{"shape": list(s), "us": round(us, 3)} for _, s, us in pts],
                    **({"blocked": True} if k in self.blocked else {})} for k, pts in sorted(self.entries.items())]
        return {"format": FORMAT, "kind": "eeea latency table", "space": self.space, "size": self.size,
                "runtime": self.runtime, "threads": self.threads, "machine": self.machine, "versions": self.versions,
                "protocol": self.protocol, "overhead_us": round(self.overhead_us, 3), "correction": self.correction,
                "calibration": self.calibration, "entries": entries}

    def save(self, path: str | Path, force: bool = False) -> None:
        """Write the table to ``path`` (JSON), atomically through a uniquely named temporary file beside it: an
        existing file is replaced only with ``force``, and only once the new one is complete."""
        from .outputs import check_output_file
        from .atomic import atomic_write_text

        path = Path(path)
        check_output_file(path, force, "--out")
        data = self.to_dict()
        entries = data.pop("entries")
        head = json.dumps(data, indent=1)[:-2]  # one entry per line: readable and diffable
        lines = ",\n  ".join(json.dumps(e, separators=(",", ":")) for e in entries)
        atomic_write_text(path, f'{head},\n "entries": [\n  {lines}\n ]\n}}\n')

    @classmethod
    def from_dict(cls, data: Any, source: str = "<table>") -> "LatencyTable":
        try:
            if data.get("format") != FORMAT or data.get("kind") != "eeea latency table":
                raise ValueError("not an eeea latency table (format 1)")
            entries: dict[str, list[tuple[int, Shape, float]]] = {}
            blocked = set()
            for e in data["entries"]:
                if e.get("blocked") is True:
                    blocked.add(spec_key(e["spec"]))
                points = []
                for p in e["points"]:
                    shape = tuple(int(d) for d in p["shape"])
                    us = float(p["us"])
                    if not us >= 0:
                        raise ValueError(f"negative or missing time for {e['spec']}")
                    points.append((int(np.prod(shape)), shape, us))
                entries[spec_key(e["spec"])] = sorted(points)
            table = cls(str(data["space"]), dict(data["size"]), str(data["runtime"]), int(data["threads"]),
                        float(data["overhead_us"]), entries, dict(data.get("machine", {})),
                        dict(data.get("versions", {})), dict(data.get("protocol", {})),
                        {k: float(data.get("correction", {}).get(k, d))
                         for k, d in (("scale", 1.0), ("offset_us", 0.0), ("per_module_us", 0.0),
                                      ("per_handoff_element_us", 0.0))},
                        list(data.get("calibration", [])), source, frozenset(blocked))
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as e:
            detail = f"missing {e}" if isinstance(e, KeyError) else str(e)[:120]
            raise UserError(f"{source}: not a valid latency table ({detail})") from None
        if table.runtime not in RUNTIMES:
            raise UserError(f"{source}: unknown runtime {table.runtime!r} (known: {', '.join(RUNTIMES)})")
        from .onnx_io import ORT_OPTIMIZATIONS

        if table.optimization not in ORT_OPTIMIZATIONS:
            raise UserError(f"{source}: unknown graph optimisation {table.optimization!r} (known: "
                            f"{', '.join(ORT_OPTIMIZATIONS)})")
        try:
            quantile = table.quantile
        except (TypeError, ValueError):
            quantile = float("nan")
        if not 0 <= quantile <= 1:
            raise UserError(f"{source}: quantile {table.protocol.get('quantile')!r} is not between 0 and 1")
        return table

    @classmethod
    def load(cls, path: str | Path) -> "LatencyTable":
        from .files import read_json

        path = Path(path)
        if not path.is_file():
            raise UserError(f"latency table {path} does not exist")
        return cls.from_dict(read_json(path, "latency table", finite=True), str(path))


# tables shipped with eeea -------------------------------------------------------------------------------------------
#: the package folder of the reference tables (``SPACE.json``), measured on the machine eeea is developed on
SHIPPED_DIR = "latency_tables"


def shipped_table(space: Any, size: Mapping[str, Any]) -> LatencyTable | None:
    """The table shipped with eeea for ``space`` measured at ``size``, or None (no table for the space, or one of
    another size: a latency at another clip length or width is not this table's to predict). A union space without a
    file of its own gets its members' tables composed (:func:`compose_table`) when every member has one."""
    from importlib.resources import files

    found = files("eeea").joinpath(SHIPPED_DIR, f"{space.name}.json")
    if not found.is_file():
        members = [shipped_table(m, {k: v for k, v in size.items() if k in m.size_keys})
                   for m in getattr(space, "members", [])]
        if not members or None in members:
            return None
        return compose_table(space, members, "eeea's reference tables " + " + ".join(
            f"{t.space}.json" for t in members))
    table = LatencyTable.from_dict(json.loads(found.read_text()), f"eeea's reference table {space.name}.json")
    return table if space.size(**table.size) == space.size(**dict(size)) else None


def compose_table(space: Any, tables: Sequence[LatencyTable], source: str | None = None) -> LatencyTable:
    """The table of union ``space`` composed from one table per member space, all measured on one device, runtime,
    thread count and protocol at one size (a union network is one member's network, walked by that member: its
    modules are in that member's table). A module both tables hold keeps the mean of their figures. The overhead is
    the members' mean, and the correction is refitted on all the members' calibration networks together, so that one
    correction serves the whole union (``docs/decisions.md``). Anything that differs between the tables is one
    line's error."""
    names = {t.space for t in tables}
    members = [m.name for m in getattr(space, "members", [])]
    source = source or " + ".join(t.source for t in tables)
    if not members or sorted(names) != sorted(members) or len(tables) != len(members):
        raise UserError(f"{source}: a table of union space {space.name} is composed from one table of each member "
                        f"({', '.join(members) or 'it has none'}), not of {', '.join(t.space for t in tables)}")
    first = tables[0]
    for t in tables[1:]:
        for what, a, b in (("runtime", first.runtime, t.runtime), ("threads", first.threads, t.threads),
                           ("machine", first.machine, t.machine),
                           ("runtime version", first.versions.get(first.runtime), t.versions.get(t.runtime)),
                           ("quantile", first.quantile, t.quantile),
                           ("graph optimisation", first.optimization, t.optimization),
                           ("size", space.size(**first.size), space.size(**t.size))):
            if a != b:
                raise UserError(f"{source}: the member tables differ in {what} ({a} vs {b}); compose tables "
                                f"measured on one device the same way")
    points: dict[str, dict[Shape, list[float]]] = {}
    for t in tables:
        for key, pts in t.entries.items():
            for _, shape, us in pts:
                points.setdefault(key, {}).setdefault(shape, []).append(us)
    entries = {key: sorted((int(np.prod(shape)), shape, round(float(np.mean(us)), 3))
                           for shape, us in by_shape.items())
               for key, by_shape in points.items()}
    table = LatencyTable(space.name, space.size(**first.size), first.runtime, first.threads,
                         float(np.mean([t.overhead_us for t in tables])), entries, dict(first.machine),
                         dict(first.versions), {**first.protocol, "composed_from": sorted(names)}, source=source,
                         blocked=frozenset().union(*(t.blocked for t in tables)))
    calibration = [c for t in tables for c in t.calibration]
    if calibration:
        table.fit_calibration([c["sum_us"] for c in calibration], [c["modules"] for c in calibration],
                              [c["handoff"] for c in calibration], [c["measured_us"] for c in calibration])
    return table


def describe_device(table: LatencyTable) -> str:
    """Where a table's latencies hold: ``x86_64 CPU (model name, onnxruntime 1.x, 1 thread)``."""
    m, runtime = table.machine, table.runtime
    version = table.versions.get(runtime)
    details = [m["processor"]] if m.get("processor") else []
    details += [f"{runtime}{' ' + version if version else ''}", f"{table.threads} thread{'s' if table.threads != 1 else ''}"]
    if runtime == "onnxruntime" and table.optimization != "all":
        details.append(f"graph optimisation {table.optimization}")
    return f"{m.get('machine', 'unknown')} CPU ({', '.join(details)})"


def version_mismatch(table: LatencyTable) -> str | None:
    """One line when the installed runtime's version is not the one the table was measured with (else None)."""
    from importlib.metadata import PackageNotFoundError, version

    wanted = table.versions.get(table.runtime)
    try:
        installed = version(table.runtime)
    except PackageNotFoundError:
        installed = None
    if wanted is None or installed == wanted:
        return None
    have = f"{table.runtime} {installed} is installed here" if installed else f"{table.runtime} is not installed here"
    return f"{table.source}: measured with {table.runtime} {wanted}, {have}; its predictions may be off"


def count_latency(genome: Genome, table: LatencyTable, size: Mapping[str, Any] | None = None,
                  **overrides: Any) -> float:
    """Predicted microseconds of one inference of ``genome`` on the table's device: the runtime's per-inference
    overhead plus the table's entry of every module of the network (at the table's size unless given)."""
    from .spaces import get_space

    space = get_space(genome.space)
    full = {**table.size, **(size or {}), **overrides}
    if genome.space != table.space and genome.space not in _member_names(table.space):
        table.check_space(space)
    return table.predict(space.spec_walk(genome, **full))


def _member_names(name: str) -> set[str]:
    """The member spaces of union space ``name`` (none for another space, or one not known here)."""
    from .spaces import get_space

    try:
        return {m.name for m in getattr(get_space(name), "members", [])}
    except UserError:
        return set()


# timing ------------------------------------------------------------------------------------------------------------
CLOCKS = {"thread": time.thread_time, "wall": time.perf_counter}


def time_us(run: Callable[[], Any], warmup: int = WARMUP_RUNS, runs: int = MAX_RUNS,
            budget_s: float = TIME_BUDGET_S, clock: str = "thread", quantile: float = QUANTILE) -> float:
    """Microseconds of ``run()`` after ``warmup`` calls: the ``quantile`` (:data:`QUANTILE`; 0.5 is the median) of
    at least :data:`MIN_RUNS` timed calls, at most ``runs``, stopping once ``budget_s`` is spent.

    ``clock="thread"`` times the calling thread's CPU time: with one intra-op thread the runtimes compute in the
    calling thread, so this is the latency of an otherwise idle core, unaffected by other processes sharing the
    machine (wall time on a loaded machine counts their turns too). ``"wall"`` is for several threads."""
    now = CLOCKS[clock]
    for _ in range(warmup):
        run()
    times: list[float] = []
    spent = 0.0
    while len(times) < max(runs, 1) and (len(times) < MIN_RUNS or spent < budget_s):
        start = now()
        run()
        took = now() - start
        times.append(took)
        spent += took
    return float(np.quantile(times, quantile)) * 1e6


class Timer:
    """Times modules and whole networks with one runtime (``onnxruntime`` or ``torch``) and thread count."""

    def __init__(self, runtime: str = "onnxruntime", threads: int = 1, budget_s: float = TIME_BUDGET_S,
                 quantile: float = QUANTILE, optimization: str = "all") -> None:
        from .onnx_io import ORT_OPTIMIZATIONS

        if runtime not in RUNTIMES:
            raise UserError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise UserError(f"--threads must be a positive integer, got {threads!r}")
        if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0 <= quantile <= 1:
            raise UserError(f"--quantile must be a number from 0 to 1 (0.5 is the median), got {quantile!r}")
        if optimization not in ORT_OPTIMIZATIONS:
            raise UserError(f"--optimization must be one of {', '.join(ORT_OPTIMIZATIONS)}, got {optimization!r}")
        self.runtime, self.threads, self.budget_s, self.quantile = runtime, threads, budget_s, float(quantile)
        self.optimization = optimization
        self.clock = "thread" if threads == 1 else "wall"  # see time_us

    def describe(self) -> str:
        """How this timer times, in words: runtime and version, threads, batch, statistic, CPU."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            runtime = f"{self.runtime} {version(self.runtime)}"
        except PackageNotFoundError:
            runtime = self.runtime
        threads = f"{self.threads} thread{'s' if self.threads != 1 else ''}"
        return (f"{runtime}, {threads}, batch 1, {self.quantile * 100:.0f}th percentile of timed runs after warm-up, "
                f"{_cpu_name()}")

    def torch_us(self, model: Any, shape: Shape, budget_s: float) -> float:
        """Microseconds of one batch-1 inference of a torch module, run by torch, on an input of ``shape``
        (:func:`time_us`)."""
        import torch

        model = model.eval()
        x = torch.from_numpy(_example(shape))
        threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                return time_us(lambda: model(x), budget_s=budget_s, clock=self.clock, quantile=self.quantile)
        finally:
            torch.set_num_threads(threads)

    def passes_us(self, items: Iterable[tuple[Any, Shape] | tuple[Any, Shape, float]], passes: int = 3,
                  quiet: bool = True, desc: str = "timing", folder: Path | None = None,
                  total: int | None = None) -> list[list[float]]:
        """Per pass, the microseconds of each item ``(torch module, input shape[, seconds of runs])``: every item is
        timed once per pass, passes interleaved. Items timed in the same passes share the machine's slow and fast
        spells, so tables, calibration networks and the networks they predict are best timed together
        (:func:`build_table`). ONNX files are exported once, into ``folder`` (default a temporary one; see
        :meth:`prepare`). Unless ``quiet``, both phases report progress (:class:`~eeea.progress.Progress`:
        bars on a terminal, lines with an ETA elsewhere); ``total``: the number of items, when ``items`` is a
        generator (it is consumed one item at a time, so networks built by it are not all held at once)."""
        from contextlib import ExitStack

        from .progress import Progress

        with ExitStack() as stack:
            if folder is None:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            runs = self.prepare(items, folder, quiet, desc, total)
            per_pass: list[list[float]] = [[] for _ in range(passes)]
            with Progress(f"{desc}: timing", passes * len(runs), "timings", quiet=quiet) as progress:
                for row in per_pass:
                    for run in runs:
                        row.append(run())
                        progress.update()
            return per_pass

    def prepare(self, items: Iterable[tuple[Any, Shape] | tuple[Any, Shape, float]], folder: Path,
                quiet: bool = True, desc: str = "timing", total: int | None = None,
                start: int = 0) -> list[Callable[[], float]]:
        """One timing function per item (see :meth:`passes_us`). onnxruntime: the ``i``-th item is exported to
        :func:`item_file` ``(folder, start + i)`` (a file already there, written by :func:`estimate_cost` for the
        same items, is reused) and only its path is held: a table of an audio space has hundreds of modules whose
        example inputs alone took 2.6 GB when all were held, so each timing makes its input and frees it after."""
        from .onnx_io import export_onnx
        from .progress import Progress

        runs: list[Callable[[], float]] = []
        if total is None and hasattr(items, "__len__"):
            total = len(items)  # type: ignore[arg-type]
        with Progress(f"{desc}: exporting to ONNX", total or 0, "files", quiet=quiet or self.runtime == "torch"
                      or not total) as progress:
            for i, (model, shape, *budget) in enumerate(items, start):
                seconds = budget[0] if budget else self.budget_s
                if self.runtime == "torch":
                    runs.append(lambda model=model, shape=shape, b=seconds: self.torch_us(model, shape, b))
                    continue
                path = item_file(folder, i)
                if not path.exists():
                    export_onnx(model.eval(), shape, path)
                    trim_heap()  # tracing a large module leaves a large free heap behind
                runs.append(lambda path=path, shape=shape, b=seconds: self._timed_and_trimmed(path, shape, b))
                progress.update()
        return runs

    def _timed_and_trimmed(self, path: Path, shape: Shape, budget_s: float) -> float:
        """:meth:`onnx_us` on a fresh example input; the session's heap is given back afterwards."""
        try:
            return self.onnx_us(path, _example(shape), budget_s)
        finally:
            trim_heap()

    def onnx_us(self, path: str | Path, x: np.ndarray, budget_s: float | None = None) -> float:
        """Microseconds of one inference of an ONNX file on input ``x`` (onnxruntime, CPU; :func:`time_us`)."""
        from .onnx_io import onnx_session

        session = onnx_session(path, self.threads, self.optimization)
        feed = {session.get_inputs()[0].name: np.asarray(x, dtype=np.float32)}  # no copy of a float32 input
        return time_us(lambda: session.run(None, feed), budget_s=self.budget_s if budget_s is None else budget_s,
                       clock=self.clock, quantile=self.quantile)


def item_file(folder: Path, i: int) -> Path:
    """Where :meth:`Timer.prepare` exports item ``i``."""
    return folder / f"item{i}.onnx"


def fastest(per_pass: Sequence[Sequence[float]]) -> list[float]:
    """Each item's fastest pass (``per_pass[pass][item]``)."""
    return [min(p[i] for p in per_pass) for i in range(len(per_pass[0]))] if per_pass else []


def module_items(jobs: Sequence[tuple[tuple, Shape]]) -> tuple[list[tuple[Any, Shape]], list[int]]:
    """What times each module ``(spec, input shape)`` as it runs inside a network: ``(items, baselines)``, the
    items being first each module followed by an average of its output (:class:`Reduced`: the output then lives in
    the runtime's reused memory as a network's intermediate tensors do, instead of being a fresh output buffer per
    call, page faults and a copy out, which on the large activations of audio networks cost as much as a cheap
    module itself), then one average (:class:`Mean`: the call's fixed cost and the averaging) per output shape;
    ``baselines[j]`` is the index of module ``j``'s average among the items."""
    from .models.specs import build_module, spec_macs

    items: list[tuple[Any, Shape]] = [(Reduced(build_module(spec)), shape) for spec, shape in jobs]
    means: dict[Shape, int] = {}
    baselines = []
    for spec, shape in jobs:
        out = spec_macs(spec, shape)[1]
        if out not in means:
            means[out] = len(items) + len(means)
        baselines.append(means[out])
    items += [(Mean(), out) for out in means]
    return items, baselines


def module_figures(per_pass: Sequence[Sequence[float]], baselines: Sequence[int]) -> list[float]:
    """Each module's fastest pass minus its baseline's fastest (never below 0): the items of
    :func:`module_items`, timed."""
    best = fastest(per_pass)
    return [max(0.0, best[j] - best[b]) for j, b in enumerate(baselines)]


def blocked_layout(model: nn.Module, shape: Shape, optimization: str = "all") -> bool:
    """Whether onnxruntime, on this machine at graph optimisation ``optimization``, runs ``model`` (on an input of
    ``shape``) in its blocked layout: the graph it optimises has layout reorders (x86 CPUs with AVX2 or AVX-512 run
    convolutions and pools whose channels fit the block in an NCHWc layout; other CPUs have none)."""
    from .onnx_io import export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "module.onnx"
        export_onnx(model.eval(), shape, path)
        return blocked_layout_file(path, optimization)


def blocked_layout_file(path: Path, optimization: str = "all") -> bool:
    """:func:`blocked_layout` of an exported ONNX file."""
    import onnx

    from .onnx_io import onnx_session

    with tempfile.TemporaryDirectory() as tmp:
        optimized = Path(tmp) / "optimized.onnx"
        onnx_session(path, 1, optimization, optimized_to=optimized)
        return any(node.op_type.startswith("Reorder") for node in onnx.load(str(optimized)).graph.node)


def overhead_model(runtime: str) -> nn.Module:
    """The model whose time is the runtime's fixed per-inference cost: an identity (see :class:`Copy`)."""
    return Copy() if runtime == "onnxruntime" else nn.Identity()


def _example(shape: Shape) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)


class Copy(nn.Module):
    """An identity the ONNX exporter keeps as one node (a bare input -> output graph has none): the runtime's cost of
    one call that reads an input and writes an output of that size."""

    def forward(self, x: Any) -> Any:
        return x * 1.0


class Mean(nn.Module):
    """The per-sample mean of the input: a call whose output is one number per sample."""

    def forward(self, x: Any) -> Any:
        return x.flatten(1).mean(1)


class Reduced(nn.Module):
    """A module followed by :class:`Mean`: its output stays inside the runtime (see :func:`module_items`)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Any) -> Any:
        return self.module(x).flatten(1).mean(1)


def machine_info(runtime: str) -> tuple[dict[str, Any], dict[str, str]]:
    """``(machine, versions)`` recorded in a table file."""
    import os

    import torch

    machine = {"system": platform.system(), "machine": platform.machine(), "processor": _cpu_name(),
               "cpus": os.cpu_count()}
    versions = {"python": platform.python_version(), "torch": torch.__version__}
    if runtime == "onnxruntime":
        import onnxruntime

        versions["onnxruntime"] = onnxruntime.__version__
    from importlib.metadata import PackageNotFoundError, version

    try:
        versions["eeea"] = version("eeea")
    except PackageNotFoundError:
        pass
    return machine, versions


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# building a table --------------------------------------------------------------------------------------------------
def enumerate_modules(space: Any, size: Mapping[str, Any], samples: int = 1000, patience: int = 500,
                      seed: int = 0) -> dict[tuple, dict[Shape, int]]:
    """Every module spec the space produces at ``size``, with how often each input shape occurs.

    Rule: walk at least ``samples`` uniformly random genomes, and keep drawing until ``patience`` draws in a row add
    no spec not seen before (at most ``20 * samples`` draws): small spaces are covered completely, large ones in
    every spec a random genome is likely to use (a search that meets a missing one says so and stops)."""
    rng = np.random.default_rng(seed)
    found: dict[tuple, dict[Shape, int]] = {}
    quiet, draws = 0, 0
    while draws < samples or (quiet < patience and draws < 20 * samples):
        genome = space.random_genome(rng)
        draws += 1
        new = False
        for spec, shape in space.spec_walk(genome, **size):
            shapes = found.setdefault(spec, {})
            new |= not shapes
            shapes[shape] = shapes.get(shape, 0) + 1
        quiet = 0 if new else quiet + 1
    return found


def shapes_to_measure(counts: Mapping[Shape, int], n: int) -> list[Shape]:
    """The most frequent input shape, then (``n >= 2``) the largest and the smallest, then the next most frequent.

    The largest comes before the smallest: a module met above its largest measured size is scaled proportionally,
    which from a small deep-layer shape overestimates a large one many times over (fixed costs scaled up); below the
    smallest, the same scaling errs on a few microseconds."""
    by_size = sorted(counts, key=lambda s: (int(np.prod(s)), s))
    chosen = [max(counts, key=lambda s: (counts[s], s))]
    for s in [by_size[-1], by_size[0], *sorted(counts, key=lambda s: (-counts[s], s))]:
        if len(chosen) >= n:
            break
        if s not in chosen:
            chosen.append(s)
    return chosen


def fit_relative(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """``(a, b)`` of ``y ~ a + b * x`` by least squares on the relative error (weights ``1 / y``)."""
    a, b = _fit_relative([x], y)
    return a, b


def _affine(coef: Sequence[float], xs: Sequence[np.ndarray]) -> np.ndarray:
    return coef[0] + sum(c * x for c, x in zip(coef[1:], xs))


def _fit_relative(xs: Sequence[Sequence[float]], y: Sequence[float]) -> tuple[float, ...]:
    """``(a, b1, b2, ...)`` of ``y ~ a + sum_i b_i * x_i`` by least squares on the relative error (weights ``1 / y``)."""
    y = np.asarray(y, dtype=float)
    X = np.stack([np.ones_like(y), *(np.asarray(x, dtype=float) for x in xs)], axis=1)
    coef, *_ = np.linalg.lstsq(X / y[:, None], np.ones_like(y), rcond=None)
    return tuple(float(c) for c in coef)


def build_table(space: Any, size: Mapping[str, Any] | None = None, runtime: str = "onnxruntime", threads: int = 1,
                samples: int = 1000, shapes: int = 2, calibrate: int = CALIBRATE, seed: int = 0,
                quiet: bool = False,
                budget_s: float = TABLE_BUDGET_S, passes: int = TABLE_PASSES, quantile: float = QUANTILE,
                optimization: str = "all") -> LatencyTable:
    """Measure every module of ``space`` at ``size`` (see :func:`enumerate_modules`) at up to ``shapes`` input shapes
    each (:func:`shapes_to_measure`), as it runs inside a network (:func:`module_items`), at most ``budget_s`` per
    module and pass, and the runtime's per-inference overhead, on this machine; with ``calibrate`` >= 3, also time as
    many random whole networks end to end and fit the table's :attr:`~LatencyTable.correction` on them. Everything is
    timed in the same ``passes`` interleaved passes, each figure its fastest pass (:func:`measure_table`)."""
    return measure_table(space, size, runtime, threads, samples, shapes, calibrate, seed, quiet, budget_s, passes,
                         quantile, optimization)[0]


def measure_table(space: Any, size: Mapping[str, Any] | None = None, runtime: str = "onnxruntime", threads: int = 1,
                  samples: int = 1000, shapes: int = 2, calibrate: int = CALIBRATE, seed: int = 0,
                  quiet: bool = False,
                  budget_s: float = TABLE_BUDGET_S, passes: int = TABLE_PASSES, quantile: float = QUANTILE,
                  optimization: str = "all", networks: Iterable[tuple[Any, Shape]] = ()
                  ) -> tuple[LatencyTable, list[list[float]]]:
    """:func:`build_table`, and ``networks`` (torch module, input shape) timed end to end in the same passes as the
    table's modules: ``(table, per pass the networks' microseconds)``. A shared machine's speed drifts by tens of
    percent over minutes; networks timed in the table's passes meet the same drift as the modules that predict them,
    so a comparison measures the table, not the drift (``benchmarks/bench_latency.py``)."""
    import itertools

    from .progress import Progress, format_seconds, say

    full = space.size(**dict(size or {}))
    timer = Timer(runtime, threads, budget_s, quantile, optimization)
    name = f"latency table {space.name}"
    say(f"{name}: enumerating its modules (at least {samples} random genomes)", quiet)
    found = enumerate_modules(space, full, samples, seed=seed)
    jobs = [(spec, shape) for spec, counts in found.items() for shape in shapes_to_measure(counts, shapes)]
    items, baselines = module_items(jobs)
    items.append((overhead_model(runtime), tuple(space.input_shape(**full))))
    fixed = len(items)
    rng = np.random.default_rng(seed + CALIBRATION_SEED)
    genomes = [space.random_genome(rng) for _ in range(calibrate)] if calibrate >= 3 else []
    whole = max(budget_s, TIME_BUDGET_S)  # a whole network is timed for as long as a module is, at least
    built = (built_network(space, g, full, whole) for g in genomes)
    others = ((model, tuple(shape), whole) for model, shape in networks)
    total = fixed + len(genomes) + len(networks) if hasattr(networks, "__len__") else None  # a generator: unknown
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not quiet:  # what to expect, before the long part
            first = built_network(space, genomes[0], full, whole) if genomes else None
            seconds, peak = estimate_cost(timer, items, first, len(genomes), passes, folder,
                                          len(found) if runtime == "onnxruntime" else 0)
            say(f"{name}: {len(jobs)} module shapes of {len(found)} specs and {len(genomes)} whole networks, "
                f"{passes} interleaved pass{'es' if passes != 1 else ''}; expected about {format_seconds(seconds)} "
                f"on an idle core (longer while other work shares the machine) and {peak / 2**30:.1f} GiB peak "
                f"memory, estimated from {min(ESTIMATE_ITEMS, len(items))} modules and a network timed now", quiet)
        per_pass = timer.passes_us(itertools.chain(items, built, others), passes, quiet, name, folder, total)
        best = fastest(per_pass)
        entries: dict[str, list[tuple[int, Shape, float]]] = {}
        for (spec, shape), us in zip(jobs, module_figures(per_pass, baselines)):
            entries.setdefault(spec_key(spec), []).append((int(np.prod(shape)), shape, us))
        blocked: set[str] = set()
        if runtime == "onnxruntime":  # judged at a spec's first shape, its most frequent, on the file timed
            first = {}
            for i, (spec, _) in enumerate(jobs):
                first.setdefault(spec, i)
            with Progress(f"{name}: layout check", len(first), "specs", quiet=quiet) as progress:
                for spec, i in first.items():
                    if blocked_layout_file(item_file(folder, i), optimization):
                        blocked.add(spec_key(spec))
                    progress.update()
    table = LatencyTable(space.name, full, runtime, threads, best[fixed - 1],
                         {k: sorted(v) for k, v in entries.items()}, blocked=frozenset(blocked))
    if genomes:
        table.fit_correction([space.spec_walk(g, **full) for g in genomes], best[fixed : fixed + len(genomes)])
    table.machine, table.versions = machine_info(runtime)
    table.protocol = {"warmup_runs": WARMUP_RUNS, "min_runs": MIN_RUNS, "max_runs": MAX_RUNS, "budget_s": budget_s,
                      "passes": passes, "statistic": f"quantile {timer.quantile} of timed runs, fastest pass",
                      "quantile": timer.quantile, "graph_optimization": optimization, "clock": timer.clock,
                      "batch": 1, "samples": samples, "shapes_per_spec": shapes, "seed": seed,
                      "module": "module then a mean of its output, minus a mean of an input of the output's shape",
                      "calibration": "whole networks timed in the modules' passes"}
    return table, [p[fixed + len(genomes) :] for p in per_pass]


def built_network(space: Any, genome: Genome, size: Mapping[str, Any], seconds: float) -> tuple[Any, Shape, float]:
    """A whole network as an item of :meth:`Timer.passes_us`."""
    return space.build(genome, **size), tuple(space.genome_input_shape(genome, **size)), seconds


#: items an estimate of a table's cost times: this many spread over the input sizes for the time, and the few
#: largest inputs for the memory (which module peaks is the runtime's business: a convolution's work buffers can
#: outgrow the largest input and output)
ESTIMATE_ITEMS, ESTIMATE_LARGEST = 6, 3


def estimate_cost(timer: Timer, items: Sequence[tuple[Any, Shape]], network: tuple[Any, Shape, float] | None,
                  networks: int, passes: int, folder: Path, specs: int) -> tuple[float, int]:
    """``(seconds, peak bytes)`` that a table's run should take: exporting ``items`` and ``networks`` whole networks,
    timing them in ``passes`` passes, and ``specs`` layout checks (:func:`blocked_layout_file`). Time: the CPU time
    of :data:`ESTIMATE_ITEMS` of the items (evenly spread by input size, after one warm-up item) and of ``network``
    (the run's first; the lower of two exports, the first paying one-off tracing costs) exported and timed once
    now, extrapolated; their files stay in ``folder`` for the run (:meth:`Timer.prepare`). CPU time, not wall time:
    the run is single-threaded, so on an idle core the two agree, and a busy machine's wall time says more about
    the other work than about the table (wav2small at load 7-19 on 2 cores: 23 min wall for 4 min of CPU). Memory:
    the process's peak once the :data:`ESTIMATE_LARGEST` items of the largest inputs have been timed too, plus a
    tenth."""
    import resource

    order = sorted(range(len(items)), key=lambda i: int(np.prod(items[i][1])))
    picks = sorted({order[round(k * (len(order) - 1) / max(1, ESTIMATE_ITEMS - 1))]
                    for k in range(min(ESTIMATE_ITEMS, len(order)))})

    def cost(i: int, item: tuple) -> tuple[float, float, float]:
        """CPU seconds to prepare, time and layout-check item ``i``."""
        start = time.process_time()
        (run,) = timer.prepare([item], folder, start=i)
        prepared = time.process_time()
        run()
        timed = time.process_time()
        if specs and timer.runtime == "onnxruntime":
            blocked_layout_file(item_file(folder, i), timer.optimization)
        return prepared - start, timed - prepared, time.process_time() - timed

    if order:
        cost(order[0], items[order[0]])  # the first export and session pay one-off start-up costs
    costs = np.array([cost(i, items[i]) for i in picks]).mean(axis=0)
    for i in order[-ESTIMATE_LARGEST:]:
        if i not in picks:
            cost(i, items[i])
    seconds = len(items) * (costs[0] + passes * costs[1]) + specs * costs[2]
    if network is not None and networks:
        first = cost(len(items), network)  # the run's first network comes right after the items
        item_file(folder, len(items)).unlink()
        prepared, timed, _ = np.minimum(first, cost(len(items), network))
        seconds += networks * (prepared + passes * timed)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes
    return float(seconds), int(peak * 1.1)
#: calibration networks are drawn with seed ``seed + CALIBRATION_SEED`` (benchmarks draw theirs with other seeds)
CALIBRATION_SEED = 7919

