"""Append benchmark figures to benchmarks/RESULTS.md (one dated row per figure)."""
from __future__ import annotations

import datetime as _dt
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = (
    "# Benchmark results\n\n"
    "Figures written by the scripts in `benchmarks/` (medians over repeats; ratios are less noisy than absolute rates on\n"
    "shared machines). Newest rows last.\n\n"
    "| date | benchmark | figure | value | target | machine | command |\n"
    "|---|---|---|---|---|---|---|\n"
)


def machine() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{os.cpu_count()}-core {platform.machine()} CPU"


def record(benchmark: str, figure: str, value: str, target: str, command: str) -> None:
    """Print one figure and append it as a row of RESULTS.md."""
    print(f"{benchmark}: {figure} = {value} (target {target})")
    if not RESULTS.exists():
        RESULTS.write_text(HEADER)
    row = f"| {_dt.date.today().isoformat()} | {benchmark} | {figure} | {value} | {target} | {machine()} | `{command}` |\n"
    with RESULTS.open("a") as f:
        f.write(row)
