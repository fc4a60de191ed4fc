"""The paper's tables, regenerated from the code: published figures beside what eeea measures."""
from __future__ import annotations

import csv
import io
import statistics
import textwrap
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import yaml

from .choices import TABLE_FORMATS as FORMATS
from .config import load_config_file
from .counting import count_macs, count_params
from .data.final import split_kind
from .errors import UserError
from .files import read_data
from .units import format_number
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
#: the recipe whose runs fill the paper's column (``configs/train/DATASET_paper.yaml``)
PAPER_RECIPE = "paper"
OTHER_HEADERS = ["model", "eeea model", "recipe", "figure from", "measured error %"]


@dataclass
class MeasuredRuns:
    """Test error (%) of training runs, as ``"mean ± std (n=K)"``: ``paper`` maps zoo names to runs of the paper's
    recipe scored on the test split; ``others`` are rows of :data:`OTHER_HEADERS` (any other recipe or split)."""

    paper: dict[str, str] = field(default_factory=dict)
    others: list[list[Any]] = field(default_factory=list)


def _spread(values: list[float]) -> str:
    spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.2f}{spread} (n={len(values)})"


def _paper_recipe(dataset: str) -> dict[str, Any] | None:
    """The values of the paper's recipe for a run's data set (None: the project has none for it)."""
    from .train.config import recipe_file

    try:
        return load_config_file(recipe_file(PAPER_RECIPE, dataset), "recipe")
    except UserError:
        return None


def recipe_label(result: dict[str, Any]) -> str:
    """``"paper"`` when a run (its result.json) trained exactly with the paper's recipe, else what it trained with:
    the recipe's name and, for the paper's, the options that differ (``"paper, epochs=1, max_steps=1"``)."""
    recipe = str(result.get("recipe"))
    if recipe != PAPER_RECIPE:
        return recipe
    values = _paper_recipe(str(result.get("dataset")))
    if values is None:
        return f"{recipe} (no paper recipe for {result.get('dataset')})"
    train = result.get("train")
    if not isinstance(train, dict):  # a result.json written before runs recorded their budget
        return f"{recipe} (budget not recorded)"
    differ = [f"{k}={train.get(k)}" for k, v in values.get("train", {}).items() if train.get(k) != v]
    if train.get("max_steps") is not None:
        differ.append(f"max_steps={train['max_steps']}")
    size = result.get("size") if isinstance(result.get("size"), dict) else {}
    differ += [f"{k}={size.get(k)}" for k, v in values.get("size", {}).items() if size.get(k) != v]
    if bool(result.get("autoaugment", False)) != bool(values.get("autoaugment", False)):
        differ.append(f"autoaugment={result.get('autoaugment', False)}")
    return ", ".join([recipe, *differ])


def measured_runs(runs: str | Path, dataset: str) -> MeasuredRuns:
    """The training runs under ``runs`` (their result.json) whose genome is a row's zoo genome and whose data set is
    the table's: runs of the paper's recipe scored on the test split for the paper's column, the others apart,
    grouped by recipe and split."""
    if dataset not in DATASETS:
        raise UserError(f"no table for {dataset!r} (tables: {', '.join(DATASETS)})")
    root = Path(runs)
    if not root.is_dir():
        raise UserError(f"--runs {runs}: not a directory")
    rows = [r for r in paper_rows(DATASETS[dataset][0]) if r["zoo"]]
    keys = {resolve_genome(r["zoo"]).key: r["zoo"] for r in rows}
    paper: dict[str, list[float]] = {}
    others: dict[tuple[str, str, str], list[float]] = {}
    for path in sorted(root.rglob("result.json")):
        result = read_data(path, "--runs")  # a damaged run is refused by name: a mean silently missing it would mislead
        if not isinstance(result, dict):
            raise UserError(f"--runs {path}: expected a JSON object (damaged?); fix it or move that run out of {runs}")
        name = keys.get(result.get("genome_key"))
        error = result.get("test_error")
        if not name or result.get("dataset") != RUN_DATASETS[dataset] or not isinstance(error, (int, float)) \
                or isinstance(error, bool):
            continue
        recipe, split = recipe_label(result), result.get("split") or split_kind(str(result.get("test_split", "")))
        if recipe == PAPER_RECIPE and split == "test":
            paper.setdefault(name, []).append(100.0 * error)
        else:
            others.setdefault((name, recipe, split), []).append(100.0 * error)
    model = {r["zoo"]: r["model"] for r in rows}
    order = {r["zoo"]: i for i, r in enumerate(rows)}
    return MeasuredRuns({name: _spread(v) for name, v in paper.items()},
                        [[model[name], name, recipe, f"{split} split", _spread(v)] for (name, recipe, split), v
                         in sorted(others.items(), key=lambda kv: (order[kv[0][0]], kv[0]))])


