"""Killing (or interrupting) a real ``eeea`` subprocess at a chosen moment (the resume tests)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Callable, Mapping, Sequence


def run_and_kill(argv: Sequence[str], ready: Callable[[], bool], timeout: float, what: str,
                 env: Mapping[str, str] | None = None, sig: int = signal.SIGKILL) -> int:
    """Start ``python -m eeea.cli ARGV`` (in environment ``env``, default this one's) and send it ``sig`` (SIGKILL) as
    soon as ``ready()`` holds; fail if it ends first or ``timeout`` seconds pass (``what`` names the awaited state in
    the failure). Returns its exit status."""
    proc = subprocess.Popen([sys.executable, "-m", "eeea.cli", *argv], env=None if env is None else dict(env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    try:
        while not ready():
            assert proc.poll() is None, f"the command ended before {what}"
            assert time.time() < deadline, f"no {what} in time"
            time.sleep(0.02)
        os.kill(proc.pid, sig)
    finally:
        if sig == signal.SIGKILL or proc.poll() is not None:
            proc.wait()
        else:  # a signal it may handle (SIGINT: Ctrl-C): give it time to stop cleanly
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return proc.returncode
