"""The costly property tests (marked ``property`` by strategies.examples) at their thorough example counts, drawn
afresh: the default run draws a few of each, the slow run all of them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


@pytest.mark.slow
def test_the_property_tests_at_their_thorough_example_counts():
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "property and not slow",
                           str(TESTS)], cwd=TESTS.parent, env={**os.environ, "HYPOTHESIS_PROFILE": "thorough"},
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert " passed" in proc.stdout and "deselected" in proc.stdout, proc.stdout[-2000:]
