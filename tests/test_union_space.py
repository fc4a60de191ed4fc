"""The union space (wav2small + mobilenet_audio, the ser default) and the known-good genome every default first
population includes: a genome of the union is its member's genome, counts and builds exactly, and each algorithm's
first round holds wav2small_17k, the run seed deciding the rest."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pymoo.core.problem import Problem
from strategies import assert_round_trips

from eeea import get_space, resolve_genome
from eeea.errors import GenomeError, UserError
from eeea.search.algorithms import ALGORITHMS, make_algorithm
from eeea.search.config import resolve_config
from eeea.search.eepi import EEPI, BudgetRepair
from eeea.search.variation import KeyDuplicates

torch.set_num_threads(1)
UNION = get_space("audio_union")
PUBLIC = resolve_genome("wav2small_17k")


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_a_union_genome_is_its_members_and_counts_exactly(seed):
    assert_round_trips(UNION, seed)
    genome = UNION.random_genome(np.random.default_rng(seed))
    member = get_space(genome.space)
    assert genome.space in ("wav2small", "mobilenet_audio") and member.validate(genome) == genome
    assert member.decode(member.encode(genome)) == genome  # the same genome (and key) as from its member alone
    assert UNION.count_params(genome) == member.count_params(genome)
    assert UNION.count_macs(genome) == member.count_macs(genome)
    assert UNION.count_int8_bytes(genome) == member.count_int8_bytes(genome)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_sampled_union_genomes_build_and_run_on_raw_audio(seed):
    genome = UNION.random_genome(np.random.default_rng(seed))
    model = UNION.build(genome, seconds=0.25, outputs=1).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 4000)).shape == (2, 1)
    assert UNION.count_params(genome, outputs=1) == sum(p.numel() for p in model.parameters())


def test_both_members_are_drawn_and_repair_keeps_every_block_valid():
    rng = np.random.default_rng(0)
    spaces = {UNION.random_genome(rng).space for _ in range(40)}
    assert spaces == {"wav2small", "mobilenet_audio"}
    wild = rng.integers(-5, 50, UNION.n_var)
    fixed = UNION.repair(wild)
    assert np.all(fixed >= UNION.xl) and np.all(fixed <= UNION.xu)
    UNION.decode(fixed)
    groups = sorted(g for group in UNION.gene_groups() for g in group)
    assert groups == list(range(UNION.n_var))  # every gene in exactly one group


def test_genomes_of_other_spaces_and_bad_union_files_are_refused(tmp_path):
    with pytest.raises(GenomeError, match="not a member of audio_union"):
        UNION.validate(get_space("eeea").random_genome(np.random.default_rng(0)))
    bad = tmp_path / "u.yaml"
    bad.write_text("name: u\nkind: union\nmembers: [wav2small]\n")
    with pytest.raises(UserError, match="two or more"):
        get_space(str(bad))
    bad.write_text("name: u2\nkind: union\nmembers: [wav2small, eeea]\n")
    with pytest.raises(UserError, match="different inputs"):
        get_space(str(bad))


def test_the_public_layout_is_in_the_union_and_within_the_default_budget():
    config = resolve_config({})
    assert config["space"] == "audio_union" and config["initial_genomes"] == ["wav2small_17k"]
    assert config["max_model_bytes"] == 80_000
    assert UNION.decode(UNION.encode(PUBLIC)) == PUBLIC
    eepi = EEPI(UNION, config["max_params"], config["max_macs"], {}, max_bytes=config["max_model_bytes"],
                initial=[PUBLIC])
    assert eepi.rejected_by(PUBLIC) is None and eepi.notes == [
        f"initial population: includes wav2small_17k ({PUBLIC.to_text()})"]


def _first_round(name: str, seed: int, initial=(PUBLIC,), population: int = 6) -> list:
    """The genomes of an algorithm's first round as the search loop evaluates them."""
    config = {**resolve_config({"seed": seed, "population": population, "algorithm": name}), "generations": 1,
              "objectives": ["1-ccc", "params"]}  # the task's, as the search loop fills them in
    eepi = EEPI(UNION, config["max_params"], config["max_macs"], {}, max_bytes=config["max_model_bytes"],
                initial=list(initial))
    problem = Problem(n_var=UNION.n_var, n_obj=2, xl=UNION.xl, xu=UNION.xu, vtype=int)
    algorithm, _ = make_algorithm(name, problem, eepi, KeyDuplicates(UNION), BudgetRepair(eepi), config)
    return [UNION.decode(np.asarray(x, dtype=np.int64)) for x in eepi.include_initial(algorithm.ask().get("X"))]


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_algorithms_first_round_includes_the_known_good_genome(algorithm):
    first = _first_round(algorithm, 0)
    assert first[0] == PUBLIC and PUBLIC not in first[1:]
    assert len({g.key for g in first}) == len(first) == 6
    again = _first_round(algorithm, 0)
    assert [g.key for g in again] == [g.key for g in first]  # deterministic: resume replays the same round
    other = _first_round(algorithm, 1)
    assert other[0] == PUBLIC and [g.key for g in other[1:]] != [g.key for g in first[1:]]  # the seed decides the rest
    plain = _first_round(algorithm, 0, initial=())
    assert PUBLIC not in plain


