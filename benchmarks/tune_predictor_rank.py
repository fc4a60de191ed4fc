"""Predictor choices of the predictive search, by rank correlation on held-out table entries: after N random
NAS-Bench-201 cells (12-epoch CIFAR-10 validation error; tuning seeds 10000-10009), Spearman of each model's
predictions against the other cells. Models: the search's Gaussian process (three feature groups: one-hot genes, the
space's summary features, the counted size), the same on one-hot genes alone or one-hot + size, and scikit-learn's
extra trees and random forest on the search's features.

    python benchmarks/tune_predictor_rank.py [N]   (default 100)
"""
from __future__ import annotations

import os
import sys

import numpy as np
from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

from eeea.counting import count_params
from eeea.search.eepi import EEPI
from eeea.search.predictive import PredictiveSearch
from eeea.search.predictor import GaussianProcess, spearman
from eeea.search.variation import KeyDuplicates
from eeea.spaces import get_space
from eeea.tasks import get_task

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "tests"))
from shared_data import shared_folder  # noqa: E402


def main() -> None:
    space = get_space("nb201")
    table = get_task("nb201", data=str(shared_folder() / "data" / "nasbench201.csv"))
    rows = [(space.encode(g), v["error"], count_params(g)) for g, v in table.entries()]
    X = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    params = np.array([[r[2]] for r in rows], dtype=float)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    n_onehot = int((space.xu - space.xl + 1).sum())
    results: dict[str, list[float]] = {}
    for seed in range(10000, 10010):
        train = np.random.default_rng(seed).choice(len(X), n, replace=False)
        held = np.setdiff1d(np.arange(len(X)), train)
        search = PredictiveSearch(EEPI(space), KeyDuplicates(space), 20, 0, ["error", "params"])
        model = search.fit(X[train], np.column_stack([y[train], params[train, 0]]))
        Zt, Zh = search.encode(X[train], params[train]), search.encode(X[held], params[held])
        size = [Zt.shape[1] - 1]
        predictions = {"GP, 3 groups (one-hot | summaries | size)": model.predict(Zh)}
        for name, cols, groups in (("GP, one-hot genes only", list(range(n_onehot)), [0] * n_onehot),
                                   ("GP, 2 groups (one-hot | size)", list(range(n_onehot)) + size,
                                    [0] * n_onehot + [1])):
            gp = GaussianProcess(np.array(groups)).fit(Zt[:, cols], y[train])
            predictions[name] = gp.predict(Zh[:, cols])
        for name, forest in (("extra trees, 200 (same features)", ExtraTreesRegressor(200, random_state=0)),
                             ("random forest, 200 (same features)", RandomForestRegressor(200, random_state=0))):
            predictions[name] = forest.fit(Zt, y[train]).predict(Zh)
        for name, p in predictions.items():
            results.setdefault(name, []).append(spearman(p, y[held]))
    for name, values in results.items():
        v = np.array(values)
        print(f"{name:40s} Spearman {v.mean():.3f} ± {v.std(ddof=1) / np.sqrt(len(v)):.3f} (min {v.min():.2f}; "
              f"{len(v)} seeds, {n} training cells)")


if __name__ == "__main__":
    main()
