"""Does the search's score rank speech-emotion students the way their test score after retraining does?

Takes a finished search run (``eeea search``), retrains up to ``--students`` of its evaluated students (evenly spread
over the search-time ranking) from scratch with the same budget on the training + validation parts, scores them on the
*test* part (which the search never read), and prints Spearman's rank correlation between the search-time mean CCC
(validation speakers, or the mean over ``--folds`` of the run) and the test mean CCC (mean over ``--seeds``). Target:
Spearman >= 0.6 over >= 20 students. Writes the figure to benchmarks/RESULTS.md.

    python benchmarks/bench_ser_rank.py runs/ser --data ../shared/data/emodb.zip --students 20 --seeds 0,1,2
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import record  # noqa: E402

from eeea import get_space, resolve_genome  # noqa: E402
from eeea.search.archive import SearchRun  # noqa: E402
from eeea.tasks import get_task  # noqa: E402


def spread(records: list[dict], n: int) -> list[dict]:
    """``n`` records evenly spaced over the ranking by search-time score (all of them when there are fewer)."""
    ranked = sorted(records, key=lambda r: r["objectives"]["1-ccc"])
    if len(ranked) <= n:
        return ranked
    return [ranked[int(i)] for i in np.linspace(0, len(ranked) - 1, n).round()]


_JOB: tuple = ()


def _retrain(pair: tuple[str, int]) -> float:
    """Test mean CCC of one genome retrained from scratch with one seed (on train + valid)."""
    task, budget = _JOB
    genome_text, seed = pair
    genome = resolve_genome(genome_text)
    space = get_space(genome.space)
    torch.manual_seed(seed)
    model = space.build(genome, **space.size(outputs=len(task.dims)))
    return float(task.evaluate(model, budget, seed)["test_ccc"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a search run directory")
    ap.add_argument("--data", help="as the search's --data (default: the run's)")
    ap.add_argument("--labels", help="as the search's --labels (default: the run's)")
    ap.add_argument("--students", type=int, default=20)
    ap.add_argument("--seeds", default="0", help="comma list of retraining seeds")
    ap.add_argument("--epochs", type=int, help="retraining epochs (default: the run's budget)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="retrainings run at once (processes; 2 on 2 cores)")
    args = ap.parse_args()
    run = SearchRun.read(args.run)
    config = run.config()
    task_config = dict(config["task_config"])
    task_config.update({k: v for k, v in (("labels", args.labels),) if v})
    task_config.pop("folds", None)
    task = get_task("ser", data=args.data or config["data"], **task_config)
    split = task.prepare_final("cpu", (16000,))
    budget = {**config["train"], **({"epochs": args.epochs} if args.epochs else {})}
    seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(args.threads)
    chosen = spread([r for r in run.read_archive() if r["status"] == "ok"], args.students)
    global _JOB
    _JOB = (task, budget)
    pairs = [(r["genome"], seed) for r in chosen for seed in seeds]
    start = time.perf_counter()
    if args.jobs > 1:  # forked workers share the prepared task (its decoded clips)
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            scores = pool.map(_retrain, pairs, chunksize=1)
    else:
        scores = [_retrain(p) for p in pairs]
    search, test = [], []
    for i, r in enumerate(chosen):
        search.append(1 - r["objectives"]["1-ccc"])
        test.append(float(np.mean(scores[i * len(seeds) : (i + 1) * len(seeds)])))
        print(f"{r['key']}: search-time (validation) CCC {search[-1]:.3f}, test CCC {test[-1]:.3f} "
              f"(seeds {args.seeds}: {', '.join(f'{x:.3f}' for x in scores[i * len(seeds) : (i + 1) * len(seeds)])})")
    rho = spearmanr(search, test).statistic
    if len(seeds) > 1:  # the ceiling noise sets: how well one retraining seed ranks the students like another
        per_seed = np.array(scores).reshape(len(chosen), len(seeds))
        ceiling = spearmanr(per_seed[:, 0], per_seed[:, 1]).statistic
        print(f"test CCC between students: sd {np.std(test):.3f}; between seeds of one student: mean sd "
              f"{per_seed.std(axis=1).mean():.3f}; Spearman seed {seeds[0]} vs seed {seeds[1]}: {ceiling:.2f}")
    minutes = (time.perf_counter() - start) / 60
    command = "python benchmarks/bench_ser_rank.py " + " ".join(sys.argv[1:])
    record("bench_ser_rank", f"Spearman rank correlation, search-time (validation) mean CCC vs test mean CCC after "
           f"retraining ({len(chosen)} students, seeds {args.seeds}, {budget['epochs']} epochs; {split}; "
           f"{minutes:.0f} min)", f"{rho:.2f}", ">= 0.6 over >= 20 students", command)


if __name__ == "__main__":
    main()
