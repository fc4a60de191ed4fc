"""The promises of docs/reliability.md, one test each, written against the audit's findings (each of these failed
before the fix): nothing the user owns is lost, no input gets a traceback, bad input is never accepted, a damaged
archive never becomes a front, a refused start leaves no run folder."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from fuzz_helpers import nb201_rows, nested, refused, snapshot
from train_helpers import write_image_folder

from eeea.cli import main

TINY_TRAIN = ["--arch", "eeea_c", "--channels", "4", "--layers", "3", "--batch-size", "8", "--epochs", "1",
              "--max-steps", "1", "--threads", "1", "--quiet"]


def run_ok(argv: list, cwd: Path | None = None) -> str:
    out = io.StringIO()
    with contextlib.chdir(cwd or Path.cwd()), contextlib.redirect_stdout(out):
        assert main([str(a) for a in argv]) == 0
    return out.getvalue()


@pytest.fixture
def macro_run(fuzz_world, tmp_path) -> Path:
    """A finished search (NAS-Bench-Macro lookups) of the test's own."""
    run = tmp_path / "run"
    shutil.copytree(fuzz_world["run"], run)
    return run


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("images"))


@contextlib.contextmanager
def as_another_user():
    """As root, whom file modes do not stop, act as ``nobody`` meanwhile (the paths used must be open to everyone);
    as anyone else, stay oneself."""
    root = os.geteuid() == 0
    try:
        if root:
            os.setegid(65534)
            os.seteuid(65534)
        yield
    finally:
        if root:
            os.seteuid(0)
            os.setegid(0)


@contextlib.contextmanager
def unwritable(*folders: Path):
    """``folders`` cannot be written by this process meanwhile (their write bits cleared)."""
    modes = [f.stat().st_mode for f in folders]
    for f in folders:
        f.chmod(0o555)
    try:
        with as_another_user():
            yield
    finally:
        for f, mode in zip(folders, modes):
            f.chmod(mode)


