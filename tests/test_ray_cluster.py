"""Real Ray clusters on this machine (loopback only), driven by real ``eeea`` processes: a two-node cluster
(``ray start --head`` and a worker node joining it) runs the search through ``--ray-address`` with the in-process
executor's results; a driver interrupted (Ctrl-C) stops its Ray work cleanly, a driver killed with SIGKILL loses
nothing, and ``--resume`` ends with the uninterrupted front. Slow: each test starts several Ray instances (30 s to
minutes on a loaded 2-core machine); run with ``-m slow``."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest
from search_helpers import TINY_FLAGS

from process_helpers import run_and_kill
from ray_helpers import (assert_same_results, free_port, processes_of, ray_env, short_temp_dir, start_node,
                         stop_processes)

pytest.importorskip("ray", reason="the Ray executor tests need Ray: pip install 'eeea[ray]'")
FLAGS = [*TINY_FLAGS, "--executor", "ray", "--workers", "2"]


def _eeea(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eeea.cli", *argv], env=env, capture_output=True, text=True,
                          timeout=600)


def _lines(run) -> list[dict]:
    path = run / "archive.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")] if path.exists() else []


@pytest.fixture
def temp_dirs():
    """Short Ray temp dirs for a test; every process left in them is stopped at the end."""
    made: list[str] = []

    def make() -> str:
        made.append(short_temp_dir())
        return made[-1]

    yield make
    for temp in reversed(made):  # worker nodes before their head
        stop_processes(temp)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_a_two_node_cluster_runs_the_search_with_the_same_results(tiny_reference, tmp_path, temp_dirs):
    head, worker, port = temp_dirs(), temp_dirs(), free_port()
    start_node(head, head_port=port, head=True)  # one CPU per node: each node hosts exactly one of the two actors
    start_node(worker, head_port=port, head=False)
    out = tmp_path / "cluster"
    done = _eeea(["search", "--out", str(out), *FLAGS, "--ray-address", f"127.0.0.1:{port}"], ray_env(head))
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_results(out, tiny_reference)
    assert processes_of(head) and processes_of(worker)  # joining left the cluster running


@pytest.mark.slow
def test_interrupt_then_kill_9_then_resume_gives_the_uninterrupted_front(tiny_reference, tmp_path, temp_dirs):
    run = tmp_path / "run"
    first = temp_dirs()
    status = run_and_kill(["search", "--out", str(run), *FLAGS], lambda: len(_lines(run)) >= 1, 300,
                          "a first archive line", env=ray_env(first), sig=signal.SIGINT)
    assert status == 130  # Ctrl-C: the CLI's "interrupted"
    deadline = time.time() + 30
    while processes_of(first) and time.time() < deadline:  # the local Ray instance was shut down with the run
        time.sleep(0.5)
    assert not processes_of(first)
    after_interrupt = len(_lines(run))
    assert 1 <= after_interrupt < 8

    second = temp_dirs()
    run_and_kill(["search", "--resume", str(run), "--quiet"], lambda: len(_lines(run)) > after_interrupt, 300,
                 "a new archive line", env=ray_env(second))
    done_before = {r["key"] for r in _lines(run)}
    assert after_interrupt < len(done_before) < 8

    done = _eeea(["search", "--resume", str(run), "--quiet"], ray_env(temp_dirs()))
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_results(run, tiny_reference)
    keys = [r["key"] for r in _lines(run)]
    assert len(keys) == len(set(keys)) == 8  # nothing finished was trained twice
    state = json.loads((run / "state.json").read_text())
    assert state["finished"] and state["trained_this_session"] == 8 - len(done_before)
