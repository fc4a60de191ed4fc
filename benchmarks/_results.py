"""Write benchmark figures into benchmarks/RESULTS.md: one section per benchmark, newest run first.

A run is a block headed by its date, machine, torch version and command (written once), followed by a table of its
figures. Figures recorded by one process for the same benchmark and command join the same block.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = (
    "# Benchmark results\n\n"
    "Figures written by the scripts in `benchmarks/` (medians over repeats; ratios are less noisy than absolute rates on\n"
    "shared machines). One section per benchmark; in each, the newest run comes first, headed by its date, machine,\n"
    "torch version and command. Paths in commands are relative (`DATA/` = the data folder, `RUN/` = a run directory).\n"
)
TABLE_HEAD = "| figure | value | target |\n|---|---|---|\n"
_STARTED: set[tuple[str, str, Path | None]] = set()  # (benchmark, command, file) blocks this process has begun


def machine() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{os.cpu_count()}-core {platform.machine()} CPU"


def relative_command(command: str) -> str:
    """``command`` without this machine's absolute paths: files of the shared data folder become ``DATA/NAME``,
    other absolute paths their last part."""
    command = re.sub(r"(?<![\w.])/\S*/data/(\S+)", r"DATA/\1", command)
    return re.sub(r"(?<![\w.])/(?:[^\s/]+/)+([^\s/]+)", r"\1", command)


def _block_header(command: str, where: str | None = None) -> str:
    import torch

    where = where or f"{machine()}, torch {torch.__version__}"
    return f"### {_dt.date.today().isoformat()} — {where}\n`{command}`\n\n"


def record(benchmark: str, figure: str, value: str, target: str, command: str, where: str | None = None,
           path: Path | None = None, echo: bool = True, write: bool = True) -> None:
    """Print one figure (unless not ``echo``) and add it to ``path`` (default RESULTS.md; nowhere unless ``write``;
    see the module docstring). ``where``: the machine and torch version of figures measured elsewhere (e.g.
    ``NVIDIA H200, torch 2.11.0``); default this machine's."""
    if echo:
        print(f"{benchmark}: {figure} = {value} (target {target})")
    if not write:
        return
    path = path or RESULTS
    command = relative_command(command)
    text = path.read_text() if path.exists() else HEADER
    row = f"| {figure} | {value} | {target} |\n"
    section = f"\n## {benchmark}\n\n"
    if section not in text:
        text = text.rstrip("\n") + "\n" + section
    start = text.index(section) + len(section)
    if (benchmark, command, path) in _STARTED:  # this run's block is the newest: the first of the section
        end = text.find("\n\n", text.index(TABLE_HEAD, start))
        end = len(text) if end < 0 else end + 1
        text = text[:end] + row + text[end:]
    else:
        _STARTED.add((benchmark, command, path))
        text = text[:start] + _block_header(command, where) + TABLE_HEAD + row + "\n" + text[start:]
    path.write_text(text.rstrip("\n") + "\n")


class Recorder:
    """Where a benchmark's figures go: the terminal always, ``out`` (a file of the same form as RESULTS.md) when
    given, and RESULTS.md only when ``results`` is true (``--record``): a run on a user's own data leaves the
    repository's file alone."""

    def __init__(self, results: bool = False, out: str | Path | None = None) -> None:
        self.results, self.out = results, Path(out) if out else None

    def __call__(self, benchmark: str, figure: str, value: str, target: str, command: str) -> None:
        record(benchmark, figure, value, target, command, write=self.results)
        if self.out is not None:
            record(benchmark, figure, value, target, command, path=self.out, echo=False)


def record_all(benchmark: str, figures: list[tuple[str, str, str]], command: str, dry: bool = False) -> None:
    """:func:`record` each ``(figure, value, target)``; with ``dry``, only print them."""
    for figure, value, target in figures:
        if dry:
            print(f"{figure} = {value} (target {target})")
        else:
            record(benchmark, figure, value, target, command)
