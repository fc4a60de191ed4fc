"""The Task protocol: prepare data once per worker, then score models.

Objectives are minimised. A task reports the objectives it measures (``error`` for classification, ``1-ccc`` for
speech emotion, ...) plus any extra figures (per-dimension CCC, accuracy) that the archive keeps; ``params`` and
``macs`` come from :mod:`eeea.counting`, not from the task.
"""
from __future__ import annotations

import importlib
import inspect
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar

import torch
from torch import nn

from ..errors import UserError

_TASKS: dict[str, type["Task"]] = {}


def register_task(name: str) -> Callable[[type["Task"]], type["Task"]]:
    def add(cls: type[Task]) -> type[Task]:
        if name in _TASKS:
            raise ValueError(f"task {name!r} is registered twice")
        cls.name = name
        _TASKS[name] = cls
        return cls

    return add


def list_tasks() -> list[str]:
    return sorted(_TASKS)


def task_class(name: str) -> type["Task"]:
    """A registered task, or a user's task class given as ``module:Class`` (importable in every worker process)."""
    if name in _TASKS:
        return _TASKS[name]
    if ":" not in name:
        raise UserError(f"unknown task {name!r} (tasks: {', '.join(list_tasks()) or 'none'}, or module:Class)")
    module, _, attr = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise UserError(f"task {name!r}: cannot import it ({e})") from None
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise UserError(f"task {name!r} is not a subclass of eeea.tasks.Task")
    return cls


def task_options(cls: type["Task"]) -> set[str]:
    """The options a task's constructor takes besides ``data`` and ``download`` (the search's ``task_config``)."""
    return set(inspect.signature(cls).parameters) - {"data", "download", "self"}


def get_task(name: str, **config: Any) -> "Task":
    cls = task_class(name)
    try:
        inspect.signature(cls).bind(**config)
    except TypeError as e:
        raise UserError(f"task {name}: bad task options ({e})") from None
    return cls(**config)


class Task(ABC):
    """Scores a candidate network. Construction is cheap; :meth:`prepare` loads data (once per worker process)."""

    name: str = ""
    #: the objective this task measures (minimised), e.g. "error" or "1-ccc"
    objective: str = "error"
    #: the objective recorded for candidates that diverge, run out of memory or crash
    worst: ClassVar[float] = 1.0
    #: the search's defaults for this task (see :mod:`eeea.search.config`): space, max_params, population,
    #: generations, train (the training budget), task_config (every option the constructor takes), checkpoints
    search_defaults: ClassVar[dict[str, Any]] = {
        "space": "eeea", "max_params": None, "max_macs": None, "population": 40, "generations": 30, "train": {},
        "task_config": {}, "checkpoints": False,
    }
    #: dimensions of one input sample (3: images C x H x W, 1: raw audio); a space must produce networks taking it
    input_rank: ClassVar[int] = 3
    #: whether the constructor takes ``download=True``
    downloadable: ClassVar[bool] = False
    #: extra figures of :meth:`evaluate` that ``eeea search`` prints beside the front, as (key, header)
    summary_columns: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: a tabular benchmark: candidates are scored by :meth:`lookup` of the genome, no network is built or trained
    lookup_only: ClassVar[bool] = False

    @classmethod
    def check_budget(cls, budget: dict[str, Any]) -> dict[str, Any]:
        """The complete training budget (defaults filled in), or UserError naming a bad key."""
        return dict(budget)

    def size_overrides(self) -> dict[str, Any]:
        """Network size options the task fixes (e.g. the classifier width); none by default."""
        return {}

    @abstractmethod
    def prepare(self, device: torch.device) -> None:
        """Load (and, on CUDA, upload) the data. Called once per worker before any evaluate."""

    @abstractmethod
    def evaluate(self, model: nn.Module, budget: dict[str, Any], seed: int) -> dict[str, float]:
        """Train ``model`` within ``budget`` (epochs, batch size, ...) from ``seed``; return ``{name: value}``
        containing at least :attr:`objective`. Must be deterministic for a given seed on the CPU."""

    def lookup(self, genome: Any) -> dict[str, float]:
        """The scores of ``genome`` read from a table (tasks with :attr:`lookup_only` only)."""
        raise NotImplementedError(f"task {self.name} trains its candidates; it has no table to look them up in")
