"""How fast the CLI answers: parse-time commands to their exit, and the first line of real work.

Parse time (no torch may load): ``eeea --help``, ``eeea --version`` and a bad flag (``eeea search --max-params
abc``) are timed to their exit beside ``python -c pass`` (the interpreter's own start), interleaved, median of
``--parse-repeats`` runs each, wall seconds and CPU seconds (user + system of the child); the ratio to ``python -c
pass`` is the figure that travels between machines. Targets (near-idle 2-core machine): --help <= 0.5 s, bad flag
<= 0.5 s. The 1-minute load average before and after is recorded beside them: on a busy machine the wall figures
grow, the CPU seconds much less.

First line: ``eeea search --max-params 72k --out NEW`` is killed after its first line (the run directory's first log
line); ``eeea zoo`` runs to its first line too. Targets (idle 2-core machine): search <= 3 s, zoo <= 5 s.

    python benchmarks/bench_startup.py [--repeats 5] [--parse-repeats 21] [--parse-only] [--label after]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import record_all  # noqa: E402


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


def exit_seconds(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of ``argv`` run to its exit, output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def eeea_command() -> list[str]:
    """The installed ``eeea`` console script next to this interpreter, as a user runs it; else ``python -m``."""
    script = Path(sys.executable).with_name("eeea")
    return [str(script)] if script.exists() else [sys.executable, "-m", "eeea.cli"]


#: parse-time commands: figure name -> argv after ``eeea``
PARSE_COMMANDS = {"eeea --help": ["--help"], "eeea --version": ["--version"],
                  "eeea search --max-params abc (bad flag)": ["search", "--max-params", "abc"]}
PARSE_TARGETS = {"eeea --help": "<= 0.5 (near-idle 2-core)",
                 "eeea search --max-params abc (bad flag)": "<= 0.5 (near-idle 2-core)"}


def parse_figures(repeats: int, suffix: str) -> list[tuple[str, str, str]]:
    """Median wall and CPU seconds of each parse-time command and of ``python -c pass``, run interleaved so that a
    change of load touches all of them alike."""
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                **{name: [*eeea_command(), *argv] for name, argv in PARSE_COMMANDS.items()}}
    for argv in commands.values():  # warm the file cache once
        exit_seconds(argv)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, argv in commands.items():
            wall, cpu = exit_seconds(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)
    base = statistics.median(walls["python -c pass"])
    figures = []
    for name in commands:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        ratio = "" if name == "python -c pass" else f", {wall / base:.1f}x python -c pass"
        figures.append((f"{name}: to exit, median s{suffix}", f"{wall:.3f} (CPU {cpu:.3f}{ratio})",
                        PARSE_TARGETS.get(name, "-")))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each first-line command")
    parser.add_argument("--parse-repeats", type=int, default=21, help="runs of each parse-time command")
    parser.add_argument("--parse-only", action="store_true", help="only the parse-time figures (seconds, not minutes)")
    parser.add_argument("--label", default="", help="suffix for the figure names (e.g. 'before')")
    parser.add_argument("--no-record", action="store_true", help="print only, do not write RESULTS.md")
    args = parser.parse_args()
    eeea = eeea_command()
    suffix = f" ({args.label})" if args.label else ""
    load_before = os.getloadavg()[0]
    figures = parse_figures(args.parse_repeats, suffix)
    if not args.parse_only:
        tmp = Path(tempfile.mkdtemp(prefix="eeea-startup-"))
        try:
            search, zoo = [], []
            for i in range(args.repeats):
                search.append(first_line_seconds([*eeea, "search", "--max-params", "72k", "--out",
                                                  str(tmp / f"run{i}")]))
                zoo.append(first_line_seconds([*eeea, "zoo"]))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        figures += [
            (f"eeea search: first line, median s{suffix}", f"{statistics.median(search):.2f}", "<= 3 (idle 2-core)"),
            (f"eeea zoo: first line, median s{suffix}", f"{statistics.median(zoo):.2f}", "<= 5 (idle 2-core)"),
        ]
    figures.append((f"load average (1 min) before / after{suffix}", f"{load_before:.1f} / {os.getloadavg()[0]:.1f}",
                    "-"))
    command = " ".join(["python benchmarks/bench_startup.py", *sys.argv[1:]])
    record_all("startup", figures, command, dry=args.no_record)


if __name__ == "__main__":
    main()
