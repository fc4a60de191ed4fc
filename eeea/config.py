"""YAML option files and the layered merge: one implementation for every verb (search configs, training recipes,
``--config`` files). Later layers win; nested mappings merge key by key."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import UserError


def load_config_file(path: str | Path, what: str = "--config") -> dict[str, Any]:
    """A YAML mapping of options; errors name ``what`` (the flag, or "recipe NAME") and the path in one line."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as e:
        raise UserError(f"{what} {path}: cannot read ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise UserError(f"{what} {path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(config, dict):
        raise UserError(f"{what} {path}: expected a mapping of options")
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
