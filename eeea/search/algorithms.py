"""The optimisers behind the search loop, all asked and told the same way (pymoo's ask/tell), drawing all their
randomness from the run's seed so that resume by replay rebuilds the same run:

* ``nsga2``: pymoo's NSGA-II with EE-PI sampling, group crossover/mutation and the budget repair;
* ``random``: every round ``population`` fresh EE-PI draws (random search within the budget);
* ``predictive`` (default, measured: docs/algorithms.md): EE-PI extended from counted size to predicted quality: each
  round thousands of screened proposals, a Gaussian process trained on every evaluation, and the batch by expected
  hypervolume improvement (:mod:`eeea.search.predictive`);
* ``regularized-evolution``: aging evolution (Real et al., AAAI 2019). The first round is ``population`` EE-PI draws;
  then each round breeds one child: a tournament of ``tournament_size`` members sampled (without replacement) from the
  current population, the fittest by the task objective is copied and one gene group mutated (to a different value);
  the child joins the population and the oldest member leaves.

Every algorithm only ever asks for genomes not evaluated before in the run, so the budget unit is the same for all:
distinct evaluations. A child that repeats an earlier genome is mutated again (up to :data:`TRIES` times), then
replaced by a fresh EE-PI draw. With ``eepi_scope: all`` every child passes EE-PI's budget screen.

:func:`make_algorithm` returns the optimiser and how many ask/tell rounds the run's ``generations`` amount to.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Mapping

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair

from ..errors import UserError
from .eepi import EEPI, EEPISampling
from .variation import GroupMutation, GroupUniformCrossover, KeyDuplicates

#: mutations of a child that repeats an earlier genome before it is replaced by a fresh draw
TRIES = 50


class _Fresh:
    """Shared by the baselines: distinct, in-budget genomes from a seeded generator."""

    def __init__(self, eepi: EEPI, duplicates: KeyDuplicates, repair: Repair | None, seed: int) -> None:
        self.eepi, self.space, self.duplicates, self.repair = eepi, eepi.space, duplicates, repair
        self.rng = np.random.default_rng(seed)

    def setup(self, problem: Problem, **kwargs: Any) -> None:  # pymoo's signature; nothing to set up
        self.problem = problem

    def _new(self, x: np.ndarray, taken: set[str]) -> bool:
        return self.space.decode(x).key not in taken

    def _draw(self, taken: set[str]) -> np.ndarray:
        return self.eepi.draw(self.rng, taken)

    def _admit(self, x: np.ndarray) -> np.ndarray:
        """``x`` through the budget repair (``eepi_scope: all``), or as it is."""
        if self.repair is None:
            return x
        return self.repair._do(self.problem, x[None, :], random_state=self.rng)[0]


class RandomSearch(_Fresh):
    """Random search within EE-PI's budget: each round ``population`` distinct fresh draws."""

    def __init__(self, eepi: EEPI, duplicates: KeyDuplicates, population: int, seed: int) -> None:
        super().__init__(eepi, duplicates, None, seed)
        self.population = population

    def ask(self) -> Population:
        taken = set(self.duplicates.seen)
        rows = []
        for _ in range(self.population):
            x = self._draw(taken)
            taken.add(self.space.decode(x).key)
            rows.append(x)
        return Population.new("X", np.array(rows, dtype=np.int64))

    def tell(self, infills: Population) -> None:
        pass


