"""The predictor of the ``predictive`` search: a Gaussian process that predicts a candidate's task objective (error,
1 - CCC) from its encoding before anything is trained, with an uncertainty.

Why a Gaussian process, and this one (measured on NAS-Bench-201 and NAS-Bench-Macro; see ``docs/decisions.md``):

* it is exact on a few dozen points, where tree ensembles are not: its rank correlation on held-out cells matched or
  beat random forests and extra trees at 20-200 training points, and its uncertainty is calibrated enough to steer
  the acquisition (a random forest's spread over trees was not: the same search scored 0.87 instead of 0.95);
* the kernel is ``exp(-sum_g w_g d_g)``, one weight per *feature group* (the one-hot genes, the space's summary
  features, the counted size): three weights learn much faster than one per gene and beat a single lengthscale
  clearly (Spearman 0.80 vs 0.71 after 100 random NAS-Bench-201 cells);
* the objective is modelled on a log scale (shifted to be positive), so broken networks at 90 % error do not drown
  the differences between good ones.

Hyper-parameters (the group weights and the noise) maximise the marginal likelihood by L-BFGS from the previous
round's values (or fixed defaults), on at most :data:`MAX_FIT` points, so the predictor costs well under a second
per round at 500 evaluations and 5,000 proposals. Everything is deterministic: the same data give the same
predictions, so resume by replay rebuilds the same run. BLAS runs on one thread here (small matrices, and results
that do not depend on the machine's core count).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

#: hyper-parameters are fitted on at most this many evaluations (the best half and an even spread of the rest)
MAX_FIT = 250
#: L-BFGS iterations per fit
ITERATIONS = 30
#: prior centre of each log group weight and its variance (a weak pull towards a moderate similarity decay)
LOG_WEIGHT, LOG_WEIGHT_VAR = float(np.log(0.25)), 4.0
#: starting log noise (of the standardised log objective)
LOG_NOISE = float(np.log(0.01))


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of two equally long sequences (ties share their mean rank); nan when either is
    constant or shorter than 2."""
    ra, rb = _ranks(np.asarray(a, dtype=float)), _ranks(np.asarray(b, dtype=float))
    if len(ra) < 2 or ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    _, inverse = np.unique(x, return_inverse=True)
    return (np.bincount(inverse, weights=ranks) / np.bincount(inverse))[inverse]


def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.maximum((A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T, 0.0)


def one_thread():  # type: ignore[no-untyped-def]
    """A context in which BLAS uses one thread (threadpoolctl)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


class GaussianProcess:
    """GP regression of a positive-ish objective on feature groups (see the module docstring).

    ``groups[j]`` names the group of feature column ``j`` (0, 1, ...); ``theta`` (log weights then log noise) starts
    the hyper-parameter search, e.g. the previous round's :attr:`theta`."""

    def __init__(self, groups: Sequence[int], theta: np.ndarray | None = None) -> None:
        self.groups = np.asarray(groups, dtype=np.int64)
        self.n_groups = int(self.groups.max()) + 1
        start = np.concatenate([np.full(self.n_groups, LOG_WEIGHT), [LOG_NOISE]])
        self.theta = start if theta is None or len(theta) != len(start) else np.asarray(theta, dtype=float)

    def _distances(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        return np.stack([_sqdist(A[:, self.groups == g], B[:, self.groups == g]) for g in range(self.n_groups)])

    def fit(self, Z: np.ndarray, y: Sequence[float]) -> "GaussianProcess":
        """Condition on features ``Z`` (n x d) with objective values ``y``."""
        from scipy.linalg import cho_solve, solve_triangular
        from scipy.optimize import minimize

        Z, y = np.asarray(Z, dtype=float), np.asarray(y, dtype=float)
        self.shift = 0.0 if y.min() > 0 else 1e-3 * (float(np.ptp(y)) or 1.0) - float(y.min())
        t = np.log(y + self.shift)
        self.mean, self.scale = float(t.mean()), float(t.std()) or 1.0
        t = (t - self.mean) / self.scale
        fit = _fit_subset(t)
        D, tf, eye = self._distances(Z[fit], Z[fit]), t[fit], np.eye(len(fit))

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:  # negative log marginal likelihood + prior
            w, noise = np.exp(theta[:-1]), np.exp(theta[-1]) + 1e-6
            K = np.exp(-np.tensordot(w, D, 1))
            try:
                L = np.linalg.cholesky(K + noise * eye)
            except np.linalg.LinAlgError:
                return 1e10, np.zeros_like(theta)
            alpha = cho_solve((L, True), tf)
            A = np.outer(alpha, alpha) - cho_solve((L, True), eye)
            prior = theta[:-1] - LOG_WEIGHT
            value = 0.5 * tf @ alpha + np.log(np.diag(L)).sum() + 0.5 * (prior @ prior) / LOG_WEIGHT_VAR
            AK = A * K
            grad = np.array([0.5 * w[g] * np.sum(AK * D[g]) for g in range(self.n_groups)]
                            + [-0.5 * np.trace(A) * (noise - 1e-6)])
            grad[:-1] += prior / LOG_WEIGHT_VAR
            return float(value), grad

        with one_thread():
            bounds = [(-8.0, 3.0)] * self.n_groups + [(-9.0, 0.0)]
            self.theta = minimize(objective, self.theta, jac=True, method="L-BFGS-B", bounds=bounds,
                                  options={"maxiter": ITERATIONS}).x
            self.weights, self.noise = np.exp(self.theta[:-1]), float(np.exp(self.theta[-1])) + 1e-6
            self.Z = Z
            K = np.exp(-np.tensordot(self.weights, self._distances(Z, Z), 1)) + self.noise * np.eye(len(Z))
            self.L = np.linalg.cholesky(K)
            self.alpha = solve_triangular(self.L.T, solve_triangular(self.L, t, lower=True), lower=False)
        return self

    def latent(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the log objective at features ``Z``."""
        from scipy.linalg import solve_triangular

        with one_thread():
            Ks = np.exp(-np.tensordot(self.weights, self._distances(np.asarray(Z, dtype=float), self.Z), 1))
            v = solve_triangular(self.L, Ks.T, lower=True)
        var = np.maximum(1.0 - (v * v).sum(axis=0), 1e-12)
        return (Ks @ self.alpha) * self.scale + self.mean, np.sqrt(var) * self.scale

    def quantiles(self, Z: np.ndarray, z: np.ndarray) -> np.ndarray:
        """The objective at standard-normal quantiles ``z`` of the prediction (n x len(z)), in its own units."""
        mu, sd = self.latent(Z)
        return np.exp(mu[:, None] + sd[:, None] * np.asarray(z)[None, :]) - self.shift

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """The predicted objective (the median of the prediction)."""
        return np.exp(self.latent(Z)[0]) - self.shift


def _fit_subset(t: np.ndarray) -> np.ndarray:
    """Indices of at most :data:`MAX_FIT` points: all of them, or the best half and an even spread of the rest."""
    if len(t) <= MAX_FIT:
        return np.arange(len(t))
    order = np.argsort(t, kind="stable")
    half = MAX_FIT // 2
    rest = order[half:]
    return np.sort(np.concatenate([order[:half], rest[np.linspace(0, len(rest) - 1, MAX_FIT - half).astype(int)]]))
