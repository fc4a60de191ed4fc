"""Run directories: the exclusive lock, the manifest rule of --force, reuse of a never-started run, the config hash
checked on resume, and atomic writes that survive a full disk."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest
import yaml

from eeea.cli import main
from eeea.errors import UserError
from eeea.atomic import atomic_write, atomic_write_text
from eeea.rundir import CONFIG, LOCK, MANIFEST, RunDir
from eeea.search.archive import SearchRun
from eeea.train.trainer import TrainRun

HOLD = textwrap.dedent("""
    import sys, time
    from eeea.rundir import RunDir
    RunDir.open(sys.argv[1])
    print("locked", flush=True)
    time.sleep(60)
""")


@pytest.fixture
def held(tmp_path):
    """A run directory that another live process holds locked; yields (path, pid)."""
    run = RunDir.create(tmp_path / "run", {"seed": 0})
    run.unlock()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run.path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield run.path, proc.pid
    proc.kill()
    proc.wait()


def test_second_process_is_refused_naming_the_holder(held, capsys):
    path, pid = held
    with pytest.raises(UserError, match=f"in use by another eeea process \\(pid {pid}\\)"):
        RunDir.open(path)
    # through the CLI: one line, exit 2, for resume and for --force on the live run alike
    assert main(["train", "--resume", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"pid {pid}" in err
    before = sorted(p.name for p in path.iterdir())
    with pytest.raises(UserError, match=f"pid {pid}"):
        RunDir.create(path, {"seed": 1}, force=True)
    assert sorted(p.name for p in path.iterdir()) == before  # nothing of the live run was removed


def test_a_live_run_can_be_read_without_its_lock(held):
    """Reports (bench_ser, bench_ser_rank) read a run that a search may still hold."""
    path, _ = held
    assert RunDir.read(path).config()["seed"] == 0
    with pytest.raises(UserError, match="not a run directory"):
        RunDir.read(path / "nope")


def test_lock_is_released_when_the_holder_dies(held):
    path, pid = held
    os.kill(pid, 9)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            RunDir.open(path).unlock()
            return
        except UserError:
            time.sleep(0.1)
    pytest.fail("the lock outlived its holder")


def test_force_refuses_a_directory_eeea_did_not_make(tmp_path):
    mine = tmp_path / "mine"
    (mine / "model").mkdir(parents=True)
    (mine / CONFIG).write_text("my: own\n")
    (mine / "model" / "weights.bin").write_bytes(b"precious")
    for cls in (SearchRun, TrainRun):
        with pytest.raises(UserError, match="not made by eeea"):
            cls.create(mine, {"seed": 0}, force=True)
    assert (mine / CONFIG).read_text() == "my: own\n" and (mine / "model" / "weights.bin").read_bytes() == b"precious"
    assert not (mine / MANIFEST).exists() and not (mine / LOCK).exists()


def test_force_removes_only_what_eeea_wrote(tmp_path):
    run = SearchRun.create(tmp_path / "run", {"seed": 0})
    run.append({"key": "a", "status": "ok", "genome": "g", "objectives": {}})
    (run.path / "notes.txt").write_text("mine\n")  # beside the run's files: neither removed nor in the way
    run.unlock()
    with pytest.raises(UserError, match="--resume"):
        SearchRun.create(run.path, {"seed": 1})
    again = SearchRun.create(run.path, {"seed": 1}, force=True)
    assert (run.path / "notes.txt").read_text() == "mine\n"
    assert not (run.path / "archive.jsonl").exists() and again.config() == {"seed": 1}


def test_a_run_that_never_started_is_reusable(tmp_path):
    run = TrainRun.create(tmp_path / "run", {"seed": 0})  # a start that failed before its first epoch
    run.unlock()
    assert TrainRun.create(run.path, {"seed": 1}).config() == {"seed": 1}  # no --force needed


def test_failed_train_start_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--arch", "eeea_c", "--out", str(out), "--data", str(tmp_path / "missing")])
    assert code == 2 and capsys.readouterr().err.count("\n") == 1
    assert not out.exists()


def test_a_config_edited_since_the_start_is_refused_on_resume(tmp_path, capsys):
    run = TrainRun.create(tmp_path / "run", {"arch": "eeea_c", "seed": 0})
    run.unlock()
    original = (run.path / CONFIG).read_text()
    config = yaml.safe_load(original)
    (run.path / CONFIG).write_text(yaml.safe_dump({**config, "seed": 7}))
    assert main(["train", "--resume", str(run.path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "changed since the run started" in err
    # eeea's own rewrite (a resume changing a resume-free key) keeps the hash in step; it never overwrites the edit
    with pytest.raises(UserError, match="not written by eeea, or changed since"):
        run.write_config({**config, "seed": 0, "threads": 2})
    (run.path / CONFIG).write_text(original)  # restored: eeea's own file again (same content)
    run.write_config({**config, "seed": 0, "threads": 2})
    assert run.config()["threads"] == 2


FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    from eeea.atomic import atomic_write_text
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full file system: writes fail with EFBIG instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    try:
        atomic_write_text(Path(sys.argv[1]), "x" * 100_000)
    except OSError as e:
        print("failed", e.errno)
""")


