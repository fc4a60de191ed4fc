"""Predicted and measured inference latency: a per-module latency table of one device and runtime, and the timing
protocol that fills it and times whole exported networks.

A network is a walk of module specs, each on its input shape (:meth:`SearchSpace.spec_walk`, the same walk that
counts MACs). A :class:`LatencyTable` holds, per module spec, its latency in microseconds measured alone at one or more
input shapes on the target device as it runs inside a network (:meth:`Timer.modules_us`), plus the fixed
per-inference cost (``overhead_us``). The predicted latency of a genome is the table's correction (fitted on whole
networks, :meth:`LatencyTable.fit_correction`) of ``overhead_us + sum of its modules' entries``
(:func:`count_latency`). A module met at a shape the table did not measure is scaled by its input size (linear
between measured shapes, proportional beyond them); a spec the table lacks is estimated from its kind's nearest
entry, and a kind the table lacks entirely is an error. eeea ships reference tables of the SER spaces
(:func:`shipped_table`), measured on its development machine.

Timing protocol (:func:`median_us`): warm-up runs, then the median of timed runs (more runs for fast modules, at least
:data:`MIN_RUNS`), one intra-op thread unless told otherwise. Table files are JSON; they record the machine, runtime,
versions, threads, space and size they were measured at, so a table measured on a phone or a Raspberry Pi can be
brought back and used by a search that never touches that device.
"""
from __future__ import annotations

import bisect
import json
import platform
import statistics
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

FORMAT = 1
RUNTIMES = ("onnxruntime", "torch")
WARMUP_RUNS, MIN_RUNS, MAX_RUNS = 2, 5, 50
#: timed runs stop early once they have taken this long (big modules need few runs for a stable median)
TIME_BUDGET_S = 0.3
#: a table's modules: interleaved passes over all of them, each timing a module for at most this long
TABLE_PASSES, TABLE_BUDGET_S = 3, 0.1

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
    #: the whole networks the correction was fitted on: ``[{"sum_us", "modules", "measured_us"}]``
    calibration: list[dict[str, float]] = field(default_factory=list)
    source: str = "<table>"

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

    def predict(self, walk: Iterable[tuple[tuple, Shape]]) -> float:
        """Predicted microseconds of one inference of the network ``walk`` describes (:attr:`correction` applied)."""
        walk = list(walk)
        c = self.correction
        return c["offset_us"] + c["scale"] * self.sum_us(walk) + c.get("per_module_us", 0.0) * len(walk)

    def fit_correction(self, walks: Sequence[Sequence[tuple[tuple, Shape]]], measured: Sequence[float]) -> None:
        """Fit :attr:`correction` to whole networks (``walks``) timed end to end (``measured`` microseconds).

        Two forms, fitted by least squares on the relative error: ``offset + scale * sum`` and
        ``offset + scale * sum + per_module * modules`` (a cost per module boundary: what the runtime spends between
        modules, or saves by fusing across them, that timing modules alone cannot see). The form kept is the one with
        the smaller leave-one-out median error over the networks (the extra term must predict networks it was not
        fitted on); a form predicting a non-positive time on a network is out; if both are, the median ratio
        measured / sum."""
        sums = np.array([self.sum_us(w) for w in walks])
        counts = np.array([len(w) for w in walks], dtype=float)
        y = np.asarray(measured, dtype=float)
        forms = [[sums]] + ([[sums, counts]] if len(set(counts)) > 1 and len(y) >= 8 else [])
        best, best_err = (0.0, float(np.median(y / sums)), 0.0), float("inf")
        for xs in forms:
            coef = _fit_relative(xs, y)
            if coef[1] <= 0 or min(_affine(coef, xs)) <= 0:
                continue
            errors = []
            for i in range(len(y)):  # leave one out
                keep = np.arange(len(y)) != i
                c = _fit_relative([x[keep] for x in xs], y[keep])
                errors.append(abs(_affine(c, [x[i : i + 1] for x in xs])[0] - y[i]) / y[i])
            if float(np.median(errors)) < best_err:
                best, best_err = (coef[0], coef[1], coef[2] if len(coef) > 2 else 0.0), float(np.median(errors))
        offset, scale, per_module = best
        self.correction = {"scale": round(scale, 5), "offset_us": round(offset, 3),
                           "per_module_us": round(per_module, 3), "networks": len(y)}
        self.calibration = [{"sum_us": round(float(a), 1), "modules": int(n), "measured_us": round(float(m), 1)}
                            for a, n, m in zip(sums, counts, y)]

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
        entries = [{"spec": json.loads(k), "points": [{"shape": list(s), "us": round(us, 3)} for _, s, us in pts]}
                   for k, pts in sorted(self.entries.items())]
        return {"format": FORMAT, "kind": "eeea latency table", "space": self.space, "size": self.size,
                "runtime": self.runtime, "threads": self.threads, "machine": self.machine, "versions": self.versions,
                "protocol": self.protocol, "overhead_us": round(self.overhead_us, 3), "correction": self.correction,
                "calibration": self.calibration, "entries": entries}

    def save(self, path: str | Path, force: bool = False) -> None:
        path = Path(path)
        if path.exists() and not force:
            raise UserError(f"{path} exists; pass --force to overwrite it")
        if not path.parent.is_dir():
            raise UserError(f"{path.parent} is not a directory")
        tmp = path.with_name(path.name + ".tmp")
        data = self.to_dict()
        entries = data.pop("entries")
        head = json.dumps(data, indent=1)[:-2]  # one entry per line: readable and diffable
        lines = ",\n  ".join(json.dumps(e, separators=(",", ":")) for e in entries)
        tmp.write_text(f'{head},\n "entries": [\n  {lines}\n ]\n}}\n')
        tmp.replace(path)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<table>") -> "LatencyTable":
        try:
            if data.get("format") != FORMAT or data.get("kind") != "eeea latency table":
                raise ValueError("not an eeea latency table (format 1)")
            entries: dict[str, list[tuple[int, Shape, float]]] = {}
            for e in data["entries"]:
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
                         for k, d in (("scale", 1.0), ("offset_us", 0.0), ("per_module_us", 0.0))},
                        list(data.get("calibration", [])), source)
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            detail = f"missing {e}" if isinstance(e, KeyError) else str(e)
            raise UserError(f"{source}: not a valid latency table ({detail})") from None
        if table.runtime not in RUNTIMES:
            raise UserError(f"{source}: unknown runtime {table.runtime!r} (known: {', '.join(RUNTIMES)})")
        return table

    @classmethod
    def load(cls, path: str | Path) -> "LatencyTable":
        path = Path(path)
        if not path.is_file():
            raise UserError(f"latency table {path} does not exist")
        try:
            data = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise UserError(f"{path}: corrupt latency table (not JSON: {str(e).splitlines()[0]})") from None
        return cls.from_dict(data, str(path))


