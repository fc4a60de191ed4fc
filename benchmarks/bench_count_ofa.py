"""How fast EE-PI can screen Once-for-All MobileNetV3 genomes: exact params + MACs per second, without building.

Compares the spec-walking counters (cold cache, then warm) with building each model and profiling it with thop.
Prints the figures and appends a dated row to benchmarks/RESULTS.md.

    python benchmarks/bench_count_ofa.py [--genomes 3000] [--machine "2-core CPU dev box"]
"""
from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numpy as np
import torch

from eeea import get_space
from eeea.counting import profile_macs

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Benchmark results\n\n| date | benchmark | figure | machine | command |\n|---|---|---|---|---|\n"


def rate(space, genomes) -> float:
    start = time.perf_counter()
    for g in genomes:
        space.count_params(g)
        space.count_macs(g)
    return len(genomes) / (time.perf_counter() - start)


def build_rate(space, genomes) -> float:
    start = time.perf_counter()
    for g in genomes:
        model = space.build(g).eval()
        sum(p.numel() for p in model.parameters())
        n = g.arch["resolution"]
        profile_macs(model, torch.zeros(1, 3, n, n))
    return len(genomes) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genomes", type=int, default=3000)
    parser.add_argument("--machine", default="2-core CPU dev box")
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = get_space("ofa_mbv3")
    rng = np.random.default_rng(0)
    cold = rate(space, [space.random_genome(rng) for _ in range(300)])
    warm = rate(space, [space.random_genome(rng) for _ in range(args.genomes)])
    built = build_rate(space, [space.random_genome(rng) for _ in range(10)])
    figure = (f"ofa_mbv3 exact params+MACs: {cold:,.0f} genomes/s cold cache (first 300), {warm:,.0f} genomes/s warm; "
              f"build + thop: {built:.1f} genomes/s (1 thread)")
    print(figure)
    if not RESULTS.exists():
        RESULTS.write_text(HEADER)
    with RESULTS.open("a") as f:
        f.write(f"| {datetime.date.today()} | bench_count_ofa | {figure} | {args.machine} | "
                f"`python benchmarks/bench_count_ofa.py --genomes {args.genomes}` |\n")


if __name__ == "__main__":
    main()
