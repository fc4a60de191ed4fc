"""The search's configuration: defaults, YAML config files (``configs/search/*.yaml``), command-line overrides, and the
resume check (a resumed run must ask for the same search)."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import UserError
from .train import TrainConfig
from .units import parse_count

DEFAULTS: dict[str, Any] = {
    "task": "cifar10",
    "space": "eeea",
    "data": None,  # None: the task's embedded default (the CIFAR-10 subset shipped with the package)
    "download": False,
    "max_params": 5_000_000,  # EE-PI threshold beta at the evaluation size; 0 or null = no early exit
    "max_macs": None,
    "eepi_scope": "all",  # init: screen the initial population only (the paper); all: offspring too
    "objectives": None,  # null: [task objective, params]; e.g. [error, params, macs]
    "population": 40,
    "generations": 30,  # offspring generations after the initial population
    "seed": 0,
    "crossover_prob": 1.0,
    "mutation_prob": 0.1,
    "size": {},  # overrides of the space's search (training) size, e.g. {channels: 4, layers: 5}
    "eval_size": {},  # overrides of the size at which budgets and the params/MACs objectives are counted
    "train": TrainConfig().to_dict(),
    "task_config": {"holdout": 0.1, "split_seed": 0, "limit": None},
    "workers": 1,
    "device": "auto",
    "threads": 1,  # torch CPU threads per candidate, the same in every executor (results depend on it in the last bits)
}
#: keys a resumed run may change: they do not change which genomes are trained or their results
RESUME_FREE = {"workers", "device", "threads", "generations"}
SCOPES = ("init", "all")


def load_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as e:
        raise UserError(f"--config {path}: cannot read ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise UserError(f"--config {path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(config, dict):
        raise UserError(f"--config {path}: expected a mapping of search options")
    return config


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; nested mappings merge key by key."""
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_config(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults, then each layer (config file, then flags), validated and normalised (counts parsed, paths absolute)."""
    config = dict(DEFAULTS)
    for layer in layers:
        unknown = set(layer) - set(DEFAULTS)
        if unknown:
            raise UserError(f"unknown search option {sorted(unknown)[0]!r} (known: {', '.join(sorted(DEFAULTS))})")
        config = merge(config, layer)
    for key, flag in (("max_params", "--max-params"), ("max_macs", "--max-macs")):
        if config[key] is not None:
            config[key] = parse_count(config[key], flag) or None
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
    config["train"] = TrainConfig.from_dict(config["train"]).to_dict()
    for key in ("crossover_prob", "mutation_prob"):
        if not 0 <= float(config[key]) <= 1:
            raise UserError(f"{key}: must be a probability in [0, 1], got {config[key]!r}")
    return config


def check_resume(stored: Mapping[str, Any], asked: Mapping[str, Any], run: str) -> None:
    """Refuse to resume ``run`` with a different search (one line naming the first differing option)."""
    for key in sorted(set(stored) | set(asked)):
        if key in RESUME_FREE:
            continue
        if stored.get(key) != asked.get(key):
            raise UserError(
                f"--resume {run}: the run was started with {key}={stored.get(key)!r}, this command asks for "
                f"{asked.get(key)!r}; drop that option or start a new --out"
            )
