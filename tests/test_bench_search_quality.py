"""bench_search_quality's machinery: Optuna's samplers as peers counted in distinct evaluations, the table every row is
judged on (the library's lookup and counts), the run cache and its identity, the paired tests, and its RESULTS.md
section."""
from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import _quality_report as report  # noqa: E402
import _quality_runs as runs  # noqa: E402
import bench_search_quality as bench  # noqa: E402

from eeea.search.archive import SearchRun  # noqa: E402
from eeea.search.config import resolve_config  # noqa: E402
from eeea.search.loop import search  # noqa: E402


@pytest.fixture(scope="module")
def data(shared_dir) -> str:
    folder = shared_dir / "data"
    if not (folder / "nasbench201.csv").is_file():
        pytest.skip(f"{folder / 'nasbench201.csv'} is absent")
    return str(folder)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(runs, "CACHE", tmp_path / "cache")
    return tmp_path / "cache"


def test_optuna_repeats_are_not_evaluations(data, tmp_path):
    """Optuna's default TPE asks for genomes it has seen: those trials are told the known value and not counted."""
    pytest.importorskip("optuna")
    spec = runs.RunSpec("nas-bench-macro", "optuna-tpe-default", 0, 40, data, max_trials=400)
    run = runs.execute(spec, tmp_path)
    assert len(run["keys"]) == len(set(run["keys"])) == 40 and run["trials"] > 40 and not run["stopped"]
    assert runs.execute(spec, tmp_path)["keys"] == run["keys"]  # seeded: the same study again
    capped = runs.execute(replace(spec, max_trials=30), tmp_path)
    assert capped["keys"] == run["keys"][:len(capped["keys"])] and len(capped["keys"]) <= 30
    assert capped["stopped"] == f"30-trial cap at {len(capped['keys'])} distinct evaluations"


def test_the_table_is_what_the_search_records(data, tmp_path):
    """Every row is judged on one table: its errors and params (CIFAR-100: the 100-class network) are the archive's."""
    table = runs.load_table("nb201-cifar100", data)
    config = resolve_config({"task": "nb201", "data": f"{data}/nasbench201.csv", "task_config": {"dataset": "cifar100"},
                             "algorithm": "random", "seed": 2, "max_evaluations": 30})
    search(config, tmp_path / "run", quiet=True)
    archived = SearchRun.read(tmp_path / "run").read_archive()
    for a, r in zip(archived, table.records([a["key"] for a in archived])):
        assert a["params"] == r["params"] and a["objectives"]["error"] == r["objectives"]["error"]
        assert a["extra"]["test_accuracy"] == r["extra"]["test_accuracy"]


def test_the_cache_serves_a_prefix_and_never_a_shorter_run(cache):
    spec = runs.RunSpec("nas-bench-macro", "random", 3, 50, "unused")
    run = {"keys": [f"k{i}" for i in range(50)], "asked": 50, "stopped": "", "trials": 50, "cpu_seconds": 1.0}
    runs.write_cached(spec, "id", run)
    assert runs.read_cached(replace(spec, budget=20), "id")["keys"] == run["keys"][:20]
    assert runs.read_cached(replace(spec, budget=60), "id") is None
    assert runs.read_cached(spec, "other-identity") is None
    peer = replace(spec, algorithm="optuna-tpe", max_trials=100)
    runs.write_cached(peer, "id", {**run, "keys": run["keys"][:30], "stopped": "100-trial cap", "max_trials": 100})
    assert len(runs.read_cached(replace(peer, budget=500), "id")["keys"]) == 30  # a larger budget changes nothing
    assert runs.read_cached(replace(peer, budget=500, max_trials=200), "id") is None  # a larger cap does