def measured_errors(runs: str | Path, dataset: str) -> dict[str, str]:
    """``{zoo name: "mean ± std (n=K)"}``: the paper's column of :func:`measured_runs`."""
    return measured_runs(runs, dataset).paper


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


def _decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".", 1)[1]) if "." in text else 0


def count_notes(dataset: str) -> dict[str, str]:
    """``{model: note}`` for the rows whose params (or MACs) eeea counts differently from the paper beyond the paper's
    rounding: the two figures, the difference in percent, and why where it is known (``note`` in paper_tables.yaml).
    CIFAR rows are compared at 10 classes, the size of the paper's figures."""
    if dataset not in DATASETS:
        raise UserError(f"no table for {dataset!r} (tables: {', '.join(DATASETS)})")
    table = DATASETS[dataset][0]
    classes = DATASETS["cifar10" if table == "cifar" else dataset][2]
    notes = {}
    for r in paper_rows(table):
        if not r["zoo"]:
            continue
        genome, default = resolve(r["zoo"])
        size = {**default, "num_classes": classes}
        differ = []
        for what, paper, ours in (("params", r.get("params_m"), count_params(genome, size)),
                                  ("MACs", r.get("macs_m"), count_macs(genome, size))):
            if paper is None or round(ours / 1e6, _decimals(paper)) == paper:
                continue
            differ.append(f"{ours:,} {what}, {100 * (ours / (paper * 1e6) - 1):+.1f} % against the paper's {paper} M")
        if differ:
            why = r.get("note") or "no known reason (the published genotype, counted exactly)"
            notes[r["model"]] = "; ".join(differ) + f": {why}"
    return notes


def table_text(dataset: str, runs: str | Path | None = None, fmt: str = "text") -> str:
    """``eeea table``: the paper's table with eeea's counts, the measured error of the runs under ``runs`` of the
    paper's recipe on the test split, notes on the counts that differ from the paper's, and the other runs apart
    (labelled with their recipe and the split their figure comes from). CSV is one table: a ``recipe`` and a
    ``figure from`` column tell the rows of other runs, a ``note`` column holds the notes."""
    measured = measured_runs(runs, dataset) if runs else MeasuredRuns()
    headers, rows = paper_table(dataset, measured.paper)
    notes = count_notes(dataset)
    classes = DATASETS[dataset][2]
    if fmt == "csv":
        width = len(headers)
        out = [[*row, *(["paper", "test split"] if row[-1] is not None else ["", ""]), notes.get(row[0], "")]
               for row in rows]
        for model, zoo, recipe, split, error in measured.others:
            cells: list[Any] = [None] * width
            cells[0], cells[headers.index("eeea model")], cells[-1] = model, zoo, error
            out.append([*cells, recipe, split, ""])
        return render([*headers, "recipe", "figure from", "note"], out, fmt)
    marks = {model: f"[{i}]" for i, model in enumerate(notes, start=1)}
    shown = [[f"{row[0]} {marks[row[0]]}" if row[0] in marks else row[0], *row[1:]] for row in rows]
    text = render(headers, shown, fmt)
    lines = [f"{marks[m]} {m}: {n}" for m, n in notes.items()]
    if DATASETS[dataset][0] == "cifar" and classes != DATASETS["cifar10"][2]:
        lines.append(f"params and MACs above count a {classes}-class classifier; the paper's params and the notes are "
                     f"CIFAR-10 (10-class) counts")
    if runs:
        lines.append(f"measured error %: runs of the paper's recipe (--recipe {PAPER_RECIPE}, no option changed) "
                     f"scored on the test split, mean ± std over seeds")
    if lines:
        text += "\n" + "\n".join(textwrap.fill(line, 118, initial_indent="  ", subsequent_indent="      ")
                                  if fmt == "text" else f"- {line}" for line in lines) + "\n"
    if measured.others:
        title = ("Other runs: another recipe, changed options or a held-out split; not comparable with the paper's "
                 "figures")
        text += "\n" + (f"**{title}**\n\n" if fmt == "markdown" else f"{title}\n")
        text += render(OTHER_HEADERS, measured.others, fmt)
    return text


#: the formats :func:`render` writes


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
        return format_number(v)
    return str(v)