@pytest.fixture
def open_dir():
    """A folder everyone may enter (pytest's tmp_path is private to its user, which ``nobody`` is not)."""
    path = Path(tempfile.mkdtemp(prefix="eeea-ro-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# 1. files the user owns ------------------------------------------------------------------------------------------
def test_a_table_is_saved_through_a_temporary_file_of_its_own(tmp_path):
    """latency-table --out t.json used to write t.json.tmp, deleting the user's file of that name."""
    from eeea.latency import LatencyTable

    table = LatencyTable("wav2small", {"seconds": 5.0, "outputs": 3}, "onnxruntime", 1, 10.0, {}, source="t")
    (tmp_path / "t.json.tmp").write_text("mine\n")
    table.save(tmp_path / "t.json")
    assert (tmp_path / "t.json.tmp").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "t.json.tmp"]
    assert LatencyTable.load(tmp_path / "t.json").overhead_us == 10.0


def test_force_refuses_to_delete_files_eeea_did_not_write(fuzz_world, macro_run):
    """search --force used to remove the user's genomes/my_favourite.yaml, checkpoints/mine/weights.pt and the lines
    they added to log.txt."""
    root = macro_run.parent
    run_ok(["report", "run", "--quiet"], root)  # eeea's other writers record their files too
    assert {"report.html", "sessions.json"} <= {p.name for p in macro_run.iterdir()}
    (macro_run / "genomes" / "my_favourite.yaml").write_text("mine\n")
    (macro_run / "checkpoints" / "mine").mkdir(parents=True)
    (macro_run / "checkpoints" / "mine" / "weights.pt").write_bytes(b"precious")
    with open(macro_run / "log.txt", "a") as f:
        f.write("my own note\n")
    argv = ["search", "--task", "nas_bench_macro", "--data", fuzz_world["table"], "--out", "run", "--population", "4",
            "--generations", "1", "--quiet", "--force"]
    line = refused(argv, root, expect="genomes/my_favourite.yaml")
    assert "checkpoints/mine/weights.pt" in line and "log.txt" in line
    for name in ("genomes/my_favourite.yaml", "checkpoints", "log.txt"):
        shutil.move(macro_run / name, root / Path(name).name)  # the user moves them out, as told
    run_ok(argv, root)  # everything left is eeea's: --force starts over
    assert (macro_run / "archive.jsonl").is_file() and not (macro_run / "checkpoints").exists()


def test_a_run_made_before_the_ledger_resumes_and_force_asks_first(fuzz_world, macro_run):
    """A run of an eeea that kept no record of its files: a resume takes the files of eeea's names as eeea's;
    --force, which nothing can prove safe, refuses and lists them."""
    (macro_run / ".eeea-files").unlink()
    (macro_run / "genomes" / "my_favourite.yaml").write_text("mine\n")
    argv = ["search", "--task", "nas_bench_macro", "--data", fuzz_world["table"], "--out", "run", "--population", "4",
            "--generations", "1", "--quiet", "--force"]
    refused(argv, macro_run.parent, expect="predates")
    run_ok(["search", "--resume", "run", "--generations", "2", "--quiet"], macro_run.parent)
    assert (macro_run / "genomes" / "my_favourite.yaml").read_text() == "mine\n"
    refused(argv, macro_run.parent, expect="genomes/my_favourite.yaml: not written by eeea")


def test_train_force_keeps_a_file_the_user_put_in_model(tmp_path, images):
    """train --force used to remove model/README.txt with eeea's model files."""
    run = tmp_path / "run"
    run_ok(["train", "--out", run, *TINY_TRAIN, "--data", images])
    (run / "model" / "README.txt").write_text("how I trained it\n")
    refused(["train", "--out", "run", *TINY_TRAIN, "--data", images, "--force"], tmp_path, expect="model/README.txt")
    (run / "model" / "README.txt").rename(tmp_path / "README.txt")
    run_ok(["train", "--out", run, *TINY_TRAIN, "--data", images, "--force"])
    assert sorted(p.name for p in (run / "model").iterdir()) == ["genome.yaml", "weights.pt"]


def test_a_failing_resume_writes_nothing(macro_run):
    """A resume refused for a bad genome text used to empty genomes/ and rewrite pareto.csv first."""
    lines = (macro_run / "archive.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    lines[0] = json.dumps({**record, "genome": "nas_bench_macro:ops=not;a;genome"})
    (macro_run / "archive.jsonl").write_text("\n".join(lines) + "\n")
    assert len(list((macro_run / "genomes").iterdir())) > 0
    refused(["search", "--resume", "run", "--quiet"], macro_run.parent, expect="archive.jsonl:1")


def test_resuming_a_finished_training_changes_nothing(tmp_path, images):
    """train --resume of a finished run without checkpoint.pt used to train it again from scratch, overwriting
    model/weights.pt, result.json and the metrics."""
    run = tmp_path / "run"
    run_ok(["train", "--out", run, *TINY_TRAIN, "--data", images])
    (run / "checkpoint.pt").unlink()
    before = snapshot(run)
    out = run_ok(["train", "--resume", run])
    assert "finished on" in out and "nothing to train, nothing written" in out
    assert snapshot(run) == before


# 2. no traceback ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, expect", [
    (["search", "--out", "o", "--max-params", "1e999"], "--max-params"),
    (["search", "--out", "o", "--max-latency", "1e400s"], "--max-latency"),
    (["search", "--seed", "-1"], "--seed"),
    (["train", "--arch", "eeea_c", "--out", "o", "--seed", "-1"], "--seed"),
], ids=["max-params-overflow", "max-latency-overflow", "search-seed-negative", "train-seed-negative"])
def test_overflow_and_negative_seeds_are_one_line(tmp_path, argv, expect):
    refused(argv, tmp_path, expect=expect)


