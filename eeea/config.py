"""YAML option files and the layered merge: one implementation for every verb (search configs, training recipes,
``--config`` files). Later layers win; nested mappings merge key by key."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

from .files import read_mapping


def read_yaml_mapping(path: str | Path, what: str = "", expected: str = "expected a mapping") -> dict[str, Any]:
    """The mapping a YAML file holds. Errors are one line naming ``what`` (a flag, "recipe NAME"; may be empty) and the
    path: unreadable file, invalid YAML, or not a mapping (``expected`` says what was expected)."""
    return read_mapping(path, what, expected)


def load_config_file(path: str | Path, what: str = "--config") -> dict[str, Any]:
    """A YAML mapping of options (a ``--config`` file, a recipe); errors name ``what`` and the path in one line."""
    return read_yaml_mapping(path, what, "expected a mapping of options")


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; nested mappings merge key by key."""
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
