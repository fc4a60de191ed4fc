"""How fast EE-PI can screen Once-for-All MobileNetV3 genomes: exact params + MACs per second, without building.

Compares the spec-walking counters (cold cache, then warm) with building each model and profiling it with thop.
Prints the figures and appends a dated row to benchmarks/RESULTS.md.

    python benchmarks/bench_count_ofa.py [--genomes 3000] [--machine "2-core CPU dev box"]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from eeea import get_space
from eeea.models.specs import profile_macs

sys.path.insert(0, os.path.dirname(__file__))
from _results import record  # noqa: E402


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
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = get_space("ofa_mbv3")
    rng = np.random.default_rng(0)
    cold = rate(space, [space.random_genome(rng) for _ in range(300)])
    warm = rate(space, [space.random_genome(rng) for _ in range(args.genomes)])
    built = build_rate(space, [space.random_genome(rng) for _ in range(10)])
    print(f"ofa_mbv3 exact params+MACs, 1 thread: {cold:,.0f} genomes/s cold cache (first 300), {warm:,.0f} warm; "
          f"build + thop: {built:.1f} genomes/s")
    if not args.no_record:
        cmd = f"python benchmarks/bench_count_ofa.py --genomes {args.genomes}"
        record("bench_count_ofa", "ofa_mbv3 exact params+MACs/s, warm cache, 1 thread", f"{warm:,.0f}", "-", cmd)
        record("bench_count_ofa", "ofa_mbv3 exact params+MACs/s, cold cache (first 300)", f"{cold:,.0f}", "-", cmd)
        record("bench_count_ofa", "ofa_mbv3 build + thop genomes/s", f"{built:.1f}", "-", cmd)

if __name__ == "__main__":
    main()
