"""How well the latency table predicts measured latency, beside params and MACs used as latency proxies.

For each space: build a latency table on this machine (onnxruntime, 1 thread; or load one with --tables DIR), draw
random genomes, export each to fp32 ONNX and time it end to end (batch 1, 1 thread, the table's protocol: warm-up,
then the median of timed runs). Measurements are interleaved: every genome is timed once per pass, ``--passes``
passes, and a genome's latency is the median over passes, so load changes of a shared machine spread over all genomes.
Cell spaces (eeea) are measured at their search size (8 cells, C = 16, 32x32), the others at their evaluation size.

The table protocol (eeea.latency.build_table): every module met by ``--samples`` random genomes, at up to ``--shapes``
input shapes (the most frequent, the largest, the smallest: a module is never scaled up from a small shape, which
overestimated attention pooling and wide convolutions on long clips several times over), each timed inside a model
that also averages its output (the output stays in the runtime's reused memory, as in a network) minus that average
alone, in ``--table-passes`` interleaved passes of at most ``--budget`` s per module, median of the passes.

Figures per space: Spearman rank correlation with the measured latency, and the median absolute percentage error
(MdAPE) of (a) the table's prediction ``count_latency``: the table's correction of overhead + sum of modules, either
``a + b * sum`` or ``a + b * sum + c * modules`` (a cost per module boundary), the form with the smaller
leave-one-out error on ``--calibrate`` whole networks drawn with another seed than the benchmark's (out of sample
here), (b) the raw sum of modules without it, (c) params and (d) MACs each mapped to latency by a linear map fitted on
these very genomes (in sample, weighted least squares on relative error: the proxies' best case). Targets for the
table: rho >= 0.9, MdAPE <= 10 %.

    python benchmarks/bench_latency.py [--spaces wav2small,mobilenet_audio,ofa_mbv3,nb201,eeea] [--genomes 200]
        [--passes 3] [--samples 300] [--shapes 2] [--table-passes 3] [--budget 0.1] [--tables DIR] [--no-record]

benchmarks/run_latency_suite.sh runs the full 200-genome benchmark.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from eeea import count_latency, count_macs, count_params, get_space
from eeea.latency import LatencyTable, Timer, build_table, fit_relative

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
    timer = Timer("onnxruntime", 1)
    table_path = Path(args.tables) / f"{name}.json" if args.tables else None
    t0 = time.perf_counter()
    built = not (table_path is not None and table_path.exists())
    if not built:
        table = LatencyTable.load(table_path)
    else:
        table = build_table(space, size, samples=args.samples, shapes=args.shapes, calibrate=args.calibrate,
                            quiet=args.quiet, budget_s=args.budget, passes=args.table_passes)
        if table_path is not None:
            table.save(table_path, force=True)
    table_s = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    genomes, seen = [], set()
    while len(genomes) < args.genomes:
        g = space.random_genome(rng)
        if g.key not in seen:
            seen.add(g.key)
            genomes.append(g)
    t1 = time.perf_counter()
    networks = ((space.build(g, **size), tuple(space.genome_input_shape(g, **size))) for g in genomes)
    measured = np.array(timer.networks_us(networks, passes=args.passes, quiet=args.quiet, desc=f"timing {name}"))
    measure_s = time.perf_counter() - t1
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
    out = {"genomes": len(genomes), "table_s": table_s, "measure_s": measure_s, "predict_rate": predict_rate,
           "median_ms": float(np.median(measured)) / 1e3, "entries": len(table.entries), "built": built,
           "form": "a + b*sum + c*modules" if table.correction.get("per_module_us") else "a + b*sum"}
    for label, (proxy, pred) in rows.items():
        out[f"{label} rho"] = float(spearmanr(proxy, measured).statistic)
        out[f"{label} mdape"] = mdape(pred, measured)
    out["measured/predicted"] = float(np.median(measured / predicted))
    if args.csv:
        with open(Path(args.csv) / f"{name}.csv", "w") as f:
            f.write("key,measured_us,predicted_us,sum_us,params,macs\n")
            for row in zip((g.key for g in genomes), measured, predicted, summed, params, macs):
                f.write(",".join(str(v) for v in row) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", default="wav2small,mobilenet_audio,ofa_mbv3,nb201,eeea", help="comma list of spaces")
    ap.add_argument("--genomes", type=int, default=200, help="random genomes per space")
    ap.add_argument("--passes", type=int, default=3, help="interleaved timing passes over all genomes")
    ap.add_argument("--samples", type=int, default=300, help="genomes walked to enumerate a table's modules")
    ap.add_argument("--shapes", type=int, default=2, help="input shapes measured per module spec")
    ap.add_argument("--table-passes", type=int, default=3, help="interleaved passes over the table's modules")
    ap.add_argument("--budget", type=float, default=0.1, help="seconds of timed runs per module and pass (at most)")
    ap.add_argument("--calibrate", type=int, default=20, help="whole networks the table's correction is fitted on "
                    "(drawn with another seed than the benchmark's genomes)")
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
        figure = (f"{name}: {r['genomes']} random genomes, onnxruntime fp32 1 thread, median {r['median_ms']:.2f} ms;"
                  f" Spearman rho / MdAPE vs measured (load avg {load[0]:.1f} -> {load_now:.1f})")
        value = "; ".join(f"{label} {r[label + ' rho']:.3f} / {r[label + ' mdape']:.1f} %"
                          for label in ("table", "sum of modules", "params (linear fit)", "MACs (linear fit)"))
        if not args.no_record:
            record("bench_latency", figure, value, "table rho >= 0.9, MdAPE <= 10 %", command)
            how = (f"built in {r['table_s']:.0f} s (load avg {load[0]:.1f})" if r["built"] else "loaded from --tables")
            record("bench_latency", f"{name}: table of {r['entries']} module specs {how}, correction {r['form']}; "
                   f"count_latency (warm) genomes/s", f"{r['predict_rate']:,.0f}", "thousands per second", command)
        else:
            print(figure, value)


if __name__ == "__main__":
    main()
