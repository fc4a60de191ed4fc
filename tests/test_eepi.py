"""EE-PI: exact screening at the evaluation size, statistics, fail-fast lower bound, offspring repair."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, strategies as st

from eeea.search.eepi import EEPI, BudgetRepair
from eeea.errors import UserError
from eeea.spaces import get_space
from strategies import examples

SPACE = get_space("eeea")
SMALLEST = 358_822  # all max-pool chain cells at 20 cells, C = 36 (computed by the space's smallest_genome, checked below)


def test_smallest_genome_is_a_lower_bound_of_random_genomes():
    eepi = EEPI(SPACE)
    g = SPACE.smallest_genome(eepi.params)
    assert eepi.params(g) == SMALLEST
    rng = np.random.default_rng(1)
    assert all(eepi.params(SPACE.random_genome(rng)) >= SMALLEST for _ in range(300))
    # no single-gene change makes it smaller (a local check of exactness)
    x = SPACE.encode(g)
    for i in range(SPACE.n_var):
        for v in range(SPACE.xl[i], SPACE.xu[i] + 1):
            y = x.copy()
            y[i] = v
            assert eepi.params(SPACE.decode(y)) >= SMALLEST


def test_unreachable_budget_fails_fast_with_the_smallest_count():
    with pytest.raises(UserError, match=r"--max-params 100k cannot be met .* smallest network has 358,822 params"):
        EEPI(SPACE, max_params=100_000).check_feasible()
    with pytest.raises(UserError, match=r"--max-macs .* MACs"):
        EEPI(SPACE, max_macs=1_000_000).check_feasible()


@examples(default=4, thorough=10, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), beta=st.integers(2_000_000, 6_000_000),
       macs=st.one_of(st.none(), st.integers(350_000_000, 800_000_000)))
def test_eepi_never_admits_an_over_budget_genome(seed, beta, macs):
    eepi = EEPI(SPACE, max_params=beta, max_macs=macs)
    X = eepi.population(np.random.default_rng(seed), 6)
    genomes = [SPACE.decode(x) for x in X]
    assert len({g.key for g in genomes}) == 6
    for g in genomes:
        assert eepi.params(g) <= beta
        assert macs is None or eepi.macs(g) <= macs
    s = eepi.stats
    assert s.draws == s.accepted + s.rejections and s.accepted >= 6
    assert 0 < s.acceptance_rate <= 1
    # every rejection is charged to exactly one screen: the first the genome fails, params before MACs
    assert sum(s.rejected_by.values()) == s.rejections and set(s.rejected_by) <= {"params", "macs"}
    assert macs is not None or set(s.rejected_by) <= {"params"}


def test_each_rejection_names_the_first_screen_failed():
    rng = np.random.default_rng(3)
    genomes = [SPACE.random_genome(rng) for _ in range(40)]
    params = sorted(EEPI(SPACE).params(g) for g in genomes)
    eepi = EEPI(SPACE, max_params=params[len(params) // 2], max_macs=1)  # MACs: every genome fails that screen
    for g in genomes:
        over = eepi.params(g) > eepi.max_params
        assert eepi.rejected_by(g) == ("params" if over else "macs")
    assert EEPI(SPACE).rejected_by(genomes[0]) is None
    for g in genomes:
        eepi.screen(g)
    assert eepi.stats.rejected_by == {"params": sum(p > eepi.max_params for p in params), "macs": 40 - sum(
        p > eepi.max_params for p in params)}
    assert eepi.stats.to_dict()["rejected_by"] == eepi.stats.rejected_by


def test_screen_counts_at_the_evaluation_size_not_the_search_size():
    g = SPACE.random_genome(np.random.default_rng(0))
    eepi = EEPI(SPACE, max_params=5_000_000)
    assert eepi.params(g) == SPACE.count_params(g, channels=36, layers=20, num_classes=10)
    small = EEPI(SPACE, max_params=5_000_000, eval_size={"channels": 16, "layers": 8})
    assert small.params(g) < eepi.params(g)


def test_zero_budget_means_no_early_exit():
    eepi = EEPI(SPACE, max_params=0)
    eepi.population(np.random.default_rng(0), 5)
    assert eepi.stats.rejections == 0 and eepi.stats.draws == 5


@examples(default=4, thorough=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_offspring_repair_brings_every_row_within_budget(seed):
    rng = np.random.default_rng(seed)
    eepi = EEPI(SPACE, max_params=2_500_000)
    repair = BudgetRepair(eepi)
    X = np.array([SPACE.sample(rng) for _ in range(8)])  # random offspring, many over budget
    Y = repair._do(None, X, random_state=np.random.default_rng(seed))
    assert all(eepi.params(SPACE.decode(y)) <= 2_500_000 for y in Y)
    assert repair.screened == 8
    # deterministic for a given random state
    Y2 = BudgetRepair(eepi)._do(None, X, random_state=np.random.default_rng(seed))
    assert np.array_equal(Y, Y2)
