"""Run directory: refusal to overwrite, durable append-only archive, torn-line tolerance, atomic state, front files."""
from __future__ import annotations

import json

import pytest

from eeea.search.archive import SearchRun
from eeea.errors import UserError
from eeea.genome import Genome

REC = {"key": "a" * 16, "status": "ok", "objectives": {"error": 0.5, "params": 10}, "params": 10, "macs": 20,
       "genome": "eeea:normal=max_pool_3x3@0,", "generation": 0}


def test_create_refuses_non_empty_unless_force(tmp_path):
    (tmp_path / "mine.txt").write_text("user file")
    with pytest.raises(UserError, match="not empty; pick an empty or new --out"):
        SearchRun.create(tmp_path, {"seed": 0})
    with pytest.raises(UserError, match="not made by eeea"):  # --force deletes only in eeea's own directories
        SearchRun.create(tmp_path, {"seed": 0}, force=True)
    run = SearchRun.create(tmp_path / "run", {"seed": 0})
    run.append(REC)
    (run.path / "mine.txt").write_text("user file")
    run.unlock()
    with pytest.raises(UserError, match="not empty; pass --resume .* or --force"):
        SearchRun.create(run.path, {"seed": 0})
    run = SearchRun.create(run.path, {"seed": 0}, force=True)
    assert (run.path / "mine.txt").read_text() == "user file"  # --force removes run files only
    assert run.config() == {"seed": 0} and run.read_archive() == []


def test_open_requires_a_run_directory(tmp_path):
    with pytest.raises(UserError, match="not a run directory"):
        SearchRun.open(tmp_path)


def test_append_and_read_back(tmp_path):
    run = SearchRun.create(tmp_path / "r", {})
    for i in range(3):
        run.append({**REC, "key": f"{i:016d}"})
    assert [r["key"] for r in run.read_archive()] == [f"{i:016d}" for i in range(3)]
    with pytest.raises(ValueError):  # NaN is never written: archives stay strict JSON
        run.append({**REC, "objectives": {"error": float("nan")}})


def test_torn_last_line_is_dropped_with_a_warning_and_cut_off(tmp_path):
    run = SearchRun.create(tmp_path / "r", {})
    run.append(REC)
    with open(run.path / "archive.jsonl", "a") as f:
        f.write('{"key": "bbbbbbbbbbbbbbbb", "stat')  # the kill hit mid-write
    with pytest.warns(UserWarning, match="torn last line"):
        assert [r["key"] for r in run.read_archive()] == [REC["key"]]
    run.append({**REC, "key": "c" * 16})  # appends cleanly after the cut
    lines = (run.path / "archive.jsonl").read_text().splitlines()
    assert [json.loads(x)["key"] for x in lines] == [REC["key"], "c" * 16]


def test_complete_last_line_without_newline_is_kept(tmp_path):
    run = SearchRun.create(tmp_path / "r", {})
    (run.path / "archive.jsonl").write_text(json.dumps(REC))
    assert len(run.read_archive()) == 1
    run.append({**REC, "key": "d" * 16})
    assert len(run.read_archive()) == 2


def test_corrupt_middle_line_is_an_error(tmp_path):
    run = SearchRun.create(tmp_path / "r", {})
    (run.path / "archive.jsonl").write_text("garbage\n" + json.dumps(REC) + "\n")
    with pytest.raises(UserError, match=r"archive.jsonl:1: corrupt"):
        run.read_archive()


def test_state_is_replaced_atomically(tmp_path):
    run = SearchRun.create(tmp_path / "r", {})
    run.write_state({"generation": 1})
    run.write_state({"generation": 2})
    assert run.read_state() == {"generation": 2}
    assert not list(run.path.glob("*.tmp"))


def test_front_files(tmp_path):
    run = SearchRun.create(tmp_path / "r", {})
    text = ("eeea:normal=max_pool_3x3@0,max_pool_3x3@1,max_pool_3x3@2,max_pool_3x3@2,max_pool_3x3@3,max_pool_3x3@3,"
            "max_pool_3x3@4,max_pool_3x3@4,max_pool_3x3@5,max_pool_3x3@5;reduce=max_pool_3x3@0,max_pool_3x3@1,"
            "max_pool_3x3@2,max_pool_3x3@2,max_pool_3x3@3,max_pool_3x3@3,max_pool_3x3@4,max_pool_3x3@4,"
            "max_pool_3x3@5,max_pool_3x3@5")
    rec = {**REC, "genome": text}
    run.write_front([rec], ["error", "params"], "eeea", [[0.5, 10], [0.7, 12]])
    assert (run.path / "pareto.csv").read_text().splitlines()[0] == "rank,key,error,params,macs,status,checkpoint,genome"
    assert (run.path / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    (genome_file,) = (run.path / "genomes").iterdir()
    assert Genome.load(genome_file) == Genome.from_text(text)
