"""The default search: ``eeea search --max-params 72k`` searches wav2small and mobilenet_audio students (the
audio_union space, wav2small_17k in the first population, int8 files within 80 KB) on the embedded EmoDB subset.

Run with tiny overrides (population 2, no or one offspring generation, 1 epoch): the CLI wiring, the task-specific
config, saved trained weights of evaluated candidates, the printed front and its export line, resume, bad input."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import torch
import yaml

from eeea import Genome, UserError, get_space, resolve_genome
from eeea.checkpoint import is_checkpoint, load_checkpoint
from eeea.cli import main
from eeea.config import load_config_file
from eeea.search.config import resolve_config
from eeea.tasks.ser import DEFAULT_BUDGET, SEARCH_CLIPS_PER_EPOCH

torch.set_num_threads(1)
CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "search"
TINY = ["--population", "2", "--generations", "0", "--epochs", "2", "--workers", "1", "--device", "cpu"]


def _archive(run) -> list[dict]:
    return [json.loads(x) for x in (run / "archive.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """``eeea search --max-params 72k`` (plus the tiny budget) with no --out: a new run directory under ./runs. Its
    output goes to no terminal, as when piped; what it wrote to stderr is kept beside ./runs in ``stderr.txt``."""
    import contextlib
    import io

    cwd, out, err = os.getcwd(), io.StringIO(), io.StringIO()
    os.chdir(tmp_path_factory.mktemp("ser"))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert main(["search", "--max-params", "72k", *TINY]) == 0
        (run,) = (Path.cwd() / "runs").iterdir()
        (Path.cwd() / "stderr.txt").write_text(err.getvalue())
    finally:
        os.chdir(cwd)
    assert run.name.startswith("ser-") and f"run directory: runs/{run.name}" in out.getvalue()
    return run, out.getvalue().replace(f"runs/{run.name}", str(run))


def test_default_search_is_ser_on_the_audio_union_with_the_task_budget(default_run):
    run, _ = default_run
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["task"] == "ser" and config["space"] == "audio_union"
    assert config["max_params"] == 72_000 and config["max_macs"] == 400_000_000
    assert config["max_model_bytes"] == 80_000 and config["initial_genomes"] == ["wav2small_17k"]
    # the ser budget (not the image TrainConfig), with the search's clip budget per epoch
    assert config["train"] == {**DEFAULT_BUDGET, "epochs": 2, "clips_per_epoch": SEARCH_CLIPS_PER_EPOCH}
    assert config["task_config"]["test_speakers"] is None and config["checkpoints"] is True  # EmoDB's, from the data
    log = (run / "log.txt").read_text()  # the search selects on the validation speakers, never the test ones
    assert "valid speakers 11, 13 (28 clips)" in log and "test speakers 03, 08, 16" in log
    split = json.loads((run / "state.json").read_text())["data"]["split"]  # the split, recorded in the run
    assert split["valid"] == {"clips": 28, "speakers": ["11", "13"]} and split["test"]["speakers"] == ["03", "08", "16"]
    assert config["threads"] == 1 and resolve_config({})["workers"] == 2
    space = get_space("audio_union")
    records = _archive(run)
    assert len(records) == 2
    assert resolve_genome("wav2small_17k").to_text() in {r["genome"] for r in records}  # the known-good layout
    assert "initial population: includes wav2small_17k" in log
    for r in records:
        assert r["status"] == "ok" and r["params"] <= 72_000 and r["macs"] <= 400_000_000
        assert 0 <= r["objectives"]["1-ccc"] <= 2
        assert {"ccc_arousal", "ccc_dominance", "ccc_valence", "ccc"} <= set(r["extra"])
        genome = Genome.from_text(r["genome"])
        assert space.count_params(genome) == r["params"]
        # trained weights of every evaluated candidate, loadable, scoring what the archive says
        assert r["checkpoint"] == f"checkpoints/{r['key']}" and is_checkpoint(run / r["checkpoint"])
        loaded, size, model = load_checkpoint(run / r["checkpoint"])
        assert loaded == genome and size == {"seconds": 5.0, "outputs": 3}
        trained, fresh = model.state_dict(), space.build(genome).state_dict()
        assert any(not torch.equal(trained[k], fresh[k]) for k in trained if k.endswith("weight"))
    with open(run / "pareto.csv") as f:
        front = list(csv.DictReader(f))
    archive = {r["key"]: r for r in _archive(run)}
    for row in front:  # the per-dimension CCCs and the trained checkpoint beside each front member
        r = archive[row["key"]]
        assert float(row["ccc_valence"]) == pytest.approx(r["extra"]["ccc_valence"], abs=1e-6)
        assert row["checkpoint"] == r["checkpoint"]


def test_front_printout_names_params_macs_ccc_per_dimension_and_a_working_export(default_run, tmp_path, capsys):
    run, printed = default_run
    header = next(line for line in printed.splitlines() if line.startswith("rank"))
    for column in ("params", "macs", "CCC A", "CCC D", "CCC V", "mean CCC"):
        assert column in header
    line = next(line for line in printed.splitlines() if line.startswith("export the best front member"))
    argv = line[line.index("eeea export"):].split()  # after any reason the line gives for fp32
    with open(run / "pareto.csv") as f:
        int8 = next(csv.DictReader(f))["int8"]  # the front's timing ran export: int8 only when its check passed
    fmt = "onnx" if int8.endswith(("failed check", "slower than fp32")) else "onnx-int8"
    assert argv[:2] == ["eeea", "export"] and argv[3:5] == ["--format", fmt]
    assert is_checkpoint(argv[2])
    out = tmp_path / "best.onnx"
    assert main([*argv[1:5], "--out", str(out)]) == 0  # the printed command, writing into tmp_path
    assert 1000 < out.stat().st_size <= 80_000
    assert ("(kept)" in capsys.readouterr().out) == (fmt == "onnx-int8")


def test_every_default_front_member_has_int8_files_within_80_kb(default_run, tmp_path):
    """Both int8 files export can write (static and dynamic) of each trained front member, as export writes them."""
    from eeea.export import check_inputs, load_exportable
    from eeea.export import int8_variants

    run, _ = default_run
    with open(run / "pareto.csv") as f:
        front = list(csv.DictReader(f))
    assert front
    for row in front:
        item = load_exportable(run / row["checkpoint"])
        folder = tmp_path / row["key"]
        folder.mkdir()
        calibration, _ = check_inputs(item.input_shape(), n=2)
        files = int8_variants(item.model, item.input_shape(), folder, item.metadata(), calibration)
        sizes = {method: path.stat().st_size for method, path in files.items()}
        genome = Genome.from_text(row["genome"])
        assert max(sizes.values()) <= get_space("audio_union").count_int8_bytes(genome) <= 80_000, (row, sizes)


@pytest.fixture(scope="module")
def mobilenet_run(tmp_path_factory):
    """The default search on the mobilenet_audio space, which ships a reference latency table."""
    import contextlib
    import io

    run, out = tmp_path_factory.mktemp("ser-mb") / "run", io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["search", "--max-params", "72k", "--space", "mobilenet_audio", *TINY, "--epochs", "1",
                     "--out", str(run)]) == 0
    return run, out.getvalue()


def test_a_space_with_a_reference_table_reports_predicted_latency(mobilenet_run):
    """No --latency-table: the front's predicted latency comes from eeea's reference table of the space, said to be
    the reference machine's; the front's int8 time is of the file export writes, or says its check failed. (The
    default space, audio_union, gets its members' tables composed: test_latency.py.)"""
    from eeea import count_latency
    from eeea.latency import shipped_table

    run, printed = mobilenet_run
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["latency_table"] is None
    space = get_space(config["space"])
    table = shipped_table(space, space.size())
    header = next(line for line in printed.splitlines() if line.startswith("rank"))
    assert "latency_us (pred)" in header and "fp32_us (onnx)" in header
    note = next(line for line in printed.splitlines() if line.startswith("latency_us (pred): predicted on the "
                                                                         "reference"))
    assert "x86_64 CPU" in note and "build your device's table with eeea latency-table" in note
    assert note in (run / "log.txt").read_text()
    with open(run / "pareto.csv") as f:
        front = list(csv.DictReader(f))
    for row in front:
        assert float(row["latency"]) == pytest.approx(count_latency(Genome.from_text(row["genome"]), table), abs=1e-2)
        assert float(row["measured_fp32"]) > 0
        assert row["int8"] in ("static", "dynamic", "static, slower than fp32", "dynamic, slower than fp32",
                               "failed check")
        assert (row.get("measured_int8", "") != "") == (row["int8"] != "failed check")  # a column only if any
        if row["int8"] != "failed check":  # the kept variant's time, and said when it is slower than fp32
            slower = float(row["measured_int8"]) > float(row["measured_fp32"])
            assert row["int8"].endswith("slower than fp32") == slower


def test_resume_extends_without_retraining_or_rewriting_weights(default_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(default_run[0], run)
    before = {r["key"]: os.stat(run / r["checkpoint"] / "weights.pt").st_mtime_ns for r in _archive(run)}
    # the front's latency is measured (ONNX export, int8, timing) by the default run's own search: not again here
    assert main(["search", "--resume", str(run), "--generations", "1", "--no-measure-latency", "--quiet"]) == 0
    records = _archive(run)
    assert len(records) == 4 and len({r["key"] for r in records}) == 4
    for key, mtime in before.items():
        assert os.stat(run / "checkpoints" / key / "weights.pt").st_mtime_ns == mtime
    assert all(is_checkpoint(run / r["checkpoint"]) for r in records)
    assert main(["search", "--resume", str(run), "--epochs", "3"]) == 2  # another budget is another search


def test_the_space_follows_the_task_unless_given():
    assert resolve_config({})["space"] == "audio_union"
    cifar = resolve_config({"task": "cifar10"})
    assert cifar["space"] == "eeea" and cifar["max_params"] == 5_000_000 and cifar["train"]["lr"] == 0.025
    assert cifar["task_config"] == {"holdout": 0.1, "split_seed": 0, "limit": None} and not cifar["checkpoints"]
    assert resolve_config({"space": "wav2small"})["space"] == "wav2small"
    assert resolve_config({"train": {"epochs": 3}})["train"] == {**DEFAULT_BUDGET, "epochs": 3,
                                                                  "clips_per_epoch": SEARCH_CLIPS_PER_EPOCH}
    # a config file for another task does not leak its task options into a --task override
    file_layer = load_config_file(CONFIGS / "cifar10_eeea_c.yaml")
    ser = resolve_config(file_layer, {"task": "ser"})
    assert ser["space"] == "audio_union"
    assert ser["train"] == {**DEFAULT_BUDGET, "clips_per_epoch": SEARCH_CLIPS_PER_EPOCH}


def test_ser_72k_config_resolves():
    config = resolve_config(load_config_file(CONFIGS / "ser_72k.yaml"))
    assert config["task"] == "ser" and config["max_params"] == 72_000 and config["data"] is None
    assert config["population"] > 12 and config["generations"] > 4 and config["train"]["epochs"] > DEFAULT_BUDGET["epochs"]


@pytest.mark.parametrize("argv, message", [
    (["--holdout", "0.2"], "task ser has no option 'holdout'"),
    (["--max-steps", "2"], "ser task: unknown budget key 'max_steps'"),
    (["--epochs", "0"], "--epochs: must be an integer >= 1"),  # the flag's own bound, before the task
    (["--download"], "--download: task ser cannot download its data"),
    (["--channels", "4"], "unknown size option 'channels'"),
    (["--max-params", "200"], "--max-params 200 cannot be met by space audio_union at seconds=5.0"),
    (["--data", "/nonexistent/emodb.zip"], "not an EmoDB zip or folder"),
    (["--space", "eeea", "--max-params", "5M"], "space eeea does not take raw audio, the input of task ser"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, message):
    code = main(["search", "--out", str(tmp_path / "r"), *TINY, "--quiet", *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("eeea: error: ") and err.count("\n") == 1 and message in err, err


@pytest.mark.slow
@pytest.mark.long
def test_the_default_search_finishes_within_15_minutes(tmp_path):
    """The quick-start command itself, with nothing overridden (about 6 minutes on a busy 2-core CPU)."""
    import subprocess
    import sys
    import time

    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "eeea.cli", "search", "--max-params", "72k", "--quiet"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=20 * 60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert time.perf_counter() - start <= 15 * 60
    (run,) = (tmp_path / "runs").iterdir()
    records = _archive(run)
    assert 20 <= len(records) <= 40 and all(is_checkpoint(run / r["checkpoint"]) for r in records)


def test_the_export_line_asks_for_float_when_the_front_found_int8_failing(tmp_path):
    from eeea.cli import export_line

    best = {"key": "abc", "checkpoint": "checkpoints/abc"}
    assert "--format onnx-int8 --out abc.int8.onnx" in export_line(tmp_path, 0, best)
    assert "--format onnx-int8" in export_line(tmp_path, 0, {**best, "int8": "static"})
    line = export_line(tmp_path, 0, {**best, "int8": "failed check"})
    assert line.endswith(f"eeea export {tmp_path / 'checkpoints/abc'} --format onnx --out abc.onnx")
    assert "failed the accuracy check" in line
    line = export_line(tmp_path, 0, {**best, "int8": "dynamic, slower than fp32", "measured_fp32": 900.0,
                                     "measured_int8": 11700.0})
    assert line.endswith(f"eeea export {tmp_path / 'checkpoints/abc'} --format onnx --out abc.onnx")
    assert "no int8 file beat fp32 on this machine: fp32 900us, int8 11.7ms" in line


def test_piped_search_prints_a_line_per_finished_candidate_and_each_phase(default_run):
    """No terminal: no bars and no carriage-return frames, but a flushed line per finished candidate (index/total,
    elapsed, an ETA from the first one on, its score) and a line per phase (data, the front's timing)."""
    run, printed = default_run
    err = (run.parent.parent / "stderr.txt").read_text()
    assert "\r" not in err and "\r" not in printed and "\x1b[" not in err
    lines = err.splitlines()
    candidates = [line for line in lines if line.startswith("search: ")]
    records = _archive(run)
    assert len(candidates) == len(records) == 2
    assert candidates[0].startswith("search: 1/2 candidates, ") and ", ETA " in candidates[0]
    assert candidates[1].startswith("search: 2/2 candidates, ") and "done" in candidates[1]
    for line, record in zip(candidates, records):
        assert f"gen 0 {record['key']} {record['status']} 1-ccc=" in line and " elapsed" in line
    assert lines[0] == "data: checking the ser task's data" and lines[1].startswith("data: checked in ")
    timing = [line for line in lines if line.startswith("timing the front's ONNX (fp32 and int8): ")]
    front = list(csv.DictReader((run / "pareto.csv").open()))
    assert len(timing) == len(front) + 1 and timing[-1].startswith(f"timing the front's ONNX (fp32 and int8): "
                                                                   f"{len(front)}/{len(front)} nets")


def test_create_model_and_show_load_a_member_of_the_run_by_key(default_run, capsys):
    """A run directory plus a member's key (or its first characters) gives the member's trained network, with the
    outputs of its checkpoint; ``eeea show RUN_DIR KEY`` says where it comes from; ``eeea show RUN_DIR`` summarises."""
    import eeea

    run, _ = default_run
    record = _archive(run)[0]
    _, _, expected = load_checkpoint(run / record["checkpoint"])
    model = eeea.create_model(run, record["key"][:6])
    x = torch.randn(2, 8000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected(x), rtol=0, atol=0)
    assert main(["show", str(run), record["key"]]) == 0
    shown = capsys.readouterr().out
    assert f"from:   member {record['key']} of search run {run} (trained checkpoint)" in shown
    assert main(["show", str(run)]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith(f"run:         {run} (search)\ntask:        ser (crop_seconds ")
    algorithm = resolve_config({})["algorithm"]
    assert f" on space audio_union, seed 0, algorithm {algorithm}\n" in summary and "labels None" not in summary
    assert "status:      finished" in summary and "evaluations: 2 (2 ok)" in summary
    assert "trained now" not in summary and "export the best front member" in summary
    assert main(["show", str(run), "zz"]) == 2
    assert "no member with key 'zz'" in capsys.readouterr().err


def test_best_names_the_fronts_first_member_for_show_create_model_and_export(default_run, tmp_path, capsys):
    """``best`` picks row 0 of pareto.csv; ``eeea export RUN_DIR best`` writes that member's trained network."""
    import onnxruntime as ort

    import eeea

    run, _ = default_run
    first = (run / "pareto.csv").read_text().splitlines()[1].split(",")
    key = first[1]
    assert main(["show", str(run), "best"]) == 0
    assert f"from:   member {key} of search run {run} (trained checkpoint)" in capsys.readouterr().out
    record = next(r for r in _archive(run) if r["key"] == key)
    _, _, expected = load_checkpoint(run / record["checkpoint"])
    x = torch.randn(1, 8000, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = expected(x).numpy()
        torch.testing.assert_close(eeea.create_model(run, "best")(x), expected(x), rtol=0, atol=0)
    out = tmp_path / "best.onnx"
    assert main(["export", str(run), "best", "--format", "onnx", "--out", str(out)]) == 0
    assert "untrained" not in capsys.readouterr().err
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert abs(got - want).max() < 1e-4


def test_a_run_written_before_the_new_defaults_resumes_as_it_was():
    """Options added since (the clip budget, the size screen, the seeded public layout) take the values that
    reproduce an older run, so resuming it replays the same search instead of refusing or changing it."""
    from eeea.search.config import check_resume, with_legacy

    old = resolve_config({"space": "mobilenet_audio"})
    for key in ("max_model_bytes", "initial_genomes"):
        del old[key]
    del old["train"]["clips_per_epoch"]
    asked = resolve_config(with_legacy(old))
    assert asked["max_model_bytes"] is None and asked["initial_genomes"] == []
    assert asked["train"]["clips_per_epoch"] is None and asked["space"] == "mobilenet_audio"
    check_resume(old, asked, "RUN")  # the same search: no error
    with pytest.raises(UserError, match="initial_genomes"):
        check_resume(old, resolve_config(old), "RUN")  # the new defaults would be another search