def test_an_initial_genome_the_round_already_holds_is_not_added_twice():
    eepi = EEPI(UNION, initial=[PUBLIC])
    X = np.array([UNION.sample(np.random.default_rng(i)) for i in range(3)])
    X[2] = UNION.encode(PUBLIC)
    out = eepi.include_initial(X)
    assert np.array_equal(out, X) and not eepi.pending
    assert np.array_equal(eepi.include_initial(X[:2]), X[:2])  # placed once: a later round is left alone


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_the_search_evaluates_the_initial_genomes_first_with_every_algorithm(algorithm, shared_dir, tmp_path):
    """The loop, not the algorithm, places them (a lookup task: nothing is trained), and resume replays the run."""
    import json

    from eeea.cli import main

    cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"
    genome = get_space("nb201").from_benchmark(cell)
    argv = ["search", "--task", "nb201", "--data", str(shared_dir / "data" / "nasbench201.csv"), "--algorithm",
            algorithm, "--population", "6", "--generations", "1", "--initial-genome", genome.to_text(), "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "archive.jsonl").read_text().splitlines()]
    assert genome.to_text() in {r["genome"] for r in records if r["generation"] == 0}
    assert sum(r["genome"] == genome.to_text() for r in records) == 1
    assert "initial population: includes" in (tmp_path / "run" / "log.txt").read_text()


def test_initial_genomes_outside_the_space_or_budget_are_left_out_with_a_note():
    mobilenet = get_space("mobilenet_audio")
    eepi = EEPI(mobilenet, 72_000, 400_000_000, {}, initial=[PUBLIC])
    assert eepi.notes == ["initial population: wav2small_17k is not in space mobilenet_audio; left out"]
    assert not eepi.pending
    tight = EEPI(UNION, 72_000, 100_000_000, {}, initial=[PUBLIC])
    assert "fails the macs screen" in tight.notes[0] and not tight.pending


def test_bad_initial_genomes_are_one_line():
    with pytest.raises(UserError, match="--initial-genome: 'nope' is not a zoo name"):
        resolve_config({"initial_genomes": "nope"})
    assert resolve_config({"initial_genomes": "none"})["initial_genomes"] == []
    assert resolve_config({"initial_genomes": "wav2small_17k, wav2small_17k"})["initial_genomes"] == [
        "wav2small_17k", "wav2small_17k"]
    text = PUBLIC.to_text()  # a genome text holds commas of its own: one genome
    assert resolve_config({"initial_genomes": text})["initial_genomes"] == [text]
    assert resolve_config({"initial_genomes": ["none"]})["initial_genomes"] == []  # --initial-genome none
