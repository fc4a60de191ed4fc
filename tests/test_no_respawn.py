"""A search whose data cannot be read ends at once with one line and exit 2, whatever the executor: bad --data is
refused in the main process before any worker starts, and a worker that cannot prepare its task ends the run (a pool
must not respawn it forever)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

TESTS = Path(__file__).resolve().parent


def _search(tmp_path: Path, *argv: str, timeout: float = 240) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "eeea.cli", "search", "--quiet", "--out", str(tmp_path / "run"),
                           *argv], capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path)
    return done, time.perf_counter() - start


def _one_line(done: subprocess.CompletedProcess, *words: str) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("eeea: error: "), done.stderr[-2000:]
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


# each case is a process with a pool: the default run keeps SER's (its message is checked nowhere else); CIFAR-10's
# and the image folder's are checked in-process by default (test_search.py, test_image_task.py)
@pytest.mark.parametrize("task, bad", [pytest.param("cifar10", "missing", marks=pytest.mark.slow), ("ser", "empty"),
                                       pytest.param("imagefolder", "empty", marks=pytest.mark.slow)])
def test_bad_data_with_a_real_pool_is_refused_before_workers_start(tmp_path, task, bad):
    (tmp_path / "empty").mkdir()
    done, seconds = _search(tmp_path, "--task", task, "--data", str(tmp_path / bad), "--workers", "2")
    _one_line(done, bad)
    assert not (tmp_path / "run").exists()  # refused before the run directory is made
    assert seconds < LIMIT


#: generous for a loaded 2-core machine (each process imports torch); before the fix these runs never ended
LIMIT = 180


@pytest.mark.parametrize("workers, error, words", [
    (2, "user", ("cannot read the data in a worker (injected)",)),
    (1, "bug", ("RuntimeError", "the data loader broke (injected)")),
])
def test_a_task_that_cannot_prepare_ends_the_run_in_one_line(tmp_path, workers, error, words):
    config = {"task": "fault_tasks:PrepareFailsTask", "task_config": {"marker_dir": str(tmp_path), "error": error},
              "size": {"channels": 4, "layers": 3}, "device": "cpu", "workers": workers}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done, seconds = _search(tmp_path, "--config", str(tmp_path / "config.yaml"))
    _one_line(done, *words)
    assert seconds < LIMIT
