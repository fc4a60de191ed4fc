"""Search quality on tabular NAS benchmarks: eeea's algorithms (any registered name: nsga2, regularized-evolution,
random, ...) beside Optuna's multi-objective samplers as peers, measured side by side in one run; and EE-PI's own claim
(screening by parameters saves evaluations without losing accuracy).

Every algorithm searches (search error, params), both minimised, on the same tables with the same seeds and the same
budget unit: distinct evaluations (see ``_quality_runs.py``: eeea's algorithms run through the library, the code of
``eeea search``; an Optuna trial that repeats a genome is told the known value and not counted). A run's first B
evaluations are exactly a run of budget B (every algorithm asks in a seeded order), so one run of ``max(--budgets)``
gives every budget. Reported per budget, mean ± standard error over seeds: the best *test* accuracy found (of the
network best by the search objectives, eeea.search.quality.best_found: 12-epoch validation accuracy on NAS-Bench-201,
the 3-run mean on NAS-Bench-Macro, which only has test accuracies) and the hypervolume of the run's (search error,
params) front as a fraction of the true front's (eeea.search.quality.TrueFront). Each row is tested against the
column's best row (the best row: against the runner-up) by a two-sided Wilcoxon signed-rank test paired by seed
(scipy, zero differences dropped), Holm-adjusted over the rows of the column.

EE-PI: NSGA-II with a parameter threshold at the 25th/50th/75th percentile of the space vs the same searches without
one, at 100 and 200 evaluations.

Runs are cached (``benchmarks/.cache/search_quality``, see ``_quality_runs.py``): an interrupted invocation resumes
where it stopped, and adding an algorithm to ``--algorithms`` computes only its runs. Writes
``benchmarks/search_quality.png`` and the section "Search quality on tabular benchmarks" of RESULTS.md (its
hand-written "### Reading" is kept). Optuna comes with ``pip install -e ".[bench]"``. Data: ``--data-dir`` holding
``nasbench201.csv`` and ``nas-bench-macro_cifar10.json`` (default ``data/`` of the real-data folder: ``$EEEA_SHARED``,
else ``../shared``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "tests"))
from _quality_report import collect, plot, render, write_section  # noqa: E402
from _quality_runs import (BENCHMARKS, EEPI_BENCHMARKS, EEPI_BUDGETS, PEERS, RunSpec, cached_run,  # noqa: E402
                           eepi_thresholds, identity, optuna_missing, read_cached, scratch)
from shared_data import shared_folder  # noqa: E402  (tests/shared_data.py: where the real data lives)

HERE = Path(__file__).resolve().parent
DEFAULT_ALGORITHMS = ("nsga2", "regularized-evolution", "random", "optuna-tpe", "optuna-nsga2")


def fail(message: str) -> None:
    print(f"bench_search_quality: error: {message}", file=sys.stderr)
    sys.exit(2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from eeea.search.algorithms import ALGORITHMS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=100, help="seeds 0..N-1 of every algorithm (default 100)")
    ap.add_argument("--budgets", default="50,100,200,500", help="distinct evaluations reported (default 50,100,200,500)")
    ap.add_argument("--algorithms", help=f"comma list of eeea algorithms ({', '.join(ALGORITHMS)}) and Optuna peers "
                    f"({', '.join(PEERS)}); default {','.join(DEFAULT_ALGORITHMS)}")
    ap.add_argument("--population", type=int, default=20, help="population of eeea's algorithms (default 20)")
    ap.add_argument("--tournament-size", type=int, default=5, help="regularised evolution's sample size")
    ap.add_argument("--max-trials", type=int, default=5000,
                    help="Optuna: trials per run, repeats included, before it stops short of its budget (default 5000)")
    ap.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    ap.add_argument("--eepi-seeds", type=int, help="seeds of the EE-PI study (default: --seeds; 0 skips it)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--cached-only", action="store_true",
                    help="compute nothing: report the runs already cached (rows say how many seeds they have)")
    ap.add_argument("--data-dir", default=str(shared_folder() / "data"),
                    help="default: data/ of the real-data folder ($EEEA_SHARED, else ../shared)")
    ap.add_argument("--no-record", action="store_true", help="print only; no plot, no RESULTS.md")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    try:
        args.budget_list = sorted({int(b) for b in args.budgets.split(",") if b.strip()})
    except ValueError:
        fail(f"--budgets: {args.budgets!r} is not a comma list of integers")
    if not args.budget_list or args.budget_list[0] < 1 or args.seeds < 1 or args.jobs < 1:
        fail("--budgets, --seeds and --jobs must be positive")
    args.bench_list = [b for b in args.benchmarks.split(",") if b]
    unknown = [b for b in args.bench_list if b not in BENCHMARKS]
    if unknown:
        fail(f"--benchmarks: unknown {unknown[0]!r} (known: {', '.join(BENCHMARKS)})")
    names = [a for a in (args.algorithms or ",".join(DEFAULT_ALGORITHMS)).split(",") if a]
    unknown = [a for a in names if a not in ALGORITHMS and a not in PEERS]
    if unknown:
        fail(f"--algorithms: unknown {unknown[0]!r} (eeea: {', '.join(ALGORITHMS)}; Optuna: {', '.join(PEERS)})")
    peers = [a for a in names if a in PEERS]
    if peers and optuna_missing():
        if args.algorithms:
            fail(f"optuna is not installed, so {', '.join(peers)} cannot run: pip install -e \".[bench]\"")
        print(f"bench_search_quality: optuna is not installed (pip install -e \".[bench]\"): skipping "
              f"{', '.join(peers)}", file=sys.stderr)
        names = [a for a in names if a not in PEERS]
    args.algorithm_list = names
    args.eepi_seeds = args.seeds if args.eepi_seeds is None else args.eepi_seeds
    return args


def plan(args: argparse.Namespace) -> list[RunSpec]:
    """Every run the report needs: each algorithm x benchmark x seed at the top budget, then EE-PI's screened runs."""
    top = args.budget_list[-1]
    # seed by seed: an interrupted invocation leaves every algorithm measured on the same first seeds
    specs = [RunSpec(b, a, s, top, args.data_dir, args.population, args.tournament_size, 0, args.max_trials)
             for s in range(args.seeds) for a in args.algorithm_list for b in args.bench_list]
    if "nsga2" in args.algorithm_list:
        for bench in (b for b in EEPI_BENCHMARKS if b in args.bench_list):
            for threshold in eepi_thresholds(bench, args.data_dir).values():
                specs += [RunSpec(bench, "nsga2", s, min(EEPI_BUDGETS[-1], top), args.data_dir, args.population,
                                  args.tournament_size, threshold, args.max_trials) for s in range(args.eepi_seeds)]
    return specs


