"""SIGINT (Ctrl-C) and SIGTERM stop a real ``eeea search`` within 10 s whatever its executor (local, pool, ray), while
its workers are busy: every process it started has ended, no semaphore leaked, the front of what finished is written,
one line says how to resume, and ``--resume`` then ends with the front of an uninterrupted run. ``eeea train`` stops
on SIGTERM as it does on Ctrl-C (``test_output.py`` has the Ctrl-C case).

Each case starts a search process (and its workers: each imports torch), so the default run keeps one case per path:
SIGTERM x local and SIGINT x pool (the pool cases are the ones that hung or leaked; both signals take the same stop
path, stop_on_signals); the others are slow. SIGTERM to a Ray search also runs by default, in
``test_ray_faults.py``, after its Ray instance was started again."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from signal_helpers import STOP_S, TASK, HeldSearch, archive

from ray_helpers import assert_same_results, short_temp_dir

from eeea.cli import main
from eeea.interrupts import STOP_SIGNALS, Interrupted, signal_of, stop_on_signals
from eeea.search.quality import pareto_front



@pytest.fixture
def temp():
    """A fresh RAY_TMPDIR: it marks every process the search starts (and is a short path, as Ray needs)."""
    path = short_temp_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _front_keys(run: Path) -> list[str]:
    with open(run / "pareto.csv") as f:
        return [line.split(",")[1] for line in f.read().splitlines()[1:]]


CASES = [pytest.param(sig, executor, marks=[pytest.mark.slow] if slow else [], id=f"{sig.name}-{executor}")
         for sig, executor, slow in [(signal.SIGINT, "local", True), (signal.SIGTERM, "local", False),
                                     (signal.SIGINT, "pool", False), (signal.SIGTERM, "pool", True),
                                     (signal.SIGTERM, "ray", True), (signal.SIGINT, "ray", True)]]


@pytest.mark.parametrize("sig,executor", CASES)
def test_a_signal_stops_the_search_in_seconds_and_resume_ends_with_the_uninterrupted_front(
        sig, executor, held_reference, tmp_path, temp):
    if executor == "ray":
        pytest.importorskip("ray", reason="the Ray executor needs Ray: pip install 'eeea[ray]'")
    workers = 1 if executor == "local" else 2
    search = HeldSearch(tmp_path, temp, executor, workers)
    try:
        busy = search.wait_busy()
        search.proc.send_signal(sig)
        took = search.stop_time(limit=3 * STOP_S)
    finally:
        search.kill()
    err = search.stderr.read_text()
    print(f"{sig.name} {executor}: stopped in {took:.1f} s")
    assert took < STOP_S, f"stopping took {took:.1f} s: {err[-2000:]}"
    assert search.proc.returncode == 128 + sig, err[-2000:]  # 130 for SIGINT, 143 for SIGTERM
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-3000:]  # no traceback, no leaked-semaphore warning, no Ray stack dump
    word = "interrupted" if sig == signal.SIGINT else "stopped by SIGTERM"
    assert lines[0].startswith(f"eeea: {word}; ") and "their front in pareto.csv" in lines[0], lines[0]
    assert lines[0].endswith(f"continue with: eeea search --resume {search.run}")
    for pid in busy:  # the processes that held candidates are gone (the search's own, for the local executor)
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), pid

    done = archive(search.run)  # the front so far: exactly the front of what was archived
    assert 1 <= len(done) < len(archive(held_reference))
    assert _front_keys(search.run) == [r["key"] for r in pareto_front(done, ["error", "params"])]
    assert not json.loads((search.run / "state.json").read_text() if (search.run / "state.json").exists()
                          else '{"finished": false}')["finished"]

    search.release()
    assert main(["search", "--resume", str(search.run), "--task", TASK, "--executor", "local", "--workers", "1",
                 "--quiet"]) == 0
    assert_same_results(search.run, held_reference)
    keys = [r["key"] for r in archive(search.run)]
    assert len(keys) == len(set(keys))  # nothing finished was trained twice


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


@pytest.mark.slow
def test_sigterm_stops_a_training_like_ctrl_c(tmp_path):
    from train_helpers import write_image_folder

    data = write_image_folder(tmp_path / "data")
    run = tmp_path / "run"
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "eeea.cli", "train", "--out", str(run), "--arch", "eeea_c",
                                 "--channels", "4", "--layers", "3", "--batch-size", "16", "--max-steps", "2",
                                 "--threads", "1", "--epochs", "500", "--data", str(data), "--quiet"],
                                stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 180
    while not (run / "checkpoint.pt").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "no epoch finished"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    start = time.monotonic()
    proc.wait(timeout=60)
    assert time.monotonic() - start < STOP_S
    lines = (tmp_path / "stderr.txt").read_text().strip().splitlines()
    assert proc.returncode == 143 and len(lines) == 1, lines
    assert lines[0].startswith("eeea: stopped by SIGTERM; saved: checkpoint.pt")
    assert lines[0].endswith(f"continue with: eeea train --resume {run}")
    assert "stopped by SIGTERM" in (run / "log.txt").read_text()


def test_one_stop_per_signal_burst_and_the_callers_handlers_come_back():
    """In-process: a signal raises Interrupted carrying it; a second one while stopping is ignored (it must not cut the
    stop short); a library's plain KeyboardInterrupt is traced to the signal; the caller's handlers are restored."""
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    with stop_on_signals():
        with pytest.raises(Interrupted) as raised:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs at once: this sleep is cut short
        assert raised.value.signum == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGINT)  # the stop is under way: ignored
        time.sleep(0.2)
        assert signal_of(KeyboardInterrupt()) == signal.SIGTERM  # what Ray raises in place of ours
    assert {sig: signal.getsignal(sig) for sig in STOP_SIGNALS} == before
    assert signal_of(Interrupted(signal.SIGINT)) == signal.SIGINT
