"""A search speaks at once: its first line names the run directory, which already holds the config and the log's first
line (so an interrupted start can be resumed), before any candidate is trained."""
from __future__ import annotations

import subprocess
import sys

import yaml


def test_the_first_line_comes_with_the_run_directory(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "eeea.cli", "search", "--max-params", "72k", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"{out}: start: ser on space audio_union"), line
        assert yaml.safe_load((out / "config.yaml").read_text())["max_params"] == 72_000
        assert "start: ser on space audio_union" in (out / "log.txt").read_text()
        assert not (out / "archive.jsonl").exists() or not (out / "archive.jsonl").read_text()
    finally:
        proc.kill()
        proc.wait()


def test_the_search_and_its_workers_import_no_plotting_or_profiling_library():
    code = ("import sys, eeea.cli, eeea.search.loop, eeea.search.executors, eeea.tasks, eeea.zoo, eeea.counting; "
            "from eeea import count_macs, resolve_genome; count_macs(resolve_genome('eeea_c')); "
            "print(sorted(m for m in ('matplotlib', 'thop') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
