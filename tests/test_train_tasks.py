"""``eeea train`` beyond CIFAR: ImageNet-style image folders (MobileNetV3 and cell genomes) and speech-emotion
students, whose run directory's model is a teacher for ``eeea label``."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from eeea.cli import main
from eeea.train.trainer import TIMING, train_command


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    """train/ and val/ of 3 classes, PNGs of different sizes (40-79 px), as ImageNet folders are."""
    from PIL import Image

    root = tmp_path_factory.mktemp("imagenet_like")
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("val", 2)):
        for c in range(3):
            folder = root / split / f"n0{c}"
            folder.mkdir(parents=True)
            for i in range(n):
                h, w = rng.integers(40, 80, 2)
                Image.fromarray(rng.integers(0, 256, (h, w, 3)).astype(np.uint8)).save(folder / f"{i}.png")
    return root


def _result(run: Path) -> dict:
    return json.loads((run / "result.json").read_text())


def test_imagefolder_mobilenet_genome_at_its_resolution(tmp_path, image_folder):
    run = tmp_path / "c1"
    assert main(["train", "--dataset", "imagefolder", "--data", str(image_folder), "--arch", "eeea_c1",
                 "--input-size", "64", "--epochs", "2", "--batch-size", "4", "--out", str(run), "--quiet"]) == 0
    result = _result(run)
    assert result["size"] == {"num_classes": 3, "input_size": 64, "dropout": 0.0}
    assert result["test_split"] == f"val/ of {image_folder}" and len(result["genome"]) > 0
    from eeea.checkpoint import load_checkpoint

    genome, size, model = load_checkpoint(run / "model")
    assert genome.name == "eeea_c1" and model(torch.zeros(1, 3, 64, 64)).shape == (1, 3)
    notes = (run / "log.txt").read_text()
    assert "takes no auxiliary, channels, layers; ignored" in notes  # the fast recipe's cell sizes


def test_imagefolder_cell_genome_uses_the_imagenet_network(tmp_path, image_folder, capsys):
    run = tmp_path / "cells"
    argv = ["train", "--dataset", "imagefolder", "--data", str(image_folder), "--arch", "eeea_c", "--channels", "4",
            "--layers", "3", "--input-size", "64", "--epochs", "1", "--batch-size", "4", "--out", str(run), "--quiet"]
    assert main(argv) == 2  # the auxiliary head needs a larger input: one line, not a traceback
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot run at input 3x64x64" in err
    assert main([*argv, "--no-auxiliary", "--force"]) == 0
    assert _result(run)["size"]["network"] == "imagenet"


def test_imagefolder_without_val_holds_out_part_of_train(tmp_path, image_folder):
    flat = tmp_path / "flat"
    import shutil

    shutil.copytree(image_folder / "train", flat / "train")
    run = tmp_path / "run"
    assert main(["train", "--dataset", "imagefolder", "--data", str(flat), "--arch", "eeea_c1", "--input-size", "48",
                 "--epochs", "1", "--batch-size", "4", "--holdout", "0.25", "--out", str(run), "--quiet"]) == 0
    assert "held-out 4 of the training images" in _result(run)["test_split"]


def test_ser_student_trains_resumes_exactly_and_teaches(tmp_path, capsys):
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    flags = {"arch": "wav2small_17k", "dataset": "ser", "train": {"epochs": 2, "max_steps": 2}}
    torch.set_num_threads(2)
    try:  # no --threads: the search's rule, one thread
        assert train_command(str(whole), None, None, flags, quiet=True) is not None
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(1)
    metrics = [json.loads(x) for x in (whole / "metrics.jsonl").read_text().splitlines()]
    assert all(r["clips_per_s"] > 0 and "img_per_s" not in r for r in metrics)  # a SER training counts clips
    assert train_command(str(stopped), None, None, flags, quiet=True, stop_after=1) is None
    assert main(["train", "--resume", str(stopped), "--quiet"]) == 0
    a, b = (torch.load(r / "model" / "weights.pt", weights_only=True) for r in (whole, stopped))
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = [[{k: v for k, v in json.loads(x).items() if k not in TIMING}
             for x in (r / "metrics.jsonl").read_text().splitlines()] for r in (whole, stopped)]
    assert rows[0] == rows[1] and len(rows[0]) == 2
    result = _result(whole)
    assert result["dataset"] == "ser" and result["params"] == 10806
    assert {"test_ccc_arousal", "test_ccc_dominance", "test_ccc_valence", "test_ccc", "1-ccc"} <= set(result)
    assert "test speakers 03, 08, 16" in result["test_split"]

    # the run loads by its directory (its model checkpoint), with the checkpoint's outputs
    import eeea
    from eeea.checkpoint import load_checkpoint

    x = torch.randn(2, 16000, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = load_checkpoint(whole / "model")[2](x)
        for model in (eeea.create_model(whole), eeea.create_model(whole / "model")):
            torch.testing.assert_close(model(x), expected, rtol=0, atol=0)

    # the run's model directory is an eeea checkpoint: a teacher for eeea label
    import soundfile as sf

    from eeea.data.emodb import load_emodb

    clips = load_emodb()
    audio = tmp_path / "audio"
    audio.mkdir()
    for name, wave in list(zip(clips.names, clips.waves))[:3]:
        sf.write(audio / f"{Path(name).stem}.wav", wave, 16000)
    labels = tmp_path / "labels.csv"
    assert main(["label", "--teacher", str(whole / "model"), "--audio", str(audio), "--out", str(labels),
                 "--quiet"]) == 0
    with labels.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and all(np.isfinite(float(r["valence"])) for r in rows)


def test_ser_trains_on_teacher_labels(tmp_path):
    from eeea.data.emodb import load_emodb

    clips = load_emodb()
    labels = tmp_path / "labels.csv"
    rng = np.random.default_rng(0)
    with labels.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "arousal", "dominance", "valence"])
        w.writerows([n, *rng.random(3).round(4)] for n in clips.names)
    run = tmp_path / "run"
    assert main(["train", "--task", "ser", "--arch", "wav2small_17k", "--labels", str(labels), "--epochs", "1",
                 "--max-steps", "1", "--out", str(run), "--quiet"]) == 0
    import yaml

    assert yaml.safe_load((run / "config.yaml").read_text())["labels"] == str(labels.resolve())
    assert _result(run)["epochs"] == 1
