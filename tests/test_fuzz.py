"""The fuzz harness: generated bad input for every verb, each refused cleanly (see fuzz_helpers.refused: exit 2, one
line, no traceback, nothing pre-existing changed, no run folder left, <= 5 CPU seconds).

Hypothesis draws bad flags (text, NaN, infinities, overflow, negatives and zeros where meaningless), bad YAML/JSON/CSV
(deep nesting, huge numbers, NaN, wrong types), torn and corrupted archives, bad checkpoints and unwritable outputs.
The default run draws a fixed set (``derandomize``) of about 400 cases in-process; ``-m slow`` draws thousands
afresh (the thorough hypothesis profile, see strategies.py). A few cases run as real processes (test_reliability.py)
for the exit code and traceback of the console script.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_helpers import DEEP, nb201_rows, nested, refused
from strategies import THOROUGH


def cases(n: int):
    """Hypothesis settings for ``n`` cases in the default run (fixed draws), ``20 n`` fresh ones when slow."""
    return settings(max_examples=20 * n if THOROUGH else n, deadline=None, derandomize=not THOROUGH, database=None,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture
def case_dir():
    """A fresh folder per drawn case (hypothesis runs many cases in one test call)."""
    made: list[Path] = []

    def new() -> Path:
        made.append(Path(tempfile.mkdtemp(prefix="eeea-fuzz-")))
        return made[-1]

    yield new
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


# values no flag of its kind takes ---------------------------------------------------------------------------------
#: text that no number parser reads as a number (no digits at all)
WORDS = st.text(st.characters(exclude_categories=("Nd", "Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda t: t.strip() not in ("",) and not t.startswith("-"))
NON_FINITE = st.sampled_from(["nan", "NaN", "inf", "-inf", "1e999", "-1e999", "1e400", "infinity"])
HUGE = st.sampled_from(["9" * 30, "1" + "0" * 400, str(2**64), str(2**31), "1e30"])
BAD = {
    "int>=1": st.one_of(WORDS, NON_FINITE, HUGE, st.sampled_from(["0", "-1", "-7", "1.5", "2.0", "0x10"])),
    "int>=0": st.one_of(WORDS, NON_FINITE, HUGE, st.sampled_from(["-1", "-7", "1.5", "0x10"])),
    "population": st.one_of(WORDS, NON_FINITE, HUGE, st.sampled_from(["1", "0", "-3", "2.5", str(10**6 + 1)])),
    "seed": st.one_of(WORDS, NON_FINITE, st.sampled_from(["-1", "-5", str(2**32), "1.5", "9" * 30])),
    "count": st.one_of(WORDS, NON_FINITE, st.sampled_from(["-5", "-5M", "72q", "1e16", "1e999k", "5MB", "1.2.3"])),
    "duration": st.one_of(WORDS, NON_FINITE, st.sampled_from(["-1ms", "1e400s", "7200s", "2 hours", "5", "1e99999s"])),
    "holdout": st.one_of(WORDS, NON_FINITE, st.sampled_from(["0", "-0.5", "1.5", "2.5", "-3", "0.0"])),
    "positive": st.one_of(WORDS, NON_FINITE, st.sampled_from(["0", "-1", "-0.5", "0.0"])),
    "non-negative": st.one_of(WORDS, NON_FINITE, st.sampled_from(["-1", "-0.001"])),
    "probability": st.one_of(WORDS, NON_FINITE, st.sampled_from(["-0.1", "1.5", "2"])),
    "cpus": st.one_of(WORDS, NON_FINITE, st.sampled_from(["0", "-1", "5000"])),
    "gpus": st.one_of(WORDS, NON_FINITE, st.sampled_from(["-1", "-0.25", "5000"])),
    "seconds": st.one_of(WORDS, NON_FINITE, st.sampled_from(["0", "-1", "3601", "1e8"])),
}
SIZE = [("--channels", "int>=1"), ("--layers", "int>=1"), ("--num-classes", "int>=1"), ("--input-size", "int>=1")]
#: verb -> (its other arguments, [(numeric flag, kind)])
FLAGS = {
    "search": (["--out", "o"], [
        ("--max-params", "count"), ("--max-macs", "count"), ("--max-latency", "duration"),
        ("--population", "population"), ("--generations", "int>=0"), ("--seed", "seed"), ("--workers", "int>=1"),
        ("--threads", "int>=1"), ("--epochs", "int>=1"), ("--batch-size", "int>=1"), ("--max-steps", "int>=1"),
        ("--channels", "int>=1"), ("--layers", "int>=1"), ("--holdout", "holdout"), ("--limit", "int>=1"),
        ("--tournament-size", "int>=1"), ("--max-evaluations", "int>=1"), ("--folds", "int>=1"),
        ("--cpus-per-candidate", "cpus"), ("--gpus-per-candidate", "gpus")]),
    "train": (["--arch", "eeea_c", "--out", "o"], [
        ("--holdout", "holdout"), ("--seed", "seed"), ("--threads", "int>=1"), ("--epochs", "int>=1"),
        ("--batch-size", "int>=1"), ("--lr", "positive"), ("--weight-decay", "non-negative"),
        ("--cutout", "int>=0"), ("--drop-path", "probability"), ("--auxiliary-weight", "non-negative"),
        ("--grad-clip", "non-negative"), ("--max-steps", "int>=1"), ("--crop-seconds", "seconds"),
        ("--channels", "int>=1"), ("--layers", "int>=1"), ("--input-size", "int>=1")]),
    "label": (["--teacher", "t.csv", "--audio", "a", "--out", "l.csv"], [("--batch-size", "int>=1")]),
    "latency-table": (["--space", "wav2small", "--out", "t.json"], [
        ("--threads", "int>=1"), ("--samples", "int>=1"), ("--shapes", "int>=1"), ("--passes", "int>=1"),
        ("--quantile", "probability"), ("--calibrate", "int>=0")]),
    "zoo": ([], SIZE),
    "show": (["eeea_c"], SIZE),
}


@st.composite
def bad_flags(draw):
    verb = draw(st.sampled_from(sorted(FLAGS)))
    base, flags = FLAGS[verb]
    flag, kind = draw(st.sampled_from(flags))
    value = draw(BAD[kind])
    return [verb, *base, f"{flag}={value}"], flag


@cases(110)
@given(bad_flags())
def test_a_bad_flag_value_is_refused_naming_the_flag(case_dir, args):
    argv, flag = args
    refused(argv, case_dir(), expect=flag)


# config files ------------------------------------------------------------------------------------------------------
WRONG_TYPE = st.sampled_from([[1], {"a": 1}, [[1, 2]], {"x": [1]}])
NOT_NUMBER = st.one_of(WRONG_TYPE, st.sampled_from(["abc", "many", "", float("nan"), float("inf"), -float("inf"),
                                                    True, "1e999", 10**30]))
SEARCH_KEYS = {  # key -> values it refuses
    "seed": st.one_of(NOT_NUMBER, st.sampled_from([-1, 2**32, 1.5])),
    "population": st.one_of(NOT_NUMBER, st.sampled_from([1, 0, -5, 2.5, None])),
    "generations": st.one_of(NOT_NUMBER, st.sampled_from([-1, 1.5, None])),
    "workers": st.one_of(NOT_NUMBER, st.sampled_from([0, -1, 1.5])),
    "threads": st.one_of(NOT_NUMBER, st.sampled_from([0, -1, 1.5])),
    "tournament_size": st.one_of(NOT_NUMBER, st.sampled_from([0, -1])),
    "max_evaluations": st.one_of(NOT_NUMBER, st.sampled_from([0, -1])),
    "cpus_per_candidate": st.one_of(NOT_NUMBER, st.sampled_from([0, -1])),
    "gpus_per_candidate": st.one_of(NOT_NUMBER, st.sampled_from([-1])),
    "crossover_prob": st.one_of(NOT_NUMBER, st.sampled_from([-0.5, 1.5])),
    "mutation_prob": st.one_of(NOT_NUMBER, st.sampled_from([-0.5, 1.5])),
    "max_params": st.one_of(WRONG_TYPE, st.sampled_from(["72q", -5, float("nan"), float("inf"), "1e999", "-3M"])),
    "max_macs": st.one_of(WRONG_TYPE, st.sampled_from(["72q", -5, float("nan"), "1e999"])),
    "max_latency": st.one_of(WRONG_TYPE, st.sampled_from(["2 hours", -1, float("nan"), "1e400s", "7200s"])),
    "train": st.sampled_from([5, "fast", [1], True, 1.5]),
    "size": st.sampled_from([5, "big", [1], True]),
    "eval_size": st.sampled_from([5, "big", [1]]),
    "task_config": st.sampled_from([[1], 5, "x", True]),
    "task": st.sampled_from([5, [1], {"a": 1}, "no_such_task"]),
    "space": st.sampled_from([5, [1], {"a": 1}, "no-such-space"]),
    "device": st.sampled_from([5, [1], "tpu", "cuda:x", "gpu0"]),
    "executor": st.sampled_from([5, [1], "threads"]),
    "algorithm": st.sampled_from([5, [1], "sgd"]),
    "eepi_scope": st.sampled_from([5, [1], "none"]),
    "amp": st.sampled_from([5, [1], "fp8"]),
    "objectives": st.sampled_from([5, [1, 2], "accuracy", {"a": 1}, ["error"]]),
    "data": st.sampled_from([5, [1], {"a": 1}, "/no/such/table.json"]),
    "latency_table": st.sampled_from([5, [1], "/no/such/table.json"]),
    "download": st.sampled_from(["yes", 5, [1]]),
    "compile": st.sampled_from(["yes", 5, [1]]),
    "channels_last": st.sampled_from(["yes", 5, [1]]),
    "measure_latency": st.sampled_from(["yes", 5, [1]]),
    "no_such_option": st.integers(),
}
TRAIN_KEYS = {
    "seed": SEARCH_KEYS["seed"], "threads": SEARCH_KEYS["threads"], "device": SEARCH_KEYS["device"],
    "amp": SEARCH_KEYS["amp"], "compile": SEARCH_KEYS["compile"], "channels_last": SEARCH_KEYS["channels_last"],
    "train": SEARCH_KEYS["train"], "size": SEARCH_KEYS["size"], "task": st.sampled_from([5, "x", [1]]),
    "holdout": st.one_of(NOT_NUMBER, st.sampled_from([0, -1, 1.5])), "arch": st.sampled_from([5, [1], "no-such-net"]),
    "dataset": st.sampled_from([5, [1], "imagenet7"]), "recipe": st.sampled_from([5, [1], "no-such-recipe"]),
    "data": st.sampled_from([5, [1]]), "labels": st.sampled_from([5, [1]]), "test_data": st.sampled_from([5, [1]]),
    "download": SEARCH_KEYS["download"], "autoaugment": st.sampled_from(["yes", 5]), "speed": st.integers(),
}


def _yaml(data: object) -> str:
    return yaml.safe_dump(data, default_flow_style=True, width=10**6)


@st.composite
def bad_configs(draw, keys):
    """``(key, value)``: one key of a config that is otherwise valid, with a value it refuses."""
    key = draw(st.sampled_from(sorted(keys)))
    if draw(st.booleans()) and draw(st.booleans()):  # sometimes instead: a value nested far too deep
        return key, nested(DEEP)
    return key, draw(keys[key])


@cases(45)
@given(bad_configs(SEARCH_KEYS))
def test_a_bad_search_config_is_refused_without_a_run_folder(fuzz_world, case_dir, item):
    root = case_dir()
    key, value = item
    base = {"task": "nas_bench_macro", "data": str(fuzz_world["table"]), "population": 4, "generations": 1}
    (root / "c.yaml").write_text(_yaml({**base, key: value}))
    # no --out: the refused search must not leave runs/TASK-DATE behind either
    refused(["search", "--config", "c.yaml", "--quiet"], root)


@cases(30)
@given(bad_configs(TRAIN_KEYS))
def test_a_bad_training_config_is_refused(case_dir, item):
    root = case_dir()
    key, value = item
    base = {"arch": "wav2small_17k", "dataset": "ser", "train": {"epochs": 1}}
    (root / "c.yaml").write_text(_yaml({**base, key: value}))
    refused(["train", "--out", "o", "--config", "c.yaml", "--quiet"], root)


# benchmark tables and latency tables ---------------------------------------------------------------------------
BAD_ACCURACY = st.sampled_from(["nan", "inf", "-inf", "-5", "101", "abc", "1e999", "NaN", "100.5", "--"])


@cases(20)
@given(BAD_ACCURACY, st.integers(0, 3), st.sampled_from([1, 2]))
def test_a_nb201_table_with_a_bad_accuracy_is_refused_naming_the_row(case_dir, value, row, column):
    root = case_dir()
    rows = nb201_rows()
    cells = rows[row + 1].split(",")
    cells[column] = value
    rows[row + 1] = ",".join(cells)
    (root / "t.csv").write_text("\n".join(rows) + "\n")
    refused(["search", "--task", "nb201", "--data", "t.csv", "--out", "o", "--quiet"], root, expect=f"t.csv:{row + 2}")


MACRO_RECORDS = st.sampled_from([
    {"test_acc": [90, 91, 92], "mean_acc": float("nan")}, {"test_acc": [90, 91, 92], "mean_acc": "high"},
    {"test_acc": [90, 91, 92], "mean_acc": -1}, {"test_acc": [90, 91, 92], "mean_acc": 150},
    {"test_acc": [], "mean_acc": 90}, {"test_acc": "x", "mean_acc": 90}, {"test_acc": [float("inf")], "mean_acc": 90},
    {"test_acc": [90], "mean_acc": 90, "std": -1}, {"test_acc": [90], "mean_acc": 90, "params": "many"},
    {"mean_acc": 90}, [1, 2, 3], "record", {"test_acc": nested(DEEP), "mean_acc": 90},
])


@cases(20)
@given(MACRO_RECORDS, st.sampled_from(["00000000", "12012012", "22222222"]))
def test_a_macro_table_with_a_bad_record_is_refused_naming_it(case_dir, record, key):
    root = case_dir()
    table = {"11111111": {"test_acc": [90.0, 91.0, 92.0], "mean_acc": 91.0, "std": 0.8}, key: record}
    (root / "m.json").write_text(json.dumps(table))  # NaN and Infinity written as JSON's non-standard literals
    refused(["search", "--task", "nas_bench_macro", "--data", "m.json", "--out", "o", "--quiet"], root)


def _latency_table(**change: object) -> dict:
    """A valid latency table of the macro space's shape (no entries), with ``change`` applied."""
    table = {"format": 1, "kind": "eeea latency table", "space": "nas_bench_macro", "size": {}, "runtime": "onnxruntime",
             "threads": 1, "overhead_us": 10.0, "entries": [], "protocol": {"quantile": 0.1}}
    return {**table, **change}


