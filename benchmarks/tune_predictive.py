"""Design choices of the predictive search, measured on tuning seeds only (10000 and up: seeds the reported table of
bench_search_quality never uses). Each variant is a set of :class:`eeea.search.predictive.Settings` overrides; every
variant and every peer runs the same seeds, benchmarks and budget, through the same code as bench_search_quality
(``_quality_runs``: the library's search loop for eeea, the ask/tell Optuna study for the peers).

Prints, per benchmark, the mean HV fraction and best accuracy (± standard error) at each budget, and the paired
Wilcoxon p against the named baseline. Results are cached per variant in ``benchmarks/.cache/tune_predictive``.

    python benchmarks/tune_predictive.py --variants base,proposals=5000 --peers optuna-tpe \\
        --benchmarks nb201-cifar10,nas-bench-macro --seeds 20 --budgets 50,100
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "tests"))
from _quality_runs import BENCHMARKS, RunSpec, execute, load_table, run_optuna  # noqa: E402
from shared_data import shared_folder  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache" / "tune_predictive"
FIRST_SEED = 10_000  # tuning seeds start here; the reported table uses 0..99


def parse_variant(text: str) -> dict[str, Any]:
    """``base`` or ``name=value;name=value`` (values as JSON, else strings)."""
    if text == "base":
        return {}
    out: dict[str, Any] = {}
    for part in text.split(";"):
        name, value = part.split("=", 1)
        try:
            out[name] = json.loads(value)
        except ValueError:
            out[name] = value
    return out


def run_variant(bench: str, overrides: dict[str, Any], seed: int, budget: int, data_dir: str) -> list[str]:
    """One predictive search with ``overrides`` of its settings: the genome keys in evaluation order."""
    from eeea.search import algorithms, predictive

    factory = algorithms.ALGORITHMS["predictive"]

    def patched(problem, eepi, duplicates, repair, config):  # type: ignore[no-untyped-def]
        algorithm = predictive.PredictiveSearch(eepi, duplicates, config["population"], config["seed"],
                                                config["objectives"], predictive.Settings(**overrides))
        algorithm.setup(problem)
        return algorithm, config["generations"] + 1

    algorithms.ALGORITHMS["predictive"] = patched
    try:
        spec = RunSpec(bench, "predictive", seed, budget, data_dir, 20, 5, 0, 5000)
        with tempfile.TemporaryDirectory() as root:
            return execute(spec, Path(root))["keys"]
    finally:
        algorithms.ALGORITHMS["predictive"] = factory


def cached(name: str, bench: str, seed: int, budget: int, compute) -> list[str]:  # type: ignore[no-untyped-def]
    path = CACHE / bench / name.replace("/", "_") / f"{seed}.json.gz"
    if path.is_file():
        keys = json.loads(gzip.decompress(path.read_bytes()))
        if len(keys) >= budget:
            return keys[:budget]
    keys = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(keys).encode()))
    return keys


def main() -> None:
    from scipy.stats import wilcoxon

    from eeea.search.quality import TrueFront, best_found

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default="base", help="comma list of variants (see parse_variant)")
    ap.add_argument("--peers", default="optuna-tpe", help="comma list of bench_search_quality algorithms")
    ap.add_argument("--benchmarks", default="nb201-cifar10,nas-bench-macro")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budgets", default="50,100")
    ap.add_argument("--data-dir", default=str(shared_folder() / "data"))
    args = ap.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    top, seeds = max(budgets), range(FIRST_SEED, FIRST_SEED + args.seeds)
    variants = {v: parse_variant(v) for v in args.variants.split(",") if v}
    peers = [p for p in args.peers.split(",") if p]
    for bench in args.benchmarks.split(","):
        table = load_table(bench, args.data_dir)
        true, report = TrueFront(table.error, table.params), BENCHMARKS[bench][3]
        rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in peers + list(variants):
            runs = []
            for seed in seeds:
                if name in variants:
                    keys = cached(f"predictive:{name}", bench, seed, top,
                                  lambda: run_variant(bench, variants[name], seed, top, args.data_dir))
                elif name.startswith("optuna"):
                    spec = RunSpec(bench, name, seed, top, args.data_dir, 20, 5, 0, 5000)
                    keys = cached(name, bench, seed, top, lambda: run_optuna(spec, table)["keys"])
                else:
                    spec = RunSpec(bench, name, seed, top, args.data_dir, 20, 5, 0, 5000)
                    keys = cached(name, bench, seed, top, lambda: execute(spec, Path(tempfile.gettempdir()))["keys"])
                runs.append(table.records(keys))
            hv = np.array([[true.fraction(r[:b]) for b in budgets] for r in runs])
            acc = np.array([[best_found(r[:b], report) for b in budgets] for r in runs])
            rows[name] = (hv, acc)
        base = peers[0] if peers else next(iter(variants))
        print(f"\n{bench} ({len(seeds)} seeds {seeds.start}-{seeds.stop - 1}); p: paired Wilcoxon vs {base}")
        for name, (hv, acc) in rows.items():
            cells = []
            for j, b in enumerate(budgets):
                se = hv[:, j].std(ddof=1) / np.sqrt(len(hv))
                diff = hv[:, j] - rows[base][0][:, j]
                p = wilcoxon(diff).pvalue if name != base and np.any(diff) else float("nan")
                cells.append(f"{b}: HV {hv[:, j].mean():.4f}±{se:.4f} p={p:.3f} acc {acc[:, j].mean() * 100:.2f}")
            print(f"  {name:40s} " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
