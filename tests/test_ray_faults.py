"""Ray's own processes failing under a real ``eeea search --executor ray``: a killed raylet, dashboard agent (the raylet
dies with it) or GCS. The search never waits forever. A local Ray instance it started is started again within
:data:`RECOVER_S` seconds (the candidates that were running get a strike and run again); a cluster it joined stops it
within that time with the one-line ``--resume`` hint. Either way ``--resume`` ends with the uninterrupted front. The
raylet case runs by default (two Ray start-ups); the others are slow."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from signal_helpers import STOP_S, TASK, HeldSearch, archive, holders

from ray_helpers import assert_same_results, processes_of, short_temp_dir

from eeea.cli import main

pytest.importorskip("ray", reason="the Ray executor tests need Ray: pip install 'eeea[ray]'")

#: the promise: a lost raylet or GCS costs at most this many seconds before the search goes on or stops
RECOVER_S = 60.0
#: what the search says when it starts its local Ray instance again
NOTICE = "the local Ray instance was lost"


def _kill(temp: str, name: str) -> None:
    """SIGKILL the Ray process of ``temp`` (or a child of one: the raylet starts its agents with an environment of
    their own) whose command line contains ``name``."""
    ours = set(processes_of(temp))
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit():
                continue
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if (int(entry.name) in ours or parent in ours) and name.encode() in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
                return
        except (OSError, ValueError, IndexError):
            continue
    raise AssertionError(f"no {name} process under {temp}")


@pytest.mark.parametrize("victim", [
    "raylet/raylet",
    pytest.param("ray::DashboardAgent", marks=pytest.mark.slow),
    pytest.param("gcs_server", marks=pytest.mark.slow),
])
def test_a_lost_local_ray_is_started_again_and_the_run_still_stops_and_resumes_cleanly(victim, held_reference, tmp_path):
    """The Ray process dies while both actors hold a candidate. Within a minute the search says it starts Ray again
    (the two candidates struck); their reruns then hold on the new instance's actors, and SIGTERM stops the search
    as on a healthy cluster (Ray's new start must not take the handler over). ``--resume`` gives the uninterrupted
    front."""
    temp = short_temp_dir()
    search = HeldSearch(tmp_path, temp, "ray", 2)
    try:
        old = set(search.wait_busy())
        _kill(temp, victim)
        struck = time.monotonic()
        # the candidates stay held: only the executor's own doing counts, not the old actors finishing what they ran
        # (a Ray with a dead raylet or GCS lets them, for a while)
        search.wait_until(lambda: NOTICE in search.stderr.read_text(), RECOVER_S + 30, "restart")
        handled = time.monotonic() - struck
        search.wait_until(lambda: bool(set(holders(search.markers)) - old), 240, "candidate on the new instance")
        running = time.monotonic() - struck
        print(f"{victim}: restart began {handled:.1f} s, a candidate ran again {running:.1f} s after the kill")
        assert handled < RECOVER_S, f"{handled:.0f} s before the search handled the dead {victim}"
        search.proc.send_signal(signal.SIGTERM)
        took = search.stop_time(limit=30)
    finally:
        search.kill()
        shutil.rmtree(temp, ignore_errors=True)
    err = search.stderr.read_text()
    assert took < STOP_S, f"stopping took {took:.1f} s: {err[-2000:]}"
    lines = err.strip().splitlines()
    assert search.proc.returncode == 143 and len(lines) == 2 and NOTICE in lines[0], err[-3000:]
    assert lines[1].startswith("eeea: stopped by SIGTERM; ") and lines[1].endswith(f"--resume {search.run}")
    search.release()
    assert main(["search", "--resume", str(search.run), "--task", TASK, "--executor", "local", "--workers", "1",
                 "--quiet"]) == 0
    assert_same_results(search.run, held_reference)  # the struck candidates ran again and were recorded ok
    keys = [r["key"] for r in archive(search.run)]
    assert len(keys) == len(set(keys))


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["raylet/raylet", "gcs_server"])
def test_a_joined_cluster_that_cannot_run_a_candidate_stops_with_the_resume_line(victim, held_reference, tmp_path):
    """A cluster the search joined (``--ray-address``) is not the search's to restart: when it has no live node left
    to run a candidate (its only raylet died) or its GCS stops answering, the search stops, in one line that says how
    to resume, and the resumed run ends with the uninterrupted front."""
    from ray_helpers import free_port, start_node, stop_processes

    cluster, driver, port = short_temp_dir(), short_temp_dir(), free_port()
    try:
        start_node(cluster, head_port=port, head=True, cpus=2)
        search = HeldSearch(tmp_path, driver, "ray", 2, ray_address=f"127.0.0.1:{port}")
        try:
            search.wait_busy()
            _kill(cluster, victim)
            struck = time.monotonic()
            search.proc.wait(timeout=RECOVER_S + 60)
            took = time.monotonic() - struck
        finally:
            search.kill()
    finally:
        for temp in (driver, cluster):
            stop_processes(temp)
            shutil.rmtree(temp, ignore_errors=True)
    err = search.stderr.read_text()
    assert took < RECOVER_S, f"stopped {took:.0f} s after the {victim} died: {err[-2000:]}"
    print(f"joined cluster, {victim}: stopped {took:.1f} s after the kill")
    lines = err.strip().splitlines()
    assert search.proc.returncode == 2 and len(lines) == 1, err[-3000:]
    assert lines[0].startswith("eeea: error: the Ray cluster was lost: ")
    assert lines[0].endswith(f"continue with: eeea search --resume {search.run}")
    assert (search.run / "pareto.csv").exists()
    search.release()
    assert main(["search", "--resume", str(search.run), "--task", TASK, "--executor", "local", "--workers", "1",
                 "--quiet"]) == 0
    assert_same_results(search.run, held_reference)


def test_the_processes_of_a_lost_raylet_are_ended_even_once_orphaned():
    """Ray gives its workers ``RAY_RAYLET_PID``; its agents are known only as the raylet's children, noted while it
    lives. An agent whose GCS died can outlive its raylet by a minute (a search stopped after a GCS loss then took
    30 s to end)."""
    from eeea.search.ray_executor import end_raylet_processes, raylet_children

    # a stand-in raylet: starts an "agent" that outlives it, prints the agent's pid, then waits
    raylet = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; agent = subprocess.Popen("
                               "[sys.executable, '-c', 'import time; time.sleep(120)']); print(agent.pid, flush=True); "
                               "time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    agent = int(raylet.stdout.readline())
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    worker = subprocess.Popen(sleeper, env={**os.environ, "RAY_RAYLET_PID": str(raylet.pid)})
    unrelated = subprocess.Popen(sleeper)
    try:
        time.sleep(0.5)  # each has exec'd, with its environment in place
        children = raylet_children([raylet.pid])
        assert [pid for pid, _ in children] == [agent]
        raylet.kill()
        raylet.wait()  # the agent is an orphan now: no parent names it
        end_raylet_processes([raylet.pid], children)
        assert worker.wait(timeout=10) == -signal.SIGKILL
        deadline = time.monotonic() + 10
        while _running(agent):
            assert time.monotonic() < deadline, "the orphaned agent outlived its raylet"
            time.sleep(0.05)
        assert unrelated.poll() is None
    finally:
        for process in (raylet, worker, unrelated):
            process.kill()
            process.wait()
        if _running(agent):
            os.kill(agent, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()  # a zombie has exited
    except OSError:
        return False
