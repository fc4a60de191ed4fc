"""Genome-aware variation for pymoo: crossover swapping whole gene groups, mutation redrawing one group, and
duplicate elimination by genome key across the whole run. All randomness comes from pymoo's ``random_state``, so a
run's seed reproduces it."""
from __future__ import annotations

from typing import Any

import numpy as np
from pymoo.core.crossover import Crossover
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation

from .eepi import redraw_group
from ..spaces.base import SearchSpace


class GroupUniformCrossover(Crossover):
    """Uniform crossover over gene groups (for cell spaces: (op, input) pairs): each group comes from either parent
    with probability 1/2, so a pair is never split between parents."""

    def __init__(self, space: SearchSpace, prob: float = 1.0) -> None:
        super().__init__(2, 2, prob=prob)
        self.space = space
        self.groups = space.gene_groups()

    def _do(self, problem: Any, X: np.ndarray, *args: Any, random_state: np.random.Generator, **kwargs: Any):
        _, n_matings, _ = X.shape
        Y = X.copy()
        for m in range(n_matings):
            swap = random_state.random(len(self.groups)) < 0.5
            for group, s in zip(self.groups, swap):
                if s:
                    Y[0, m, group], Y[1, m, group] = X[1, m, group], X[0, m, group]
            Y[0, m], Y[1, m] = self.space.repair(Y[0, m]), self.space.repair(Y[1, m])
        return Y


class GroupMutation(Mutation):
    """With probability ``prob`` per offspring, redraw one gene group chosen uniformly."""

    def __init__(self, space: SearchSpace, prob: float = 0.1) -> None:
        super().__init__(prob=prob)
        self.space = space
        self.groups = space.gene_groups()

    def _do(self, problem: Any, X: np.ndarray, *args: Any, random_state: np.random.Generator, **kwargs: Any):
        X = np.asarray(X, dtype=np.int64)
        return np.array([redraw_group(self.space, x, self.groups[random_state.integers(len(self.groups))],
                                      random_state) for x in X])


class KeyDuplicates(DuplicateElimination):
    """Duplicates by genome key, within the offspring, against the population and against every genome asked for
    earlier in the run (``seen``, filled by the search loop)."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space
        self.seen: set[str] = set()

    def _keys(self, pop: Any) -> list[str]:
        return [self.space.decode(np.asarray(x, dtype=np.int64)).key for x in pop.get("X")]

    def _do(self, pop: Any, other: Any, is_duplicate: np.ndarray) -> np.ndarray:
        keys = self._keys(pop)
        if other is None:
            first: set[str] = set()
            for i, k in enumerate(keys):
                is_duplicate[i] = k in first or k in self.seen
                first.add(k)
        else:
            taken = set(self._keys(other)) | self.seen
            for i, k in enumerate(keys):
                is_duplicate[i] = is_duplicate[i] or k in taken
        return is_duplicate
