"""``eeea train`` on CIFAR-style data: run directory, bit-exact resume (also after SIGKILL), recipes, bad input."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml
from train_helpers import write_image_folder

from process_helpers import run_and_kill

from eeea.cli import main
from eeea.train.config import resolve_train_config
from eeea.train.trainer import train_command

# A tiny cell network: 3 epochs of 3 steps of 16 images.
NET = ["--arch", "eeea_c", "--channels", "4", "--layers", "3", "--batch-size", "16", "--epochs", "3",
       "--max-steps", "3", "--threads", "1", "--quiet"]
from eeea.train.trainer import TIMING


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("cifarlike"))


@pytest.fixture()
def TINY(tiny_data) -> list[str]:
    return [*NET, "--data", str(tiny_data)]


def _state(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "model" / "weights.pt", weights_only=True)


def _equal_weights(expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor]) -> bool:
    """Every tensor of ``expected`` is in ``got``, bit for bit (each state read once: a read per key took seconds)."""
    return all(torch.equal(v, got[k]) for k, v in expected.items())


def _rows(run: Path) -> list[dict]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def test_run_directory_holds_every_output(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *NET]) == 0  # the embedded CIFAR-10 subset
    assert {p.name for p in run.iterdir()} == {"config.yaml", "checkpoint.pt", "metrics.csv", "metrics.jsonl",
                                               "model", "result.json", "log.txt", ".eeea-run", ".eeea-lock",
                                               ".eeea-files"}
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["train"]["epochs"] == 3 and config["size"] == {"channels": 4, "layers": 3, "auxiliary": True}
    assert config["train"]["lr"] == 0.05 and config["recipe"] == "fast"  # the fast recipe under the flags
    result = json.loads((run / "result.json").read_text())
    assert result["genome_name"] == "eeea_c" and result["dataset"] == "cifar10" and result["epochs"] == 3
    assert 0 <= result["test_acc"] <= 1 and result["test_error"] == pytest.approx(1 - result["test_acc"])
    assert "held-out" in result["test_split"]  # the embedded subset has no test split
    from eeea import create_model

    model = create_model("eeea_c", channels=4, layers=3, num_classes=10, auxiliary=True)
    assert result["params"] == sum(p.numel() for n, p in model.named_parameters() if "auxiliary" not in n)
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"lr", "train_loss", "train_acc", "test_acc", "seconds", "img_per_s"} <= set(rows[0])
    assert float(rows[0]["lr"]) > float(rows[2]["lr"])  # cosine decay
    assert float(rows[-1]["test_acc"]) == result["test_acc"]
    state = torch.load(run / "checkpoint.pt", weights_only=True)  # plain data only
    assert state["epoch"] == 3 and set(state) >= {"model", "optimizer", "scheduler", "rng", "metrics"}
    from eeea.checkpoint import load_checkpoint

    genome, size, loaded = load_checkpoint(run / "model")
    assert genome.name == "eeea_c" and size["channels"] == 4
    assert _equal_weights(_state(run), loaded.state_dict())
    assert "epoch=3" in (run / "log.txt").read_text()


def test_resume_is_bit_exact(tmp_path, TINY, tiny_data):
    """N epochs uninterrupted vs. k epochs, stop, resume to N: the same weights and metrics, bit for bit."""
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert main(["train", "--out", str(whole), *TINY]) == 0
    flags = {"arch": "eeea_c", "size": {"channels": 4, "layers": 3}, "data": str(tiny_data),
             "train": {"batch_size": 16, "epochs": 3, "max_steps": 3}, "threads": 1}
    assert train_command(str(stopped), None, None, flags, quiet=True, stop_after=1) is None
    assert torch.load(stopped / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert not (stopped / "result.json").exists() and len(_rows(stopped)) == 1
    assert main(["train", "--resume", str(stopped), "--quiet"]) == 0
    assert _equal_weights(_state(whole), _state(stopped))
    assert _rows(stopped) == _rows(whole)
    a, b = (json.loads((r / "result.json").read_text()) for r in (whole, stopped))
    assert a["test_acc"] == b["test_acc"] and a["train_loss"] == b["train_loss"]


def test_resume_refuses_another_training(tmp_path, capsys, tiny_data):
    run = tmp_path / "run"
    flags = {"arch": "eeea_c", "size": {"channels": 4, "layers": 3}, "data": str(tiny_data),
             "train": {"batch_size": 16, "max_steps": 1}}
    assert train_command(str(run), None, None, flags, quiet=True, stop_after=0) is None
    assert main(["train", "--resume", str(run), "--drop-path", "0.3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "started with train.drop_path=0.1" in err
    assert main(["train", "--resume", str(run), "--out", str(tmp_path / "other")]) == 2


def test_kill_9_then_resume_matches_the_uninterrupted_run(tmp_path, TINY):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    flags = TINY  # 3 epochs: killed in the second, while it trains, as soon as the first checkpoint is saved
    run_and_kill(["train", "--out", str(killed), *flags], (killed / "checkpoint.pt").exists, 120, "checkpoint")
    done = torch.load(killed / "checkpoint.pt", weights_only=True)["epoch"]
    assert 1 <= done < 3 and not (killed / "result.json").exists()
    assert main(["train", "--out", str(whole), *flags]) == 0
    assert main(["train", "--resume", str(killed)]) == 0
    assert _equal_weights(_state(whole), _state(killed))
    assert _rows(killed) == _rows(whole)


def test_refuses_to_overwrite_and_force_starts_over(tmp_path, capsys, TINY):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine\n")
    assert main(["train", "--out", str(run), *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not empty" in err
    assert main(["train", "--out", str(run), *TINY, "--force"]) == 2  # not eeea's directory: nothing deleted
    assert "not made by eeea" in capsys.readouterr().err
    (run / "notes.txt").unlink()
    assert main(["train", "--out", str(run), *TINY, "--epochs", "1", "--max-steps", "1"]) == 0
    (run / "notes.txt").write_text("mine\n")
    assert main(["train", "--out", str(run), *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not empty" in err and "--force" in err
    assert main(["train", "--out", str(run), *TINY, "--epochs", "1", "--force"]) == 0
    assert (run / "notes.txt").read_text() == "mine\n"  # --force removes run files only
    assert json.loads((run / "result.json").read_text())["epochs"] == 1
    assert main(["train", "--resume", str(run)]) == 0  # a finished run: nothing left to do
    assert len(_rows(run)) == 1


@pytest.mark.parametrize("argv, message", [
    (["--arch", "no_such_net"], "not a zoo name"),
    (["--arch", "eeea_c", "--dataset", "mnist"], "unknown data set 'mnist'"),
    (["--arch", "eeea_c", "--recipe", "nope"], "no recipe 'nope'"),
    (["--arch", "eeea_c", "--data", "/no/such/folder"], "no cifar10 data there"),
    (["--arch", "eeea_c", "--dataset", "cifar100"], "no embedded subset"),
    (["--arch", "eeea_c", "--dataset", "imagefolder"], "needs --data"),
    (["--arch", "eeea_c", "--batch-size", "0"], "must be an integer >= 1"),
    (["--arch", "eeea_c", "--device", "cuda"] if not torch.cuda.is_available() else ["--arch", "x"], ""),
    (["--arch", "wav2small_17k", "--task", "ser", "--recipe", "paper"], "no recipe 'paper' for ser"),
    (["--arch", "wav2small_17k", "--task", "ser", "--cutout", "8"], "unknown option 'cutout' for ser"),
    (["--epochs", "1"], "--arch is required"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    assert main(["train", "--out", str(tmp_path / "run"), "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eeea: error: ") and err.count("\n") == 1 and message in err


def test_bad_config_key_and_resume_of_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("arch: eeea_c\ntrain: {epochs: 1, learning_rate: 0.1}\n")
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "unknown option 'learning_rate'" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a training run directory" in capsys.readouterr().err


def test_paper_recipe_is_the_reference(tmp_path):
    config = resolve_train_config(None, {"arch": "eeea_c", "recipe": "paper"})
    assert config["size"] == {"channels": 36, "layers": 20, "auxiliary": True}
    assert config["train"] == {
        "epochs": 600, "batch_size": 96, "lr": 0.025, "momentum": 0.9, "nesterov": False, "weight_decay": 3e-4,
        "cutout": 16, "auxiliary_weight": 0.4, "grad_clip": 5.0, "drop_path": 0.2, "max_steps": None,
        "eval_batch_size": 500,
    }
    c100 = resolve_train_config(None, {"arch": "eeea_c", "recipe": "paper", "dataset": "cifar100"})
    assert c100["train"]["batch_size"] == 128 and c100["train"]["epochs"] == 600
    mine = tmp_path / "mine.yaml"  # a --config file over the recipe, flags over both
    mine.write_text("recipe: paper\ntrain: {epochs: 2, lr: 0.1}\n")
    config = resolve_train_config(str(mine), {"arch": "eeea_c", "train": {"lr": 0.01}})
    assert config["train"]["epochs"] == 2 and config["train"]["lr"] == 0.01 and config["train"]["batch_size"] == 96


def test_bf16_channels_last_and_autoaugment_on_the_cpu(tmp_path, TINY):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY, "--epochs", "1", "--amp", "bf16", "--channels-last",
                 "--autoaugment"]) == 0
    result = json.loads((run / "result.json").read_text())
    assert result["amp"] == "bfloat16" and 0 <= result["test_acc"] <= 1
    assert result["test_split"].startswith("test/ of")  # the folder's own test split
    assert all(torch.isfinite(v.float()).all() for v in _state(run).values())


@pytest.mark.slow
def test_cifar_folder_with_its_test_split(tmp_path, shared_dir):
    """The real CIFAR-10 JPEG copy: train zip + the test zip as --test-data (one step; the test set is read whole)."""
    run = tmp_path / "run"
    data = shared_dir / "data"
    assert main(["train", "--out", str(run), *NET, "--epochs", "1", "--max-steps", "1", "--data",
                 str(data / "cifar10-train.zip"), "--test-data", str(data / "cifar10-test.zip")]) == 0
    result = json.loads((run / "result.json").read_text())
    assert result["test_split"].startswith("test data") and "held-out" not in result["test_split"]


@pytest.mark.slow
@pytest.mark.long
def test_compile_on_the_cpu(tmp_path, TINY):
    """torch.compile on the CPU (inductor builds C++ kernels: minutes) trains and saves plain weights."""
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY, "--epochs", "1", "--max-steps", "2", "--compile"]) == 0
    assert not any(k.startswith("_orig_mod") for k in _state(run))


def test_test_data_flag_supplies_the_test_split(tmp_path, tiny_data):
    import shutil

    train_only = tmp_path / "train_only"
    shutil.copytree(tiny_data / "train", train_only / "train")
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *NET, "--epochs", "1", "--max-steps", "1", "--data", str(train_only),
                 "--test-data", str(tiny_data)]) == 0
    assert json.loads((run / "result.json").read_text())["test_split"] == f"test data {tiny_data}"