def run_all(specs: list[RunSpec], args: argparse.Namespace, root: Path) -> dict[RunSpec, dict[str, Any]]:
    """Every spec's run: cached ones read, the others computed (in ``--jobs`` processes) and cached as they finish."""
    import json

    idents = {}
    groups = sorted({(s.bench, s.algorithm, json.dumps(s.options(), sort_keys=True)) for s in specs})
    for bench, algorithm, options in tqdm(groups, desc="identities (canary searches)", disable=args.quiet):
        idents[bench, algorithm, options] = identity(bench, algorithm, options, args.data_dir)
    ident = {s: idents[s.bench, s.algorithm, json.dumps(s.options(), sort_keys=True)] for s in specs}
    runs = {s: r for s in specs if (r := read_cached(s, ident[s])) is not None}
    pending = [s for s in specs if s not in runs]
    if args.cached_only or not pending:
        return runs
    print(f"{len(runs):,} runs cached, {len(pending):,} to compute", file=sys.stderr)
    bar = tqdm(total=len(pending), desc="runs", unit="run", disable=args.quiet, smoothing=0.05)
    try:
        if args.jobs == 1:
            for s in pending:
                bar.set_postfix_str(f"{s.algorithm} {s.bench} seed {s.seed}", refresh=False)
                runs[s] = cached_run(s, ident[s], str(root))
                bar.update(1)
        else:
            with ProcessPoolExecutor(args.jobs) as pool:
                futures = {pool.submit(cached_run, s, ident[s], str(root)): s for s in pending}
                for f in as_completed(futures):
                    runs[futures[f]] = f.result()
                    bar.set_postfix_str(futures[f].algorithm, refresh=False)
                    bar.update(1)
    finally:
        bar.close()
    return runs


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    start = time.time()
    root = Path(tempfile.mkdtemp(prefix="bench_sq_", dir=scratch()))
    try:
        specs = plan(args)
        runs = run_all(specs, args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report = collect(specs, runs, args)
    text = render(report, args, (time.time() - start) / 60)
    print(text)
    if not args.no_record:
        plot(report, HERE / "search_quality.png")
        write_section(text)


if __name__ == "__main__":
    main()