class RegularizedEvolution(_Fresh):
    """Aging evolution (see the module docstring); fitness is the first objective (the task's), lower is better."""

    def __init__(self, eepi: EEPI, duplicates: KeyDuplicates, repair: Repair | None, population: int,
                 tournament_size: int, seed: int) -> None:
        super().__init__(eepi, duplicates, repair, seed)
        if not 2 <= tournament_size <= population:
            raise UserError(f"--tournament-size: must be in 2..population ({population}), got {tournament_size}")
        self.size, self.tournament_size = population, tournament_size
        self.members: deque[tuple[np.ndarray, float]] = deque()
        self.groups = self.space.gene_groups()

    def ask(self) -> Population:
        taken = set(self.duplicates.seen)
        if len(self.members) < self.size:  # the initial population: EE-PI draws
            rows = []
            for _ in range(self.size - len(self.members)):
                x = self._draw(taken)
                taken.add(self.space.decode(x).key)
                rows.append(x)
            return Population.new("X", np.array(rows, dtype=np.int64))
        picked = self.rng.choice(len(self.members), self.tournament_size, replace=False)
        parent = min((self.members[i] for i in picked), key=lambda m: m[1])[0]
        return Population.new("X", self._child(parent, taken)[None, :])

    def _child(self, parent: np.ndarray, taken: set[str]) -> np.ndarray:
        for _ in range(TRIES):
            x = self._admit(self._mutate(parent))
            if self._new(x, taken):
                return x
        return self._draw(taken)

    def _mutate(self, x: np.ndarray) -> np.ndarray:
        """``x`` with one gene group changed to a different value (a mutation always changes the genome)."""
        group = self.groups[self.rng.integers(len(self.groups))]
        y = np.array(x, dtype=np.int64).copy()
        for _ in range(TRIES):
            for g in group:
                y[g] = self.rng.integers(self.space.xl[g], self.space.xu[g] + 1)
            y = self.space.repair(y)
            if not np.array_equal(y, x):
                break
        return y

    def tell(self, infills: Population) -> None:
        for x, f in zip(infills.get("X"), infills.get("F")):
            self.members.append((np.asarray(x, dtype=np.int64), float(f[0])))
            if len(self.members) > self.size:
                self.members.popleft()  # aging: the oldest member dies, however fit


def _nsga2(problem: Problem, eepi: EEPI, duplicates: KeyDuplicates, repair: Repair | None,
           config: Mapping[str, Any]) -> tuple[Any, int]:
    from pymoo.core.repair import NoRepair

    space = eepi.space
    algorithm = NSGA2(
        pop_size=config["population"], sampling=EEPISampling(eepi),
        crossover=GroupUniformCrossover(space, config["crossover_prob"]),
        mutation=GroupMutation(space, config["mutation_prob"]), repair=repair or NoRepair(),
        eliminate_duplicates=duplicates,
    )
    rounds = config["generations"] + 1
    algorithm.setup(problem, termination=("n_gen", rounds), seed=config["seed"], verbose=False)
    return algorithm, rounds


def _random(problem: Problem, eepi: EEPI, duplicates: KeyDuplicates, repair: Repair | None,
            config: Mapping[str, Any]) -> tuple[Any, int]:
    algorithm = RandomSearch(eepi, duplicates, config["population"], config["seed"])
    algorithm.setup(problem)
    return algorithm, config["generations"] + 1


def _regularized_evolution(problem: Problem, eepi: EEPI, duplicates: KeyDuplicates, repair: Repair | None,
                           config: Mapping[str, Any]) -> tuple[Any, int]:
    algorithm = RegularizedEvolution(eepi, duplicates, repair, config["population"], config["tournament_size"],
                                     config["seed"])
    algorithm.setup(problem)
    # one child per round after the initial population: the same nominal budget as NSGA-II's generations
    return algorithm, 1 + config["generations"] * config["population"]


def _predictive(problem: Problem, eepi: EEPI, duplicates: KeyDuplicates, repair: Repair | None,
                config: Mapping[str, Any]) -> tuple[Any, int]:
    from .predictive import PredictiveSearch  # numpy/scipy only, loaded when chosen

    algorithm = PredictiveSearch(eepi, duplicates, config["population"], config["seed"], config["objectives"])
    algorithm.setup(problem)
    return algorithm, config["generations"] + 1


#: name -> factory(problem, eepi, duplicates, repair or None, config) -> (algorithm, rounds)
ALGORITHMS: dict[str, Callable[..., tuple[Any, int]]] = {
    "nsga2": _nsga2,
    "random": _random,
    "regularized-evolution": _regularized_evolution,
    "predictive": _predictive,
}


def make_algorithm(name: str, problem: Problem, eepi: EEPI, duplicates: KeyDuplicates, repair: Repair | None,
                   config: Mapping[str, Any]) -> tuple[Any, int]:
    """The optimiser ``name`` set up for ``problem``, and the number of ask/tell rounds of the run."""
    if name not in ALGORITHMS:
        raise UserError(f"--algorithm: {name!r} is not one of {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name](problem, eepi, duplicates, repair, config)
