"""What the CLI prints: --quiet keeps the result and the run directory, --silent prints nothing, no progress-bar
escape codes when output is not a terminal, and Ctrl-C says what was saved and the exact --resume command."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from train_helpers import write_image_folder

from eeea.cli import main

NET = ["--arch", "eeea_c", "--channels", "4", "--layers", "3", "--batch-size", "16", "--max-steps", "2",
       "--threads", "1"]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("cifarlike"))


def test_quiet_prints_the_result_silent_nothing_and_no_bars_off_a_terminal(tmp_path, tiny_data, capsys):
    flags = [*NET, "--epochs", "1", "--data", str(tiny_data)]
    assert main(["train", "--out", str(tmp_path / "a"), *flags]) == 0
    out, err = capsys.readouterr()
    assert "\r" not in out + err and "\x1b" not in out + err  # stdout is not a terminal here: no progress bars
    assert main(["train", "--out", str(tmp_path / "b"), *flags, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "test accuracy" in out and f"run directory: {tmp_path / 'b'}" in out and err == ""
    assert main(["train", "--out", str(tmp_path / "c"), *flags, "--silent"]) == 0
    assert capsys.readouterr() == ("", "")


def test_ctrl_c_says_what_was_saved_and_how_to_resume(tmp_path, tiny_data):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "eeea.cli", "train", "--out", str(run), *NET, "--epochs", "200",
                             "--data", str(tiny_data), "--quiet"], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while not (run / "checkpoint.pt").exists():
        assert proc.poll() is None and time.time() < deadline, "no epoch finished"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "saved: checkpoint.pt" in lines[0], err
    assert lines[0].endswith(f"continue with: eeea train --resume {run}")
    assert "interrupted by the user" in (run / "log.txt").read_text()
    from eeea.train.trainer import TrainRun

    TrainRun.open(run).unlock()  # the run is not locked any more (resuming it would train the remaining epochs)


def test_int8_of_untrained_weights_is_refused_with_the_way_forward(tmp_path, capsys):
    assert main(["export", "wav2small_17k", "--format", "onnx-int8", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "train it first" in err and not (tmp_path / "m.onnx").exists()


def test_the_export_line_printed_after_a_search_works_as_printed(tmp_path, capsys, monkeypatch):
    from eeea.cli import export_line
    from eeea.zoo import resolve_genome

    genome = resolve_genome("wav2small_17k")
    (tmp_path / "genomes").mkdir()
    genome.save(tmp_path / "genomes" / f"00_{genome.key}.yaml")
    line = export_line(tmp_path, 0, {"key": genome.key, "status": "ok"})
    command = line.split("export its architecture now (untrained weights): ")[1].split()
    assert command[:2] == ["eeea", "export"] and "onnx-int8" not in command
    monkeypatch.chdir(tmp_path)
    assert main(command[1:]) == 0
    assert (tmp_path / f"{genome.key}.onnx").stat().st_size > 0
    assert f"eeea train --arch {tmp_path / 'genomes'}" in line


def test_log_txt_prints_figures_as_the_tables_do(tiny_reference, tmp_path, tiny_data):
    """Counts with grouped digits (5,050 params, never 5.05e+03), errors and losses with four fixed decimals."""
    import re

    search = (tiny_reference / "log.txt").read_text()
    candidates = [line for line in search.splitlines() if " gen 0 " in line]
    assert candidates, search
    for line in candidates:
        assert re.search(r" error=\d\.\d{4} ", line) and re.search(r" params=\d{1,3}(,\d{3})+ ", line), line
        assert re.search(r" macs=\d{1,3}(,\d{3})+ in ", line), line
    assert re.search(r"best error \d\.\d{4},", search) and "EE-PI draws=" in search
    assert "e+0" not in search and "e-0" not in search
    flags = [*NET, "--epochs", "1", "--data", str(tiny_data), "--quiet"]
    assert main(["train", "--out", str(tmp_path / "t"), *flags]) == 0
    train = (tmp_path / "t" / "log.txt").read_text()
    epoch = next(line for line in train.splitlines() if " epoch=1 " in line)
    assert re.search(r" lr=0\.\d{6} train_loss=\d+\.\d{4} ", epoch), epoch
    assert re.search(r" test_error=\d\.\d{4} ", epoch), epoch
    assert re.search(r" seconds=[\d,]+\.\d ", epoch) and "e+0" not in train and "e-0" not in train
    assert re.search(r"finished: train_loss=\d+\.\d{4}, ", train), train
