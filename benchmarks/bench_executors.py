"""Candidates per minute of the executors (local, pool, ray) with 1 and 2 workers on the same tiny search (CPU), and
what each costs beyond training: start-up (to the first result, less its training) and per-candidate overhead.

The jobs are the same for every executor: tiny candidates (C=4, 3 cells, batch 32, a few steps) on the embedded
CIFAR-10 subset, one torch thread each; the script also checks that every executor returns the same results.
Prints the figures and appends dated rows to benchmarks/RESULTS.md.

    python benchmarks/bench_executors.py [--candidates 8] [--steps 5] [--repeats 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

from eeea.search.executor_choice import make_executor
from eeea.search.executors import Job, candidate_seed
from eeea.spaces import get_space

sys.path.insert(0, os.path.dirname(__file__))
from _results import record  # noqa: E402

SETUPS = (("local", 1), ("pool", 1), ("pool", 2), ("ray", 1), ("ray", 2))


def jobs(n: int, steps: int) -> list[Job]:
    space = get_space("eeea")
    size = {"channels": 4, "layers": 3, "num_classes": 10}
    out = []
    for i in range(n):
        g = space.random_genome(np.random.default_rng(i))
        out.append(Job(g.key, g.to_text(), candidate_seed(0, g.key), size, {"batch_size": 32, "max_steps": steps}))
    return out


def run(kind: str, workers: int, todo: list[Job]) -> dict:
    """One pass: the executor built, every job evaluated, the executor closed; times in seconds."""
    start = time.perf_counter()
    executor = make_executor(workers, "cifar10", {"data": None, "limit": 300}, "eeea", "cpu", 1, kind=kind)
    built = time.perf_counter() - start
    arrivals, results = [], {}
    try:
        for result in executor.map(todo):
            arrivals.append(time.perf_counter() - start)
            results[result["key"]] = result
    finally:
        executor.close()
    total = arrivals[-1]
    first = next(iter(results.values()))  # the first to arrive (dicts keep insertion order)
    training = [r["seconds"] for r in results.values()]
    startup = arrivals[0] - first["seconds"]
    return {"built": built, "total": total, "startup": startup,
            "per_min": 60 * len(todo) / total,
            "overhead": (total - startup) * workers / len(todo) - statistics.mean(training),
            "objectives": {k: r["objectives"] for k, r in results.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5, help="training steps per candidate")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()
    torch.set_num_threads(1)
    todo = jobs(args.candidates, args.steps)
    load = os.getloadavg()[0]
    figures, reference = {}, None
    for kind, workers in SETUPS:
        passes = [run(kind, workers, todo) for _ in range(args.repeats)]
        for p in passes:
            reference = reference or p["objectives"]
            assert p["objectives"] == reference, f"{kind} x{workers} returned other results"
        median = {k: statistics.median(p[k] for p in passes) for k in ("per_min", "startup", "overhead", "total")}
        figures[(kind, workers)] = median
        print(f"{kind:5s} x{workers}: {median['per_min']:.1f} candidates/min ({median['total']:.1f} s for "
              f"{len(todo)}), start-up {median['startup']:.1f} s, overhead {median['overhead']:.2f} s/candidate")
    load = max(load, os.getloadavg()[0])
    print(f"every executor returned the same results; load average up to {load:.1f} on {os.cpu_count()} cores")
    if args.no_record:
        return
    cmd = f"python benchmarks/bench_executors.py --candidates {args.candidates} --steps {args.steps}"
    what = f"{args.candidates} tiny candidates (C4, 3 cells, {args.steps} steps b32, 1 thread), load up to {load:.0f}"
    record("bench_executors", f"candidates/min, {what}: " + ", ".join(f"{k} x{w}" for k, w in SETUPS),
           " / ".join(f"{figures[s]['per_min']:.1f}" for s in SETUPS), "ray ~ pool", cmd)
    record("bench_executors", "start-up to the first result, less its training (s): "
           + ", ".join(f"{k} x{w}" for k, w in SETUPS),
           " / ".join(f"{figures[s]['startup']:.1f}" for s in SETUPS), "-", cmd)
    record("bench_executors", "overhead per candidate beyond training, per worker (s): "
           + ", ".join(f"{k} x{w}" for k, w in SETUPS),
           " / ".join(f"{figures[s]['overhead']:.2f}" for s in SETUPS), "-", cmd)


if __name__ == "__main__":
    main()