# tables shipped with eeea -------------------------------------------------------------------------------------------
#: the package folder of the reference tables (``SPACE.json``), measured on the machine eeea is developed on
SHIPPED_DIR = "latency_tables"


def shipped_table(space: Any, size: Mapping[str, Any]) -> LatencyTable | None:
    """The table shipped with eeea for ``space`` measured at ``size``, or None (no table for the space, or one of
    another size: a latency at another clip length or width is not this table's to predict)."""
    from importlib.resources import files

    found = files("eeea").joinpath(SHIPPED_DIR, f"{space.name}.json")
    if not found.is_file():
        return None
    table = LatencyTable.from_dict(json.loads(found.read_text()), f"eeea's reference table {space.name}.json")
    return table if space.size(**table.size) == space.size(**dict(size)) else None


def describe_device(table: LatencyTable) -> str:
    """Where a table's latencies hold: ``x86_64 CPU (model name, onnxruntime 1.x, 1 thread)``."""
    m, runtime = table.machine, table.runtime
    version = table.versions.get(runtime)
    details = [m["processor"]] if m.get("processor") else []
    details += [f"{runtime}{' ' + version if version else ''}", f"{table.threads} thread{'s' if table.threads != 1 else ''}"]
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
    if genome.space != table.space:
        table.check_space(space)
    return table.predict(space.spec_walk(genome, **full))


# timing ------------------------------------------------------------------------------------------------------------
CLOCKS = {"thread": time.thread_time, "wall": time.perf_counter}


