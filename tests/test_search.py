"""End-to-end search on the embedded real CIFAR-10 subset: run-directory files, determinism across executors,
genome-aware variation, and one-line rejection of bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from search_helpers import TINY_CONFIG, TINY_FLAGS

from eeea.cli import main
from eeea.genome import Genome
from eeea.search.loop import search
from eeea.search.config import resolve_config
from eeea.spaces import get_space
from eeea.search.variation import GroupMutation, GroupUniformCrossover

torch.set_num_threads(1)
SPACE = get_space("eeea")


def _archive(run) -> dict[str, dict]:
    return {r["key"]: r for r in map(json.loads, (run / "archive.jsonl").read_text().splitlines())}


def test_cli_search_writes_every_run_file(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["search", "--out", str(out), *[f for f in TINY_FLAGS if f != "--quiet"]]) == 0
    printed = capsys.readouterr().out
    assert "rank" in printed and "EE-PI:" in printed and "draws" in printed
    for name in ("config.yaml", "archive.jsonl", "state.json", "pareto.csv", "pareto.png", "log.txt"):
        assert (out / name).is_file(), name
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["max_params"] == 5_000_000 and config["population"] == 4 and config["size"]["channels"] == 4
    archive = _archive(out)
    assert len(archive) == 8  # 4 initial + 4 offspring, all distinct
    for r in archive.values():
        assert r["status"] == "ok" and 0 <= r["objectives"]["error"] <= 1
        assert r["params"] <= 5_000_000  # eepi-scope all: nothing over budget was trained
        g = Genome.from_text(r["genome"])
        assert g.key == r["key"] and SPACE.count_params(g) == r["params"]
    state = json.loads((out / "state.json").read_text())
    assert state["finished"] and state["evaluations"] == 8 and state["eepi"]["draws"] >= 4
    front = (out / "pareto.csv").read_text().splitlines()
    genomes = sorted((out / "genomes").iterdir())
    assert len(genomes) == len(front) - 1 >= 1
    for path in genomes:
        assert Genome.load(path).key in archive


def test_same_seed_same_result_in_process_and_process_pool(tmp_path):
    """The first population trained in-process and by a pool of 2, to the last bit. (That the next generation does
    not depend on the order results come back in is test_ray_executor's: two actors, one generation.)"""
    # default threads, and a caller whose own torch uses several threads: results must not depend on the executor
    config = {k: v for k, v in TINY_CONFIG.items() if k != "threads"} | {"generations": 0}
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        local = search(resolve_config(config), tmp_path / "local", quiet=True)
        assert torch.get_num_threads() == 2  # the caller's setting is restored
    finally:
        torch.set_num_threads(before)
    pool = search(resolve_config(config, {"workers": 2}), tmp_path / "pool", quiet=True)
    a, b = _archive(tmp_path / "local"), _archive(tmp_path / "pool")
    assert a.keys() == b.keys()
    for key in a:
        assert a[key]["objectives"] == b[key]["objectives"], key
        assert a[key]["extra"] == b[key]["extra"], key  # train loss to the last bit
        assert a[key]["seed"] == b[key]["seed"]
    assert (tmp_path / "local" / "pareto.csv").read_text() == (tmp_path / "pool" / "pareto.csv").read_text()
    assert [r["key"] for r in local.front] == [r["key"] for r in pool.front]


def test_a_different_seed_gives_a_different_population(tiny_reference, tmp_path):
    """The session's tiny search (seed 0) against the first population of seed 1."""
    search(resolve_config({**TINY_CONFIG, "generations": 0}, {"seed": 1}), tmp_path / "b", quiet=True)
    first = {k for k, r in _archive(tiny_reference).items() if r["generation"] == 0}
    assert len(first) == 4 and first != _archive(tmp_path / "b").keys()


def test_crossover_swaps_whole_pairs_and_reproduces_from_the_random_state():
    rng = np.random.default_rng(0)
    X = np.array([[SPACE.sample(rng) for _ in range(3)], [SPACE.sample(rng) for _ in range(3)]])
    cx = GroupUniformCrossover(SPACE)
    Y = cx._do(None, X, random_state=np.random.default_rng(5))
    assert np.array_equal(Y, cx._do(None, X, random_state=np.random.default_rng(5)))
    for m in range(3):
        for group in SPACE.gene_groups():
            child = tuple(Y[0, m, group])
            assert child in (tuple(X[0, m, group]), tuple(X[1, m, group]))  # a pair is never split
            # the two children are complementary
            other = tuple(Y[1, m, group])
            assert {child, other} == {tuple(X[0, m, group]), tuple(X[1, m, group])}


def test_mutation_redraws_exactly_one_pair():
    rng = np.random.default_rng(0)
    X = np.array([SPACE.sample(rng) for _ in range(20)])
    Y = GroupMutation(SPACE)._do(None, X, random_state=np.random.default_rng(3))
    groups = SPACE.gene_groups()
    for x, y in zip(X, Y):
        changed = [i for i, g in enumerate(groups) if not np.array_equal(x[g], y[g])]
        assert len(changed) <= 1
        SPACE.decode(y)  # valid


@pytest.mark.parametrize("argv, message", [
    (["--max-params", "72q"], "--max-params: '72q' is not a number like 72k or 3.5M"),
    (["--max-params", "100k"], "smallest network has 358,822 params"),
    (["--population", "1"], "--population: must be an integer >= 2"),
    (["--eepi-scope", "some"], "invalid choice"),
    (["--objectives", "error,latency"], "--objectives"),
    (["--task", "nope"], "unknown task 'nope'"),
    (["--task", "no_such_module:Task"], "task 'no_such_module:Task': cannot import it"),
    (["--task", "eeea.genome:Genome"], "is not a subclass of eeea.tasks.Task"),
    (["--threads", "0"], "--threads: must be an integer >= 1"),
    (["--space", "nope"], "unknown search space 'nope'"),
    (["--data", "/nonexistent/cifar"], "no cifar10 data there"),
    (["--device", "cuda:0"] if not torch.cuda.is_available() else ["--workers", "0"], "--"),
    (["--config", "/nonexistent.yaml"], "--config /nonexistent.yaml: cannot read"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, message):
    code = main(["search", "--out", str(tmp_path / "r"), *TINY_FLAGS, *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("eeea: error: ") and err.count("\n") == 1 and message in err, err


def test_existing_output_is_not_overwritten_without_force(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    assert main(["search", "--out", str(tmp_path), *TINY_FLAGS]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["search", "--out", str(tmp_path), *TINY_FLAGS, "--force"]) == 2  # not eeea's folder: never emptied
    assert "not made by eeea" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_three_objectives_with_a_mac_budget(tmp_path):
    cfg = resolve_config(TINY_CONFIG, {"generations": 0, "objectives": "error,params,macs", "max_macs": "600M"})
    result = search(cfg, tmp_path / "r", quiet=True)
    assert result.objectives == ["error", "params", "macs"]
    for r in _archive(tmp_path / "r").values():
        assert r["macs"] <= 600_000_000 and r["objectives"]["macs"] == r["macs"]
    assert (tmp_path / "r" / "pareto.csv").read_text().startswith("rank,key,error,params,macs,accuracy,status")