@pytest.mark.parametrize("config, expect", [
    ("seed: abc\n", "--seed"), ("train: 5\n", "train"), ("size: big\n", "size"), ("task_config: [1]\n", "task_config"),
], ids=["seed-abc", "train-5", "size-big", "task_config-list"])
def test_wrong_types_in_a_config_are_one_line_without_a_run_folder(fuzz_world, tmp_path, config, expect):
    (tmp_path / "c.yaml").write_text(config)
    refused(["search", "--task", "nas_bench_macro", "--data", fuzz_world["table"], "--config", "c.yaml", "--quiet"],
            tmp_path, expect=expect)


def test_deep_nesting_is_one_line_in_every_json_eeea_reads(fuzz_world, macro_run):
    root = macro_run.parent
    deep = "[" * 100000 + "]" * 100000
    (root / "macro.json").write_text(deep)
    refused(["search", "--task", "nas_bench_macro", "--data", "macro.json", "--out", "o"], root, expect="nested")
    (root / "lt.json").write_text(deep)
    refused(["search", "--task", "nas_bench_macro", "--data", fuzz_world["table"], "--latency-table", "lt.json",
             "--out", "o"], root, expect="nested")
    with open(macro_run / "archive.jsonl", "a") as f:
        f.write(json.dumps({"key": "x", "deep": nested(90)}) + "\n")
    refused(["search", "--resume", "run"], root, expect="nested")


@pytest.mark.parametrize("damage", ["no objectives", "text objectives"])
def test_archive_records_without_usable_objectives_are_one_line(macro_run, damage):
    lines = (macro_run / "archive.jsonl").read_text().splitlines()
    record = json.loads(lines[1])
    if damage == "no objectives":
        record.pop("objectives")
    else:
        record["objectives"] = {k: "low" for k in record["objectives"]}
    lines[1] = json.dumps(record)
    (macro_run / "archive.jsonl").write_text("\n".join(lines) + "\n")
    refused(["search", "--resume", "run"], macro_run.parent, expect="archive.jsonl:2")


def test_impossible_sizes_are_checked_before_allocating(fuzz_world, tmp_path):
    # counting needs no memory: the count of a network too large to build is still shown, exactly
    out = run_ok(["show", "eeea_c", "--channels", "100000000"], tmp_path)
    assert "params: 24,580,000,910,500,000,010" in out
    refused(["train", "--arch", "eeea_c", "--out", "o", "--channels", "100000000"], tmp_path, expect="memory")
    ck = tmp_path / "ck"
    shutil.copytree(fuzz_world["audio_ck"], ck)
    genome = yaml.safe_load((ck / "genome.yaml").read_text())
    genome["meta"]["size"]["seconds"] = 1e8  # a checkpoint claiming 1e8 s clips: 6.4 TB of input
    (ck / "genome.yaml").write_text(yaml.safe_dump(genome))
    refused(["export", "ck", "--out", "m.onnx"], tmp_path, expect="seconds")


def test_damaged_checkpoints_are_one_line(fuzz_world, tmp_path):
    ck = tmp_path / "ck"
    shutil.copytree(fuzz_world["audio_ck"], ck)
    (ck / "weights.pt").write_bytes(b"")
    refused(["export", "ck", "--out", "m.onnx"], tmp_path, expect="weights.pt")
    shutil.copytree(fuzz_world["audio"], tmp_path / "audio")
    refused(["label", "--teacher", fuzz_world["image_ck"], "--audio", "audio", "--out", "l.csv"], tmp_path,
            expect="not raw audio")


@pytest.mark.parametrize("verb", ["search", "train", "export", "latency-table", "label", "show"])
def test_an_unwritable_output_is_refused_before_any_work(fuzz_world, open_dir, verb):
    folder = open_dir / "ro"
    folder.mkdir()
    (open_dir / "t.csv").write_text("path,arousal,dominance,valence\nclip0.wav,0.1,0.2,0.3\n")
    argv = {"search": ["search", "--task", "nas_bench_macro", "--data", fuzz_world["table"], "--out", "ro/run"],
            "train": ["train", "--arch", "eeea_c", "--out", "ro/run"],
            "export": ["export", "wav2small_17k", "--out", "ro/m.onnx"],
            "latency-table": ["latency-table", "--space", "wav2small", "--out", "ro/t.json"],
            "label": ["label", "--teacher", "t.csv", "--audio", "ro", "--out", "ro/l.csv"],
            "show": ["show", "eeea_c", "--save", "ro/g.yaml"]}[verb]
    with unwritable(folder):
        refused(argv, open_dir, expect="cannot write")


