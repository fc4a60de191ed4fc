"""The ``predictive`` search: EE-PI extended from counted size to predicted quality.

Each round after the first:

1. **Propose** thousands of distinct, unevaluated genomes (:attr:`Settings.proposals`): mutants of one or two gene
   groups of the parents (the current front and the best by the task objective), group crossovers of parents, draws
   from per-gene densities of the best non-dominated ranks (the factorised proposal of a tree-structured Parzen
   estimator) and uniform draws. EE-PI screens every one by its exact counts (microseconds each, cached).
2. **Predict** each proposal's task objective with a Gaussian process trained on every evaluation so far
   (:mod:`eeea.search.predictor`); the other objectives (params, MACs, latency) are counted, not predicted.
3. **Pick** the round's ``population`` by expected hypervolume improvement (EHVI) over the run's front, greedily:
   each pick joins the front at its predicted value before the next is chosen, so the batch spreads over sizes.
   With two objectives the EHVI is exact (the size is known, only the error is uncertain: a sum over the front's
   steps); with more it is a Monte-Carlo estimate. The first :attr:`Settings.exploit` picks of a round maximise the
   expected improvement of the task objective alone, for the best single network. Everything not picked is rejected
   by prediction (``rejected_by["prediction"]`` in EE-PI's statistics) and never trained.

The first round is a balanced design: each gene takes each of its values equally often (a categorical Latin
hypercube), the one of :attr:`Settings.designs` such designs that covers the most distinct sizes.

All randomness comes from the run's seed and the predictor is deterministic, so resume by replay rebuilds the same
run. :attr:`PredictiveSearch.predicted` holds the predicted task objective of each genome asked for (the search loop
records it beside the measured one) and :meth:`PredictiveSearch.round_report` says how well the last round's
predictions ranked the measured results.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from pymoo.core.population import Population
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from ..genome import Genome
from ..spaces.base import SearchSpace
from .eepi import EEPI
from .predictor import GaussianProcess, spearman
from .variation import KeyDuplicates

#: Gauss-Hermite nodes and weights for expectations over a normal prediction (of the log objective)
NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(16)
WEIGHTS = WEIGHTS / WEIGHTS.sum()
#: the node nearest one standard deviation below the median (an optimistic "believer" value of a pick)
OPTIMISTIC = int(np.abs(NODES + 1).argmin())
#: Monte-Carlo points of the EHVI with more than two objectives
MC_POINTS = 4096
#: counted values kept per run before the cache starts over (memory stays bounded on huge spaces)
CACHE_LIMIT = 200_000


@dataclass(frozen=True)
class Settings:
    """The search's tunables (measured choices: ``docs/decisions.md``)."""

    proposals: int = 3000  # genomes proposed per round, before de-duplication and screening
    mutants: float = 0.5  # shares of the proposals: mutants of parents, group crossovers, density draws; the rest
    crossovers: float = 0.2  # uniform draws
    densities: float = 0.0
    two_groups: float = 0.3  # share of mutants that change two gene groups instead of one
    good: float = 0.25  # share of the evaluated genomes (best non-dominated ranks) the densities learn from
    exploit: int = 1  # picks per round by the task objective alone
    margin: float = 0.1  # the reference point lies this far (in units of the size range) beyond the largest size
    designs: int = 20  # balanced first-round designs tried
    reference: str = "front"  # the objective's far end: "front" (see _normalisation) or "smallest" (best known there)
    per_level: bool = True  # after a pick, close the other candidates of its size until every size has one
    believer: str = "median"  # a pick joins the front at its "median" prediction, or its "optimistic" (-1 sd) one


