"""Search quality on tabular NAS benchmarks: NSGA-II (eeea's default) vs random search vs regularised evolution, and
EE-PI's own claim (screening by parameters saves evaluations without losing accuracy), measured.

For each benchmark and algorithm, ``--seeds`` searches of ``max(--budgets)`` distinct evaluations run in this process
through the library (``eeea.search.loop.search``, the same code as ``eeea search``); a run's first B evaluations are
exactly a run with ``--max-evaluations B`` (every algorithm asks for new genomes only, in a seeded order), so each run
gives every budget. Reported per budget: the best *test* accuracy found (the network best by the search metric:
12-epoch validation accuracy on NAS-Bench-201, the 3-run mean on NAS-Bench-Macro, which only has test accuracies),
mean ± std and median over seeds; the hypervolume of the run's (search error, params) front as a fraction of the true
front's (whole table; see :mod:`eeea.search.quality`).

EE-PI: NSGA-II with a parameter threshold at the 25th/50th/75th percentile of the space vs the same searches without
one, at 100 and 200 evaluations: evaluations spent on networks over the threshold, the best under-threshold accuracy
found, and the best under-threshold network in the whole table.

Writes ``benchmarks/search_quality.png`` and the section "Search quality on tabular benchmarks" of RESULTS.md.
Data: ``--data-dir`` holding ``nasbench201.csv`` and ``nas-bench-macro_cifar10.json`` (default ``data/`` of the
real-data folder: ``$EEEA_SHARED``, else ``../shared``).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from eeea.search import archive
from eeea.search.archive import SearchRun
from eeea.search.config import resolve_config
from eeea.search.loop import search
from eeea.search.quality import TrueFront, best_found
from eeea.tasks import get_task

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "tests"))
from _results import RESULTS, machine  # noqa: E402
from shared_data import shared_folder  # noqa: E402  (tests/shared_data.py: where the real data lives)

HERE = Path(__file__).resolve().parent
ALGORITHMS = ("nsga2", "regularized-evolution", "random")
#: name -> (task, task options, data file, reported figure, its label)
BENCHMARKS = {
    "nb201-cifar10": ("nb201", {"dataset": "cifar10"}, "nasbench201.csv", "test_accuracy", "test acc (12 ep)"),
    "nb201-cifar100": ("nb201", {"dataset": "cifar100"}, "nasbench201.csv", "test_accuracy", "test acc (12 ep)"),
    "nb201-imagenet16": ("nb201", {"dataset": "imagenet16"}, "nasbench201.csv", "test_accuracy", "test acc (12 ep)"),
    "nas-bench-macro": ("nas_bench_macro", {}, "nas-bench-macro_cifar10.json", "accuracy", "mean test acc (3 runs)"),
}
EEPI_BENCHMARKS = ("nb201-cifar10", "nas-bench-macro")
SECTION = "## Search quality on tabular benchmarks (bench_search_quality)"


def _no_plot(*args: Any, **kwargs: Any) -> None:
    """Each run's pareto.png is not looked at here: skipping it saves ~0.3 s of matplotlib per run."""


