"""A run directory for any verb (``eeea search``, ``eeea train``): the create / open / ``--force`` rule, atomic writes,
the resolved ``config.yaml``, ``state.json`` and ``log.txt``.

Each verb subclasses :class:`RunDir` and names the files it writes (``files``): ``--force`` removes only those.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import yaml

from .config import read_yaml_mapping
from .errors import UserError

CONFIG, STATE, LOG = "config.yaml", "state.json", "log.txt"


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Replace ``path`` atomically: ``write`` fills a temporary sibling, which is then renamed over it (a kill leaves
    the old file or the new one, never half of one)."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


class RunDir:
    """A verb's output folder: ``config.yaml`` (the resolved configuration), ``state.json``, ``log.txt`` and the files
    the verb names in :attr:`files`."""

    #: every file or folder the verb writes (``--force`` removes these and nothing else)
    files: ClassVar[tuple[str, ...]] = (CONFIG, STATE, LOG)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # creation / opening --------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, config: Mapping[str, Any], force: bool = False) -> "RunDir":
        """A fresh run directory; refuses a non-empty folder unless ``force`` (which removes only the run's ``files``)."""
        run = cls(path)
        if run.path.exists() and not run.path.is_dir():
            raise UserError(f"{run.path} exists and is not a directory")
        if run.path.is_dir() and any(run.path.iterdir()):
            if not force:
                raise UserError(f"{run.path} is not empty; pass --resume {run.path} to continue it or --force to start over")
            for name in cls.files:
                target = run.path / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_config(config)
        return run
    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        run = cls(path)
        if not (run.path / CONFIG).is_file():
            raise UserError(f"{run.path}: not a run directory (no {CONFIG}); nothing to resume")
        return run

    def write_config(self, config: Mapping[str, Any]) -> None:
        atomic_write_text(self.path / CONFIG, yaml.safe_dump(dict(config), sort_keys=False))

    def config(self) -> dict[str, Any]:
        return read_yaml_mapping(self.path / CONFIG)

    # state ---------------------------------------------------------------------------------------------------------
    def write_state(self, state: Mapping[str, Any]) -> None:
        """Atomically replace state.json (write a temporary file, then rename)."""
        atomic_write_text(self.path / STATE, json.dumps(dict(state), indent=2, sort_keys=True) + "\n")

    def read_state(self) -> dict[str, Any]:
        path = self.path / STATE
        if not path.exists():
            return {}
        from .files import parse_json, read_text

        state = parse_json(read_text(path), str(path))
        if not isinstance(state, dict):
            raise UserError(f"{path}: expected a JSON object")
        return state

    # log -----------------------------------------------------------------------------------------------------------
    def logger(self) -> logging.Logger:
        """A logger writing to log.txt (appending on resume)."""
        log = logging.getLogger(f"eeea.run.{self.path.resolve()}")
        log.setLevel(logging.INFO)
        log.propagate = False
        if not log.handlers:
            handler = logging.FileHandler(self.path / LOG, encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
            log.addHandler(handler)
        return log

    def close_logger(self) -> None:
        log = logging.getLogger(f"eeea.run.{self.path.resolve()}")
        for h in list(log.handlers):
            h.close()
            log.removeHandler(h)

    def relative(self, path: Path) -> str:
        return Path(path).relative_to(self.path.resolve()).as_posix()
