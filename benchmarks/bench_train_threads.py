"""``eeea train`` throughput by torch thread count: the default (now the search's rule, one thread), ``--threads 1``
and ``--threads N`` (N = the machine's cores: torch's own default, what ``eeea train`` used before), run as a user
runs them (``eeea train --arch eeea_c --recipe fast``, a few steps), interleaved, median over repeats.

Figures: images/s of the first epoch's training steps (``img_per_s`` in the run's metrics), and the ratio to
``--threads N``. On a shared machine, the 1-minute load average before and after is recorded beside them.

    python benchmarks/bench_train_threads.py [--repeats 3] [--max-steps 12] [--no-record]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import record_all  # noqa: E402


def img_per_s(threads: int | None, max_steps: int, out: Path) -> float:
    """Training images/s of one ``eeea train`` run (``threads`` None: no --threads flag)."""
    argv = [sys.executable, "-m", "eeea.cli", "train", "--arch", "eeea_c", "--recipe", "fast", "--epochs", "1",
            "--max-steps", str(max_steps), "--device", "cpu", "--out", str(out), "--quiet"]
    argv += ["--threads", str(threads)] if threads is not None else []
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return float(rows[-1]["img_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=12, help="training steps per run (batch 128)")
    parser.add_argument("--no-record", action="store_true", help="print only, do not write RESULTS.md")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    settings = {"default (no --threads)": None, "--threads 1": 1, f"--threads {cores} (torch's default)": cores}
    rates: dict[str, list[float]] = {name: [] for name in settings}
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="eeea-threads-"))
    try:
        for i in range(args.repeats):
            for name, threads in settings.items():
                rates[name].append(img_per_s(threads, args.max_steps, tmp / f"run{i}-{threads}"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    command = " ".join(["python benchmarks/bench_train_threads.py", *sys.argv[1:]])
    reference = statistics.median(rates[f"--threads {cores} (torch's default)"])
    figures = [(f"eeea train, {name}: img/s, median of {args.repeats}", f"{statistics.median(r):.1f} "
                f"({statistics.median(r) / reference:.2f}x --threads {cores})", "-") for name, r in rates.items()]
    figures.append(("load average (1 min) before / after", f"{load_before:.1f} / {os.getloadavg()[0]:.1f}", "-"))
    record_all("train_threads", figures, command, dry=args.no_record)


if __name__ == "__main__":
    main()
