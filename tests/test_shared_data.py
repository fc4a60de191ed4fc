"""The real-data folder of tests and benchmarks: ``EEEA_SHARED`` names it (default ``../shared``), and tests that need
it skip with a message naming the variable when it is missing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from shared_data import ENV, shared_folder

REPO = Path(__file__).resolve().parents[1]


def test_eeea_shared_names_the_folder_and_defaults_to_the_sibling_shared(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, str(tmp_path))
    assert shared_folder() == tmp_path
    monkeypatch.delenv(ENV)
    assert shared_folder() == REPO.parent / "shared"


def test_a_test_needing_real_data_skips_naming_the_variable(tmp_path):
    missing = tmp_path / "nowhere"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "tests/test_zoo.py::test_all_published_genotypes_are_registered"], cwd=REPO,
                          env={**os.environ, ENV: str(missing)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert f"real data folder {missing} not found: set EEEA_SHARED=/path/to/shared (see README)" in done.stdout
