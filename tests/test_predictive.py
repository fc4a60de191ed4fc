"""The predictive search (``--algorithm predictive``): it never asks for an evaluated or over-budget genome, its
acquisition is the hypervolume improvement it claims to be, its runs are reproducible from the seed, and it records
what its predictor expected. Searches on the real tables are in test_tabular_search.py."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymoo.core.problem import Problem

from eeea.search.eepi import EEPI
from eeea.search.predictive import MC_POINTS, NODES, WEIGHTS, PredictiveSearch, Settings, _MonteCarlo, ehvi_2d
from eeea.search.predictor import GaussianProcess, spearman
from eeea.search.quality import hypervolume
from eeea.search.variation import KeyDuplicates
from eeea.spaces import get_space


def objective(genome) -> float:
    """A deterministic stand-in for training: an error in (0, 1) from the genome's key."""
    return 0.1 + 0.8 * int(hashlib.sha256(genome.key.encode()).hexdigest()[:8], 16) / 16**8


def drive(space_name: str, seed: int, rounds: int, population: int, max_params: int | None = None,
          objectives=("error", "params"), proposals: int = 300) -> tuple[PredictiveSearch, list[list]]:
    """``rounds`` ask/tell rounds as the search loop runs them; the genomes asked each round."""
    space = get_space(space_name)
    eepi = EEPI(space, max_params=max_params)
    duplicates = KeyDuplicates(space)
    algorithm = PredictiveSearch(eepi, duplicates, population, seed, list(objectives), Settings(proposals=proposals))
    algorithm.setup(Problem(n_var=space.n_var, n_obj=len(objectives), xl=space.xl, xu=space.xu, vtype=int))
    counts = {"params": eepi.params, "macs": eepi.macs}
    asked = []
    for _ in range(rounds):
        pop = algorithm.ask()
        genomes = [space.decode(x) for x in pop.get("X")]
        asked.append(genomes)
        pop.set("F", np.array([[objective(g)] + [counts[o](g) for o in objectives[1:]] for g in genomes]))
        algorithm.tell(pop)
        duplicates.seen.update(g.key for g in genomes)
    return algorithm, asked


@settings(max_examples=12, deadline=None)
@given(space=st.sampled_from(["nb201", "nas_bench_macro", "nsga_net", "wav2small"]), seed=st.integers(0, 2**31),
       quantile=st.one_of(st.none(), st.integers(10, 90)), population=st.integers(2, 8))
def test_it_never_asks_for_an_evaluated_or_over_budget_genome(space, seed, quantile, population):
    s = get_space(space)
    max_params = None
    if quantile is not None:
        rng = np.random.default_rng(seed)
        max_params = int(np.percentile([EEPI(s).params(s.random_genome(rng)) for _ in range(50)], quantile))
    algorithm, asked = drive(space, seed, 4, population, max_params)
    keys = [g.key for round_ in asked for g in round_]
    assert len(keys) == len(set(keys))  # never an evaluated genome, never one twice in a round
    assert all(len(round_) == population for round_ in asked)
    if max_params is not None:
        assert max(algorithm.eepi.params(g) for round_ in asked for g in round_) <= max_params
    stats = algorithm.eepi.stats
    # every proposal was screened; all not asked for were rejected, by a counted screen or by prediction
    assert stats.draws - stats.rejections == len(keys)
    assert stats.rejected_by["prediction"] > 0 and sum(stats.rejected_by.values()) == stats.rejections


def test_the_same_seed_asks_for_the_same_genomes_and_predicts_alike():
    a, asked_a = drive("nsga_net", 7, 3, 6)
    b, asked_b = drive("nsga_net", 7, 3, 6)
    assert [[g.key for g in r] for r in asked_a] == [[g.key for g in r] for r in asked_b]
    assert a.predicted == b.predicted and len(a.predicted) == 12  # rounds after the first are predicted
    assert drive("nsga_net", 8, 1, 6)[1][0] != asked_a[0]


def test_three_objectives_spread_the_batch():
    algorithm, asked = drive("nb201", 3, 3, 8, objectives=("error", "params", "macs"))
    assert len({g.key for r in asked for g in r}) == 24
    assert algorithm.round_report().startswith("predictor Spearman ")


def test_the_first_round_is_balanced_over_every_gene():
    space = get_space("nb201")
    _, asked = drive("nb201", 11, 1, 10)
    X = np.array([space.encode(g) for g in asked[0]])
    for gene in X.T:  # 10 rows, 5 ops per edge: each op twice on every edge
        assert np.bincount(gene, minlength=5).tolist() == [2] * 5