LATENCY_TABLES = st.one_of(
    st.sampled_from(["[" * 200 + "]" * 200, "[1, 2]", '{"format": 1}', "", "NaN", "1e999", "x" * 100,
                     '{"a": ' + "1" * 5000 + "}", "\x00\xff"]),
    st.sampled_from([{"overhead_us": "fast"}, {"overhead_us": 1e999}, {"threads": "two"}, {"runtime": "tpu"},
                     {"entries": [{"spec": ["conv", 3], "points": [{"shape": [3, 8, 8], "us": -5}]}]},
                     {"entries": [{"spec": ["conv", 3], "points": [{"shape": "big", "us": 5}]}]},
                     {"entries": [{"spec": nested(DEEP), "points": []}]}, {"entries": 5}, {"size": [1]},
                     {"protocol": {"quantile": 7}}, {"format": 99}, {"kind": "something else"}]).map(
        lambda change: json.dumps(_latency_table(**change)).replace("Infinity", "1e999")))


@cases(20)
@given(LATENCY_TABLES)
def test_a_bad_latency_table_is_refused(fuzz_world, case_dir, text):
    root = case_dir()
    (root / "lt.json").write_text(text)
    refused(["search", "--task", "nas_bench_macro", "--data", fuzz_world["table"], "--latency-table", "lt.json",
             "--out", "o", "--quiet"], root)


