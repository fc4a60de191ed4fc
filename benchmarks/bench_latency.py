"""How well the latency table predicts measured latency, beside params and MACs used as latency proxies.

For each space: draw random genomes, build a latency table on this machine (onnxruntime, 1 thread) and, in the very
same interleaved passes as the table's modules and calibration networks (eeea.latency.measure_table), time each
genome's fp32 ONNX end to end (batch 1, 1 thread, the table's protocol: warm-up, the ``--quantile`` of timed runs,
each item's fastest of ``--passes`` passes). Timing everything together matters on a shared machine: its speed
drifts by tens of percent over minutes, and a table built minutes before the networks are timed is off by that
drift, which says nothing about the table. ``--tables DIR`` loads (or saves) DIR/SPACE.json; a loaded table's
genomes are timed apart from it. Cell spaces (eeea) are measured at their search size (8 cells, C = 16, 32x32), the
others at their evaluation size.

The table protocol: every module met by ``--samples`` random genomes, at up to ``--shapes`` input shapes (the most
frequent, the largest, the smallest: a module is never scaled up from a small shape, which overestimated attention
pooling and wide convolutions on long clips several times over), each timed inside a model that also averages its
output (the output stays in the runtime's reused memory, as in a network) minus that average alone, at most
``--budget`` s per module and pass.

Figures per space: Spearman rank correlation with the measured latency, and the median absolute percentage error
(MdAPE) of (a) the table's prediction ``count_latency``: the table's correction of overhead + sum of modules (none,
``a + b * sum``, with a per-module term, or with a term per element handed between two modules of onnxruntime's
blocked layout: the form with the smallest leave-one-out error on ``--calibrate``
whole networks drawn with another seed than the benchmark's, so out of sample here), (b) the raw sum of modules
without it, (c) params and (d) MACs each mapped to latency by a linear map fitted on these very genomes (in sample,
weighted least squares on relative error: the proxies' best case), and (e) one pass of the genomes against another:
the measurement's own repeatability. Targets for the table: rho >= 0.9, MdAPE <= 10 %.

    python benchmarks/bench_latency.py [--spaces wav2small,mobilenet_audio,ofa_mbv3,nb201,eeea] [--genomes 200]
        [--passes 3] [--samples 300] [--shapes 2] [--budget 0.1] [--quantile 0.1] [--optimization all]
        [--tables DIR] [--csv DIR] [--no-record]

benchmarks/run_latency_suite.sh runs the full 200-genome benchmark.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from eeea import count_latency, count_macs, count_params, get_space
from eeea.latency import QUANTILE, LatencyTable, fit_relative, measure_table

#: spaces measured at their search size (the cell networks' evaluation size is far from the searched one)
AT_SEARCH_SIZE = {"eeea", "darts", "nsga_net"}

sys.path.insert(0, os.path.dirname(__file__))
from _results import record  # noqa: E402


def fitted(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    a, b = fit_relative(x, y)
    return a + b * x


def mdape(pred: np.ndarray, measured: np.ndarray) -> float:
    return float(np.median(np.abs(pred - measured) / measured)) * 100


def run_space(name: str, args: argparse.Namespace) -> dict[str, float]:
    space = get_space(name)
    size = space.size(**(space.search_size if name in AT_SEARCH_SIZE else {}))
    table_path = Path(args.tables) / f"{name}.json" if args.tables else None
    rng = np.random.default_rng(args.seed)
    genomes, seen = [], set()
    while len(genomes) < args.genomes:
        g = space.random_genome(rng)
        if g.key not in seen:
            seen.add(g.key)
            genomes.append(g)
    networks = ((space.build(g, **size), tuple(space.genome_input_shape(g, **size))) for g in genomes)
    t0 = time.perf_counter()
    built = not (table_path is not None and table_path.exists())
    if built:  # the genomes are timed in the table's own passes: both meet the same drift of a shared machine
        table, per_pass = measure_table(space, size, samples=args.samples, shapes=args.shapes,
                                        calibrate=args.calibrate, quiet=args.quiet, budget_s=args.budget,
                                        passes=args.passes, quantile=args.quantile, optimization=args.optimization,
                                        networks=networks)
        if table_path is not None:
            table.save(table_path, force=True)
    else:  # as the table was measured (runtime, threads, quantile, optimisation), but at another time
        table = LatencyTable.load(table_path)
        per_pass = table.timer().passes_us(networks, args.passes, args.quiet, f"timing {name}")
    per_pass = np.array(per_pass)
    measured = per_pass.min(axis=0)  # each genome's fastest pass, as the table's figures
    measure_s = time.perf_counter() - t0
    predicted = np.array([count_latency(g, table, size) for g in genomes])  # the first walk profiles new shapes
    t2 = time.perf_counter()
    predicted = np.array([count_latency(g, table, size) for g in genomes])
    predict_rate = len(genomes) / (time.perf_counter() - t2)  # warm: the walks' shapes are cached by counting
    summed = np.array([table.sum_us(space.spec_walk(g, **size)) for g in genomes])
    params = np.array([count_params(g, size) for g in genomes], dtype=float)
    macs = np.array([count_macs(g, size) for g in genomes], dtype=float)
    rows = {
        "sum of modules": (summed, summed),
        "table": (predicted, predicted),
        "params (linear fit)": (params, fitted(params, measured)),
        "MACs (linear fit)": (macs, fitted(macs, measured)),
    }
    out = {"genomes": len(genomes), "measure_s": measure_s, "predict_rate": predict_rate,
           "median_ms": float(np.median(measured)) / 1e3, "entries": len(table.entries), "built": built,
           "form": table.correction_form()}
    for label, (proxy, pred) in rows.items():
        out[f"{label} rho"] = float(spearmanr(proxy, measured).statistic)
        out[f"{label} mdape"] = mdape(pred, measured)
    out["measured/predicted"] = float(np.median(measured / predicted))
    pairs = [(a, b) for a in range(len(per_pass)) for b in range(a + 1, len(per_pass))]
    if pairs:  # the measurement's own repeatability: one pass against another (a median of passes is steadier)
        out["pass vs pass rho"] = float(np.median([spearmanr(per_pass[a], per_pass[b]).statistic for a, b in pairs]))
        out["pass vs pass mdape"] = float(np.median([mdape(per_pass[a], per_pass[b]) for a, b in pairs]))
    if args.csv:
        with open(Path(args.csv) / f"{name}.csv", "w") as f:
            f.write("key,measured_us,predicted_us,sum_us,params,macs,modules,"
                    + ",".join(f"pass{i}_us" for i in range(len(per_pass))) + "\n")
            modules = [len(space.spec_walk(g, **size)) for g in genomes]
            for row in zip((g.key for g in genomes), measured, predicted, summed, params, macs, modules, *per_pass):
                f.write(",".join(str(v) for v in row) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", default="wav2small,mobilenet_audio,ofa_mbv3,nb201,eeea", help="comma list of spaces")
    ap.add_argument("--genomes", type=int, default=200, help="random genomes per space")
    ap.add_argument("--passes", type=int, default=3, help="interleaved timing passes over all genomes")
    ap.add_argument("--samples", type=int, default=300, help="genomes walked to enumerate a table's modules")
    ap.add_argument("--shapes", type=int, default=2, help="input shapes measured per module spec")
    ap.add_argument("--budget", type=float, default=0.1, help="seconds of timed runs per module and pass (at most)")
    ap.add_argument("--calibrate", type=int, default=60, help="whole networks the table's correction is fitted on "
                    "(drawn with another seed than the benchmark's genomes)")
    ap.add_argument("--quantile", type=float, default=QUANTILE, help="quantile of timed runs a figure is "
                    f"(default {QUANTILE}; 0.5 is the median)")
    ap.add_argument("--optimization", default="all", help="onnxruntime graph optimisation level (default all; "
                    "extended: without the CPU-specific NCHWc layout transform)")
    ap.add_argument("--tables", metavar="DIR", help="load (or save) the tables as DIR/SPACE.json")
    ap.add_argument("--csv", metavar="DIR", help="also write DIR/SPACE.csv: per genome measured, predicted, params, MACs")
    ap.add_argument("--seed", type=int, default=1, help="seed of the benchmark genomes (the table uses seed 0)")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()
    torch.set_num_threads(1)
    shown = [a for i, a in enumerate(sys.argv[1:]) if a not in ("--tables", "--csv")
             and sys.argv[i] not in ("--tables", "--csv")]  # local folders are not part of the command
    command = " ".join(["python benchmarks/bench_latency.py", *shown])
    for name in [s for s in args.spaces.split(",") if s]:
        load = os.getloadavg()
        r = run_space(name, args)
        load_now = os.getloadavg()[0]
        print(f"{name}: {r}")
        how = "" if args.optimization == "all" else f", graph optimisation {args.optimization}"
        figure = (f"{name}: {r['genomes']} random genomes, onnxruntime fp32 1 thread{how}, runs' quantile "
                  f"{args.quantile}, median {r['median_ms']:.2f} ms;"
                  f" Spearman rho / MdAPE vs measured (load avg {load[0]:.1f} -> {load_now:.1f})")
        value = "; ".join(f"{label} {r[label + ' rho']:.3f} / {r[label + ' mdape']:.1f} %"
                          for label in ("table", "sum of modules", "params (linear fit)", "MACs (linear fit)",
                                        "pass vs pass") if label + " rho" in r)
        if not args.no_record:
            record("bench_latency", figure, value, "table rho >= 0.9, MdAPE <= 10 %", command)
            how = (f"built, with the genomes timed in its passes, in {r['measure_s']:.0f} s (load avg {load[0]:.1f})"
                   if r["built"] else "loaded from --tables")
            record("bench_latency", f"{name}: table of {r['entries']} module specs {how}, correction {r['form']}; "
                   f"count_latency (warm) genomes/s", f"{r['predict_rate']:,.0f}", "thousands per second", command)
        else:
            print(figure, value)


if __name__ == "__main__":
    main()
