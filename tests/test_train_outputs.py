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
    """The paper's rows by zoo name (rows of other runs come after them)."""
    assert main(["table", *argv, "--format", "csv"]) == 0
    rows: dict[str, dict[str, str]] = {}
    for r in csv.DictReader(io.StringIO(capsys.readouterr().out)):
        if r["eeea model"]:
            rows.setdefault(r["eeea model"], r)
    return rows


def _csv_rows(capsys, *argv: str) -> list[dict[str, str]]:
    assert main(["table", *argv, "--format", "csv"]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_table_puts_runs_of_other_recipes_apart(runs, capsys):
    """Real `eeea train` runs of the fast recipe record their budget and split, and stay out of the paper's column."""
    result = json.loads((runs / "eeea_a-s0" / "result.json").read_text())
    assert result["split"] == "test" and result["train"]["max_steps"] == 1 and result["autoaugment"] is False
    errors = [100 * json.loads((runs / f"eeea_a-s{s}" / "result.json").read_text())["test_error"] for s in (0, 1)]
    rows = _table(capsys, "cifar10", "--runs", str(runs))
    assert rows["eeea_a"]["measured error %"] == "" and rows["eeea_a"]["paper error %"] == "3.69"  # the paper's row
    other = [r for r in _csv_rows(capsys, "cifar10", "--runs", str(runs)) if r["recipe"] == "fast"]
    mean = sum(errors) / 2
    std = (sum((e - mean) ** 2 for e in errors)) ** 0.5  # sample std of two values: |a - b| / sqrt(2)
    a = next(r for r in other if r["eeea model"] == "eeea_a")
    assert a["measured error %"] == f"{mean:.2f} ± {std:.2f} (n=2)" and a["figure from"] == "test split"
    assert a["model"] == "EEEA-Net-A (β=3)" and a["params"] == ""
    b = 100 * json.loads((runs / "eeea_b-s0" / "result.json").read_text())["test_error"]
    assert next(r for r in other if r["eeea model"] == "eeea_b")["measured error %"] == f"{b:.2f} (n=1)"
    assert main(["table", "cifar10", "--runs", str(runs)]) == 0
    text = capsys.readouterr().out
    assert "Other runs: another recipe" in text and "fast" in text.split("Other runs")[1]
    rows = _table(capsys, "cifar100", "--runs", str(runs))  # the runs are CIFAR-10 runs: not in this table
    assert rows["eeea_a"]["measured error %"] == ""
    assert main(["table", "cifar100", "--runs", str(runs)]) == 0
    assert "Other runs" not in capsys.readouterr().out
    assert main(["table", "cifar10", "--runs", str(runs / "nope")]) == 2


def test_table_paper_column_holds_only_paper_recipe_runs_on_the_test_split(runs, tmp_path, capsys):
    """Tiny result.json files: the paper's recipe unchanged on the test split fills the paper's column; a changed
    option, a held-out split or a result.json without its budget (written before runs recorded it) go apart."""
    import yaml

    recipe = yaml.safe_load((REPO / "configs" / "train" / "cifar10_paper.yaml").read_text())
    base = json.loads((runs / "eeea_a-s0" / "result.json").read_text())
    from eeea.zoo import resolve_genome

    def write(name: str, error: float, **changes) -> None:
        result = {**base, "genome_key": resolve_genome("eeea_c").key, "recipe": "paper", "test_error": error,
                  "train": {**base["train"], **recipe["train"], "max_steps": None},
                  "size": {**base["size"], **recipe["size"]}, "split": "test", "test_split": "test split of DATA"}
        for key, value in changes.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = value
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text(json.dumps(result))

    write("paper-s0", 0.0250)
    write("paper-s1", 0.0270)
    write("short", 0.5, train={**base["train"], **recipe["train"], "epochs": 1, "max_steps": None})
    write("held", 0.03, split="held-out", test_split="held-out 5000 of the training images (split seed 0)")
    write("old", 0.04, train=None, split=None, test_split="held-out 50 of the training images (split seed 0)")
    rows = _csv_rows(capsys, "cifar10", "--runs", str(tmp_path))
    paper = next(r for r in rows if r["eeea model"] == "eeea_c" and r["paper error %"])  # the paper's row
    assert paper["measured error %"] == "2.60 ± 0.14 (n=2)" and paper["figure from"] == "test split"
    apart = {(r["recipe"], r["figure from"]): r["measured error %"] for r in rows
             if r["eeea model"] == "eeea_c" and not r["paper error %"]}
    assert apart == {("paper, epochs=1", "test split"): "50.00 (n=1)", ("paper", "held-out split"): "3.00 (n=1)",
                     ("paper (budget not recorded)", "held-out split"): "4.00 (n=1)"}
    assert main(["table", "cifar10", "--runs", str(tmp_path), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "| EEEA-Net-C (β=5) [" in md and "2.60 ± 0.14 (n=2) |" in md.split("Other runs")[0]
    assert "| EEEA-Net-C (β=5) | eeea_c | paper, epochs=1 | test split | 50.00 (n=1) |" in md


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
