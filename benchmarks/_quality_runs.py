"""The runs behind bench_search_quality: one search of a tabular benchmark by an eeea algorithm (through the library:
the code of ``eeea search``) or by an Optuna sampler (a peer), each cached on disk so that a later invocation computes
only what it lacks.

Every run counts its budget the same way: distinct evaluations. An Optuna trial that repeats a genome is told the
value already known (as a user caching results would) and is not counted; a run that would need more than
``max_trials`` trials for its budget stops there and says so (``stopped``). All scores come from one
:class:`Table` per benchmark, built from the library's own lookup (``Task.entries``) and counts (``count_params`` at
the task's size), so every row is judged on the same numbers.

Cache: ``benchmarks/.cache/search_quality/BENCH/ALGO-IDENTITY/SEED[-tTHRESHOLD].json.gz`` holds a run's genome keys
in evaluation order, its CPU seconds and trials. ``IDENTITY`` hashes everything that decides the run: the table's
contents, the algorithm's options, the package versions, and, for eeea's algorithms, the genomes a canary search
(seed :data:`CANARY_SEED`, :data:`CANARY_BUDGET` evaluations) evaluates; for Optuna's samplers, the source of
:func:`run_optuna`. Code that changes what an algorithm does changes its identity, so stale runs are never reused,
while a new algorithm added beside the others leaves their runs valid. (A canary's result is remembered per hash of
eeea's source in ``identities.json``: a checkout that has not changed runs no canary.)
"""
from __future__ import annotations

import gzip
import hashlib
import inspect
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache" / "search_quality"
#: name -> (task, task options, data file, reported figure, its label)
BENCHMARKS = {
    "nb201-cifar10": ("nb201", {"dataset": "cifar10"}, "nasbench201.csv", "test_accuracy", "test acc (12 ep)"),
    "nb201-cifar100": ("nb201", {"dataset": "cifar100"}, "nasbench201.csv", "test_accuracy", "test acc (12 ep)"),
    "nb201-imagenet16": ("nb201", {"dataset": "imagenet16"}, "nasbench201.csv", "test_accuracy", "test acc (12 ep)"),
    "nas-bench-macro": ("nas_bench_macro", {}, "nas-bench-macro_cifar10.json", "accuracy", "mean test acc (3 runs)"),
}
#: the EE-PI study: NSGA-II with a params threshold at each quantile of the space vs without, on these benchmarks
EEPI_BENCHMARKS, EEPI_QUANTILES, EEPI_BUDGETS = ("nb201-cifar10", "nas-bench-macro"), (25, 50, 75), (100, 200)
#: the seed and budget of the canary search whose genomes stand for an eeea algorithm's behaviour (never a seed the
#: benchmark reports)
CANARY_SEED, CANARY_BUDGET = 10_000, 500
#: Optuna's samplers as peers: name -> (what it is, factory(optuna, seed))
PEERS: dict[str, tuple[str, Callable[[Any, int], Any]]] = {
    "optuna-tpe": ("TPESampler(multivariate=True)",
                   lambda optuna, seed: optuna.samplers.TPESampler(multivariate=True, seed=seed)),
    "optuna-tpe-default": ("TPESampler(), what create_study gives a multi-objective study (independent TPE)",
                           lambda optuna, seed: optuna.samplers.TPESampler(seed=seed)),
    "optuna-nsga2": ("NSGAIISampler() (population 50)", lambda optuna, seed: optuna.samplers.NSGAIISampler(seed=seed)),
}


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "-"


def optuna_missing() -> bool:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return True
    return False


@dataclass
class Table:
    """A whole benchmark as the searches see it: each network's key, search error, reported figure and params."""

    bench: str
    space: str  # the space of its genomes
    keys: list[str]
    error: np.ndarray
    test: np.ndarray
    params: np.ndarray

    def __post_init__(self) -> None:
        self.index = {k: i for i, k in enumerate(self.keys)}
        digest = hashlib.sha256(json.dumps(self.keys).encode())
        for a in (self.error, self.test, self.params):
            digest.update(np.ascontiguousarray(a, dtype=float).tobytes())
        self.fingerprint = digest.hexdigest()[:16]

    def records(self, keys: list[str]) -> list[dict[str, Any]]:
        """Archive-like records of ``keys`` (what :func:`~eeea.search.quality.best_found` and
        :meth:`~eeea.search.quality.TrueFront.fraction` read)."""
        report = BENCHMARKS[self.bench][3]
        out = []
        for k in keys:
            i = self.index[k]
            out.append({"key": k, "params": int(self.params[i]), "extra": {report: float(self.test[i])},
                        "objectives": {"error": float(self.error[i]), "params": int(self.params[i])}})
        return out


