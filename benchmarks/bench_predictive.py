"""What one round of the predictive search costs beside a training: its predictor (a Gaussian process fitted on every
evaluation, then predicting every proposal) and its whole ``ask`` (proposals, EE-PI screening with exact counts, the
prediction and the batch by expected hypervolume improvement), at 500 evaluations and 5,000 proposals.

Target (issue 25): the predictor <= 1 s per round at 500 evaluated and 5,000 proposed on 2 cores. Measured in CPU
seconds of this process (BLAS runs on one thread inside the predictor), so the figure holds on a busy machine too;
wall seconds and the load average are printed beside it. Spaces: NAS-Bench-201 (its real 12-epoch CIFAR-10 errors
when ``nasbench201.csv`` is in the data folder, else a stand-in objective) and the 40-gene EEEA cell space.

    python benchmarks/bench_predictive.py [--evaluated 500] [--proposals 5000] [--repeats 3] [--no-record]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pymoo.core.problem import Problem

from eeea.search.eepi import EEPI
from eeea.search.predictive import PredictiveSearch, Settings
from eeea.search.variation import KeyDuplicates
from eeea.spaces import get_space

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "tests"))
from _results import record_all  # noqa: E402
from shared_data import shared_folder  # noqa: E402


def stand_in(genome: Any) -> float:
    """An error in (0.1, 0.9) from the genome's key: what a table would give, for spaces without one."""
    return 0.1 + 0.8 * int(hashlib.sha256(genome.key.encode()).hexdigest()[:8], 16) / 16**8


def nb201_errors() -> Callable[[Any], float] | None:
    table = shared_folder() / "data" / "nasbench201.csv"
    if not table.is_file():
        return None
    from eeea.tasks import get_task

    task = get_task("nb201", data=str(table))
    return lambda genome: task.lookup(genome)["error"]


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median CPU and wall seconds of ``fn()``."""
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall)


def measure(space_name: str, error: Callable[[Any], float], evaluated: int, proposals: int, repeats: int,
            eval_size: dict[str, Any]) -> dict[str, tuple[float, float]]:
    space = get_space(space_name)
    eepi = EEPI(space, eval_size=eval_size)
    duplicates = KeyDuplicates(space)
    search = PredictiveSearch(eepi, duplicates, 20, 0, ["error", "params"], Settings(proposals=proposals))
    search.setup(Problem(n_var=space.n_var, n_obj=2, xl=space.xl, xu=space.xu, vtype=int))
    X = eepi.population(np.random.default_rng(1), evaluated)
    genomes = [space.decode(x) for x in X]
    F = np.array([[error(g), eepi.params(g)] for g in genomes])
    search.X, search.F = list(X), list(F)
    duplicates.seen.update(g.key for g in genomes)
    search.fit(X, F)  # a round's fit starts from the previous round's hyper-parameters: warm, as in a run
    candidates = eepi.population(np.random.default_rng(2), proposals)
    counted = np.array([[eepi.params(space.decode(x))] for x in candidates], dtype=float)

    def predictor() -> None:
        model = search.fit(X, F)
        Z = search.encode(candidates, counted)
        model.quantiles(Z, np.linspace(-2.0, 2.0, 16))
        model.predict(Z)

    return {"predictor": timed(predictor, repeats), "round": timed(search.ask, repeats)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evaluated", type=int, default=500)
    ap.add_argument("--proposals", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-record", action="store_true", help="print only; do not write RESULTS.md")
    args = ap.parse_args()
    table = nb201_errors()
    cases = [("nb201", table or stand_in, "NAS-Bench-201" + (" (CIFAR-10 table)" if table else " (stand-in errors)"),
              {}),
             ("eeea", stand_in, "EEEA cells (stand-in errors)", {})]
    command = (f"python benchmarks/bench_predictive.py --evaluated {args.evaluated} --proposals {args.proposals} "
               f"--repeats {args.repeats}")
    figures = []
    for space, error, label, size in cases:
        load = os.getloadavg()[0]
        times = measure(space, error, args.evaluated, args.proposals, args.repeats, size)
        for what, target in (("predictor", "<= 1 s CPU"), ("round", "small beside one training")):
            cpu, wall = times[what]
            figures.append((f"{label}: {'predictor (fit + predict)' if what == 'predictor' else 'whole ask'} per "
                            f"round, {args.evaluated} evaluated, {args.proposals:,} proposed",
                            f"{cpu:.2f} s CPU ({wall:.2f} s wall at load {load:.1f})", target))
    record_all("bench_predictive", figures, command, args.no_record)


if __name__ == "__main__":
    main()