def test_an_algorithm_s_identity_follows_what_it_does(data, cache, monkeypatch):
    """The canary search stands for the algorithm's behaviour: other options, another identity; an edit of eeea's
    source that leaves the behaviour alone (the canary reruns), the same identity, so its runs stay valid."""
    identity = runs.identity.__wrapped__
    options = '{"population": 20, "tournament": 5, "max_params": 0}'
    canaries = []
    real = runs.execute
    monkeypatch.setattr(runs, "execute", lambda spec, root: canaries.append(spec) or real(spec, root))
    a = identity("nas-bench-macro", "random", options, data)
    assert identity("nas-bench-macro", "random", options, data) == a and len(canaries) == 1  # remembered
    monkeypatch.setattr(runs, "source_hash", lambda: "edited")
    assert identity("nas-bench-macro", "random", options, data) == a and len(canaries) == 2  # rerun, same result
    assert identity("nas-bench-macro", "random", options.replace(": 0}", ": 1500000}"), data) != a


def test_a_second_invocation_computes_only_what_it_lacks(data, cache, monkeypatch, capsys):
    args = ["--seeds", "2", "--budgets", "10,20", "--benchmarks", "nas-bench-macro", "--algorithms", "random",
            "--data-dir", data, "--no-record", "--quiet"]
    bench.main(args)
    first = capsys.readouterr().out
    assert "| random | " in first and "### nas-bench-macro" in first
    computed = []
    real = runs.execute
    monkeypatch.setattr(runs, "execute", lambda spec, root: computed.append(spec) or real(spec, root))
    bench.main([*args[:7], "random,regularized-evolution", *args[8:]])
    second = capsys.readouterr().out
    assert {s.algorithm for s in computed} == {"regularized-evolution"}  # random's runs came from the cache
    figures = [[re.sub(r" \(.*?\)", "", line) for line in out.splitlines() if line.startswith("| random |")]
               for out in (first, second)]
    assert figures[0] == figures[1] and len(figures[0]) == 3  # the same runs (the p-values now have a peer)


def test_a_missing_optuna_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(bench, "optuna_missing", lambda: True)
    with pytest.raises(SystemExit) as exit_:
        bench.parse_args(["--algorithms", "nsga2,optuna-tpe"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and 'pip install -e ".[bench]"' in err
    assert bench.parse_args([]).algorithm_list == ["nsga2", "regularized-evolution", "random"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "skipping optuna-tpe, optuna-nsga2" in err


def test_unknown_algorithms_are_one_line(capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--algorithms", "nsga2,nsga3"])
    assert "--algorithms: unknown 'nsga3'" in capsys.readouterr().err


def test_paired_tests_and_the_best_row():
    rng = np.random.default_rng(0)
    base = rng.normal(0.8, 0.05, 100)
    assert report.paired_p(base, base) == 1.0
    assert report.paired_p(base + 0.01 + rng.normal(0, 0.001, 100), base) < 1e-6
    assert report.holm({"a": 0.01, "b": 0.04, "c": 0.03}) == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06})
    col = report.column({"good": dict(enumerate(base + 0.02)), "same": dict(enumerate(base + 0.02)),
                         "worse": dict(enumerate(base))})
    assert col["good"]["best"] and col["same"]["tied"] and not col["worse"]["tied"]
    assert col["good"]["p"] == col["same"]["p"] == 1.0 and col["worse"]["p"] < 1e-6  # one test per pair
    assert col["worse"]["se"] == pytest.approx(np.std(base, ddof=1) / 10)


def test_the_section_is_replaced_and_its_reading_kept(tmp_path, monkeypatch):
    path = tmp_path / "RESULTS.md"
    monkeypatch.setattr(report, "RESULTS", path)
    path.write_text(f"# Benchmark results\n\n{report.SECTION}\n\nold table\n\n### Reading\n\nby hand\n\n## next\n\nx\n")
    report.write_section(f"{report.SECTION}\n\nnew table\n")
    text = path.read_text()
    assert "old table" not in text and "new table\n\n### Reading\n\nby hand\n" in text and text.endswith("## next\n\nx\n")
