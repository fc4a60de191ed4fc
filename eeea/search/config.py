"""The search's configuration: defaults, YAML config files (``configs/search/*.yaml``), command-line overrides, and the
resume check (a resumed run must ask for the same search).

Layers, last wins: :data:`DEFAULTS`, then the chosen task's ``search_defaults`` (its space, budgets, population,
training budget and task options: each task trains differently), then the config file, then the flags. The task is
the one the last layer names (default ``ser``), so ``eeea search --task cifar10`` gets the CIFAR defaults.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..config import merge
from ..errors import UserError
from ..tasks.base import Task, task_class, task_options
from ..units import parse_count, parse_duration

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
}
#: keys whose defaults come from the task (``Task.search_defaults``): space, max_params, population, generations,
#: train (the task's training budget), task_config (the task's options), checkpoints (save trained weights), and
#: may set workers / threads (its candidates' best use of a CPU)
TASK_KEYS = ("space", "max_params", "max_macs", "population", "generations", "train", "task_config", "checkpoints",
             "workers", "threads")
#: keys a resumed run may change: they do not change which genomes are trained or their results
RESUME_FREE = {"workers", "device", "threads", "generations", "measure_latency"}
SCOPES = ("init", "all")


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
    name = _task_name(layers)
    task = task_class(name)
    config = merge(merge(DEFAULTS, Task.search_defaults), task.search_defaults)
    config["task"] = name
    for layer in layers:
        if layer.get("task") not in (None, name):  # a layer for another task: its task-specific keys do not apply
            layer = {k: v for k, v in layer.items() if k not in ("space", "train", "task_config")}
        config = merge(config, {k: v for k, v in layer.items() if not (k == "space" and v is None)})
    for key, flag in (("max_params", "--max-params"), ("max_macs", "--max-macs")):
        if config[key] is not None:
            config[key] = parse_count(config[key], flag) or None
    if config["max_latency"] is not None:
        config["max_latency"] = parse_duration(config["max_latency"], "--max-latency") or None
    if config["latency_table"] is not None:
        config["latency_table"] = str(Path(str(config["latency_table"])).expanduser().resolve())
    elif config["max_latency"] is not None:
        raise UserError("--max-latency needs --latency-table FILE (measure one with eeea latency-table)")
    if config["measure_latency"] is not None:
        config["measure_latency"] = bool(config["measure_latency"])
    if config["eepi_scope"] not in SCOPES:
        raise UserError(f"--eepi-scope: {config['eepi_scope']!r} is not one of {', '.join(SCOPES)}")
    if config["threads"] is None:
        config["threads"] = DEFAULTS["threads"]
    for key in ("population", "generations", "workers", "threads"):
        value = config[key]
        minimum = {"generations": 0, "population": 2}.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise UserError(f"--{key}: must be an integer >= {minimum}, got {value!r}")
    if isinstance(config["objectives"], str):
        config["objectives"] = [o.strip() for o in config["objectives"].split(",") if o.strip()]
    if config["data"] is not None:
        config["data"] = str(Path(str(config["data"])).expanduser().resolve())
    if config["download"] and not task.downloadable:
        raise UserError(f"--download: task {name} cannot download its data; pass --data")
    config["train"] = task.check_budget(config["train"])
    options = task_options(task)
    unknown = sorted(set(config["task_config"]) - options)
    if unknown:
        raise UserError(f"task {name} has no option {unknown[0]!r} (options: {', '.join(sorted(options))})")
    config["checkpoints"] = bool(config["checkpoints"])
    for key in ("crossover_prob", "mutation_prob"):
        if not 0 <= float(config[key]) <= 1:
            raise UserError(f"{key}: must be a probability in [0, 1], got {config[key]!r}")
    return config


def check_resume(stored: Mapping[str, Any], asked: Mapping[str, Any], run: str) -> None:
    """Refuse to resume ``run`` with a different search (one line naming the first differing option)."""
    stored = resolve_config(stored)  # a run written by an older version lacks newer keys: compare resolved forms
    for key in sorted(set(stored) | set(asked)):
        if key in RESUME_FREE:
            continue
        if stored.get(key) != asked.get(key):
            raise UserError(
                f"--resume {run}: the run was started with {key}={stored.get(key)!r}, this command asks for "
                f"{asked.get(key)!r}; drop that option or start a new --out"
            )