# archives ------------------------------------------------------------------------------------------------------
def _corrupt(record: dict, how: str, other: str) -> object:
    r = dict(record)
    if how == "no-objectives":
        r.pop("objectives")
    elif how == "text-objective":
        r["objectives"] = {**r["objectives"], "error": "low"}
    elif how == "nan-objective":
        r["objectives"] = {**r["objectives"], "error": float("nan")}
    elif how == "inf-objective":
        r["objectives"] = {**r["objectives"], "params": float("inf")}
    elif how == "objectives-list":
        r["objectives"] = [0.1, 2]
    elif how == "missing-objective":
        r["objectives"] = {"params": 1}
    elif how == "other-space":
        r["genome"] = other
    elif how == "garbage-genome":
        r["genome"] = "nas_bench_macro:ops=9;9"
    elif how == "wrong-key":
        r["key"] = "0123456789abcdef"
    elif how == "missing-checkpoint":
        r["checkpoint"] = f"checkpoints/{r['key']}"
    elif how == "no-key":
        r.pop("key")
    elif how == "not-a-record":
        return [r]
    elif how == "deep":
        r["extra"] = nested(DEEP)
    return r


ARCHIVE_DAMAGE = ["no-objectives", "text-objective", "nan-objective", "inf-objective", "objectives-list",
                  "missing-objective", "other-space", "garbage-genome", "wrong-key", "missing-checkpoint", "no-key",
                  "not-a-record", "deep", "garbage-line"]


