"""The search's configuration: defaults, YAML config files (``configs/search/*.yaml``), command-line overrides, and the
resume check (a resumed run must ask for the same search).

Layers, last wins: :data:`DEFAULTS`, then the chosen task's ``search_defaults`` (its space, budgets, population,
training budget and task options: each task trains differently), then the config file, then the flags. The task is
the one the last layer names (default ``ser``), so ``eeea search --task cifar10`` gets the CIFAR defaults.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from ..cli_types import (CPUS, GPUS, POPULATION, PROBABILITY, SEED, WORKERS, Bound, check_bytes, check_count,
                         check_duration, check_flag, check_mapping, check_path, check_text)
from ..config import merge
from ..errors import UserError
from ..choices import AMP, EEPI_SCOPES as SCOPES
from ..tasks.base import Task, task_class, task_defaults, task_options

DEFAULTS: dict[str, Any] = {
    "task": "ser",  # speech-emotion students on the embedded EmoDB subset; cifar10, cifar100, imagefolder
    "data": None,  # None: the task's embedded default (EmoDB or CIFAR-10 subset shipped with the package)
    "download": False,
    "max_macs": None,
    "max_latency": None,  # EE-PI threshold on predicted latency (e.g. 2ms), needs latency_table
    "latency_table": None,  # a table of eeea latency-table: enables --max-latency and the latency objective
    # time the front's exported ONNX (fp32 and int8) with onnxruntime; null: when the search keeps
    # checkpoints (its members are meant to ship) or has a latency table
    "measure_latency": None,
    "eepi_scope": "all",  # init: screen the initial population only (the paper); all: offspring too
    "objectives": None,  # null: [task objective, params]; e.g. [error, params, macs]
    "seed": 0,
    "crossover_prob": 1.0,
    "mutation_prob": 0.1,
    "size": {},  # overrides of the space's search (training) size, e.g. {channels: 4, layers: 5}
    "eval_size": {},  # overrides of the size at which budgets and the params/MACs objectives are counted
    "workers": 1,
    "device": "auto",
    "threads": 1,  # torch CPU threads per candidate, the same in every executor (results depend on it in the last bits)
    "executor": None,  # local, pool or ray; None: local for one worker, pool for more
    "ray_address": None,  # --executor ray: None starts a local Ray instance; auto or HOST:PORT joins a cluster
    "gpus_per_candidate": None,  # --executor ray: None: 1 when the cluster has GPUs (and device is not cpu), else 0
    "cpus_per_candidate": 1,  # --executor ray
    "algorithm": "predictive",  # predictive | nsga2 | random | regularized-evolution (see eeea.search.algorithms)
    "tournament_size": 5,  # regularized-evolution: members sampled per tournament
    "max_evaluations": None,  # budget in distinct evaluations (None: the generations alone bound the run)
    # speed levers of the proxy training (they change results, so a resume must keep them): auto = bf16 autocast on
    # CUDA, off on the CPU (CPU results stay bit-exact); channels_last None = on for CUDA, off on the CPU; compile:
    # torch.compile(mode="reduce-overhead") of each candidate, off until measured to pay (docs/decisions.md)
    "amp": "auto",
    "channels_last": None,
    "compile": False,
}
#: candidates trained at once on one GPU when the device resolves to CUDA and no layer sets ``workers`` (awaits the
#: GPU suite's measurement (b), benchmarks/gpu_suite.py; see docs/decisions.md)
GPU_WORKERS = 4
#: keys whose defaults come from the task (``Task.search_defaults``): space, max_params, population, generations,
#: train (the task's training budget), checkpoints (save trained weights), and may set workers / threads (its
#: candidates' best use of a CPU); task_config (the task's options) defaults to its constructor's defaults
TASK_KEYS = ("space", "max_params", "max_macs", "max_model_bytes", "population", "generations", "train",
             "task_config", "checkpoints", "workers", "threads", "initial_genomes")
#: keys a resumed run may change: they do not change which genomes are trained or their results
RESUME_FREE = {"workers", "device", "threads", "generations", "max_evaluations", "executor", "ray_address",
               "gpus_per_candidate", "cpus_per_candidate", "measure_latency"}


def _on_cuda(device: str) -> bool:
    """Whether ``device`` will resolve to CUDA here (no error for a CUDA device this machine lacks: a stored run's)."""
    return device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())