@lru_cache(maxsize=None)
def load_table(bench: str, data_dir: str) -> Table:
    """The benchmark's table through the library: its task's lookup of every network, params counted at the size the
    task trains (NAS-Bench-201 CIFAR-100: the 100-class network), as the search loop counts them."""
    from eeea.counting import count_params
    from eeea.tasks import get_task

    task_name, options, data, report, _ = BENCHMARKS[bench]
    task = get_task(task_name, data=str(Path(data_dir) / data), **options)
    size = task.size_overrides()
    rows = [(g.key, v["error"], v[report], count_params(g, size)) for g, v in task.entries()]
    keys, error, test, params = zip(*rows)
    return Table(bench, task.space_name, list(keys), np.array(error), np.array(test), np.array(params))


def eepi_thresholds(bench: str, data_dir: str) -> dict[int, int]:
    """The EE-PI study's params thresholds: quantile -> params at that percentile of the benchmark's networks."""
    params = load_table(bench, data_dir).params
    return {q: int(np.percentile(params, q)) for q in EEPI_QUANTILES}


# runs ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSpec:
    """One search: ``algorithm`` (an eeea algorithm or a key of :data:`PEERS`) on ``bench`` with ``seed``."""

    bench: str
    algorithm: str
    seed: int
    budget: int
    data_dir: str
    population: int = 20
    tournament: int = 5
    max_params: int = 0  # an EE-PI threshold (eeea's algorithms only); 0: none
    max_trials: int = 5000  # Optuna's samplers: trials (repeats included) before a run stops short of its budget

    def options(self) -> dict[str, Any]:
        """What decides the run besides the seed and budget (part of its identity)."""
        if self.algorithm in PEERS:  # the trial cap is not: a run that reached its budget under one cap is the same
            return {"sampler": PEERS[self.algorithm][0]}
        return {"population": self.population, "tournament": self.tournament, "max_params": self.max_params}


def run_eeea(spec: RunSpec, root: Path) -> dict[str, Any]:
    """One search by the library (``eeea.search.loop.search``, in this process): its genome keys in evaluation order
    and EE-PI's statistics."""
    from eeea.search import archive
    from eeea.search.archive import SearchRun
    from eeea.search.config import resolve_config
    from eeea.search.loop import search

    task, options, data, _, _ = BENCHMARKS[spec.bench]
    config = resolve_config({
        "task": task, "data": str(Path(spec.data_dir) / data), "task_config": options, "algorithm": spec.algorithm,
        "seed": spec.seed, "population": spec.population, "generations": spec.budget,
        "max_evaluations": spec.budget, "tournament_size": spec.tournament, "max_params": spec.max_params,
    })
    out = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    plot_front, archive.plot_front = archive.plot_front, lambda *a, **k: None  # a run's pareto.png is not looked at
    try:
        result = search(config, out / "run", quiet=True)
        keys = [r["key"] for r in SearchRun.read(out / "run").read_archive()]
    finally:
        archive.plot_front = plot_front
        shutil.rmtree(out, ignore_errors=True)
    return {"keys": keys, "eepi": result.eepi, "stopped": result.stop_note, "trials": len(keys)}


def run_optuna(spec: RunSpec, table: Table) -> dict[str, Any]:
    """One Optuna study of (search error, params), both minimised, one categorical parameter per gene (the gene's op
    names), asked and told by hand: a trial that repeats a genome gets the known value and is not an evaluation."""
    import optuna
    from eeea.spaces import get_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = get_space(table.space)
    choices = list(space.ops)
    names = [f"{space.field}_{i}" for i in range(space.n_var)]
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=PEERS[spec.algorithm][1](optuna,
                                                                                                       spec.seed))
    keys: list[str] = []
    seen: set[str] = set()
    trials = 0
    while len(keys) < spec.budget and trials < spec.max_trials:
        trial = study.ask()
        x = np.array([choices.index(trial.suggest_categorical(n, choices)) for n in names], dtype=np.int64)
        key = space.decode(x).key
        i = table.index[key]
        if key not in seen:
            seen.add(key)
            keys.append(key)
        study.tell(trial, (float(table.error[i]), float(table.params[i])))
        trials += 1
    stopped = "" if len(keys) >= spec.budget else f"{trials:,}-trial cap at {len(keys)} distinct evaluations"
    return {"keys": keys, "eepi": {}, "stopped": stopped, "trials": trials, "max_trials": spec.max_trials}


