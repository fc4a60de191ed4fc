"""How fast EE-PI can screen genomes: exact parameter counts of the paper's evaluation network (20 cells, C = 36).

The EEEA-Net release builds every candidate on the CPU to count it (about 11 genomes/s measured). eeea counts by
walking the network's layout over memoised per-module counts. Target: >= 5,000 genomes/s on one thread.

    python benchmarks/bench_counting.py [--genomes 5000] [--repeats 5] [--space eeea] [--no-record]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch

from eeea import count_macs, count_params, get_space
from eeea.models.specs import spec_macs, spec_params

sys.path.insert(0, __import__("os").path.dirname(__file__))
from _results import record  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genomes", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--space", default="eeea")
    ap.add_argument("--build-samples", type=int, default=10, help="models built for the build-and-count baseline")
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()
    torch.set_num_threads(1)

    space = get_space(args.space)
    rng = np.random.default_rng(0)
    genomes = [space.random_genome(rng) for _ in range(args.genomes)]

    spec_params.cache_clear()
    t0 = time.perf_counter()
    count_params(genomes[0])
    cold = time.perf_counter() - t0
    for g in genomes[:200]:  # fill the memo with every (op, width, stride) the space has
        count_params(g)

    rates = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for g in genomes:
            count_params(g)
        rates.append(len(genomes) / (time.perf_counter() - t0))
    rate = statistics.median(rates)

    built = []
    for g in genomes[: args.build_samples]:
        t0 = time.perf_counter()
        model = space.build(g)
        n = sum(p.numel() for p in model.parameters())
        built.append(time.perf_counter() - t0)
        assert n == count_params(g)
    build_rate = 1 / statistics.median(built)

    spec_macs.cache_clear()
    for g in genomes[:200]:
        count_macs(g)
    t0 = time.perf_counter()
    for g in genomes[:2000]:
        count_macs(g)
    mac_rate = min(2000, len(genomes)) / (time.perf_counter() - t0)

    size = ", ".join(f"{k}={v}" for k, v in space.eval_size.items())
    print(f"space {args.space} at {size}; {len(genomes)} random genomes; one thread")
    print(f"first count (cold memo): {cold * 1e3:.0f} ms")
    print(f"exact params:  {rate:,.0f} genomes/s (median of {args.repeats}: {', '.join(f'{r:,.0f}' for r in rates)})")
    print(f"build + count: {build_rate:,.1f} genomes/s (median of {len(built)} builds) -> counting is {rate / build_rate:,.0f}x faster")
    print(f"exact MACs:    {mac_rate:,.0f} genomes/s (warm memo)")
    if not args.no_record:
        cmd = "python benchmarks/bench_counting.py"
        record("bench_counting", f"exact params/s, {args.space} 20 cells C=36, 1 thread", f"{rate:,.0f}", ">= 5,000", cmd)
        record("bench_counting", "build-and-count params/s (release method)", f"{build_rate:,.1f}", "-", cmd)
        record("bench_counting", "exact MACs/s, 32x32, warm memo", f"{mac_rate:,.0f}", "-", cmd)


if __name__ == "__main__":
    main()