@cases(45)
@given(st.sampled_from(ARCHIVE_DAMAGE), st.data())
def test_a_damaged_archive_is_refused_before_the_resume_writes_a_byte(fuzz_world, case_dir, how, data):
    root = case_dir()
    run = root / "run"
    shutil.copytree(fuzz_world["run"], run)
    lines = (run / "archive.jsonl").read_text().splitlines()
    # a line that does not parse is a torn write only when it is the last one: put it anywhere else
    i = data.draw(st.integers(0, len(lines) - (2 if how == "garbage-line" else 1)), label="line")
    record = json.loads(lines[i])
    lines[i] = ('{"key": "abc", "stat' if how == "garbage-line" else
                json.dumps(_corrupt(record, how, "nb201:ops=skip_connect;none;none;none;none;none")))
    (run / "archive.jsonl").write_text("\n".join(lines) + "\n")
    refused(["search", "--resume", "run", "--quiet"], root, expect=f"archive.jsonl:{i + 1}")


@cases(15)
@given(st.sampled_from(["no-objectives", "text-objective", "nan-objective", "objectives-list", "no-key",
                        "not-a-record", "deep", "garbage-line"]), st.data())
def test_a_report_of_a_damaged_archive_is_refused(fuzz_world, case_dir, how, data):
    root = case_dir()
    shutil.copytree(fuzz_world["run"], root / "run")
    lines = (root / "run" / "archive.jsonl").read_text().splitlines()
    i = data.draw(st.integers(0, len(lines) - 2), label="line")
    lines[i] = ('{"key": "abc", "stat' if how == "garbage-line" else
                json.dumps(_corrupt(json.loads(lines[i]), how, "")))
    (root / "run" / "archive.jsonl").write_text("\n".join(lines) + "\n")
    refused(["report", "run", "--out", "r.html"], root, expect="archive.jsonl")


