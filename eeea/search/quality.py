"""Search quality on a tabular benchmark: the hypervolume of a run's (error, params) front as a fraction of the true
front's (computed from the whole table), and the best architecture a run found within a budget of evaluations.

Normalisation (the usual one for a known front): each objective is mapped to [0, 1] between the true front's ideal
(its best error, its fewest params) and nadir (its worst error, its most params), and the reference point is (1, 1).
A point beyond the nadir adds nothing; a fraction of 1.0 means the run found the whole true front.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from pymoo.indicators.hv import HV
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting


def non_dominated(F: np.ndarray) -> np.ndarray:
    """The non-dominated rows of ``F`` (all objectives minimised)."""
    F = np.asarray(F, dtype=float)
    return F[NonDominatedSorting().do(F, only_non_dominated_front=True)] if len(F) else F


def hypervolume(F: np.ndarray) -> float:
    """Hypervolume of the rows of ``F`` (already normalised) up to the reference point (1, ..., 1)."""
    F = np.asarray(F, dtype=float)
    F = F[(F < 1.0).all(axis=1)] if len(F) else F
    return float(HV(ref_point=np.ones(F.shape[1]))(F)) if len(F) else 0.0


class TrueFront:
    """The true (error, params) front of a benchmark table, and the hypervolume fraction of a run's evaluations."""

    def __init__(self, errors: Sequence[float], params: Sequence[int]) -> None:
        self.front = non_dominated(np.column_stack([np.asarray(errors, dtype=float), np.asarray(params, dtype=float)]))
        self.ideal, self.nadir = self.front.min(axis=0), self.front.max(axis=0)
        self.volume = hypervolume(self.normalise(self.front))

    def normalise(self, F: np.ndarray) -> np.ndarray:
        return (np.asarray(F, dtype=float) - self.ideal) / (self.nadir - self.ideal)

    def fraction(self, records: Sequence[Mapping[str, Any]], objective: str = "error") -> float:
        """Hypervolume of the records' (objective, params) points over the true front's."""
        if not records:
            return 0.0
        F = np.array([[r["objectives"][objective], r["params"]] for r in records], dtype=float)
        return hypervolume(self.normalise(non_dominated(F))) / self.volume


def best_found(records: Sequence[Mapping[str, Any]], report: str, objective: str = "error") -> float:
    """The ``report`` figure (e.g. test accuracy, in ``extra``) of the record that is best by the search objective:
    what a user of the search would pick, never selected by the reported figure itself. Ties: the first found."""
    best = min(range(len(records)), key=lambda i: (records[i]["objectives"][objective], i))
    return float(records[best]["extra"][report])