def _task_name(layers: tuple[Mapping[str, Any], ...]) -> str:
    name = next((layer["task"] for layer in reversed(layers) if layer.get("task") is not None), DEFAULTS["task"])
    return str(name)


def resolve_config(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults, the task's defaults, then each layer (config file, then flags), validated and normalised (counts
    parsed, paths absolute, the training budget completed by the task)."""
    known = set(DEFAULTS) | set(TASK_KEYS)
    for layer in layers:
        unknown = set(layer) - known
        if unknown:
            raise UserError(f"unknown search option {sorted(unknown)[0]!r} (known: {', '.join(sorted(known))})")
        for key in ("task", "space"):
            check_text(key, layer.get(key))
        for key in SECTIONS:
            if layer.get(key) is not None:
                check_mapping(key, layer[key])
    name = _task_name(layers)
    task = task_class(name)
    config = merge(merge(DEFAULTS, Task.search_defaults), task.search_defaults)
    config["task_config"] = task_defaults(task)
    config["task"] = name
    for layer in layers:
        if layer.get("task") not in (None, name):  # a layer for another task: its task-specific keys do not apply
            layer = {k: v for k, v in layer.items() if k not in ("space", "train", "task_config")}
        config = merge(config, {k: v for k, v in layer.items() if not (k == "space" and v is None)})
    if config["threads"] is None:
        config["threads"] = DEFAULTS["threads"]
    _check_types(config)
    for key, flag in (("max_params", "--max-params"), ("max_macs", "--max-macs")):
        if config[key] is not None:
            config[key] = check_count(flag, config[key]) or None
    if config["max_model_bytes"] is not None:
        config["max_model_bytes"] = check_bytes("--max-model-bytes", config["max_model_bytes"]) or None
    config["initial_genomes"] = _initial_genomes(config["initial_genomes"])
    if config["max_latency"] is not None:
        config["max_latency"] = check_duration("--max-latency", config["max_latency"]) or None
    if config["latency_table"] is not None:
        config["latency_table"] = str(Path(config["latency_table"]).expanduser().resolve())
    # --max-latency without --latency-table uses eeea's reference table of the space (the search checks there is one)
    if config["measure_latency"] is not None:
        config["measure_latency"] = bool(config["measure_latency"])
    if config["eepi_scope"] not in SCOPES:
        raise UserError(f"--eepi-scope: {config['eepi_scope']!r} is not one of {', '.join(SCOPES)}")
    if not any(layer.get("workers") is not None for layer in layers) and _on_cuda(str(config["device"])):
        config["workers"] = GPU_WORKERS
    if config["amp"] not in AMP:
        raise UserError(f"--amp: {config['amp']!r} is not one of {', '.join(AMP)}")
    _check_executor(config)
    from .algorithms import ALGORITHMS

    if config["algorithm"] not in ALGORITHMS:
        raise UserError(f"--algorithm: {config['algorithm']!r} is not one of {', '.join(ALGORITHMS)}")
    if config["max_evaluations"] is not None and not any(layer.get("generations") is not None for layer in layers):
        # the evaluation budget alone bounds the run: every algorithm asks >= 1 new genome per round, so this many
        # rounds always reach it (the task's default generations would stop it short, e.g. at 200 of 500)
        config["generations"] = config["max_evaluations"]
    if isinstance(config["objectives"], str):
        config["objectives"] = [o.strip() for o in config["objectives"].split(",") if o.strip()]
    if config["objectives"] is not None and (not isinstance(config["objectives"], list)
                                             or not all(isinstance(o, str) for o in config["objectives"])):
        raise UserError(f"objectives: expected a list of names, got {config['objectives']!r}")
    if config["data"] is not None:
        config["data"] = str(Path(config["data"]).expanduser().resolve())
    if config["download"] and not task.downloadable:
        raise UserError(f"--download: task {name} cannot download its data; pass --data")
    if config["task_config"].get("labels") is not None:
        labels = check_text("--labels", config["task_config"]["labels"])
        config["task_config"]["labels"] = str(Path(labels).expanduser().resolve())
    config["train"] = task.check_budget(config["train"])
    options = task_options(task)
    unknown = sorted(set(config["task_config"]) - options)
    if unknown:
        raise UserError(f"task {name} has no option {unknown[0]!r} (options: {', '.join(sorted(options))})")
    config["checkpoints"] = bool(config["checkpoints"])
    return config


#: numbers without a default meaning for None
REQUIRED = ("seed", "population", "generations", "workers")
#: config keys that hold a mapping of options
SECTIONS = ("size", "eval_size", "train", "task_config")
#: bounded numbers of a search config: key -> (flag, bound); None values mean "the default"
NUMBERS: dict[str, tuple[str, Bound]] = {
    "seed": ("--seed", SEED),
    "population": ("--population", POPULATION),
    "generations": ("--generations", Bound(integer=True, minimum=0, maximum=10**6)),
    "workers": ("--workers", WORKERS),
    "threads": ("--threads", WORKERS),
    "tournament_size": ("--tournament-size", Bound(integer=True, minimum=1, maximum=10**6)),
    "max_evaluations": ("--max-evaluations", Bound(integer=True, minimum=1, maximum=10**9)),
    "cpus_per_candidate": ("--cpus-per-candidate", CPUS),
    "gpus_per_candidate": ("--gpus-per-candidate", GPUS),
    "crossover_prob": ("crossover_prob", PROBABILITY),
    "mutation_prob": ("mutation_prob", PROBABILITY),
}


def _check_types(config: dict[str, Any]) -> None:
    """Every key of a merged search config has the type and range its flag has: a ``--config`` file can hold
    anything (``seed: abc``, ``train: 5``), and it is refused here, in one line, before any run directory exists."""
    for key in SECTIONS:
        check_mapping(key, config[key])
    for key in ("task", "space", "device"):
        check_text(key, config[key], optional=False)
    for key in ("data", "latency_table"):
        check_path(key, config[key])
    for key in ("executor", "ray_address", "algorithm", "eepi_scope", "amp"):
        check_text(key, config[key])
    for key in ("download", "compile"):
        check_flag(key, config[key])
    for key in ("channels_last", "measure_latency"):
        check_flag(key, config[key], optional=True)
    for key, (flag, bound) in NUMBERS.items():
        if config[key] is not None or key in REQUIRED:
            bound.check(flag, config[key])


def _initial_genomes(value: Any) -> list[str]:
    """``initial_genomes`` as a list of genome names, files or texts, each one checked: a list, or one string (a
    genome text, or zoo names separated by commas); 'none' or '' for none."""
    from ..zoo import resolve_genome

    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return []
    if isinstance(value, str):  # a genome text holds commas of its own; zoo names and files hold no ':'
        value = [value] if ":" in value else value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise UserError(f"--initial-genome: expected genome names or texts, got {value!r}")
    items = [v.strip() for v in value if v.strip().lower() != "none"]
    for item in items:
        try:
            resolve_genome(item)
        except UserError as e:
            raise UserError(f"--initial-genome: {e}") from None
    return items


def with_legacy(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A stored run's config with the options it was written without set as that run did without them
    (``Task.search_legacy``), so that resuming it replays the same search."""
    out = dict(stored)
    try:
        legacy = task_class(str(out.get("task") or DEFAULTS["task"])).search_legacy
    except UserError:
        return out  # an unknown task is refused later, in one line
    for key, value in legacy.items():
        if key == "train" and isinstance(out.get("train"), Mapping):
            out["train"] = {**value, **out["train"]}
        elif key not in out:
            out[key] = value
    return out


def _check_executor(config: dict[str, Any]) -> None:
    from .executor_choice import EXECUTORS  # the executors' modules (and Ray) load only when a search runs
    from .ray_executor import import_ray

    if config["executor"] not in (None, *EXECUTORS):
        raise UserError(f"--executor: {config['executor']!r} is not one of {', '.join(EXECUTORS)}")
    if config["executor"] == "ray":
        import_ray()  # before the run directory is made: without Ray, one line naming the extra


def check_resume(stored: Mapping[str, Any], asked: Mapping[str, Any], run: str) -> None:
    """Refuse to resume ``run`` with a different search (one line naming the first differing option)."""
    stored = resolve_config(with_legacy(stored))  # a run of an older version lacks newer keys: compare resolved forms
    for key in sorted(set(stored) | set(asked)):
        if key in RESUME_FREE:
            continue
        if stored.get(key) != asked.get(key):
            raise UserError(
                f"--resume {run}: the run was started with {key}={stored.get(key)!r}, this command asks for "
                f"{asked.get(key)!r}; drop that option or start a new --out"
            )
