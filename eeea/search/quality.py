"""Search quality on a tabular benchmark: the hypervolume of a run's (error, params) front as a fraction of the true
front's (computed from the whole table), and the best architecture a run found within a budget of evaluations.
And, for trained tasks, how far a score measured with training noise can rank candidates at all (:class:`SeedNoise`).

Normalisation (the usual one for a known front): each objective is mapped to [0, 1] between the true front's ideal
(its best error, its fewest params) and nadir (its worst error, its most params), and the reference point is (1, 1).
A point beyond the nadir adds nothing; a fraction of 1.0 means the run found the whole true front.
"""
from __future__ import annotations

from dataclasses import dataclass
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
    """The true (error, params) front of a benchmark table, and the hypervolume fraction of a run's evaluations.
    ``more``: further objective columns (MACs) for the front of a run with more objectives."""

    def __init__(self, errors: Sequence[float], params: Sequence[int], *more: Sequence[float]) -> None:
        columns = [np.asarray(c, dtype=float) for c in (errors, params, *more)]
        self.front = non_dominated(np.column_stack(columns))
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


def rank_key(record: Mapping[str, Any], objectives: Sequence[str]) -> tuple:
    """The one order of "best" in eeea: by each objective in turn (the task's first, then params, ...), then by key.
    The front in ``pareto.csv``, the printed best and :func:`best_found` all sort by it, so a run's row 0 is the
    model it reports even when validation scores tie (common in tables that round them)."""
    return (*(float(record["objectives"][o]) for o in objectives), str(record["key"]))


def best_record(records: Sequence[Mapping[str, Any]],
                objectives: Sequence[str] = ("error", "params")) -> Mapping[str, Any]:
    """The record that is best by :func:`rank_key`: the first row of the run's front."""
    return min(records, key=lambda r: rank_key(r, objectives))


def best_found(records: Sequence[Mapping[str, Any]], report: str,
               objectives: Sequence[str] = ("error", "params")) -> float:
    """The ``report`` figure (e.g. test accuracy, in ``extra``) of the record that is best by the search objectives
    (:func:`best_record`): what a user of the search would pick, never selected by the reported figure itself."""
    return float(best_record(records, objectives)["extra"][report])


@dataclass(frozen=True)
class SeedNoise:
    """Variance components of a score measured on candidates x training seeds (one-way random effects).

    ``between``: the standard deviation of the candidates' true (infinitely repeated) scores; ``noise``: that of one
    training around its candidate's true score. A mean over ``n`` seeds ranks the candidates like their true scores
    with correlation at most ``sqrt(reliability(n))``; two such scores of the same quality (say, a search's
    validation score and the test score after retraining) correlate at most ``sqrt(rel_a * rel_b)``
    (Spearman-Brown and the attenuation bound, for Pearson's r; Spearman's rho behaves alike)."""

    between: float
    noise: float

    @classmethod
    def estimate(cls, scores: Any) -> "SeedNoise":
        """From a (candidates, seeds) array with at least 2 candidates and 2 seeds: the noise from the spread over
        seeds within each candidate, the true spread from the candidates' means less the noise their means keep."""
        x = np.asarray(scores, dtype=float)
        if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
            raise ValueError(f"need scores of >= 2 candidates x >= 2 seeds, got shape {x.shape}")
        noise_var = float(x.var(axis=1, ddof=1).mean())
        between_var = float(x.mean(axis=1).var(ddof=1)) - noise_var / x.shape[1]
        return cls(between=float(np.sqrt(max(between_var, 0.0))), noise=float(np.sqrt(noise_var)))

    def reliability(self, n: int = 1) -> float:
        """The share of the variance of an ``n``-seed mean that is the candidates' true difference (0 to 1)."""
        true, noise = self.between**2, self.noise**2 / n
        return true / (true + noise) if true + noise > 0 else 0.0

    def ceiling(self, n: int, other: "SeedNoise | None" = None, m: int = 1) -> float:
        """The highest correlation an ``n``-seed mean of this score can reach with the true ranking (``other`` None)
        or with an ``m``-seed mean of ``other``, a noisy measure of the same quality."""
        return float(np.sqrt(self.reliability(n) * (other.reliability(m) if other is not None else 1.0)))


def pareto_front(records: list[dict[str, Any]], objectives: list[str]) -> list[dict[str, Any]]:
    """Non-dominated records over all evaluations of the run, best first (:func:`~eeea.search.quality.rank_key`)."""
    if not records:
        return []
    F = np.array([[r["objectives"][o] for o in objectives] for r in records], dtype=float)
    front = NonDominatedSorting().do(F, only_non_dominated_front=True)
    return sorted((records[i] for i in front), key=lambda r: rank_key(r, objectives))