@pytest.mark.parametrize("what", ["table", "latency-table", "config", "image-folder", "labels"])
def test_an_unreadable_input_is_one_line(fuzz_world, open_dir, what):
    shutil.copy(fuzz_world["table"], open_dir / "t.json")
    (open_dir / "lt.json").write_text("{}")
    (open_dir / "c.yaml").write_text("seed: 1\n")
    (open_dir / "l.csv").write_text("path,arousal,dominance,valence\nclip0.wav,0.1,0.2,0.3\n")
    write_image_folder(open_dir / "imgs", classes=2, per_class=2, test=1)
    search = ["search", "--task", "nas_bench_macro", "--data", "t.json", "--out", "o"]
    argv, locked = {"table": (search, "t.json"), "latency-table": ([*search, "--latency-table", "lt.json"], "lt.json"),
                    "config": ([*search, "--config", "c.yaml"], "c.yaml"),
                    "image-folder": (["train", "--arch", "eeea_c", "--data", "imgs", "--out", "o"], "imgs/train"),
                    "labels": (["train", "--arch", "wav2small_17k", "--dataset", "ser", "--labels", "l.csv",
                                "--out", "o"], "l.csv")}[what]
    (open_dir / locked).chmod(0)
    try:
        with as_another_user():
            refused(argv, open_dir)
    finally:
        (open_dir / locked).chmod(0o755)


def test_resuming_a_run_in_a_read_only_folder_is_one_line(macro_run, open_dir):
    run = open_dir / "run"
    shutil.copytree(macro_run, run)
    for p in run.rglob("*"):
        p.chmod(0o777 if p.is_dir() else 0o666)
    with unwritable(run):
        refused(["search", "--resume", "run"], open_dir, expect="cannot write")


# 3. no bad input accepted -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "-3", "text", "130"])
def test_a_nb201_table_with_a_bad_accuracy_is_refused_naming_its_row(tmp_path, value):
    rows = nb201_rows()
    cells = rows[3].split(",")
    cells[1] = value
    rows[3] = ",".join(cells)
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    line = refused(["search", "--task", "nb201", "--data", "t.csv", "--out", "o"], tmp_path, expect="t.csv:4")
    assert cells[0] in line  # the row, by its cell


@pytest.mark.parametrize("argv, expect", [
    (["train", "--arch", "eeea_c", "--out", "o", "--holdout", "0"], "--holdout"),
    (["search", "--task", "cifar10", "--out", "o", "--limit", "0"], "--limit"),
    (["search", "--task", "cifar10", "--out", "o", "--limit", "-1"], "--limit"),
    (["search", "--out", "o", "--executor", "ray", "--cpus-per-candidate", "nan"], "--cpus-per-candidate"),
    (["search", "--out", "o", "--executor", "ray", "--gpus-per-candidate", "nan"], "--gpus-per-candidate"),
    (["latency-table", "--space", "wav2small", "--out", "t.json", "--calibrate", "-1"], "--calibrate"),
], ids=["holdout-0", "limit-0", "limit-negative", "cpus-nan", "gpus-nan", "calibrate-negative"])
def test_meaningless_values_are_refused(tmp_path, argv, expect):
    refused(argv, tmp_path, expect=expect)


def test_a_holdout_of_zero_in_a_config_is_refused_not_ignored(tmp_path):
    (tmp_path / "c.yaml").write_text("holdout: 0\n")
    refused(["train", "--arch", "eeea_c", "--out", "o", "--config", "c.yaml"], tmp_path, expect="--holdout")


def test_a_manifest_that_is_a_list_is_refused(macro_run):
    (macro_run / ".eeea-run").write_text("[1, 2]\n")
    refused(["search", "--resume", "run"], macro_run.parent, expect=".eeea-run")


