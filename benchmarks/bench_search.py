"""Time one candidate evaluation (build, proxy-train, score) of the search.

CPU (default): a tiny candidate (C=4, 3 cells, batch 32, 20 steps) on the embedded CIFAR-10 subset.
``--device cuda --data DIR``: the paper-size candidate (C=16, 8 cells, batch 128, 1 epoch on 45k, auxiliary 0.4,
cutout 16), to compare with the original release's 21.8 s per candidate on an H200.
Prints the figure and appends a dated row to benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

from eeea.search.executors import Evaluator, Job, candidate_seed
from eeea.spaces import get_space

sys.path.insert(0, os.path.dirname(__file__))
from _results import record  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data", help="CIFAR-10 folder/zip (default: the embedded subset)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()
    paper = args.device.startswith("cuda")
    size = {"channels": 16, "layers": 8, "num_classes": 10, "auxiliary": True} if paper else \
        {"channels": 4, "layers": 3, "num_classes": 10, "auxiliary": True}
    budget = {"batch_size": 128} if paper else {"batch_size": 32, "max_steps": 20}
    ev = Evaluator("cifar10", {"data": args.data}, "eeea", args.device, None if paper else 2)
    space = get_space("eeea")
    times = []
    for i in range(args.repeats):
        g = space.random_genome(np.random.default_rng(i))
        job = Job(g.key, g.to_text(), candidate_seed(0, g.key), size, budget)
        if paper:
            torch.cuda.synchronize()
        t = time.perf_counter()
        result = ev.evaluate(job)
        if paper:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
        print(f"candidate {i}: {times[-1]:.2f} s ({result['status']}, error {result['objectives']['error']:.3f})")
    warm = statistics.median(times[1:]) if len(times) > 1 else times[0]
    what = "paper-size candidate (C16, 8 cells, b128, 1 epoch)" if paper else "tiny candidate (C4, 3 cells, 20 steps b32)"
    figure = f"{warm:.2f} s / {times[0]:.2f} s"
    print(f"{what}: {warm:.2f} s warm (median), {times[0]:.2f} s first")
    if not args.no_record:
        cmd = f"python benchmarks/bench_search.py --device {args.device}" + (f" --data {args.data}" if args.data else "")
        target = "release: 21.8 s on an H200" if paper else "-"
        record("bench_search", f"one {what}: warm median / first", figure, target, cmd)


if __name__ == "__main__":
    main()
