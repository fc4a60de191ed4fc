"""Tiny speech-emotion students side by side: size, cost, int8 bytes, latency, memory and CCC on the test split.

For each architecture (zoo names, genome files or genome texts; with neither these nor ``--run``/``--search``:
wav2small_17k) and each searched student: trainable
parameters, MACs per 5 s, CCC per dimension on the *test* part of the data (EmoDB's test speakers 03, 08, 16 by
default; any corpus with ``--data DIR_OR_ZIP --labels FILE.csv``, split as ``eeea train`` splits it) after the same
training budget on the training + validation parts, as mean ± std over ``--seeds``; int8 ONNX bytes, onnxruntime
one-thread median latency per 5 s clip (fp32 and int8), and the peak RSS of a fresh process that loads the int8 model
and runs it (the first seed's model). Figures go to the terminal, to ``--out FILE`` when given, and into
benchmarks/RESULTS.md only with ``--record`` (a run on your own corpus leaves the repository's file alone).

The searched student: ``--run DIR`` takes the best evaluated genome (lowest 1 - mean CCC) of at most ``--max-params``
from a search run directory; ``--search DIR`` first runs the default search (``eeea search --max-params 72k``, the
options of ``--search-config`` if given) into DIR. The student is retrained from scratch with the same budget and
seed as every other architecture here, so the comparison does not favour it for having been trained in the search.
Only the baselines named are trained beside it: ``--run DIR`` alone benchmarks the searched student alone.

    python benchmarks/bench_ser.py [ARCH ...] [--data ../shared/data/emodb.zip] [--epochs 8] [--seeds 0,1,2]
    python benchmarks/bench_ser.py wav2small_17k --data CLIPS_DIR --labels labels.csv [--test-speakers A,B]
    python benchmarks/bench_ser.py --run runs/mine --data CLIPS_DIR --labels labels.csv --out mine.md
    python benchmarks/bench_ser.py wav2small_17k --run runs/ser --data ../shared/data/emodb.zip --seeds 0,1,2 --record
"""
from __future__ import annotations

import argparse

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import Recorder  # noqa: E402

from eeea import count_macs, count_params, get_space, resolve_genome  # noqa: E402
from eeea.search.archive import SearchRun  # noqa: E402
from eeea.export import export  # noqa: E402
from eeea.onnx_io import export_onnx, onnx_session  # noqa: E402
from eeea.tasks import get_task  # noqa: E402

CLIP = 5 * 16000

# VmHWM (not ru_maxrss, which keeps the high-water mark of the forking parent across exec) of a fresh process.
RSS_PROBE = """
import sys, numpy as np, onnxruntime as ort
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
base = hwm()
o = ort.SessionOptions(); o.intra_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
x = np.random.default_rng(0).standard_normal((1, %d)).astype(np.float32)
for _ in range(5):
    s.run(None, {s.get_inputs()[0].name: x})
print(base, hwm())
""" % CLIP


def latency_ms(path: Path, runs: int) -> float:
    session = onnx_session(path, threads=1)
    feed = {session.get_inputs()[0].name: np.random.default_rng(0).standard_normal((1, CLIP)).astype(np.float32)}
    for _ in range(5):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def peak_rss_mb(path: Path) -> tuple[float, float]:
    """(peak RSS growth from loading and running the model, the process's RSS after importing onnxruntime), MB."""
    out = subprocess.run([sys.executable, "-c", RSS_PROBE, str(path)], capture_output=True, text=True, check=True)
    base, peak = (int(v) / 1024 for v in out.stdout.split()[-2:])  # kB
    return peak - base, base


def searched_student(run_dir: str, max_params: int) -> tuple[str, str]:
    """(genome text, description) of the run's best evaluated genome (lowest task objective) within ``max_params``."""
    run = SearchRun.read(run_dir)
    objective = "1-ccc"
    records = [r for r in run.read_archive() if r["status"] == "ok" and r["params"] <= max_params]
    if not records:
        raise SystemExit(f"{run_dir}: no evaluated genome of at most {max_params:,} params")
    best = min(records, key=lambda r: (r["objectives"][objective], r["params"]))
    note = (f"searched ({run_dir}, best of {len(records)} evaluated, search-time (validation) mean CCC "
            f"{1 - best['objectives'][objective]:.3f})")
    return best["genome"], note


def run_search(out: str, config_file: str | None) -> None:
    from eeea.search.loop import search_command

    start = time.perf_counter()
    result = search_command(out, None, config_file, {"max_params": 72_000}, quiet=True)
    print(f"search: {result.evaluations} genomes in {(time.perf_counter() - start) / 60:.1f} min into {out}")