def test_atomic_write_on_a_full_disk_keeps_the_old_file_and_no_temporaries(tmp_path):
    target = tmp_path / "state.json"
    atomic_write_text(target, "old\n")
    out = subprocess.run([sys.executable, "-c", FULL_DISK, str(target)], capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith("failed"), out.stderr
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_atomic_writes_use_unique_temporary_names(tmp_path):
    seen = []

    def spy(path):
        seen.append(path.name)
        path.write_text("new")

    atomic_write(tmp_path / "a.txt", spy)
    atomic_write(tmp_path / "a.txt", spy)
    assert len(set(seen)) == 2 and all(n.startswith(".a.txt.") for n in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_code_task_in_a_run_config_is_imported_only_when_named_again(tmp_path, capsys):
    marker = tmp_path / "imported"
    (tmp_path / "evil_task.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    run = SearchRun.create(tmp_path / "run", {"task": "evil_task:Task", "seed": 0})
    run.unlock()
    sys.path.insert(0, str(tmp_path))
    try:
        assert main(["search", "--resume", str(run.path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "pass --task evil_task:Task again" in err
        assert not marker.exists()
        trun = TrainRun.create(tmp_path / "trun", {"dataset": "evil_task:Task", "arch": "eeea_c"})
        trun.unlock()
        assert main(["train", "--resume", str(trun.path)]) == 2
        assert "code outside eeea" in capsys.readouterr().err and not marker.exists()
    finally:
        sys.path.remove(str(tmp_path))


def test_a_kill_between_a_write_and_its_rename_or_its_append_leaves_the_file_eeeas(tmp_path, monkeypatch):
    """Records are written ahead and the one before kept: whichever side of the write a kill lands on, the file is
    as one of its last two records says (a fresh ledger, as the next process reads it, still owns it)."""
    from eeea.ledger import Ledger
    from eeea.rundir import LOG, STATE

    run = SearchRun.create(tmp_path / "run", {"seed": 0})
    run.write_state({"generation": 0})
    run.log_line("one")

    def killed_before_the_rename(tmp):
        run.ledger.record(STATE, tmp)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(run.path / STATE, lambda tmp: tmp.write_text("{}"), before_replace=killed_before_the_rename)
    assert Ledger(run.path).owns(STATE) and run.read_state() == {"generation": 0}

    ledger_at_the_kill = {}

    def killed_before_the_write(fd, data):  # what the disk holds when a kill lands here
        ledger_at_the_kill["text"] = (run.path / ".eeea-files").read_bytes()
        raise KeyboardInterrupt

    monkeypatch.setattr("eeea.ledger.os.write", killed_before_the_write)
    with pytest.raises(KeyboardInterrupt):
        run.ledger.append(LOG, b"two\n")
    monkeypatch.undo()
    kept = (run.path / ".eeea-files").read_bytes()
    (run.path / ".eeea-files").write_bytes(ledger_at_the_kill["text"])  # the record ahead, the write never made
    assert Ledger(run.path).owns(LOG)
    (run.path / ".eeea-files").write_bytes(kept)  # Ctrl-C, not a kill: the record was taken back
    assert Ledger(run.path).owns(LOG)
    run.log_line("three")  # and the next line is recorded as usual
    assert Ledger(run.path).owns(LOG) and (run.path / LOG).read_text().count("\n") == 2
    run.unlock()
