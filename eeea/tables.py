"""The paper's tables, regenerated from the code: published figures beside what eeea measures."""
from __future__ import annotations

import csv
import io
import statistics
import warnings
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import yaml

from .counting import count_macs, count_params
from .errors import UserError
from .files import read_data
from .zoo import resolve, resolve_genome

DATASETS = {"cifar10": ("cifar", "c10", 10), "cifar100": ("cifar", "c100", 100), "imagenet": ("imagenet", "top1", 1000)}
MEASURED = ["eeea model", "params", "MACs", "measured error %"]
HEADERS = {
    "cifar": ["model", "paper error %", "paper params M", "GPU-days", "method"],
    "imagenet": ["model", "paper top-1 error %", "paper params M", "paper MACs M", "method"],
}
PAPER_COLUMNS = {"cifar": ["params_m", "gpu_days", "method"], "imagenet": ["params_m", "macs_m", "method"]}


def paper_rows(table: str) -> list[dict[str, Any]]:
    data = yaml.safe_load(resources.files("eeea").joinpath("paper_tables.yaml").read_text())
    return data[table]


#: the data set a training run must have used to count for a table (ImageNet runs are image-folder runs)
RUN_DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet": "imagefolder"}


def measured_errors(runs: str | Path, dataset: str) -> dict[str, str]:
    """``{zoo name: "mean ± std (n=K)"}`` test error (%) of the training runs under ``runs`` (their result.json)
    whose genome is a row's zoo genome and whose data set is the table's."""
    if dataset not in DATASETS:
        raise UserError(f"no table for {dataset!r} (tables: {', '.join(DATASETS)})")
    root = Path(runs)
    if not root.is_dir():
        raise UserError(f"--runs {runs}: not a directory")
    keys = {resolve_genome(r["zoo"]).key: r["zoo"] for r in paper_rows(DATASETS[dataset][0]) if r["zoo"]}
    errors: dict[str, list[float]] = {}
    for path in sorted(root.rglob("result.json")):
        try:
            result = read_data(path)
            if not isinstance(result, dict):
                raise UserError(f"{path}: expected a JSON object")
        except UserError as e:
            warnings.warn(f"{e}; skipped", stacklevel=2)
            continue
        name = keys.get(result.get("genome_key"))
        if name and result.get("dataset") == RUN_DATASETS[dataset] and isinstance(result.get("test_error"), (int, float)):
            errors.setdefault(name, []).append(100.0 * result["test_error"])
    out = {}
    for name, values in errors.items():
        spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
        out[name] = f"{statistics.mean(values):.2f}{spread} (n={len(values)})"
    return out


def paper_table(dataset: str, measured_error: dict[str, float | str] | None = None) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows of the paper's table for ``dataset`` with our measured params and MACs beside the paper's.

    ``measured_error`` maps zoo names to test error (%) from training runs (see :func:`measured_errors`); rows
    without one stay empty.
    ImageNet models are counted at their own resolution (192 px for EEEA-Net-C1/C2), as the paper reports them.
    """
    if dataset not in DATASETS:
        raise UserError(f"no table for {dataset!r} (tables: {', '.join(DATASETS)})")
    table, column, classes = DATASETS[dataset]
    measured_error = measured_error or {}
    rows = []
    for r in paper_rows(table):
        params = macs = None
        if r["zoo"]:
            genome, default = resolve(r["zoo"])
            size = {**default, "num_classes": classes}
            params, macs = count_params(genome, size), count_macs(genome, size)
        paper = [r[c] for c in PAPER_COLUMNS[table]]
        rows.append([r["model"], r[column], *paper, r["zoo"], params, macs, measured_error.get(r["zoo"])])
    return HEADERS[table] + MEASURED, rows


#: the formats :func:`render` writes
FORMATS = ("text", "markdown", "csv")


def render(headers: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "text") -> str:
    """Render a table as aligned text, GitHub markdown, or CSV (CSV keeps exact numbers)."""
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        return buf.getvalue()
    # a column with any count of 10,000 or more groups the digits of all its integers
    grouped = [any(_is_int(row[i]) and row[i] >= 10_000 for row in rows) for i in range(len(headers))]
    cells = [[_cell(v, grouped[i]) for i, v in enumerate(row)] for row in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines) + "\n"
    if fmt != "text":
        raise UserError(f"unknown table format {fmt!r} (text, markdown, csv)")
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)]) + "\n"


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _cell(v: Any, grouped: bool) -> str:
    if v is None:
        return ""
    if grouped and _is_int(v):
        return f"{v:,}"
    return str(v)