# paper tables --------------------------------------------------------------------------------------------------
@cases(15)
@given(st.sampled_from(["{not json", "[1, 2]", "", "NaN", "\x00\x01\xff", "[" * 200 + "]" * 200, "1e999",
                        '{"test_error": ' + "1" * 5000 + "}"]), st.sampled_from(["a", "deep/er/run"]))
def test_a_damaged_result_under_table_runs_is_refused_by_name(case_dir, text, where):
    root = case_dir()
    (root / "runs" / where).mkdir(parents=True)
    (root / "runs" / where / "result.json").write_text(text)
    refused(["table", "cifar10", "--runs", "runs"], root, expect="result.json")


# checkpoints ---------------------------------------------------------------------------------------------------
def _weights(how: str, root: Path) -> bytes:
    if how == "empty":
        return b""
    if how == "text":
        return b"not a state dict\n"
    if how == "pickle":
        return pickle.dumps({"w": (os.system, ("true",))})
    if how == "truncated":
        path = root / "w.pt"
        torch.save({"w": torch.zeros(100)}, path)
        return path.read_bytes()[:60]
    if how == "other-shapes":
        path = root / "w.pt"
        torch.save({"w": torch.zeros(3)}, path)
        return path.read_bytes()
    raise AssertionError(how)


GENOME_META = st.sampled_from([
    None, {"size": "big"}, {"size": {"seconds": 1e8}}, {"size": {"seconds": -1}}, {"size": {"outputs": 0}},
    {"size": {"channels": 100000000}}, {"size": nested(DEEP)}, {"size": {"seconds": float("nan")}}, [1, 2],
])


