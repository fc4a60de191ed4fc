"""The Task protocol: prepare data once per worker, then score models; and train one network epoch by epoch.

A task is searchable and trainable at once. The search calls :meth:`Task.prepare` (the training part and the part
candidates are scored on) and :meth:`Task.evaluate`; ``eeea train`` calls :meth:`Task.prepare_final` (the whole
training set and the test split) and drives the :class:`Training` that :meth:`Task.start` returns, epoch by epoch.
:meth:`Task.evaluate` is the same :class:`Training` run whole, so both verbs train a network the same way.

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
from ..runtime import Levers

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


def final_inputs(cls: type["Task"]) -> set[str]:
    """The inputs a final training of the task takes (keyword arguments of :meth:`Task.prepare_final`)."""
    return set(inspect.signature(cls.prepare_final).parameters) - {"self", "device", "input_shape"}


def task_defaults(cls: type["Task"]) -> dict[str, Any]:
    """The constructor's default of every option in :func:`task_options`: the one place a task option's default lives."""
    params = inspect.signature(cls).parameters
    return {k: _plain(params[k].default) for k in sorted(task_options(cls))
            if params[k].default is not inspect.Parameter.empty}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


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
    #: the search's defaults for this task (see :mod:`eeea.search.config`): space, max_params, max_macs,
    #: max_model_bytes (int8 file), population, generations, train (the training budget), checkpoints,
    #: initial_genomes (known-good genomes the first population includes); its options (``task_config``) default
    #: to the constructor's defaults (:func:`task_defaults`)
    search_defaults: ClassVar[dict[str, Any]] = {
        "space": "eeea", "max_params": None, "max_macs": None, "max_model_bytes": None, "population": 40,
        "generations": 30, "train": {}, "checkpoints": False, "initial_genomes": [],
    }
    #: search options a run written before they existed did without, with the value that reproduces such a run when
    #: it is resumed (keys of ``train`` under ``train``)
    search_legacy: ClassVar[dict[str, Any]] = {"max_model_bytes": None, "initial_genomes": []}
    #: dimensions of one input sample (3: images C x H x W, 1: raw audio); a space must produce networks taking it
    input_rank: ClassVar[int] = 3
    #: whether the constructor takes ``download=True``
    downloadable: ClassVar[bool] = False
    #: extra figures of :meth:`evaluate` that ``eeea search`` prints beside the front, as (key, header)
    summary_columns: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: whether training may autocast (bf16); a task whose inputs need fp32 (a log-power front end) says False
    autocast: ClassVar[bool] = True
    #: class names of the prepared data (classification tasks), kept in a trained model's metadata
    classes: list[str] | None = None
    #: network size options of a final training (``eeea train``) whatever the data, e.g. an ImageNet layout
    final_size: ClassVar[dict[str, Any]] = {}

    @classmethod
    def budget_keys(cls) -> set[str]:
        """The keys a training budget of this task may hold (the search's ``train`` section)."""
        return set(cls.search_defaults.get("train", {}))

    @classmethod
    def trainable(cls) -> bool:
        """Whether the task trains networks (a tabular benchmark task only looks results up)."""
        return cls.start is not Task.start
    #: a tabular benchmark: candidates are scored by :meth:`lookup` of the genome, no network is built or trained
    lookup_only: ClassVar[bool] = False

    @classmethod
    def check_budget(cls, budget: dict[str, Any]) -> dict[str, Any]:
        """The complete training budget (defaults filled in), or UserError naming a bad key."""
        return dict(budget)

    def size_overrides(self) -> dict[str, Any]:
        """Network size options the task fixes (e.g. the classifier width); none by default."""
        return {}

    def check_data(self) -> list[str]:
        """Refuse (UserError) data that :meth:`prepare` could not read, before any training; lines for the run log
        (clips skipped, how the data is split). The search calls it once in the main process before any worker
        starts. Nothing to check by default."""
        return []

    def data_record(self) -> dict[str, Any]:
        """Plain data a run keeps about the data it was scored on (after :meth:`check_data`); none by default."""
        return {}

    @abstractmethod
    def prepare(self, device: torch.device) -> None:
        """Load (and, on CUDA, upload) the search's data: the training part and the part candidates are scored on.
        Called once per worker before any evaluate."""

    def prepare_final(self, device: torch.device, input_shape: tuple[int, ...]) -> str:
        """``eeea train``: load the whole training set and the test split for a network taking ``input_shape``;
        return where the test figures come from, in words. After it, :meth:`Training.score` reports test figures.
        A task may take keyword inputs of a final training here (an image task's ``test_data``, ``autoaugment``)."""
        raise UserError(f"task {self.name} does not train networks to the end (eeea train)")

    def start(self, model: nn.Module, budget: dict[str, Any], seed: int, *, max_steps: int | None = None,
              amp: torch.dtype | None = None, channels_last: bool = False, compile: bool = False) -> "Training":
        """Begin training ``model`` on the prepared data within ``budget`` from ``seed`` (the weights are already
        initialised): the optimiser, schedule and random streams. ``max_steps`` caps the steps per epoch; ``amp``,
        ``channels_last`` and ``compile`` are speed levers that a task may ignore."""
        raise UserError(f"task {self.name} does not train networks")

    def train(self, model: nn.Module, budget: dict[str, Any], seed: int) -> nn.Module:
        """Train ``model`` through the whole budget; returns it in eval mode."""
        training = self.start(model, budget, seed)
        for epoch in range(training.epochs):
            training.train_epoch(epoch)
        return model.eval()

    def evaluate(self, model: nn.Module, budget: dict[str, Any], seed: int,
                 levers: Levers = Levers()) -> dict[str, float]:
        """Train ``model`` within ``budget`` (epochs, batch size, ...) from ``seed`` with the speed ``levers`` (bf16
        autocast, channels_last, compile; a task may ignore them); return ``{name: value}`` containing at least
        :attr:`objective`. Deterministic for a given seed on the CPU. Raises :class:`~eeea.tasks.training.Diverged`
        when the loss or the scores stop being finite."""
        training = self.start(model, budget, seed, **levers.options())
        metrics: dict[str, float] = {}
        for epoch in range(training.epochs):
            metrics, _ = training.train_epoch(epoch)
        return {**training.score(), **({"train_loss": metrics["train_loss"]} if "train_loss" in metrics else {})}


class Training(ABC):
    """One network's training under a task, epoch by epoch: what ``eeea train`` drives (saving its state after every
    epoch) and what :meth:`Task.evaluate` runs whole."""

    model: nn.Module
    #: epochs of the budget, and steps in each
    epochs: int
    steps: int

    @abstractmethod
    def train_epoch(self, epoch: int, progress: Any = None) -> tuple[dict[str, float], int]:
        """Train epoch ``epoch`` (0-based; ``progress.update(1)`` after each step): the epoch's training figures
        (``train_loss``, ...) and the number of samples seen. Raises Diverged on a non-finite loss."""

    @abstractmethod
    def score(self) -> dict[str, float]:
        """The task's figures on its scoring split (held-out part in a search, ``test_*`` after prepare_final)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything the next epoch reads besides the weights and torch's global RNG: ``optimizer``,
        ``scheduler`` and ``extra`` (plain data), so a resumed training ends bit for bit where an uninterrupted one does."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def lookup(self, genome: Any) -> dict[str, float]:
        """The scores of ``genome`` read from a table (tasks with :attr:`lookup_only` only)."""
        raise NotImplementedError(f"task {self.name} trains its candidates; it has no table to look them up in")
