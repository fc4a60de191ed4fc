"""A real ``eeea search`` process caught mid-candidate, for the signal and Ray fault tests.

The search runs ``fault_tasks:FaultTask`` with ``hold_after``: while the file ``hold`` exists in its marker folder,
every candidate after the first few trains until the file goes (see ``FaultTask._hold``), so the workers are busy
when the test strikes. The process and everything it starts carry ``RAY_TMPDIR=TEMP`` in their environment
(:func:`ray_helpers.ray_env`), which finds them all afterwards, Ray's processes included, whatever the executor."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import yaml

from ray_helpers import processes_of, ray_env

TESTS = Path(__file__).resolve().parent
TASK = "fault_tasks:FaultTask"
#: the promise: a stop signal ends the search, and everything it started, within this many seconds
STOP_S = 10.0
#: the first candidates finish at once (a front exists to keep); the rest hold
HOLD_AFTER = 2


def search_config(markers: Path, executor: str = "local", workers: int = 1, **extra: Any) -> dict[str, Any]:
    """The tiny search of these tests: FaultTask (no training, results from the candidate's seed), 2 generations."""
    return {"task": TASK, "task_config": {"marker_dir": str(markers), "hold_after": HOLD_AFTER}, "population": 4,
            "generations": 2, "executor": executor, "workers": workers, "device": "cpu", "threads": 1,
            "size": {"channels": 4, "layers": 3}, "measure_latency": False, **extra}


def reference_run(root: Path) -> Path:
    """The uninterrupted search of these tests, run in-process with the local executor under ``root``; its folder."""
    from eeea.cli import main

    (root / "markers").mkdir()
    config = root / "search.yaml"
    config.write_text(yaml.safe_dump(search_config(root / "markers")))
    assert main(["search", "--out", str(root / "run"), "--config", str(config), "--quiet"]) == 0
    return root / "run"


def archive(run: Path) -> list[dict[str, Any]]:
    path = run / "archive.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")] if path.exists() else []


def holders(markers: Path) -> list[int]:
    """The pids of the processes holding a candidate now."""
    return [int(p.name.split("-")[1]) for p in markers.glob("holding-*")]


class HeldSearch:
    """``eeea search`` started in a subprocess with its candidates held (see the module docstring)."""

    def __init__(self, tmp_path: Path, temp: str, executor: str, workers: int, **extra: Any) -> None:
        self.markers, self.run, self.temp = tmp_path / "markers", tmp_path / "run", temp
        self.markers.mkdir()
        (self.markers / "hold").touch()
        config = tmp_path / "search.yaml"
        config.write_text(yaml.safe_dump(search_config(self.markers, executor, workers, **extra)))
        self.stderr = tmp_path / "stderr.txt"
        env = {**ray_env(temp), "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
        with open(self.stderr, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "eeea.cli", "search", "--out", str(self.run),
                                          "--config", str(config), "--quiet"], env=env,
                                         stdout=subprocess.DEVNULL, stderr=err)
        self.workers = workers

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.proc.poll() is None, f"the search ended before {what}: {self.stderr.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"no {what} in {timeout} s"
            time.sleep(0.05)

    def wait_busy(self, timeout: float = 300) -> list[int]:
        """Wait until a first candidate is archived and every worker holds one; their pids."""
        self.wait_until(lambda: len(archive(self.run)) >= 1 and len(holders(self.markers)) >= self.workers,
                        timeout, "archived candidate with every worker busy")
        return holders(self.markers)

    def stop_time(self, limit: float) -> float:
        """Seconds from now until the search process and every process it started have ended (fails past
        ``limit``; whatever is left is killed)."""
        start = time.monotonic()
        try:
            self.proc.wait(timeout=limit)
            while processes_of(self.temp) and time.monotonic() - start < limit:
                time.sleep(0.05)
        except subprocess.TimeoutExpired:
            pass
        took = time.monotonic() - start
        self.kill()
        return took

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        from ray_helpers import stop_processes

        stop_processes(self.temp, grace=2)

    def release(self) -> None:
        (self.markers / "hold").unlink(missing_ok=True)
