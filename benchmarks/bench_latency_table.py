"""What ``eeea latency-table`` costs: peak memory (max RSS), wall and CPU time, and how close its up-front estimate
came, for one command run as a user runs it (output piped, so its progress lines are read too).

Target: peak memory <= 1.5 GB for ``--space wav2small`` (it was 4.3-4.5 GB). The default arguments,
``--samples 100 --calibrate 60 --passes 1``, walk the same 382 module shapes and 60 calibration networks as the
default command (``eeea latency-table --space wav2small --out FILE``) and time them once (the other passes repeat the
same timings); ``--full`` runs the default command itself (1000 samples, 3 passes).

    python benchmarks/bench_latency_table.py [--space wav2small] [--full] [--no-record]
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import record_all  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="wav2small")
    parser.add_argument("--full", action="store_true", help="the default command: default samples and passes")
    parser.add_argument("--no-record", action="store_true", help="print only, do not write RESULTS.md")
    args = parser.parse_args()
    options = [] if args.full else ["--samples", "100", "--calibrate", "60", "--passes", "1"]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "eeea.cli", "latency-table", "--space", args.space, *options,
                "--out", str(Path(tmp) / "table.json")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_gb = after.ru_maxrss * 1024 / 1e9  # Linux: kilobytes; the largest child, which is this command
    stated = re.search(r"expected about (\S+) on an idle core .* and (\S+) GiB peak memory", done.stderr)
    label = f"eeea latency-table --space {args.space} {' '.join(options)}".strip()
    figures = [
        (f"{label}: peak memory (max RSS), GB", f"{peak_gb:.2f}", "<= 1.5"),
        (f"{label}: wall / CPU time", f"{wall / 60:.1f} min / {cpu / 60:.1f} min", "-"),
        (f"{label}: stated up front (time on an idle core, peak)",
         f"{stated.group(1)}, {float(stated.group(2)) * 2**30 / 1e9:.2f} GB" if stated else "not stated", "-"),
        ("load average (1 min) before / after", f"{load_before:.1f} / {os.getloadavg()[0]:.1f}", "-"),
    ]
    command = " ".join(["python benchmarks/bench_latency_table.py", *sys.argv[1:]])
    record_all("latency_table", figures, command, dry=args.no_record)


if __name__ == "__main__":
    main()