@cases(35)
@given(st.sampled_from(["empty", "text", "pickle", "truncated", "other-shapes", None]), GENOME_META,
       st.sampled_from(["export", "label"]))
def test_a_bad_checkpoint_is_refused(fuzz_world, case_dir, weights, meta, verb):
    if weights is None and meta is None:
        meta = {"size": {"seconds": 1e8}}  # the valid checkpoint itself would be accepted: damage its size
    root = case_dir()
    ck = root / "ck"
    shutil.copytree(fuzz_world["audio_ck"], ck)
    if weights is not None:
        (ck / "weights.pt").write_bytes(_weights(weights, root))
    if meta is not None:
        genome = yaml.safe_load((ck / "genome.yaml").read_text())
        genome["meta"] = meta
        (ck / "genome.yaml").write_text(yaml.safe_dump(genome))
    shutil.copytree(fuzz_world["audio"], root / "audio")
    argv = (["export", "ck", "--out", "m.onnx"] if verb == "export" else
            ["label", "--teacher", "ck", "--audio", "audio", "--out", "l.csv", "--quiet"])
    refused(argv, root)


def test_an_image_checkpoint_is_no_audio_teacher(fuzz_world, case_dir):
    root = case_dir()
    shutil.copytree(fuzz_world["audio"], root / "audio")
    refused(["label", "--teacher", fuzz_world["image_ck"], "--audio", "audio", "--out", "l.csv"], root,
            expect="not raw audio")


# outputs -------------------------------------------------------------------------------------------------------
OUTPUTS = {  # verb -> argv with OUT where the output goes
    "search": ["search", "--task", "nas_bench_macro", "--data", "TABLE", "--out", "OUT", "--quiet"],
    "train": ["train", "--arch", "wav2small_17k", "--dataset", "ser", "--out", "OUT", "--epochs", "1"],
    "export": ["export", "wav2small_17k", "--out", "OUT"],
    "latency-table": ["latency-table", "--space", "wav2small", "--out", "OUT"],
    "label": ["label", "--teacher", "AUDIO_CK", "--audio", "AUDIO", "--out", "OUT"],
    "show": ["show", "eeea_c", "--save", "OUT"],
}


@cases(30)
@given(st.sampled_from(sorted(OUTPUTS)), st.sampled_from(["under-a-file", "missing-folder", "a-folder", "exists"]))
def test_an_unusable_output_is_refused_before_any_work(fuzz_world, case_dir, verb, where):
    root = case_dir()
    (root / "file").write_text("mine\n")
    (root / "folder").mkdir()
    (root / "folder" / "mine.txt").write_text("mine\n")
    out = {"under-a-file": "file/sub", "missing-folder": "no/such/folder/x", "a-folder": "folder",
           "exists": "file"}[where]
    if verb in ("search", "train") and where == "missing-folder":
        out = "file/deeper/still"  # a run folder's missing parents are made: only a file in the way is refused
    if verb == "label" and where == "exists":
        out = "folder/mine.txt"  # label continues an existing CSV: one that is not its CSV is refused
    argv = [{"OUT": out, "TABLE": str(fuzz_world["table"]), "AUDIO_CK": str(fuzz_world["audio_ck"]),
             "AUDIO": str(fuzz_world["audio"])}.get(a, a) for a in OUTPUTS[verb]]
    refused(argv, root)


# genomes -------------------------------------------------------------------------------------------------------
@cases(20)
@given(st.one_of(
    st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=60).filter(
        lambda t: not t.startswith("-") and t.strip() not in ("", "eeea_c") and "/" not in t),
    st.sampled_from(["eeea:", "eeea:normal=", "nb201:ops=a;b", "wav2small:x=1", "nas_bench_macro:ops=3;3;3",
                     "mobilenet:resolution=1e999"])))
def test_a_bad_genome_text_is_refused(case_dir, text):
    root = case_dir()
    refused(["show", text], root)


@pytest.mark.slow
def test_the_harness_at_volume():
    """Twenty times the cases, drawn afresh each run (the default run's draws are fixed)."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-m", "not slow"],
                          env={**os.environ, "HYPOTHESIS_PROFILE": "thorough"}, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-5000:]
