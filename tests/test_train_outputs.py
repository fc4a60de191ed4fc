"""What a training run feeds: ``eeea table --runs`` and an ONNX export checked in a fresh process outside the repo."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from train_helpers import write_image_folder

from eeea.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two seeds of eeea_a and one of eeea_b, one step each (tiny network) on a CIFAR-like folder."""
    root = tmp_path_factory.mktemp("runs")
    data = write_image_folder(root / "data", per_class=2, test=1)
    for arch, seed in (("eeea_a", 0), ("eeea_a", 1), ("eeea_b", 0)):
        assert main(["train", "--arch", arch, "--seed", str(seed), "--data", str(data), "--channels", "4",
                     "--layers", "3", "--epochs", "1", "--max-steps", "1", "--batch-size", "8", "--threads", "1",
                     "--out", str(root / "runs" / f"{arch}-s{seed}"), "--quiet"]) == 0
    return root / "runs"


def _table(capsys, *argv: str) -> dict[str, dict[str, str]]:
    assert main(["table", *argv, "--format", "csv"]) == 0
    return {r["eeea model"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out)) if r["eeea model"]}


def test_table_runs_fills_the_measured_error(runs, capsys):
    errors = [100 * json.loads((runs / f"eeea_a-s{s}" / "result.json").read_text())["test_error"] for s in (0, 1)]
    rows = _table(capsys, "cifar10", "--runs", str(runs))
    mean = sum(errors) / 2
    std = (sum((e - mean) ** 2 for e in errors)) ** 0.5  # sample std of two values: |a - b| / sqrt(2)
    assert rows["eeea_a"]["measured error %"] == f"{mean:.2f} ± {std:.2f} (n=2)"
    b = 100 * json.loads((runs / "eeea_b-s0" / "result.json").read_text())["test_error"]
    assert rows["eeea_b"]["measured error %"] == f"{b:.2f} (n=1)"
    assert rows["eeea_c"]["measured error %"] == ""  # no run
    rows = _table(capsys, "cifar100", "--runs", str(runs))  # the runs are CIFAR-10 runs: not in this table
    assert rows["eeea_a"]["measured error %"] == ""
    assert main(["table", "cifar10", "--runs", str(runs / "nope")]) == 2


def test_onnx_export_of_a_run_checked_outside_the_repo(runs, tmp_path, capsys):
    model = runs / "eeea_a-s0" / "model"
    onnx_file = tmp_path / "eeea_a.onnx"
    assert main(["export", str(model), "--out", str(onnx_file)]) == 0
    script = textwrap.dedent(f"""
        import numpy as np, onnxruntime as ort, torch, yaml
        import os
        assert not os.getcwd().startswith({str(REPO)!r}), "must run outside the repository"
        from eeea import create_model
        genome_file = {str(model / "genome.yaml")!r}
        size = yaml.safe_load(open(genome_file))["meta"]["size"]
        net = create_model(genome_file, **size).eval()
        net.load_state_dict(torch.load({str(model / "weights.pt")!r}, weights_only=True))
        x = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
        session = ort.InferenceSession({str(onnx_file)!r}, providers=["CPUExecutionProvider"])
        got = session.run(None, {{session.get_inputs()[0].name: x}})[0]
        with torch.no_grad():
            want = net(torch.from_numpy(x)).numpy()
        assert got.shape == want.shape == (3, 10), got.shape
        print("max diff", float(np.abs(got - want).max()))
        assert np.allclose(got, want, atol=1e-4), float(np.abs(got - want).max())
    """)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    proc = subprocess.run([sys.executable, "-c", script], cwd=outside, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "max diff" in proc.stdout
    assert not str(outside).startswith(str(REPO))
