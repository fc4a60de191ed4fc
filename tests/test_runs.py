"""Loading what runs leave behind (checkpoints, training runs, search members by key), ``eeea show RUN_DIR`` on
finished, interrupted and diverged searches, the hints a run prints, and NAS-Bench-201's isomorphic cells."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import eeea
from eeea import Genome, get_space
from eeea.checkpoint import save_checkpoint
from eeea.cli import main
from eeea.models.nb201 import NB201_OPS, cell_function
from eeea.run_summary import collapse_isomorphic
from eeea.search.config import DEFAULTS
from eeea.tasks.hints import train_options

torch.set_num_threads(1)
NB201_TEXT = "nb201:edges=nor_conv_3x3,nor_conv_1x1,avg_pool_3x3,skip_connect,nor_conv_3x3,nor_conv_1x1"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    """A small NAS-Bench-201 network with weights (and batch-norm statistics) no fresh build has."""
    space = get_space("nb201")
    size = space.size(channels=4, cells=1)
    torch.manual_seed(3)
    model = space.build(Genome.from_text(NB201_TEXT), **size)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    model.eval()
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "ck", Genome.from_text(NB201_TEXT), model, size), model


def test_create_model_of_a_checkpoint_directory_gives_the_checkpoints_outputs(checkpoint):
    ck, trained = checkpoint
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    model = eeea.create_model(ck)
    assert not model.training
    with torch.no_grad():
        torch.testing.assert_close(model(x), trained(x), rtol=0, atol=0)
        fresh = get_space("nb201").build(Genome.from_text(NB201_TEXT), channels=4, cells=1).eval()
        assert not torch.allclose(fresh(x), trained(x))  # the equality above is the weights', not the build's
    # the documented route by hand: weights.pt is a plain state dict of the genome's network at meta.size
    meta = __import__("yaml").safe_load((ck / "genome.yaml").read_text())["meta"]
    by_hand = eeea.create_model(str(ck / "genome.yaml"), **meta["size"])
    by_hand.load_state_dict(torch.load(ck / "weights.pt", weights_only=True))
    with torch.no_grad():
        torch.testing.assert_close(by_hand.eval()(x), trained(x), rtol=0, atol=0)


def test_a_checkpoints_weights_fit_only_its_size(checkpoint, capsys):
    ck, _ = checkpoint
    assert eeea.create_model(ck, channels=4) is not None  # the size it has: fine
    with pytest.raises(eeea.UserError, match="its weights were trained at"):
        eeea.create_model(ck, channels=8)
    with pytest.raises(eeea.UserError, match="holds one network, no keys"):
        eeea.create_model(ck, "abcd")


def test_show_describes_a_checkpoint_directory(checkpoint, capsys):
    ck, _ = checkpoint
    assert main(["show", str(ck)]) == 0
    out = capsys.readouterr().out
    assert f"text:   {NB201_TEXT}" in out and "channels=4, cells=1" in out
    assert f"from:   checkpoint {ck}; load it with eeea.create_model({str(ck)!r})" in out


# eeea show RUN_DIR -------------------------------------------------------------------------------------------------
def test_show_summarises_a_finished_run(tiny_reference, capsys):
    assert main(["show", str(tiny_reference)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"run:         {tiny_reference} (search)"
    assert lines[1].startswith("task:        cifar10 (")
    assert f"on space eeea, seed 0, algorithm {DEFAULTS['algorithm']}" in lines[1]
    assert lines[2].startswith("budget:      max-params 5M; population 4, generations 1")
    assert lines[3:5] == ["status:      finished", "evaluations: 8 (8 ok)"]
    front = (tiny_reference / "pareto.csv").read_text().splitlines()[1:]
    assert any(line.startswith("rank  key") for line in lines)
    for row in front:
        assert row.split(",")[0] in out or row.split(",")[1] in out  # every front member's key is listed
    hint = lines[-1]
    assert hint.startswith("train the best front member with: eeea train --arch ") and " --dataset cifar10 " in hint
    assert "trained now" not in out
    assert main(["show", str(tiny_reference), "zzzz"]) == 2
    assert "no member with key 'zzzz'" in capsys.readouterr().err


def test_show_summarises_an_interrupted_run(tiny_reference, tmp_path, capsys):
    """A run stopped after its first generation holds its config, state, part of its archive and no front files."""
    run = tmp_path / "run"
    shutil.copytree(tiny_reference, run)
    archive = (run / "archive.jsonl").read_text().splitlines()[:4]
    (run / "archive.jsonl").write_text("\n".join(archive) + "\n")
    state = json.loads((run / "state.json").read_text())
    (run / "state.json").write_text(json.dumps({**state, "generation": 0, "evaluations": 4, "finished": False}))
    for name in ("pareto.csv", "pareto.png"):
        (run / name).unlink()
    shutil.rmtree(run / "genomes")
    assert main(["show", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"status:      interrupted after generation 0 of 1 (continue with: eeea search --resume {run})" in out
    assert "evaluations: 4 (4 ok)" in out and "rank  key" in out
    hint = out.splitlines()[-1]  # no genome files yet: the hint names the genome by its text, and it works
    text = hint.split("eeea train --arch ")[1].split(" --dataset")[0].strip("'")
    assert main(["show", text]) == 0 and capsys.readouterr().out.startswith("name:")
    key = json.loads(archive[0])["key"]
    model = eeea.create_model(run, key, channels=4, layers=3)  # image searches keep no weights: untrained
    assert sum(p.numel() for p in model.parameters()) > 0


def test_show_summarises_a_run_whose_every_candidate_diverged(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["search", "--task", "fault_tasks:DivergeTask", "--channels", "4", "--layers", "3", "--device", "cpu",
                 "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["show", str(run)]) == 0
    out = capsys.readouterr().out
    assert "status:      finished" in out and "evaluations: 2 (2 diverged)" in out
    assert "no candidate finished training: every one diverged (e.g. loss became nan in epoch 1 (injected))" in out
    assert "export" not in out and "train the best" not in out
    with pytest.raises(eeea.UserError, match="no member has finished training yet, so none is best"):
        eeea.create_model(run, "best")


def test_best_is_the_fronts_first_finished_member(tiny_reference, tmp_path, capsys):
    first = (tiny_reference / "pareto.csv").read_text().splitlines()[1]
    key = first.split(",")[1]
    assert main(["show", str(tiny_reference), "best"]) == 0
    shown = capsys.readouterr().out
    assert f"key:    {key}" in shown and f"member {key} of search run {tiny_reference}" in shown
    # image searches keep no weights: int8, checked against torch, is refused
    assert main(["export", str(tiny_reference), "best", "--format", "onnx-int8", "--out", str(tmp_path / "q")]) == 2
    assert "best has untrained weights: int8 export needs a trained network" in capsys.readouterr().err


def test_a_search_run_needs_a_key_to_load_a_member(tiny_reference):
    with pytest.raises(eeea.UserError, match="is a search run directory: name a member by its key"):
        eeea.create_model(tiny_reference)


# hints and NAS-Bench-201 cells --------------------------------------------------------------------------------------
def test_train_hints_carry_the_task_options_of_the_run():
    assert train_options({"task": "nb201", "data": "t.csv", "task_config": {"dataset": "imagenet16"}}) == [
        "--dataset", "imagefolder", "--data", "IMAGENET16-120_FOLDER", "--input-size", "16"]
    assert train_options({"task": "nb201", "data": "t.csv", "task_config": {"dataset": "cifar100"}}) == [
        "--dataset", "cifar100"]
    assert train_options({"task": "ser", "data": "clips", "task_config": {
        "labels": "l.csv", "test_speakers": ["03", "08"], "valid_speakers": None}}) == [
        "--dataset", "ser", "--data", "clips", "--labels", "l.csv", "--test-speakers", "03,08"]
    assert train_options({"task": "nas_bench_macro", "data": "m.json", "task_config": {}}) == ["--dataset", "cifar10"]
    assert train_options({"task": "cifar100", "data": "/d/c100", "task_config": {"holdout": 0.1}}) == [
        "--dataset", "cifar100", "--data", "/d/c100", "--holdout", "0.1"]
    assert train_options({"task": "imagefolder", "data": "/d/imgs", "task_config": {}}) == [
        "--dataset", "imagefolder", "--data", "/d/imgs"]


edges = st.lists(st.sampled_from(NB201_OPS), min_size=6, max_size=6)


@settings(max_examples=200, deadline=None)
@given(edges, st.sampled_from(NB201_OPS), st.sampled_from(NB201_OPS))
def test_edges_that_cannot_reach_the_output_do_not_count(e, a, b):
    e[5] = "none"  # node 2 feeds nothing: its two input edges are free
    assert cell_function(e) == cell_function([e[0], a, b, *e[3:]])


@settings(max_examples=200, deadline=None)
@given(edges)
def test_parallel_middle_nodes_can_swap_and_a_skip_can_move_along_a_path(e):
    e[2] = "none"  # nodes 1 and 2 both read only the input: which holds which branch does not count
    assert cell_function(e) == cell_function([e[1], e[0], e[2], e[3], e[5], e[4]])
    chain = [e[0], "none", "skip_connect", e[3], "none", e[5]]  # input -> 1 -> 2 -> 3 with one skip on the path
    assert cell_function(chain) == cell_function([e[0], "none", e[5], e[3], "none", "skip_connect"])


def test_cells_that_compute_different_functions_differ():
    conv3, conv1 = ["nor_conv_3x3"] * 6, ["nor_conv_1x1"] * 6
    assert cell_function(conv3) != cell_function(conv1)
    assert cell_function(["none"] * 6) == "0" and cell_function(["skip_connect"] + ["none"] * 5) == "0"
    assert cell_function(["none", "none", "none", "skip_connect", "none", "none"]) == "x"
    import itertools

    classes = {cell_function(c) for c in itertools.product(NB201_OPS, repeat=6)}
    assert 4000 < len(classes) < 15625  # many cells share a function; most functions are distinct


def test_isomorphic_front_members_with_the_same_figures_print_once():
    a = "nb201:edges=nor_conv_1x1,skip_connect,avg_pool_3x3,skip_connect,nor_conv_3x3,none"
    b = "nb201:edges=nor_conv_1x1,none,avg_pool_3x3,skip_connect,nor_conv_3x3,none"
    c = "nb201:edges=nor_conv_3x3,none,none,skip_connect,none,nor_conv_3x3"
    objectives = {"error": 0.3, "params": 1000}
    front = [{"key": k, "genome": g, "status": "ok", "objectives": dict(o)}
             for k, g, o in (("ka", a, objectives), ("kb", b, objectives), ("kc", c, {"error": 0.4, "params": 9}))]
    shown, twins, notes = collapse_isomorphic(front, ["error", "params"])
    assert shown == [0, 2] and twins == {0: [1]} and notes == [
        "isomorphic cells, one network printed once (rank 0): ka = kb"]
    front[1]["objectives"]["error"] = 0.31  # the benchmark trained each: both stay, and the note says why
    shown, twins, notes = collapse_isomorphic(front, ["error", "params"])
    assert shown == [0, 1, 2] and not twins and "the benchmark having trained each: ka = kb" in notes[0]