def execute(spec: RunSpec, root: Path) -> dict[str, Any]:
    """Run ``spec`` (no cache), with the process's CPU seconds and the wall seconds it took."""
    cpu, wall = time.process_time(), time.perf_counter()
    if spec.algorithm in PEERS:
        out = run_optuna(spec, load_table(spec.bench, spec.data_dir))
    else:
        out = run_eeea(spec, root)
    return {**out, "asked": spec.budget, "cpu_seconds": round(time.process_time() - cpu, 3),
            "wall_seconds": round(time.perf_counter() - wall, 3)}


def scratch() -> str | None:
    """Where runs write their (deleted) run directories: memory where there is /dev/shm."""
    return "/dev/shm" if os.path.isdir("/dev/shm") else None


# the cache ----------------------------------------------------------------------------------------------------------
def source_hash() -> str:
    """A hash of eeea's source (its modules and space files): while it stays, a canary search's result does too."""
    import eeea

    digest = hashlib.sha256()
    for folder in (Path(eeea.__file__).parent, ROOT / "search_spaces"):
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".py", ".yaml") and path.is_file():
                digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=None)
def identity(bench: str, algorithm: str, options_json: str, data_dir: str) -> str:
    """The identity of an algorithm's runs on ``bench`` (see the module docstring). eeea's canary searches are
    remembered per source hash (``CACHE/identities.json``), so an unchanged checkout starts without them."""
    table = load_table(bench, data_dir)
    parts: dict[str, Any] = {"table": table.fingerprint, "options": json.loads(options_json),
                             "versions": {p: _version(p) for p in ("numpy", "pymoo", "optuna", "eeea")}}
    if algorithm in PEERS:
        parts["code"] = hashlib.sha256(inspect.getsource(run_optuna).encode()).hexdigest()[:16]
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]
    known_path = CACHE / "identities.json"
    known = json.loads(known_path.read_text()) if known_path.is_file() else {}
    source = hashlib.sha256(json.dumps([parts, algorithm, bench, source_hash()], sort_keys=True).encode()).hexdigest()
    if source in known:
        return known[source]
    options = json.loads(options_json)
    canary = RunSpec(bench, algorithm, CANARY_SEED, CANARY_BUDGET, data_dir, options["population"],
                     options["tournament"], options["max_params"])
    with tempfile.TemporaryDirectory(prefix="canary-", dir=scratch()) as root:
        keys = execute(canary, Path(root))["keys"]
    parts["canary"] = hashlib.sha256(json.dumps(keys).encode()).hexdigest()[:16]
    ident = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]
    known = json.loads(known_path.read_text()) if known_path.is_file() else {}  # another process may have added some
    known_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = known_path.with_name(f".identities.{os.getpid()}")
    tmp.write_text(json.dumps({**known, source: ident}, indent=0))
    os.replace(tmp, known_path)
    return ident


def cache_path(spec: RunSpec, ident: str) -> Path:
    threshold = f"-t{spec.max_params}" if spec.max_params else ""
    return CACHE / spec.bench / f"{spec.algorithm}-{ident}" / f"{spec.seed:03d}{threshold}.json.gz"


def read_cached(spec: RunSpec, ident: str) -> dict[str, Any] | None:
    """The cached run of ``spec`` if one serves its budget: at least as long, or stopped short for a reason a larger
    budget does not change (no new genome to breed; the same Optuna trial cap)."""
    path = cache_path(spec, ident)
    if not path.is_file():
        return None
    try:
        run = json.loads(gzip.decompress(path.read_bytes()))
    except (OSError, ValueError):
        return None  # a damaged file (a run killed while writing cannot leave one: writes are atomic): recompute
    same_cap = spec.algorithm not in PEERS or run.get("max_trials") == spec.max_trials
    if len(run["keys"]) < spec.budget and not (run["stopped"] and same_cap):
        return None
    return {**run, "keys": run["keys"][: spec.budget]}


def write_cached(spec: RunSpec, ident: str, run: dict[str, Any]) -> None:
    path = cache_path(spec, ident)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(gzip.compress(json.dumps(run).encode()))
    os.replace(tmp, path)


def cached_run(spec: RunSpec, ident: str, root: str) -> dict[str, Any]:
    """The run of ``spec``: from the cache, else computed and cached (the unit of work of a worker process)."""
    run = read_cached(spec, ident)
    if run is None:
        run = execute(spec, Path(root))
        write_cached(spec, ident, run)
    return run