def median_us(run: Callable[[], Any], warmup: int = WARMUP_RUNS, runs: int = MAX_RUNS,
              budget_s: float = TIME_BUDGET_S, clock: str = "thread") -> float:
    """Median microseconds of ``run()`` after ``warmup`` calls: at least :data:`MIN_RUNS` timed calls, at most
    ``runs``, stopping once ``budget_s`` is spent.

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
    return statistics.median(times) * 1e6


class Timer:
    """Times modules and whole networks with one runtime (``onnxruntime`` or ``torch``) and thread count."""

    def __init__(self, runtime: str = "onnxruntime", threads: int = 1, budget_s: float = TIME_BUDGET_S) -> None:
        if runtime not in RUNTIMES:
            raise UserError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise UserError(f"--threads must be a positive integer, got {threads!r}")
        self.runtime, self.threads, self.budget_s = runtime, threads, budget_s
        self.clock = "thread" if threads == 1 else "wall"  # see median_us
        self._identity: dict[Shape, float] = {}

    def model_us(self, model: Any, shape: Shape) -> float:
        """Median microseconds of one batch-1 inference of a torch module on an input of ``shape``."""
        import torch

        model = model.eval()
        x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
        if self.runtime == "torch":
            threads = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            try:
                with torch.inference_mode():
                    return median_us(lambda: model(x), budget_s=self.budget_s, clock=self.clock)
            finally:
                torch.set_num_threads(threads)
        from .export import export_onnx

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "module.onnx"
            export_onnx(model, shape, path)
            return self.onnx_us(path, x.numpy())

    def networks_us(self, networks: Iterable[tuple[Any, Shape]], passes: int = 3, quiet: bool = True,
                    desc: str = "timing networks") -> list[float]:
        """Median microseconds of each ``(model, input shape)``, interleaved: every network is timed once per pass
        and its figure is the median over passes, so a load change of a shared machine spreads over all of them."""
        from tqdm.auto import tqdm

        with tempfile.TemporaryDirectory() as tmp:  # ONNX files on disk: models are not all held in memory
            runs: list[Callable[[], float]] = []
            for i, (model, shape) in enumerate(networks):
                if self.runtime == "torch":
                    runs.append(lambda model=model, shape=shape: self.model_us(model, shape))
                    continue
                from .export import export_onnx

                path = Path(tmp) / f"net{i}.onnx"
                export_onnx(model.eval(), shape, path)
                x = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
                runs.append(lambda path=path, x=x: self.onnx_us(path, x))
            times = [[run() for run in runs] for _ in tqdm(range(passes), desc=desc, unit="pass", disable=quiet)]
        return [statistics.median(t[i] for t in times) for i in range(len(runs))]

    def onnx_us(self, path: str | Path, x: np.ndarray) -> float:
        """Median microseconds of one inference of an ONNX file on input ``x`` (onnxruntime, CPU)."""
        from .export import onnx_session

        session = onnx_session(path, self.threads)
        feed = {session.get_inputs()[0].name: x.astype(np.float32)}
        return median_us(lambda: session.run(None, feed), budget_s=self.budget_s, clock=self.clock)

    def overhead_us(self, shape: Shape) -> float:
        """The runtime's fixed cost of one call on an input of ``shape``: an identity model (memoised per shape)."""
        if shape not in self._identity:
            self._identity[shape] = self.model_us(Copy() if self.runtime == "onnxruntime" else nn.Identity(), shape)
        return self._identity[shape]

    def module_us(self, spec: tuple, shape: Shape) -> float:
        """Microseconds of one module alone, net of the runtime's per-call cost (:meth:`modules_us`, one pass)."""
        return self.modules_us([(spec, shape)], passes=1)[0]

    def modules_us(self, jobs: Sequence[tuple[tuple, Shape]], passes: int = 1, quiet: bool = True,
                   desc: str = "timing modules") -> list[float]:
        """Microseconds of each module ``(spec, input shape)`` alone, as it runs inside a network.

        Each module is timed inside a model that also averages its output (:class:`Reduced`): its output then lives
        in the runtime's reused memory as a network's intermediate tensors do, instead of being a fresh output buffer
        per call (page faults, a copy out), which on the large activations of audio networks cost as much as a cheap
        module itself. From that is subtracted the same average of an input of the output's shape (:class:`Mean`,
        the call's fixed cost and the averaging), timed in the same pass. Modules are exported once;
        ``passes`` interleaved passes each time every module once, and a module's figure is the median of its
        per-pass differences (a load change of a shared machine spreads over all modules)."""
        from tqdm.auto import tqdm

        from .models.specs import build_module, spec_macs

        outs = [spec_macs(spec, shape)[1] for spec, shape in jobs]
        if self.runtime == "torch":
            runs = [(lambda s=spec, x=shape: self.model_us(Reduced(build_module(s)), x),
                     lambda o=out: self.model_us(Mean(), o)) for (spec, shape), out in zip(jobs, outs)]
            diffs = [[max(0.0, a() - b()) for a, b in runs] for _ in range(passes)]
            return [statistics.median(d[i] for d in diffs) for i in range(len(jobs))]
        from .export import export_onnx

        with tempfile.TemporaryDirectory() as tmp:
            files, means = [], {}
            for i, ((spec, shape), out) in enumerate(zip(jobs, outs)):
                path = Path(tmp) / f"m{i}.onnx"
                export_onnx(Reduced(build_module(spec)).eval(), shape, path)
                files.append((path, _example(shape)))
                if out not in means:
                    means[out] = Path(tmp) / f"mean{len(means)}.onnx"
                    export_onnx(Mean(), out, means[out])
            diffs = []
            for _ in tqdm(range(passes), desc=desc, unit="pass", disable=quiet or passes == 1):
                base = {o: self.onnx_us(path, _example(o)) for o, path in means.items()}
                diffs.append([max(0.0, self.onnx_us(path, x) - base[out]) for (path, x), out in zip(files, outs)])
        return [statistics.median(d[i] for d in diffs) for i in range(len(jobs))]


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
    """A module followed by :class:`Mean`: its output stays inside the runtime (see :meth:`Timer.modules_us`)."""

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
                samples: int = 1000, shapes: int = 2, calibrate: int = 20, seed: int = 0, quiet: bool = False,
                budget_s: float = TABLE_BUDGET_S, passes: int = TABLE_PASSES) -> LatencyTable:
    """Measure every module of ``space`` at ``size`` (see :func:`enumerate_modules`) at up to ``shapes`` input shapes
    each (:func:`shapes_to_measure`) in ``passes`` interleaved passes of ``budget_s`` per module
    (:meth:`Timer.modules_us`), and the runtime's per-inference overhead, on this machine; then time ``calibrate``
    random whole networks end to end and fit the table's :attr:`~LatencyTable.correction` (none when
    ``calibrate < 3``; the median ratio measured / sum when the affine fit is not positive over the networks)."""
    full = space.size(**dict(size or {}))
    timer = Timer(runtime, threads, budget_s)
    found = enumerate_modules(space, full, samples, seed=seed)
    jobs = [(spec, shape) for spec, counts in found.items() for shape in shapes_to_measure(counts, shapes)]
    overhead = timer.overhead_us(tuple(space.input_shape(**full)))
    times = timer.modules_us(jobs, passes, quiet=quiet, desc=f"latency table {space.name} ({len(jobs)} modules)")
    entries: dict[str, list[tuple[int, Shape, float]]] = {}
    for (spec, shape), us in zip(jobs, times):
        entries.setdefault(spec_key(spec), []).append((int(np.prod(shape)), shape, us))
    table = LatencyTable(space.name, full, runtime, threads, overhead, {k: sorted(v) for k, v in entries.items()})
    if calibrate >= 3:
        calibrate_table(table, space, calibrate, seed=seed + CALIBRATION_SEED, quiet=quiet)
    machine, versions = machine_info(runtime)
    protocol = {"warmup_runs": WARMUP_RUNS, "min_runs": MIN_RUNS, "max_runs": MAX_RUNS, "budget_s": budget_s,
                "passes": passes, "statistic": "median", "clock": timer.clock, "batch": 1, "samples": samples,
                "shapes_per_spec": shapes, "seed": seed,
                "module": "module then a mean of its output, minus a mean of an input of the output's shape"}
    table.machine, table.versions, table.protocol = machine, versions, protocol
    return table


#: calibration networks are drawn with seed ``seed + CALIBRATION_SEED`` (benchmarks draw theirs with other seeds)
CALIBRATION_SEED = 7919


def calibrate_table(table: LatencyTable, space: Any, networks: int, seed: int = CALIBRATION_SEED, passes: int = 3,
                    quiet: bool = True) -> None:
    """Time ``networks`` random whole networks (``passes`` interleaved passes) and fit the table's correction."""
    rng = np.random.default_rng(seed)
    genomes = [space.random_genome(rng) for _ in range(networks)]
    walks = [space.spec_walk(g, **table.size) for g in genomes]
    timer = Timer(table.runtime, table.threads)
    built = ((space.build(g, **table.size), tuple(space.genome_input_shape(g, **table.size))) for g in genomes)
    measured = timer.networks_us(built, passes=passes, quiet=quiet, desc="calibrating on whole networks")
    table.fit_correction(walks, measured)
