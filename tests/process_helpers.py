"""Killing a real ``eeea`` subprocess with SIGKILL at a chosen moment (the resume tests)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Callable, Sequence


def run_and_kill(argv: Sequence[str], ready: Callable[[], bool], timeout: float, what: str) -> None:
    """Start ``python -m eeea.cli ARGV`` and SIGKILL it as soon as ``ready()`` holds; fail if it ends first or
    ``timeout`` seconds pass (``what`` names the awaited state in the failure)."""
    proc = subprocess.Popen([sys.executable, "-m", "eeea.cli", *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    try:
        while not ready():
            assert proc.poll() is None, f"the command ended before {what}"
            assert time.time() < deadline, f"no {what} in time"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