def test_table_runs_refuses_a_damaged_result(tmp_path):
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "result.json").write_text("{not json")
    refused(["table", "cifar10", "--runs", "runs"], tmp_path, expect="result.json")


# 4. a damaged archive never becomes a front --------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["nan objective", "another space", "checkpoint deleted by hand"])
def test_a_damaged_archive_never_becomes_a_front(macro_run, damage):
    lines = (macro_run / "archive.jsonl").read_text().splitlines()
    record = json.loads(lines[2])
    if damage == "nan objective":
        record["objectives"]["error"] = float("nan")
    elif damage == "another space":
        record["genome"] = "nb201:ops=skip_connect;none;none;none;none;none"
    else:
        record["checkpoint"] = f"checkpoints/{record['key']}"  # named, but no such folder
    lines[2] = json.dumps(record)  # json writes NaN as the literal NaN, as a hand edit might
    (macro_run / "archive.jsonl").write_text("\n".join(lines) + "\n")
    refused(["search", "--resume", "run", "--quiet"], macro_run.parent, expect="archive.jsonl:3")


# 5. a refused start leaves no run folder -----------------------------------------------------------------------------
@pytest.mark.parametrize("flags", [
    ["--device", "tpu"],
    ["--algorithm", "regularized-evolution", "--tournament-size", "50", "--population", "10"],
    ["--executor", "local", "--workers", "2"],  # refused as the executor starts, after the run folder was made
], ids=["device-tpu", "tournament-size", "local-with-workers"])
def test_a_refused_start_leaves_no_run_folder(fuzz_world, tmp_path, flags):
    refused(["search", "--task", "nas_bench_macro", "--data", fuzz_world["table"], *flags, "--quiet"], tmp_path)
    assert not (tmp_path / "runs").exists()


# real processes: the console script's exit code and stderr ---------------------------------------------------------
# the overflow case is also checked in-process (test_overflow_and_negative_seeds_are_one_line): as a process, slow only
@pytest.mark.parametrize("case", [pytest.param("overflow", marks=pytest.mark.slow), "nan-archive"])
def test_the_console_script_exits_2_with_one_line(fuzz_world, macro_run, case):
    if case == "overflow":
        argv = ["search", "--out", "o", "--max-params", "1e999"]
    else:
        lines = (macro_run / "archive.jsonl").read_text().splitlines()
        record = json.loads(lines[0])
        record["objectives"]["error"] = float("nan")
        (macro_run / "archive.jsonl").write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
        argv = ["search", "--resume", "run"]
    before = snapshot(macro_run.parent)
    proc = subprocess.run([sys.executable, "-m", "eeea.cli", *argv], cwd=macro_run.parent, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("eeea: error: "), proc.stderr
    assert snapshot(macro_run.parent) == before


def test_every_test_docs_reliability_names_exists():
    """docs/reliability.md cites a test for each promise: each one it names is a test of that file."""
    import re

    root = Path(__file__).resolve().parents[1]
    cited = re.findall(r"`(?:tests/)?(test_\w+\.py)::(test_\w+)", (root / "docs" / "reliability.md").read_text())
    assert len(cited) >= 40
    missing = [f"{f}::{t}" for f, t in cited if f"def {t}(" not in (root / "tests" / f).read_text()]
    assert not missing


def test_the_flag_parsers_load_without_torch_or_numpy():
    """The command line's typed parsers and output checks are light: with the package's own __init__ left out (it
    loads the library), importing them loads neither torch nor numpy, so --help and argument errors need neither."""
    root = Path(__file__).resolve().parents[1] / "eeea"
    code = ("import sys, types\n"
            f"pkg = types.ModuleType('eeea'); pkg.__path__ = [{str(root)!r}]; sys.modules['eeea'] = pkg\n"
            "import eeea.cli_types, eeea.outputs, eeea.units, eeea.errors\n"
            "from eeea.cli_types import POSITIVE, flag\n"
            "assert flag('--epochs', POSITIVE)('3') == 3\n"
            "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
