"""benchmarks/gpu_suite.py in its CPU smoke mode: the GPU suite's code paths run on every test run, so the one command
a GPU session runs cannot rot. The figures are meaningless here; only that each part produces its rows is checked."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "benchmarks" / "gpu_suite.py"


def _smoke(out: Path, *flags: str) -> list[dict]:
    done = subprocess.run([sys.executable, str(SUITE), "--device", "cpu", "--smoke", "--out", str(out), *flags],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "figures.jsonl").read_text().splitlines()]
    assert (out / "figures.csv").read_text().count("\n") == len(rows) + 1  # a header, then the same rows
    assert not [r for r in rows if r["figure"] in ("failed", "skipped")], rows
    return rows


def test_smoke_runs_the_in_process_parts(tmp_path):
    rows = _smoke(tmp_path, "--only", "a,b,c")
    figures = {(r["part"], r["figure"]) for r in rows}
    assert {("a", "one search candidate, fp32"), ("a", "one search candidate, bf16+channels_last")} <= figures
    assert ("b", "candidates per minute, 2 at once") in figures
    assert {("c", f"eeea_c train img/s, {lever}") for lever in ("fp32", "bf16", "bf16+cl")} <= figures
    assert ("c", "eeea_c train img/s, bf16+cl") in {(r["part"], r["figure"]) for r in rows if r["value"] != "-"}
    assert rows[-1]["figure"] == "suite wall time"


@pytest.mark.slow
@pytest.mark.long  # the CLI parts: five subprocess runs of eeea (two SER searches) take minutes on a busy CPU
def test_smoke_runs_every_part_through_the_cli(tmp_path):
    rows = _smoke(tmp_path / "out", "--only", "d,e")
    assert [r["value"] for r in rows if r["part"] == "e" and r["figure"].startswith("eeea")] == ["ok", "ok"]
    d = [r for r in rows if r["part"] in ("d1", "d2") and "search wall time" in r["figure"]]
    assert len(d) == 2 and all("not finished" not in r["figure"] for r in d)


def test_figures_are_recorded_under_the_machine_they_came_from(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import _results
    import gpu_suite

    monkeypatch.setattr(_results, "RESULTS", tmp_path / "RESULTS.md")
    lines = [{"part": "-", "figure": "suite", "value": "NVIDIA H200, torch 2.11.0", "unit": "", "reference": "",
              "note": "smoke=False command: --device cuda --data .data/cifar10-train.zip", "at_s": 0},
             {"part": "c", "figure": "eeea_c train img/s, bf16", "value": 3000.5, "unit": "img/s",
              "reference": "release 623", "note": "", "at_s": 9},
             {"part": "d2", "figure": "skipped", "value": "-", "unit": "", "reference": "", "note": "", "at_s": 9}]
    path = tmp_path / "figures.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    gpu_suite.main(["--record-from", str(path)])
    text = (tmp_path / "RESULTS.md").read_text()
    assert "## gpu_suite" in text and "NVIDIA H200, torch 2.11.0" in text and "3000.5 img/s" in text
    assert "python benchmarks/gpu_suite.py --device cuda --data .data/cifar10-train.zip" in text
    assert "skipped" not in text
