"""The search loop: EE-PI -> pymoo NSGA-II (ask/tell) -> executor -> archive, with resume by replay.

Resume works by replaying: the run is restarted from its seed and every genome already in the archive takes its
recorded result instead of being trained. Since pymoo draws only from its seeded ``random_state`` and a genome's result
does not depend on when or where it was trained, the replay rebuilds the same populations and the final front equals an
uninterrupted run's.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from tqdm.auto import tqdm

from ..errors import RunStopped, UserError
from ..latency import LatencyTable, describe_device, shipped_table, version_mismatch
from ..progress import Progress, hide_progress, say
from ..report import SearchReport
from ..spaces import get_space
from ..tasks import get_task
from ..units import format_fields, format_number
from ..outputs import missing_folders
from ..rundir import check_code_task, config_hash
from ..runtime import resolve_device
from .archive import ARCHIVE, SearchResult, SearchRun
from .config import check_resume, resolve_config, with_legacy
from .algorithms import make_algorithm
from .eepi import EEPI, BudgetRepair
from .executor_choice import make_executor
from .executors import LEVER_KEYS, Job, candidate_seed
from .front_latency import measure_front
from .quality import pareto_front
from .variation import KeyDuplicates

COUNTED = ("params", "macs", "latency")  # latency: predicted microseconds (needs a latency table)


#: what the front's predicted latency means when no --latency-table was given and eeea's reference table was used
REFERENCE_NOTE = ("latency_us (pred): predicted on the reference table of an {device} shipped with eeea; build "
                  "your device's table with eeea latency-table and pass it as --latency-table")


def latency_table(config: Mapping[str, Any], space: Any, eval_size: Mapping[str, Any]) -> tuple[LatencyTable | None,
                                                                                                list[str]]:
    """``(table, notes)``: --latency-table, else the reference table shipped for the space at ``eval_size`` (noted
    as such), else None; a table of another runtime version than the installed one is noted, not refused."""
    if config.get("latency_table"):
        table, notes = LatencyTable.load(config["latency_table"]), []
    else:
        table = shipped_table(space, eval_size)
        if table is None:
            if config.get("max_latency") is not None:
                raise UserError(f"--max-latency needs --latency-table FILE (eeea ships no table for space {space.name} "
                                f"at this size; measure one with eeea latency-table)")
            return None, []
        notes = [REFERENCE_NOTE.format(device=describe_device(table))]
    mismatch = version_mismatch(table)
    return table, notes + ([mismatch] if mismatch else [])


def _objectives(config: Mapping[str, Any], task_objective: str, table: LatencyTable | None = None) -> list[str]:
    objectives = list(config["objectives"] or [task_objective, "params"])
    allowed = {task_objective, *COUNTED}
    bad = [o for o in objectives if o not in allowed]
    if bad or task_objective not in objectives or len(set(objectives)) != len(objectives) or len(objectives) < 2:
        raise UserError(f"--objectives: {','.join(objectives)!r} must list {task_objective} and params, macs and/or "
                        f"latency once each (this task's objective is {task_objective})")
    if "latency" in objectives and table is None:
        raise UserError("--objectives latency needs --latency-table FILE (measure one with eeea latency-table)")
    return [task_objective] + [o for o in objectives if o != task_objective]


def search(config: Mapping[str, Any], out: str | Path, *, resume: bool = False, force: bool = False,
           quiet: bool = False) -> SearchResult:
    """Run (or resume) a search with a resolved ``config`` (see :mod:`eeea.search.config`) into run directory ``out``."""
    space = get_space(config["space"])
    task_config = {"data": config["data"], **({"download": True} if config["download"] else {}),
                   **config["task_config"]}
    task = get_task(config["task"], **task_config)
    keys = space.size_keys  # the task's fixed sizes (classes, outputs) that this space takes
    fixed = {k: v for k, v in task.size_overrides().items() if not keys or k in keys}
    eval_size = space.size(**{**fixed, **config["eval_size"]})
    train_size = space.candidate_size(config["train"], space.size(**{**space.search_size, **fixed, **config["size"]}))
    if len(space.genome_input_shape(space.random_genome(np.random.default_rng(0)), **eval_size)) != task.input_rank:
        kind = "raw audio" if task.input_rank == 1 else "images"
        raise UserError(f"space {space.name} does not take {kind}, the input of task {config['task']}; pick another "
                        f"--space (or leave it out for the task's default)")
    space.check_memory(space.random_genome(np.random.default_rng(0)), **train_size)  # --channels 100000000: a line
    table, table_notes = latency_table(config, space, eval_size)
    objectives = _objectives(config, task.objective, table)
    from ..zoo import resolve_genome

    eepi = EEPI(space, config["max_params"], config["max_macs"], eval_size, config.get("max_latency"), table,
                config["max_model_bytes"], [resolve_genome(g) for g in config["initial_genomes"]])
    eepi.check_feasible()
    problem = Problem(n_var=space.n_var, n_obj=len(objectives), xl=space.xl, xu=space.xu, vtype=int)
    duplicates = KeyDuplicates(space)
    repair = BudgetRepair(eepi) if config["eepi_scope"] == "all" else None
    algorithm, generations = make_algorithm(config["algorithm"], problem, eepi, duplicates, repair,
                                            {**config, "objectives": objectives})
    predicted = getattr(algorithm, "predicted", {})  # genome key -> predicted task objective (predictive search)
    if getattr(algorithm, "screens_proposals", False):
        repair = None  # it screens every proposal itself (EE-PI's draws and rejections count them): no repair stats
    limit = config["max_evaluations"]  # distinct evaluations; None: the rounds alone bound the run
    resolve_device(str(config["device"]))  # --device tpu is one line before the run directory exists

    if resume:  # the whole run is checked before a byte of it is written, and before the data (a quick refusal)
        run = SearchRun.open(out)
        run.read_state()
        cache = {r["key"]: r for r in run.read_archive(space, objectives, checkpoints=True)}
        run.check_resumable()
    checking = time.perf_counter()
    say(f"data: checking the {config['task']} task's data", quiet)
    notes = task.check_data()  # unusable data stops the run here, before any training
    say(f"data: checked in {time.perf_counter() - checking:.1f}s", quiet)
    data = task.data_record()  # what the run was scored on (a speech corpus's split), kept in state.json

    if resume:
        if run.config() != dict(config):  # only resume-free keys changed (workers, device, generations)
            run.write_config(config)
    else:
        run, cache = SearchRun.create(out, config, force), {}
    log = run.logger()
    first = (f"{'resume' if resume else 'start'}: {config['task']} on space {space.name}, seed {config['seed']}, "
             f"{len(cache)} archived evaluations, budget {eepi.describe_budget()}")
    log.info(first)
    if not quiet:  # the first line comes before any expensive step: the run directory exists and can be resumed
        tqdm.write(f"{run.path}: {first}")
    for line in [*notes, *table_notes, *eepi.notes]:  # the data check (clips skipped, the split), latency table, seeds
        log.info(line)
        if line.startswith("warning:"):  # a data problem is shown even with --quiet
            tqdm.write(line, file=sys.stderr)
        elif not quiet:
            tqdm.write(line)
    report = SearchReport(run, config, log, resumed=resume, evaluations=len(cache), notes=[*notes, *table_notes],
                          latency_table=table)

    executor = None
    trained, order = 0, []  # order: the run's genomes in replay order
    done_word = "looked up" if task.lookup_only else "trained"  # a tabular benchmark trains nothing
    # with an evaluation budget the bar counts evaluations: the rounds may be far more than the run needs
    bar = tqdm(total=limit or generations, desc="evaluations" if limit else "generations",
               unit="eval" if limit else "gen", disable=hide_progress(quiet))
    bred_out = False
    # a terminal has the bars; a pipe or file gets a line per finished candidate with the run's ETA
    planned = config["population"] * (config["generations"] + 1)  # the nominal budget of every algorithm
    lines = Progress("search", limit or planned, "candidates", each=True,
                     quiet=quiet or not hide_progress(), start_line=False)
    try:
        for gen in range(generations):
            pop = algorithm.ask()
            if pop is None:  # pymoo's answer when mating found no new distinct offspring at all
                pop = Population.new("X", np.zeros((0, space.n_var), dtype=np.int64))
            if gen == 0 and eepi.pending:  # the known-good genomes join the first round, whatever the algorithm
                pop.set("X", eepi.include_initial(pop.get("X")))
            if limit is not None and len(order) + len(pop) > limit:
                pop = pop[: limit - len(order)]  # every asked genome is new: the budget ends inside this round
            genomes = [space.decode(np.asarray(x, dtype=np.int64)) for x in pop.get("X")]
            if len(genomes) == 0:
                log.info(f"generation {gen}: no new distinct offspring could be bred; stopping early")
                bred_out = True
                break
            jobs, by_key = {}, {g.key: g for g in genomes}
            for g in genomes:
                if g.key not in cache and g.key not in jobs:
                    checkpoint = str(run.checkpoint_dir(g.key)) if config["checkpoints"] else None
                    jobs[g.key] = Job(g.key, g.to_text(), candidate_seed(config["seed"], g.key), train_size,
                                      config["train"], checkpoint)
            if jobs and executor is None:
                executor = make_executor(config["workers"], config["task"], task_config, config["space"],
                                         config["device"], config["threads"], kind=config["executor"],
                                         ray_address=config["ray_address"],
                                         gpus_per_candidate=config["gpus_per_candidate"],
                                         cpus_per_candidate=config["cpus_per_candidate"],
                                         levers={k: config[k] for k in LEVER_KEYS})
                _TRAINING.add(str(run.path.resolve()))  # from here on, a failure leaves a run to --resume
            start = time.perf_counter()
            with tqdm(total=len(jobs), desc=f"gen {gen} candidates", unit="net", leave=False,
                      disable=hide_progress(quiet) or not jobs) as inner:
                for result in (executor.map(list(jobs.values())) if jobs else ()):
                    job = jobs[result["key"]]
                    g = by_key[job.key]
                    record = {**result, "genome": job.genome, "generation": gen, "seed": job.seed,
                              "params": eepi.params(g), "macs": eepi.macs(g)}
                    record["objectives"] = {**record["objectives"], "params": record["params"], "macs": record["macs"]}
                    if table is not None:
                        record["latency"] = record["objectives"]["latency"] = round(eepi.latency(g), 3)
                    if job.key in predicted:  # what the predictor expected, beside what was measured
                        record["predicted"] = {objectives[0]: round(predicted[job.key], 6)}
                    if job.checkpoint and run.has_checkpoint(job.key):
                        record["checkpoint"] = run.relative(run.checkpoint_dir(job.key))
                        run.record_checkpoint(job.key)
                    run.append(record)
                    cache[record["key"]] = record
                    trained += 1
                    inner.update(1)
                    counts = {c: record[c] for c in ("params", "macs") if c not in objectives}
                    said = (f"gen {gen} {record['key']} {record['status']} "
                            + format_fields({**{o: record["objectives"][o] for o in objectives}, **counts})
                            + f" in {record['seconds']:.1f}s")
                    log.info(said)
                    lines.update(1, said)
            lines.advance(len({g.key for g in genomes}) - len(jobs))  # replayed from the archive: no line, no rate
            F = np.array([[cache[g.key]["objectives"][o] for o in objectives] for g in genomes], dtype=float)
            pop.set("F", F)
            algorithm.tell(infills=pop)
            for g in genomes:
                if g.key not in duplicates.seen:
                    duplicates.seen.add(g.key)
                    order.append(g.key)
            if gen == 0 and isinstance(repair, BudgetRepair):
                repair.screened = 0  # pymoo runs the repair on the initial population too; count offspring only
            stats = _eepi_stats(eepi, repair)
            done = gen == generations - 1 or (limit is not None and len(order) >= limit)
            state = {"generation": gen, "generations": config["generations"], "evaluations": len(order),
                     "trained_this_session": trained, "seed": config["seed"], "eepi": stats,
                     **({"data": data} if data else {}), "finished": False}
            run.write_state(state)
            report.round(cache.values(), state, genomes)  # the archive so far: a reload of report.html shows it
            best = min(cache[k]["objectives"][objectives[0]] for k in order)
            note = algorithm.round_report() if hasattr(algorithm, "round_report") else ""
            log.info(f"generation {gen}: {len(jobs)} {done_word}, {len(genomes) - len(jobs)} from the archive, "
                     f"best {objectives[0]} {format_number(best)}, {time.perf_counter() - start:.1f}s"
                     + (f"; {note}" if note else ""))
            bar.update(len(genomes) if limit else 1)
            if done:
                break
    except (KeyboardInterrupt, RunStopped):  # a signal, or a lost Ray cluster: stop the workers, keep the front so far
        bar.close()
        if executor is not None:
            executor, stopping = None, executor
            stopping.close()
        _keep_front(run, list(cache.values()), objectives, space.name, task)  # a resumed run's archive included
        raise
    finally:
        bar.close()
        lines.close()
        if executor is not None:
            executor.close()

    stop_note = ""
    if limit is not None and len(order) < limit:  # never silent: the user asked for more evaluations than this
        why = ("no new distinct genome within the budget could be bred" if bred_out else
               f"its {config['generations']} generations ran out (raise --generations, or leave it out so that "
               f"--max-evaluations alone bounds the run)")
        stop_note = f"stopped at {len(order)} of --max-evaluations {limit} evaluations: {why}"
        log.info(stop_note)
    records = [cache[k] for k in order]
    front = pareto_front(records, objectives)
    measure = config.get("measure_latency")
    if (measure or (measure is None and (config["checkpoints"] or table is not None))) and front:
        timer = table.timer() if table is not None and table.runtime == "onnxruntime" else None
        try:
            front = measure_front(front, space, eval_size, run, quiet=quiet, timer=timer)
        except KeyboardInterrupt:
            _keep_front(run, records, objectives, space.name, task)
            raise
    _write_front(run, front, records, objectives, space.name, task)
    run.write_state({**run.read_state(), "finished": True})  # only once the front is on disk
    report.finish(cache.values(), run.read_state())
    stats = _eepi_stats(eepi, repair)
    log.info(f"done: {len(order):,} genomes evaluated ({trained:,} {done_word} now), front of {len(front)}, EE-PI "
             + format_fields(stats, sep=", "))
    run.close_logger()
    run.unlock()
    reference = table_notes[0] if table_notes and not config.get("latency_table") else ""
    return SearchResult(run.path, front, objectives, trained, len(order), stats, tuple(task.summary_columns),
                        reference, stop_note, task.lookup_only)


def _write_front(run: SearchRun, front: list[dict[str, Any]], records: list[dict[str, Any]], objectives: list[str],
                 space_name: str, task: Any, plot: bool = True) -> None:
    points = [[r["objectives"][o] for o in objectives] for r in records]
    run.write_front(front, objectives, space_name, points, [k for k, _ in task.summary_columns], plot=plot)


def _keep_front(run: SearchRun, records: list[dict[str, Any]], objectives: list[str], space_name: str,
                task: Any) -> None:
    """A stopped run's front of ``records`` (the evaluations archived so far), without latency measurements or plot,
    so that the stop stays quick; ``--resume`` writes the whole front when the run ends."""
    if not records:
        return
    try:
        _write_front(run, pareto_front(records, objectives), records, objectives, space_name, task, plot=False)
    except Exception as e:  # noqa: BLE001 (a full disk, say: the stop goes on, the archive is intact, resume rewrites)
        run.logger().info(f"stopped: the front so far could not be written ({type(e).__name__}: {e})")
        return
    run.logger().info(f"stopped: pareto.csv holds the front of the {len(records)} evaluations archived so far")


def _eepi_stats(eepi: EEPI, repair: Any) -> dict[str, Any]:
    stats = eepi.stats.to_dict()
    if isinstance(repair, BudgetRepair):
        stats.update(repair.stats())
    return stats


def search_command(out: str | None, resume: str | None, config_file: str | None, overrides: Mapping[str, Any],
                   force: bool = False, quiet: bool = False) -> SearchResult:
    """What ``eeea search`` does: resolve the config (file, then flags), start or resume, return the result."""
    from ..config import load_config_file

    file_layer = load_config_file(config_file) if config_file else {}
    if resume:
        if out and Path(out).resolve() != Path(resume).resolve():
            raise UserError("--resume RUN_DIR already names the run directory; drop --out")
        run = SearchRun.open(resume)
        stored = run.config()
        check_code_task(stored.get("task"), overrides.get("task", file_layer.get("task")), resume, "--task")
        stored = with_legacy(stored)  # after the check: a code task named in the run is imported only when named again
        asked = resolve_config(stored, file_layer, overrides)
        check_resume(stored, asked, resume)
        return search(asked, resume, resume=True, quiet=quiet)
    config = resolve_config(file_layer, overrides)
    out = out or default_run_dir(config["task"])
    SearchRun.check_new(out, force)  # refused before any expensive step; nothing written yet
    made = missing_folders(Path(out))
    try:
        return search(config, out, force=force, quiet=quiet)
    except UserError:
        _discard_failed_start(SearchRun(out), config, made)
        raise


#: run folders whose candidates started training in this process: a failure after that is not a refused start
_TRAINING: set[str] = set()


def _discard_failed_start(run: SearchRun, config: Mapping[str, Any], made: list[Path]) -> None:
    """A start refused before its candidates began training leaves no run folder: remove what it wrote, when it is
    this start's run (its config, held by this process) and nothing was archived."""
    if str(run.path.resolve()) in _TRAINING:  # candidates were training: a fault then (a full disk) is resumed
        return
    try:
        ours = run.manifest().get("config_sha256") == config_hash(config)
    except UserError:
        return
    if ours and not (run.path / ARCHIVE).exists():
        run.created = made
        run.discard()


def default_run_dir(task: str, root: str | Path = "runs") -> Path:
    """A new directory ``runs/TASK-YYYYMMDD-HHMMSS`` (with a suffix if that exists): never an existing run."""
    stem = Path(root) / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = stem, 1
    while path.exists():
        n += 1
        path = stem.with_name(f"{stem.name}-{n}")
    return path
