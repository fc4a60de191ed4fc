"""Does the search's score rank speech-emotion students the way their test score after retraining does?

Takes a finished search run (``eeea search``), retrains up to ``--students`` of its evaluated students (evenly spread
over the search-time ranking) from scratch with the same budget on the training + validation parts, scores them on the
*test* part (which the search never read), and prints Spearman's rank correlation between the search-time mean CCC
(validation speakers, or the mean over ``--folds`` of the run) and the test mean CCC (mean over ``--seeds``). Target:
Spearman >= 0.6 over >= 20 students. Figures go to the terminal, to ``--out FILE`` when given, and into
benchmarks/RESULTS.md only with ``--record``.

Several runs of the same data, split and budget (say, one per space) pool their students, drawn evenly from each;
the figure is then over the pool, and each run's own Spearman is printed beside it.

``--repeats R`` scores them as a search repeating each training R times would: the mean validation CCC of the
search's own training and R - 1 more seeds. ``--folds K`` scores the same students as a ``--folds K`` search would
(K-fold cross-validation by speaker over the training + validation speakers, mean CCC), to choose K by measurement
without running K searches. Test scores after
retraining (and the extra validation and K-fold scores) are kept in ``RUN/retrained.json`` (per genome key and seed)
and reused by later calls.

With two or more ``--seeds`` (and ``--repeats`` 2 or more for the validation side) it also splits each score's spread
into the students' true difference and one training's noise (:class:`eeea.search.quality.SeedNoise`), and prints the
highest correlation that noise allows: no search score can rank the students better than its ceiling.

    python benchmarks/bench_ser_rank.py runs/ser --data ../shared/data/emodb.zip --students 20 --seeds 0,1,2
    python benchmarks/bench_ser_rank.py runs/ser --data ../shared/data/emodb.zip --students 20 --seeds 0,1 --folds 3
    python benchmarks/bench_ser_rank.py runs/ser_mb runs/ser_w2s --students 20 --seeds 0,1 --jobs 2
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import Recorder  # noqa: E402

from eeea import get_space, resolve_genome  # noqa: E402
from eeea.search.archive import SearchRun  # noqa: E402
from eeea.search.quality import SeedNoise  # noqa: E402
from eeea.tasks import get_task  # noqa: E402


def spread(records: list[dict], n: int) -> list[dict]:
    """``n`` records evenly spaced over the ranking by search-time score (all of them when there are fewer)."""
    ranked = sorted(records, key=lambda r: r["objectives"]["1-ccc"])
    if len(ranked) <= n:
        return ranked
    return [ranked[int(i)] for i in np.linspace(0, len(ranked) - 1, n).round()]


_JOB: tuple = ()


def _retrain(job: tuple[str, str, int]) -> float:
    """``("test", genome, seed)``: test mean CCC of the genome retrained from scratch on train + valid;
    ``("folds", genome, seed)``: its K-fold validation mean CCC (the score of a ``--folds K`` search);
    ``("valid", genome, seed)``: its validation mean CCC trained on the training part with ``seed`` (one more repeat
    of the search's own score)."""
    tasks, budget = _JOB
    which, genome_text, seed = job
    task = tasks[which]
    genome = resolve_genome(genome_text)
    space = get_space(genome.space)
    torch.manual_seed(seed)
    model = space.build(genome, **space.size(outputs=len(task.dims)))
    result = task.evaluate(model, budget, seed)
    return float(result["test_ccc"] if which == "test" else 1.0 - result["1-ccc"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", metavar="run", help="search run directories (several: runs of the same data, "
                    "split and budget, e.g. of different spaces; the students are drawn evenly from each)")
    ap.add_argument("--data", help="as the search's --data (default: the run's)")
    ap.add_argument("--labels", help="as the search's --labels (default: the run's)")
    ap.add_argument("--students", type=int, default=20)
    ap.add_argument("--seeds", default="0", help="comma list of retraining seeds")
    ap.add_argument("--epochs", type=int, help="retraining epochs (default: the run's budget)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="retrainings run at once (processes; 2 on 2 cores)")
    ap.add_argument("--repeats", type=int, default=1, help="also score each student as a search repeating its "
                    "training R times would: the mean validation CCC of the search's own training and R - 1 more "
                    "seeds (1000, 1001, ...)")
    ap.add_argument("--folds", type=int, default=0,
                    help="also score each student by K-fold cross-validation by speaker (seed 0), as --folds K would")
    ap.add_argument("--record", action="store_true", help="also write the figures into benchmarks/RESULTS.md")
    ap.add_argument("--out", metavar="FILE", help="also write the figures into FILE (the form of RESULTS.md)")
    args = ap.parse_args()
    record = Recorder(args.record, args.out)
    command = "python benchmarks/bench_ser_rank.py " + " ".join(sys.argv[1:])
    runs = [SearchRun.read(path) for path in args.runs]
    config = runs[0].config()
    for other in runs[1:]:  # one test part and one budget: the students' scores must be comparable
        theirs = other.config()
        for key in ("data", "train", "task_config"):
            if theirs.get(key) != config.get(key):
                sys.exit(f"bench_ser_rank: {other.path} differs from {runs[0].path} in {key}: its search scores "
                         f"are not comparable")
    task_config = dict(config["task_config"])
    task_config.update({k: v for k, v in (("labels", args.labels),) if v})
    task_config.pop("folds", None)
    data = args.data or config["data"]
    task = get_task("ser", data=data, **task_config)
    split = task.prepare_final("cpu", (16000,))
    tasks = {"test": task}
    if args.folds > 1:
        tasks["folds"] = get_task("ser", data=data, **task_config, folds=args.folds)
        tasks["folds"].prepare("cpu")
    if args.repeats > 1:
        tasks["valid"] = get_task("ser", data=data, **task_config)
        tasks["valid"].prepare("cpu")
    budget = {**config["train"], **({"epochs": args.epochs} if args.epochs else {})}
    seeds = [int(s) for s in args.seeds.split(",")]
    recipe = f"{budget['epochs']} epochs, loss {task.loss_name}"
    spaces = [run.config().get("space", "?") for run in runs]
    torch.set_num_threads(args.threads)
    per_run = [args.students // len(runs) + (i < args.students % len(runs)) for i in range(len(runs))]
    chosen, home = [], {}  # home: a student's run directory (its cache of test scores)
    for run, n in zip(runs, per_run):
        for r in spread([r for r in run.read_archive() if r["status"] == "ok"], n):
            chosen.append(r)
            home[r["key"]] = run.path
    global _JOB
    _JOB = (tasks, budget)
    caches = {}  # per run: RUN/retrained.json: scores by "[valid |foldsK ]key seed epochs"
    for run in runs:
        path = Path(run.path) / "retrained.json"
        caches[run.path] = json.loads(path.read_text()) if path.is_file() else {}
    cache = {k: v for c in caches.values() for k, v in c.items()}
    prefix = {"test": "", "valid": "valid ", "folds": f"folds{args.folds} "}
    label = lambda which, r, seed: f"{prefix[which]}{r['key']} {seed} {budget['epochs']}"  # noqa: E731
    repeat_seeds = [1000 + i for i in range(args.repeats - 1)]
    wanted = [("test", seed) for seed in seeds] + [("valid", seed) for seed in repeat_seeds]
    wanted += [("folds", 0)] if args.folds > 1 else []
    jobs = [(which, r["genome"], seed) for r in chosen for which, seed in wanted
            if label(which, r, seed) not in cache]
    start = time.perf_counter()
    if args.jobs > 1:  # forked workers share the prepared tasks (their decoded clips)
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            done = pool.map(_retrain, jobs, chunksize=1)
    else:
        done = [_retrain(j) for j in jobs]
    by_key = {r["genome"]: r for r in chosen}
    for (which, genome, seed), value in zip(jobs, done):  # all kept for later calls
        r = by_key[genome]
        cache[label(which, r, seed)] = caches[home[r["key"]]][label(which, r, seed)] = value
    kfold = {r["key"]: cache[label("folds", r, 0)] for r in chosen} if args.folds > 1 else {}
    for path, scores_of_run in caches.items():
        (Path(path) / "retrained.json").write_text(json.dumps(scores_of_run, indent=1))
    scores = [cache[label("test", r, seed)] for r in chosen for seed in seeds]
    search, test = [], []
    for i, r in enumerate(chosen):
        search.append(1 - r["objectives"]["1-ccc"])
        test.append(float(np.mean(scores[i * len(seeds) : (i + 1) * len(seeds)])))
        folds = f", {args.folds}-fold validation CCC {kfold[r['key']]:.3f}" if kfold else ""
        print(f"{r['key']} ({resolve_genome(r['genome']).space}): search-time (validation) CCC {search[-1]:.3f}"
              f"{folds}, test CCC {test[-1]:.3f} "
              f"(seeds {args.seeds}: {', '.join(f'{x:.3f}' for x in scores[i * len(seeds) : (i + 1) * len(seeds)])})")
    rho = spearmanr(search, test).statistic
    if repeat_seeds:
        repeated = [float(np.mean([search[i]] + [cache[label("valid", r, seed)] for seed in repeat_seeds]))
                    for i, r in enumerate(chosen)]
        rho_r = spearmanr(repeated, test).statistic
        print(f"validation CCC, mean of {args.repeats} trainings, per student: "
              + ", ".join(f"{x:.3f}" for x in repeated))
        record("bench_ser_rank", f"Spearman rank correlation, validation mean CCC averaged over {args.repeats} "
               f"training seeds (the search's and {args.repeats - 1} more) vs test mean CCC after retraining "
               f"({len(chosen)} students of {' + '.join(spaces)}, seeds {args.seeds}, {recipe})", f"{rho_r:.2f}",
               ">= 0.6 over >= 20 students", command)
    for run, space in zip(runs, spaces):  # within each run (one space each): the ranking among students alike
        mine = [i for i, r in enumerate(chosen) if home[r["key"]] == run.path]
        if len(runs) > 1 and len(mine) > 2:
            print(f"within {run.path} ({space}, {len(mine)} students): Spearman "
                  f"{spearmanr([search[i] for i in mine], [test[i] for i in mine]).statistic:.2f}")
    if kfold:
        rho_k = spearmanr([kfold[r["key"]] for r in chosen], test).statistic
        record("bench_ser_rank", f"Spearman rank correlation, {args.folds}-fold validation mean CCC (by speaker over "
               f"train + valid, seed 0) vs test mean CCC after retraining ({len(chosen)} students of "
               f"{' + '.join(spaces)}, seeds {args.seeds}, {recipe})", f"{rho_k:.2f}", ">= 0.6 over >= 20 students",
               command)
    if len(seeds) > 1:  # the ceiling noise sets: how far any search score can rank the students like the test
        per_seed = np.array(scores).reshape(len(chosen), len(seeds))
        truth = SeedNoise.estimate(per_seed)
        print(f"test CCC after retraining: true spread between students sd {truth.between:.4f}, one training's "
              f"noise sd {truth.noise:.4f}; Spearman seed {seeds[0]} vs seed {seeds[1]}: "
              f"{spearmanr(per_seed[:, 0], per_seed[:, 1]).statistic:.2f}; reliability of one seed "
              f"{truth.reliability(1):.2f}, of the {len(seeds)}-seed mean {truth.reliability(len(seeds)):.2f}")
        ceilings = [(f"a perfect search score vs the {len(seeds)}-seed test mean", truth.ceiling(len(seeds)))]
        if repeat_seeds:
            valid = SeedNoise.estimate(np.column_stack(
                [search] + [[cache[label("valid", r, seed)] for r in chosen] for seed in repeat_seeds]))
            print(f"validation CCC (the search score): true spread sd {valid.between:.4f}, one training's noise sd "
                  f"{valid.noise:.4f}; reliability of one training {valid.reliability(1):.2f}")
            ceilings += [(f"{r}-seed validation mean vs the {len(seeds)}-seed test mean",
                          valid.ceiling(r, truth, len(seeds))) for r in sorted({1, args.repeats})]
            need = next((k for k in range(1, 101) if valid.ceiling(k, truth, k) >= 0.6), None)
            ceilings.append(("seeds needed on both sides for 0.6", need if need is not None else "over 100"))
        for what, value in ceilings:
            print(f"highest correlation the noise allows, {what}: "
                  + (f"{value:.2f}" if isinstance(value, float) else str(value)))
            record("bench_ser_rank", f"noise ceiling ({len(chosen)} students of {' + '.join(spaces)}, "
                   f"{recipe}): {what}", f"{value:.2f}" if isinstance(value, float) else str(value),
                   "-", command)
    minutes = (time.perf_counter() - start) / 60
    record("bench_ser_rank", f"Spearman rank correlation, search-time (validation) mean CCC vs test mean CCC after "
           f"retraining ({len(chosen)} students of {' + '.join(spaces)}, seeds {args.seeds}, {recipe}; "
           f"{split}; {minutes:.0f} min)", f"{rho:.2f}", ">= 0.6 over >= 20 students", command)


if __name__ == "__main__":
    main()
