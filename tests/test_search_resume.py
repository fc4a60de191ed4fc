"""Resume: a real ``eeea search`` killed with SIGKILL mid-run, then resumed, ends with the uninterrupted run's front
and retrains nothing that had finished."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from search_helpers import TINY_FLAGS

from process_helpers import run_and_kill

from eeea.cli import main

torch.set_num_threads(1)


def _lines(run) -> list[dict]:
    path = run / "archive.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_kill_9_then_resume_gives_the_uninterrupted_front(tiny_reference, tmp_path, capsys):
    """The tiny search (4 + 4 candidates) killed once 2 are archived; the uninterrupted run is the session's."""
    reference, killed = tiny_reference, tmp_path / "killed"
    run_and_kill(["search", "--out", str(killed), *TINY_FLAGS], lambda: len(_lines(killed)) >= 2, 240,
                 "archive lines")
    before = (killed / "archive.jsonl").read_text().splitlines()
    done_before = {json.loads(x)["key"] for x in before if x.endswith("}")}
    assert 2 <= len(done_before) < 8

    assert main(["search", "--resume", str(killed), "--quiet"]) == 0

    assert (killed / "pareto.csv").read_text() == (reference / "pareto.csv").read_text()
    assert sorted(p.name for p in (killed / "genomes").iterdir()) == \
        sorted(p.name for p in (reference / "genomes").iterdir())
    resumed = _lines(killed)
    keys = [r["key"] for r in resumed]
    assert len(keys) == len(set(keys)) == 8  # nothing finished was trained twice
    assert set(keys) == {r["key"] for r in _lines(reference)}
    ref = {r["key"]: r["objectives"] for r in _lines(reference)}
    assert all(r["objectives"] == ref[r["key"]] for r in resumed)  # results do not depend on the interruption
    state = json.loads((killed / "state.json").read_text())
    assert state["finished"] and state["trained_this_session"] == 8 - len(done_before)


def test_resume_tolerates_a_torn_line_and_refuses_another_config(tiny_reference, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_reference, run)  # a finished run of one generation
    n = len(_lines(run))
    with open(run / "archive.jsonl", "a") as f:
        f.write('{"key": "0123456789abcdef", "objec')
    assert main(["search", "--resume", str(run), "--seed", "7"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "started with seed=0, this command asks for 7" in err
    with pytest.warns(UserWarning, match="torn last line"):
        assert main(["search", "--resume", str(run), "--quiet", "--generations", "2"]) == 0
    lines = _lines(run)
    assert len(lines) == n + 4 and len({r["key"] for r in lines}) == n + 4  # extended by one generation


def test_resume_needs_a_run_directory(tmp_path, capsys):
    assert main(["search", "--resume", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
