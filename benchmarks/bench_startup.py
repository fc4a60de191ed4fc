"""Seconds from process start to the first line a command prints (imports included), median of repeats.

``eeea search --max-params 72k --out NEW`` is killed after its first line (the run directory's first log line);
``eeea zoo`` runs to its first line too. Targets (idle 2-core machine): search <= 3 s, zoo <= 5 s.

    python benchmarks/bench_startup.py [--repeats 5] [--label after]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import record  # noqa: E402


def first_line_seconds(argv: list[str]) -> float:
    """Seconds until ``argv`` writes its first line to stdout or stderr; the process is killed then."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        seconds = time.perf_counter() - start
        if not line:
            raise RuntimeError(f"{' '.join(argv)} printed nothing (exit {proc.wait()})")
        return seconds
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--label", default="", help="suffix for the figure names (e.g. 'before')")
    parser.add_argument("--no-record", action="store_true", help="print only, do not write RESULTS.md")
    args = parser.parse_args()
    eeea = [sys.executable, "-m", "eeea.cli"]
    tmp = Path(tempfile.mkdtemp(prefix="eeea-startup-"))
    try:
        search, zoo = [], []
        for i in range(args.repeats):
            search.append(first_line_seconds([*eeea, "search", "--max-params", "72k", "--out", str(tmp / f"run{i}")]))
            zoo.append(first_line_seconds([*eeea, "zoo"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0]
    suffix = f" ({args.label})" if args.label else ""
    command = f"python benchmarks/bench_startup.py --repeats {args.repeats}" + (f" --label {args.label}" if args.label else "")
    figures = [
        (f"eeea search: first line, median s{suffix}", f"{statistics.median(search):.2f}", "<= 3 (idle 2-core)"),
        (f"eeea zoo: first line, median s{suffix}", f"{statistics.median(zoo):.2f}", "<= 5 (idle 2-core)"),
        (f"load average (1 min) at the end{suffix}", f"{load:.1f}", "-"),
    ]
    for figure, value, target in figures:
        if args.no_record:
            print(f"{figure} = {value} (target {target})")
        else:
            record("startup", figure, value, target, command)


if __name__ == "__main__":
    main()