# acquisition -----------------------------------------------------------------------------------------------------
def _front(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack([rng.random(n), rng.random(n)])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 8))
def test_ehvi_of_a_certain_value_is_the_hypervolume_gained(seed, n):
    rng = np.random.default_rng(seed)
    front, ref = _front(rng, n), np.array([1.0, 1.1])
    size, value = rng.random(5), rng.random(5)
    gain = ehvi_2d(front, ref, size, np.repeat(value[:, None], len(NODES), axis=1))
    for s, v, g in zip(size, value, gain):
        before = hypervolume(front / ref)  # hypervolume() takes points normalised to the reference (1, 1)
        after = hypervolume(np.vstack([front, [v, s]]) / ref)
        assert g == pytest.approx((after - before) * np.prod(ref), abs=1e-9)


def test_ehvi_is_the_expectation_over_the_prediction():
    rng = np.random.default_rng(0)
    front, ref = _front(rng, 5), np.array([1.0, 1.1])
    size, values = np.array([0.3]), 0.5 + 0.1 * NODES[None, :]
    expected = sum(w * ehvi_2d(front, ref, size, np.full((1, len(NODES)), v))[0] for w, v in zip(WEIGHTS, values[0]))
    assert ehvi_2d(front, ref, size, values)[0] == pytest.approx(expected)
    assert ehvi_2d(front, ref, np.array([1.2]), values)[0] == 0.0  # beyond the reference: nothing


def test_the_monte_carlo_ehvi_agrees_with_the_exact_one():
    rng = np.random.default_rng(1)
    front, ref = _front(rng, 6), np.array([1.0, 1.1])
    size = rng.random((200, 1))
    values = np.clip(rng.random((200, 1)) + 0.05 * NODES[None, :], 0, None)
    mc = _MonteCarlo(ref, size, rng)
    for point in front:
        mc.cover(point)
    exact, approx = ehvi_2d(front, ref, size[:, 0], values), mc.ehvi(values)
    assert np.abs(exact - approx).max() < 4 / np.sqrt(MC_POINTS)
    assert spearman(exact, approx) > 0.95


# predictor -------------------------------------------------------------------------------------------------------
def test_the_gaussian_process_learns_a_smooth_function_and_knows_where_it_has_not_looked():
    rng = np.random.default_rng(0)
    Z = rng.random((60, 4))
    y = np.exp(Z @ np.array([1.0, -0.5, 0.2, 0.0])) * 0.1
    gp = GaussianProcess([0, 0, 1, 1]).fit(Z[:40], y[:40])
    assert spearman(gp.predict(Z[40:]), y[40:]) > 0.9
    _, near = gp.latent(Z[:5])
    _, far = gp.latent(Z[:5] + 5.0)
    assert (far > 3 * near).all()
    again = GaussianProcess([0, 0, 1, 1]).fit(Z[:40], y[:40])
    np.testing.assert_array_equal(again.predict(Z[40:]), gp.predict(Z[40:]))  # deterministic
    q = gp.quantiles(Z[40:], np.array([-1.0, 0.0, 1.0]))
    assert (np.diff(q, axis=1) > 0).all() and np.allclose(q[:, 1], gp.predict(Z[40:]))


def test_spearman():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 2], [1, 2, 3, 4]) == pytest.approx(np.corrcoef([0.5, 0.5, 2.5, 2.5], [0, 1, 2, 3])[0, 1])
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


# trained tasks, end to end ---------------------------------------------------------------------------------------
def _archive(run) -> list[dict]:
    import json

    return [json.loads(line) for line in (run / "archive.jsonl").read_text().splitlines()]


@pytest.mark.slow  # ~30 s: two rounds of training
def test_a_cifar10_search_trains_the_predicted_round(tmp_path):
    from search_helpers import TINY_FLAGS

    from eeea.cli import main

    run = tmp_path / "run"
    assert main(["search", "--out", str(run), *TINY_FLAGS, "--algorithm", "predictive"]) == 0
    records = _archive(run)
    assert len({r["key"] for r in records}) == 8 and all(r["status"] == "ok" for r in records)
    assert [("predicted" in r) for r in records] == [False] * 4 + [True] * 4
    assert all(0 < r["predicted"]["error"] < 1.5 for r in records[4:])
    assert "predictor Spearman" in (run / "log.txt").read_text() and (run / "pareto.csv").is_file()


@pytest.mark.slow  # ~50 s: two rounds of training, with audio features
def test_a_ser_search_trains_the_predicted_round(tmp_path):
    from eeea.cli import main

    run = tmp_path / "run"
    assert main(["search", "--out", str(run), "--algorithm", "predictive", "--max-params", "72k", "--population",
                 "3", "--generations", "1", "--epochs", "1", "--workers", "1", "--device", "cpu", "--quiet"]) == 0
    records = _archive(run)
    assert len({r["key"] for r in records}) == 6 and all(r["params"] <= 72_000 for r in records)
    assert [("predicted" in r) for r in records] == [False] * 3 + [True] * 3
    assert all("1-ccc" in r["predicted"] for r in records[3:])
    state = __import__("json").loads((run / "state.json").read_text())
    assert state["eepi"]["rejected_by"]["prediction"] > 0