def run_records(bench: str, data_dir: Path, algorithm: str, seed: int, budget: int, population: int,
                tournament: int, max_params: int | None, root: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One search, in this process; its archive records in evaluation order and its EE-PI statistics."""
    task, options, data, _, _ = BENCHMARKS[bench]
    config = resolve_config({
        "task": task, "data": str(data_dir / data), "task_config": options, "algorithm": algorithm, "seed": seed,
        "population": population, "generations": budget, "max_evaluations": budget, "tournament_size": tournament,
        "max_params": max_params or 0,
    })
    out = root / f"{bench}-{algorithm}-{seed}-{max_params or 0}"
    plot_front, archive.plot_front = archive.plot_front, _no_plot
    try:
        result = search(config, out, quiet=True)
    finally:
        archive.plot_front = plot_front
    records = SearchRun.read(out).read_archive()
    shutil.rmtree(out)
    assert len(records) == budget, (bench, algorithm, seed, len(records))
    return records, result.eepi


def table_of(bench: str, data_dir: Path) -> dict[str, np.ndarray]:
    task, options, data, report, _ = BENCHMARKS[bench]
    t = get_task(task, data=str(data_dir / data), **options)
    from eeea.counting import count_params

    rows = [(v["error"], v[report], count_params(g)) for g, v in t.entries()]
    error, test, params = (np.array(c) for c in zip(*rows))
    return {"error": error, "test": test, "params": params}


def _ms(values: list[float], pct: bool = True) -> str:
    k = 100 if pct else 1
    sd = statistics.stdev(values) * k if len(values) > 1 else 0.0
    return f"{statistics.mean(values) * k:.2f} ± {sd:.2f} (median {statistics.median(values) * k:.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--budgets", default="50,100,200,500")
    ap.add_argument("--population", type=int, default=20, help="population of every algorithm (default 20)")
    ap.add_argument("--tournament-size", type=int, default=5, help="regularised evolution's sample size")
    ap.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    ap.add_argument("--eepi-seeds", type=int, help="seeds of the EE-PI study (default: --seeds)")
    ap.add_argument("--data-dir", default=str(shared_folder() / "data"),
                    help="default: data/ of the real-data folder ($EEEA_SHARED, else ../shared)")
    ap.add_argument("--no-record", action="store_true", help="print only; no plot, no RESULTS.md")
    args = ap.parse_args()
    budgets = sorted(int(b) for b in args.budgets.split(","))
    top = budgets[-1]
    data_dir = Path(args.data_dir)
    benches = [b for b in args.benchmarks.split(",") if b]
    eepi_seeds = args.eepi_seeds if args.eepi_seeds is not None else args.seeds
    start = time.time()
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="bench_sq_", dir=shm if shm.is_dir() else None))
    quality: dict[str, dict[str, Any]] = {}
    curves: dict[str, dict[str, np.ndarray]] = {}
    eepi_rows: dict[str, list[list[str]]] = {}
    steps = np.arange(10, top + 1, 10)
    try:
        for bench in benches:
            table = table_of(bench, data_dir)
            true = TrueFront(table["error"], table["params"])
            best_table = float(table["test"][np.argmin(table["error"])])
            quality[bench] = {"oracle": best_table, "max": float(table["test"].max()), "algos": {}}
            curves[bench] = {}
            runs: dict[str, list[list[dict[str, Any]]]] = {}
            for algo in ALGORITHMS:
                runs[algo] = [run_records(bench, data_dir, algo, s, top, args.population, args.tournament_size, None,
                                          root)[0] for s in tqdm(range(args.seeds), desc=f"{bench} {algo}")]
                report = BENCHMARKS[bench][3]
                quality[bench]["algos"][algo] = {
                    b: ([best_found(r[:b], report) for r in runs[algo]], [true.fraction(r[:b]) for r in runs[algo]])
                    for b in budgets
                }
                curves[bench][algo] = np.array([[best_found(r[:n], report) for n in steps] for r in runs[algo]])
            if bench in EEPI_BENCHMARKS:
                eepi_rows[bench] = eepi_study(bench, data_dir, table, runs["nsga2"][:eepi_seeds], args, root,
                                              eepi_seeds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    minutes = (time.time() - start) / 60
    text = render(quality, eepi_rows, budgets, args, minutes, eepi_seeds)
    print(text)
    if not args.no_record:
        plot(curves, steps, quality, HERE / "search_quality.png")
        write_section(text)


def eepi_study(bench: str, data_dir: Path, table: dict[str, np.ndarray], free_runs: list[list[dict[str, Any]]],
               args: argparse.Namespace, root: Path, seeds: int) -> list[list[str]]:
    """NSGA-II with a params threshold at each quartile vs the unconstrained runs (their first B evaluations)."""
    report = BENCHMARKS[bench][3]
    rows = []
    for q in (25, 50, 75):
        threshold = int(np.percentile(table["params"], q))
        under = table["params"] <= threshold
        oracle = float(table["test"][under][np.argmin(table["error"][under])])
        eepi_budgets = [b for b in (100, 200) if b <= len(free_runs[0])] or [len(free_runs[0])]
        top = eepi_budgets[-1]
        screened = [run_records(bench, data_dir, "nsga2", s, top, args.population, args.tournament_size, threshold,
                                root) for s in tqdm(range(seeds), desc=f"{bench} EE-PI p{q}")]
        draws = statistics.mean(e["draws"] for _, e in screened)
        for budget in eepi_budgets:  # a run's first B evaluations are a run of budget B
            found = [best_found(r[:budget], report) for r, _ in screened]
            over = [sum(x["params"] > threshold for x in r[:budget]) for r in free_runs]
            free_under = [[x for x in r[:budget] if x["params"] <= threshold] for r in free_runs]
            free_found = [best_found(r, report) for r in free_under if r]
            rows.append([
                f"p{q}: {threshold:,}", str(budget), f"{oracle * 100:.2f}", _ms(found), f"{draws:.0f}",
                f"{statistics.mean(over):.0f} of {budget}", _ms(free_found) if free_found else "-",
                f"{len(free_found)}/{len(free_runs)}",
            ])
    return rows


def render(quality: dict[str, Any], eepi_rows: dict[str, list[list[str]]], budgets: list[int],
           args: argparse.Namespace, minutes: float, eepi_seeds: int) -> str:
    import torch

    load = os.getloadavg()[0]
    cmd = (f"python benchmarks/bench_search_quality.py --seeds {args.seeds} --budgets {args.budgets} "
           f"--benchmarks {args.benchmarks} "
           f"--population {args.population} --tournament-size {args.tournament_size}"
           + (f" --eepi-seeds {args.eepi_seeds}" if args.eepi_seeds is not None else ""))
    lines = [SECTION, "", f"Command: `{cmd}`", "",
             f"Machine: {machine()}, torch {torch.__version__}, load average {load:.1f} while it ran (shared machine); "
             f"{minutes:.1f} min in all; date {_dt.date.today().isoformat()}. {args.seeds} seeds per algorithm and "
             f"benchmark; every algorithm has population {args.population} (regularised evolution: tournament "
             f"{args.tournament_size}, one child per round) and no EE-PI threshold. Accuracies in %, mean ± std "
             f"(median) over seeds, of the network best by the search metric; HV = hypervolume fraction of the "
             f"(search error, params) front vs the true front of the whole table.", ""]
    for bench, q in quality.items():
        label = BENCHMARKS[bench][4]
        lines += [f"### {bench}: {label} (table's best by the search metric: {q['oracle'] * 100:.2f}, "
                  f"best in table: {q['max'] * 100:.2f})", "",
                  "| algorithm | evaluations | best " + label + " | HV fraction |", "|---|---|---|---|"]
        for algo, by_budget in q["algos"].items():
            for b in budgets:
                acc, hv = by_budget[b]
                lines.append(f"| {algo} | {b} | {_ms(acc)} | {_ms(hv, pct=False)} |")
        lines.append("")
    for bench, rows in eepi_rows.items():
        lines += [f"### EE-PI on {bench}: NSGA-II with a params threshold vs without ({eepi_seeds} seeds)", "",
                  "| threshold (percentile: params) | evaluations | table's best under it (by the search metric) | with EE-PI: best found | "
                  "EE-PI draws per run (counted, not trained) | without: evaluations over the threshold | without: best under "
                  "it found | without: runs with any under it |", "|---|---|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    return "\n".join(lines)


def plot(curves: dict[str, dict[str, np.ndarray]], steps: np.ndarray, quality: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.6), dpi=120, squeeze=False)
    for ax, (bench, by_algo) in zip(axes[0], curves.items()):
        for algo, c in by_algo.items():
            mean, sd = c.mean(axis=0) * 100, c.std(axis=0) * 100
            ax.plot(steps, mean, label=algo)
            ax.fill_between(steps, mean - sd, mean + sd, alpha=0.2)
        ax.axhline(quality[bench]["oracle"] * 100, ls="--", c="0.5", lw=0.8, label="table's best")
        ax.set_title(bench)
        ax.set_xlabel("distinct evaluations")
        ax.set_ylabel(BENCHMARKS[bench][4] + " %")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_section(text: str) -> None:
    """Replace this benchmark's section of RESULTS.md (or append it)."""
    body = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if SECTION in body:
        head, _, rest = body.partition(SECTION)
        nxt = rest.find("\n## ")
        body = head + text + ("\n" + rest[nxt + 1:] if nxt >= 0 else "\n")
    else:
        body = body.rstrip("\n") + "\n\n" + text + "\n"
    RESULTS.write_text(body)


if __name__ == "__main__":
    main()