def _mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arch", nargs="*", help="baselines: zoo names, genome files or texts (default: wav2small_17k when "
                    "no --run or --search is given)")
    ap.add_argument("--data", help="EmoDB zip or folder (default: the subset embedded in the package), or with "
                    "--labels the folder or zip of clips")
    ap.add_argument("--labels", help="labels CSV of any corpus (path, any of arousal/dominance/valence, speaker, split)")
    ap.add_argument("--test-speakers", help="comma list: speakers of the test part (default: the task's)")
    ap.add_argument("--valid-speakers", help="comma list: speakers of the validation part (trained on here)")
    ap.add_argument("--seeds", default=None, help="comma list of training seeds (default: --seed)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--run", metavar="DIR", action="append", default=[],
                    help="add the best genome of this search run directory (repeatable)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for training (1: robust on a busy machine)")
    ap.add_argument("--search", metavar="DIR", help="run the default 72k search into DIR first, then use it as --run")
    ap.add_argument("--search-config", metavar="FILE", help="search config for --search (default: the defaults)")
    ap.add_argument("--max-params", type=int, default=72_000, help="size limit of the searched student")
    ap.add_argument("--record", action="store_true", help="also write the figures into benchmarks/RESULTS.md")
    ap.add_argument("--out", metavar="FILE", help="also write the figures into FILE (the form of RESULTS.md)")
    args = ap.parse_args()
    record = Recorder(args.record, args.out)
    archs = list(args.arch) or ([] if args.run or args.search else ["wav2small_17k"])
    labels: dict[str, str] = {}
    if args.search:
        run_search(args.search, args.search_config)
        args.run.append(args.search)
    for run in args.run:
        text, note = searched_student(run, args.max_params)
        archs.append(text)
        labels[text] = note
    torch.set_num_threads(args.threads)
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    task = get_task("ser", data=args.data, labels=args.labels, test_speakers=args.test_speakers,
                    valid_speakers=args.valid_speakers)
    split = task.prepare_final("cpu", (CLIP,))
    for line in task.check_data():
        print(line)
    data = Path(args.labels).name if args.labels else Path(args.data).name if args.data else "embedded EmoDB subset"
    command = "python benchmarks/bench_ser.py " + " ".join(sys.argv[1:])
    dims = task.dims
    for arch in archs:
        genome = resolve_genome(arch)
        space = get_space(genome.space)
        size = space.size(outputs=len(dims))
        label = genome.name or f"{genome.key} {labels.get(arch, '')}".strip()
        if arch in labels:
            record("bench_ser", f"{genome.key}: genome", f"`{genome.to_text()}`", "-", command)
        record("bench_ser", f"{label}: trainable params", f"{count_params(genome, size):,}", "<= 72,000", command)
        record("bench_ser", f"{label}: MACs per 5 s", f"{count_macs(genome, size) / 1e6:.1f}M", "-", command)
        runs, model = [], None
        start = time.perf_counter()
        for seed in seeds:
            torch.manual_seed(seed)
            trained = space.build(genome, **size)
            runs.append(task.evaluate(trained, {"epochs": args.epochs}, seed=seed))
            model = model or trained
        minutes = (time.perf_counter() - start) / 60 / len(seeds)
        print(f"{label}: test mean CCC per seed " + ", ".join(f"{r['test_ccc']:.3f}" for r in runs))
        ccc = ", ".join(f"{d[0].upper()} {_mean_std([r[f'test_ccc_{d}'] for r in runs])}" for d in dims)
        record("bench_ser", f"{label}: CCC on the test split ({data}; {split}; {args.epochs} epochs, loss "
               f"{task.loss_name}, seeds {','.join(map(str, seeds))}, mean ± std, {minutes:.1f} min per training)",
               f"{ccc}; mean {_mean_std([r['test_ccc'] for r in runs])}", "higher than wav2small_17k", command)
        assert model is not None
        with tempfile.TemporaryDirectory() as tmp:
            fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            export_onnx(model, (CLIP,), fp32)
            report = export(model, (CLIP,), int8, "onnx-int8")
            ccc8 = ", ".join(f"{k} {v:.4f}" for k, v in report.int8_ccc.items())
            record("bench_ser", f"{label}: int8 ONNX bytes (kept {report.int8_method}; CCC vs torch {ccc8})",
                   f"{report.bytes:,}", "<= 80 KB", command)
            record("bench_ser", f"{label}: onnxruntime 1-thread median latency per 5 s, fp32",
                   f"{latency_ms(fp32, args.runs):.2f} ms", "~9.5 ms (wav2small_17k fp32)", command)
            record("bench_ser", f"{label}: onnxruntime 1-thread median latency per 5 s, int8",
                   f"{latency_ms(int8, args.runs):.2f} ms", "<= wav2small_17k", command)
            grown, base = peak_rss_mb(int8)
            record("bench_ser", f"{label}: peak RSS of a process running the int8 model (of which Python + numpy + "
                   f"onnxruntime: {base:.0f} MB)", f"{grown + base:.0f} MB, +{grown:.1f} MB for the model",
                   "~9 MB (paper, model only)", command)


if __name__ == "__main__":
    main()