class PredictiveSearch:
    """Predictor-guided search over ``eepi``'s space (see the module docstring). ``objectives``: the task's objective
    first (predicted), then the counted ones (``params``, ``macs``, ``latency``)."""

    #: every genome it asks for passed EE-PI's screens here (the search loop needs no budget repair for it)
    screens_proposals = True

    def __init__(self, eepi: EEPI, duplicates: KeyDuplicates, population: int, seed: int,
                 objectives: Sequence[str], settings: Settings = Settings()) -> None:
        self.eepi, self.space, self.duplicates = eepi, eepi.space, duplicates
        self.population, self.settings = population, settings
        self.objectives = list(objectives)
        self.rng = np.random.default_rng(seed)
        self.groups = self.space.gene_groups()
        self.X: list[np.ndarray] = []
        self.F: list[np.ndarray] = []
        self.predicted: dict[str, float] = {}  # genome key -> predicted task objective, for every genome asked
        self.correlation: float | None = None  # Spearman of predicted vs measured over the last told round
        self._told = 0
        self._keys: dict[bytes, str] = {}
        self._counts: dict[tuple[str, str], float] = {}
        self._theta: np.ndarray | None = None
        counters: dict[str, Callable[[Genome], float]] = {"params": eepi.params, "macs": eepi.macs,
                                                          "latency": eepi.latency}
        self._counters = [counters[o] for o in self.objectives[1:]]

    def setup(self, problem: Any, **kwargs: Any) -> None:  # pymoo's signature; nothing to set up
        self.problem = problem

    # genomes -------------------------------------------------------------------------------------------------------
    def _key(self, x: np.ndarray) -> str:
        raw = x.tobytes()
        key = self._keys.get(raw)
        if key is None:
            if len(self._keys) > CACHE_LIMIT:
                self._keys.clear()
            key = self._keys[raw] = self.space.decode(x).key
        return key

    def _count(self, name: str, key: str, x: np.ndarray, count: Callable[[Genome], float]) -> float:
        value = self._counts.get((name, key))
        if value is None:
            if len(self._counts) > CACHE_LIMIT:
                self._counts.clear()
            value = self._counts[(name, key)] = float(count(self.space.decode(x)))
        return value

    def _sizes(self, X: Sequence[np.ndarray], keys: Sequence[str]) -> np.ndarray:
        """The counted objectives of each genome (n x objectives - 1)."""
        return np.array([[self._count(o, k, x, c) for o, c in zip(self.objectives[1:], self._counters)]
                         for x, k in zip(X, keys)], dtype=float).reshape(len(keys), len(self._counters))

    def _screened(self, X: np.ndarray, taken: set[str], counted: bool = True) -> tuple[list[np.ndarray], list[str]]:
        """The rows of ``X`` that are new (not in ``taken``, not repeated) and within EE-PI's budget; each one
        screened is counted in EE-PI's statistics unless ``counted`` is false."""
        stats, screens = self.eepi.stats, self.eepi.screens()
        rows, keys, seen = [], [], set(taken)
        for x in X:
            key = self._key(x)
            if key in seen:
                continue
            seen.add(key)
            failed = next((name for name, limit, count in screens if self._count(name, key, x, count) > limit), None)
            if counted:
                stats.draws += 1
                if failed is not None:
                    stats.reject(failed)
            if failed is not None:
                continue
            rows.append(x)
            keys.append(key)
        return rows, keys

    def _repair(self, X: np.ndarray) -> np.ndarray:
        if type(self.space).repair is SearchSpace.repair:  # the default clip, for a whole matrix at once
            return np.clip(X, self.space.xl, self.space.xu).astype(np.int64)
        return np.array([self.space.repair(x) for x in X], dtype=np.int64).reshape(X.shape)

    def _uniform(self, n: int) -> np.ndarray:
        if type(self.space).sample is SearchSpace.sample:
            return self._repair(self.rng.integers(self.space.xl, self.space.xu + 1, size=(n, self.space.n_var)))
        return np.array([self.space.sample(self.rng) for _ in range(n)], dtype=np.int64).reshape(n, self.space.n_var)

    # ask / tell ----------------------------------------------------------------------------------------------------
    def ask(self) -> Population:
        taken = set(self.duplicates.seen)
        rows = self._first(taken) if not self.X else self._guided(taken)
        return Population.new("X", np.array(rows, dtype=np.int64).reshape(len(rows), self.space.n_var))

    def tell(self, infills: Population) -> None:
        predicted, measured = [], []
        for x, f in zip(infills.get("X"), infills.get("F")):
            x = np.asarray(x, dtype=np.int64)
            self.X.append(x)
            self.F.append(np.asarray(f, dtype=float))
            key = self._key(x)
            if key in self.predicted:
                predicted.append(self.predicted[key])
                measured.append(float(f[0]))
        self._told = len(predicted)
        self.correlation = spearman(predicted, measured) if len(predicted) >= 3 else None

    def round_report(self) -> str:
        """How well the predictor ranked the last told round (empty before any prediction)."""
        if self.correlation is None or self.correlation != self.correlation:
            return ""
        return f"predictor Spearman {self.correlation:.2f} on this round's {self._told} ({self.objectives[0]})"

    # the first round -----------------------------------------------------------------------------------------------
    def _first(self, taken: set[str]) -> list[np.ndarray]:
        """The balanced design (of :attr:`Settings.designs`) whose admitted rows cover the most distinct sizes; rows
        that repeat or are over budget are replaced by fresh EE-PI draws."""
        designs = [self._balanced() for _ in range(self.settings.designs)]
        spread = [len({tuple(s) for s in self._sizes(*self._screened(d, taken, counted=False))}) for d in designs]
        rows, keys = self._screened(designs[int(np.argmax(spread))], taken)
        while len(rows) < self.population:
            x = self.eepi.draw(self.rng, taken | set(keys))
            rows.append(x)
            keys.append(self._key(x))
        return rows

    def _balanced(self) -> np.ndarray:
        """``population`` rows in which each gene takes each of its values equally often."""
        n, columns = self.population, []
        for lo, hi in zip(self.space.xl, self.space.xu):
            values = np.arange(lo, hi + 1)
            column = np.concatenate([self.rng.permutation(values) for _ in range(-(-n // len(values)))])[:n]
            columns.append(self.rng.permutation(column))
        return self._repair(np.column_stack(columns))

    # guided rounds -------------------------------------------------------------------------------------------------
    def _guided(self, taken: set[str]) -> list[np.ndarray]:
        X, F = np.array(self.X), np.array(self.F)
        candidates, keys = self._screened(self._proposals(X, F), taken)
        if not candidates:
            return []
        sizes = self._sizes(candidates, keys)
        model = self.fit(X, F)
        Zc = self.encode(np.array(candidates), sizes)
        samples = model.quantiles(Zc, NODES)  # n x nodes, in the objective's units
        median = model.predict(Zc)
        picks = select(F, sizes, samples, median, min(self.population, len(candidates)), self.settings, self.rng)
        self.eepi.stats.reject("prediction", len(candidates) - len(picks))
        for i in picks:
            self.predicted[keys[i]] = float(median[i])
        return [candidates[i] for i in picks]

    def _proposals(self, X: np.ndarray, F: np.ndarray) -> np.ndarray:
        s, n = self.settings, self.settings.proposals
        front = NonDominatedSorting().do(F, only_non_dominated_front=True)
        best = np.argsort(F[:, 0], kind="stable")[: self.population]
        parents = X[np.unique(np.concatenate([front, best]))]
        n_mut, n_cross, n_dens = int(n * s.mutants), int(n * s.crossovers), int(n * s.densities)
        parts = [self._mutants(parents, n_mut), self._crossovers(parents, n_cross)]
        if n_dens:
            parts.append(self._density_draws(X, F, n_dens))
        parts.append(self._uniform(n - n_mut - n_cross - n_dens))
        return np.vstack(parts)

    def _mutants(self, parents: np.ndarray, n: int) -> np.ndarray:
        """Parents with one gene group redrawn (two for a share :attr:`Settings.two_groups`)."""
        Y = parents[self.rng.integers(len(parents), size=n)].copy()
        for mask in (np.ones(n, bool), self.rng.random(n) < self.settings.two_groups):
            chosen = self.rng.integers(len(self.groups), size=n)
            for g, group in enumerate(self.groups):
                rows = np.flatnonzero(mask & (chosen == g))
                Y[np.ix_(rows, group)] = self.rng.integers(self.space.xl[group], self.space.xu[group] + 1,
                                                           size=(len(rows), len(group)))
        return self._repair(Y)

    def _crossovers(self, parents: np.ndarray, n: int) -> np.ndarray:
        """Each gene group from either of two parents with probability 1/2."""
        a, b = parents[self.rng.integers(len(parents), size=n)], parents[self.rng.integers(len(parents), size=n)]
        Y = a.copy()
        swap = self.rng.random((n, len(self.groups))) < 0.5
        for g, group in enumerate(self.groups):
            Y[np.ix_(swap[:, g], group)] = b[np.ix_(swap[:, g], group)]
        return self._repair(Y)

    def _density_draws(self, X: np.ndarray, F: np.ndarray, n: int) -> np.ndarray:
        """Genes drawn independently from their value frequencies among the good genomes (the best non-dominated
        ranks, by the task objective within a rank), each count plus one."""
        ranks = NonDominatedSorting().do(F, return_rank=True)[1]
        good = X[np.lexsort((F[:, 0], ranks))[: max(2, int(np.ceil(len(X) * self.settings.good)))]]
        columns = []
        for i, (lo, hi) in enumerate(zip(self.space.xl, self.space.xu)):
            weights = np.bincount(good[:, i] - lo, minlength=hi - lo + 1) + 1.0
            columns.append(lo + self.rng.choice(hi - lo + 1, size=n, p=weights / weights.sum()))
        return self._repair(np.column_stack(columns))

    def fit(self, X: np.ndarray, F: np.ndarray) -> GaussianProcess:
        """The predictor trained on evaluated genomes ``X`` with objectives ``F`` (the task's, then the counted
        ones), starting its hyper-parameters from the previous round's; :meth:`encode` then gives its inputs."""
        logs = np.log(np.maximum(F[:, 1:], 1e-9))
        self._centre, self._spread = logs.mean(axis=0), np.where(logs.std(axis=0) > 0, logs.std(axis=0), 1.0)
        Z = self.encode(X, F[:, 1:])
        model = GaussianProcess(self._feature_groups(Z), self._theta).fit(Z, F[:, 0])
        self._theta = model.theta
        return model

    def encode(self, X: np.ndarray, counted: np.ndarray) -> np.ndarray:
        """The predictor's inputs: the space's encoding of ``X``, then the log of each counted objective
        (standardised over the genomes of the last :meth:`fit`)."""
        logs = np.log(np.maximum(np.asarray(counted, dtype=float), 1e-9))
        return np.hstack([self.space.features(X), (logs - self._centre) / self._spread])

    def _feature_groups(self, Z: np.ndarray) -> np.ndarray:
        """The group of each feature column: one-hot genes, the space's summary features, the counted sizes."""
        n_onehot = int((self.space.xu - self.space.xl + 1).sum())
        n_size = len(self._counters)
        n_summary = Z.shape[1] - n_onehot - n_size
        return np.concatenate([np.zeros(n_onehot, int), np.ones(n_summary, int),
                               np.full(n_size, 2 if n_summary else 1)])


# acquisition ---------------------------------------------------------------------------------------------------------
def select(F: np.ndarray, sizes: np.ndarray, samples: np.ndarray, median: np.ndarray, k: int, settings: Settings,
           rng: np.random.Generator) -> list[int]:
    """``k`` candidate indices, greedily: first :attr:`Settings.exploit` by expected improvement of the task
    objective, then by expected hypervolume improvement over the front of ``F`` (evaluated: objective, sizes), each
    pick joining the front at its ``median`` prediction. ``samples``: the candidates' objective at :data:`NODES`."""
    lo, hi, ref = _normalisation(F, sizes, median, settings.margin, settings.reference)
    span = hi - lo
    front = list(((F - lo) / span)[NonDominatedSorting().do(F, only_non_dominated_front=True)])
    objective, believed, size = (samples - lo[0]) / span[0], (median - lo[0]) / span[0], (sizes - lo[1:]) / span[1:]
    mc = _MonteCarlo(ref, size, rng) if sizes.shape[1] > 1 else None
    for point in front if mc is not None else ():
        mc.cover(point)
    best = min(p[0] for p in front)
    open_ = np.ones(len(median), bool)  # not picked, and (per level) of a size not picked this pass
    picked = np.zeros(len(median), bool)
    picks: list[int] = []
    while len(picks) < k:
        if len(picks) < settings.exploit:
            gain = np.maximum(best - objective, 0.0) @ WEIGHTS
        elif mc is None:
            gain = ehvi_2d(np.array(front), ref, size[:, 0], objective)
        else:
            gain = mc.ehvi(objective)
        if not (gain[open_] > 0).any():  # no size left that could add anything: another pass over the sizes
            open_ = ~picked
        gain[~open_] = -np.inf
        i = int(np.argmax(gain))
        picks.append(i)
        picked[i], open_[i] = True, False
        if settings.per_level and len(picks) > settings.exploit:
            open_ &= ~(size == size[i]).all(axis=1)
            if not open_.any():  # every size has a pick: another pass over the sizes
                open_ = ~picked
        optimistic = settings.believer == "optimistic"
        point = np.concatenate([[objective[i, OPTIMISTIC] if optimistic else believed[i]], size[i]])
        best = min(best, float(believed[i]))
        front.append(point)
        if mc is not None:
            mc.cover(point)
    return picks


def _normalisation(F: np.ndarray, sizes: np.ndarray, median: np.ndarray,
                   margin: float, reference: str = "front") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lo, hi, ref)``: each objective maps to [0, 1] over what the run knows, and the reference point.

    The task objective's worst end is the front's worst (that of its smallest member), or, while smaller sizes than
    any evaluated are proposed, the best prediction among the smallest: the true front's far end is the best network
    of the smallest size, and a reference short of it would never value small networks. The size axes run over
    evaluated and proposed genomes; the reference lies ``margin`` beyond the largest, so that the network with the
    best objective adds volume too."""
    front = F[NonDominatedSorting().do(F, only_non_dominated_front=True)]
    worst = float(front[:, 0].max())
    if reference == "front":
        smallest = (sizes == sizes.min(axis=0)).all(axis=1)
        if smallest.any() and (sizes.min(axis=0) < F[:, 1:].min(axis=0)).any():
            worst = max(worst, float(median[smallest].min()))
    else:  # the best error known or predicted at the smallest size
        least = min(F[:, 1].min(), sizes[:, 0].min())
        known = [F[F[:, 1] == least, 0].min()] if (F[:, 1] == least).any() else []
        guess = [median[sizes[:, 0] == least].min()] if (sizes[:, 0] == least).any() else []
        worst = float(min(known + guess)) if min(known + guess) > F[:, 0].min() else worst
    lo = np.concatenate([[F[:, 0].min()], np.minimum(F[:, 1:].min(axis=0), sizes.min(axis=0))])
    hi = np.concatenate([[worst], np.maximum(F[:, 1:].max(axis=0), sizes.max(axis=0))])
    return lo, np.where(hi > lo, hi, lo + 1.0), np.concatenate([[1.0], np.full(sizes.shape[1], 1.0 + margin)])


def ehvi_2d(front: np.ndarray, ref: np.ndarray, size: np.ndarray, objective: np.ndarray) -> np.ndarray:
    """Expected hypervolume improvement over the 2-D ``front`` (rows: objective, size; normalised) up to ``ref``, of
    candidates at exact ``size`` whose objective takes the values ``objective`` (n x nodes) with :data:`WEIGHTS`.

    A candidate at size s and objective y adds, for every size x in [s, ref), the stretch of objective between y and
    the front's best objective among sizes <= x: a sum over the front's steps."""
    front = front[(front[:, 0] < ref[0]) & (front[:, 1] < ref[1])]
    steps_x, steps_y, level = [], [], ref[0]
    for y, x in front[np.lexsort((front[:, 0], front[:, 1]))]:
        if y < level:
            level = y
            steps_x.append(x)
            steps_y.append(y)
    bounds = np.concatenate([[-np.inf], steps_x, [ref[1]]])
    levels = np.concatenate([[ref[0]], steps_y])
    width = np.clip(bounds[None, 1:] - np.maximum(bounds[None, :-1], size[:, None]), 0.0, None)  # n x steps
    return np.einsum("ns,nsk,k->n", width, np.maximum(levels[None, :, None] - objective[:, None, :], 0.0), WEIGHTS)


class _MonteCarlo:
    """EHVI with more than two objectives, counted on :data:`MC_POINTS` seeded uniform points of the box up to the
    reference: a candidate covers the points above its sizes whose objective is at least its own."""

    def __init__(self, ref: np.ndarray, sizes: np.ndarray, rng: np.random.Generator) -> None:
        points = rng.random((MC_POINTS, len(ref))) * ref
        self.points = points[np.argsort(points[:, 0], kind="stable")]  # by the objective, for counting by rank
        self.free = np.ones(MC_POINTS, bool)
        self.above = (self.points[None, :, 1:] >= sizes[:, None, :]).all(axis=2)  # candidates x points
        self.volume = float(np.prod(ref)) / MC_POINTS

    def cover(self, point: np.ndarray) -> None:
        """Points dominated by ``point`` (a front member or a pick) are no longer free."""
        self.free &= ~(self.points >= point).all(axis=1)

    def ehvi(self, objective: np.ndarray) -> np.ndarray:
        # free points above each candidate with an objective rank >= r, for every r: a reversed cumulative sum
        counts = np.cumsum((self.above & self.free)[:, ::-1], axis=1)[:, ::-1]
        counts = np.hstack([counts, np.zeros((len(counts), 1), counts.dtype)])
        ranks = np.searchsorted(self.points[:, 0], objective)  # n x nodes: first point at or above the value
        return np.take_along_axis(counts, ranks, axis=1) @ WEIGHTS * self.volume
