"""Executors run candidate evaluations: in this process (:class:`LocalExecutor`) or in worker processes
(:class:`PoolExecutor`, several per GPU allowed). Both expose ``map(jobs)``, yielding results as they finish; the search
loop never knows which one runs.

A candidate's result depends only on its job (genome, size, budget and seed derived from the run seed and genome key),
never on the worker, the order or a resume. Faults are recorded, not fatal: a NaN/inf loss gives status ``diverged``, a
CUDA out-of-memory error is retried once at half the batch (then ``oom``), an exception or a dead worker is retried once
(then ``crashed``: see :class:`PoolExecutor` for how a death is pinned on one candidate); all of them score the
task's worst objective so the search goes on.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import torch

from ..errors import UserError
from ..genome import Genome
from ..runtime import candidate_threads, release_memory, resolve_device, torch_threads
from ..spaces import get_space
from ..tasks import get_task, task_class
from ..tasks.training import Diverged


def candidate_seed(run_seed: int, key: str) -> int:
    """The training seed of a genome in a run: a hash of (run seed, genome key), 31 bits."""
    return int(hashlib.sha256(f"{run_seed}:{key}".encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


@dataclass(frozen=True)
class Job:
    key: str
    genome: str  # one-line genome text
    seed: int
    size: dict[str, Any] = field(hash=False)
    budget: dict[str, Any] = field(hash=False)
    #: directory to save the trained network in (a checkpoint, see :mod:`eeea.checkpoint`); None: not saved
    checkpoint: str | None = field(default=None, hash=False)


class Evaluator:
    """Holds a prepared task and builds, trains and scores candidates (one per worker process)."""

    def __init__(self, task_name: str, task_config: dict[str, Any], space: str, device: str,
                 threads: int | None = None) -> None:
        self.threads = candidate_threads(threads)
        try:
            self.device = resolve_device(device)
            self.task = get_task(task_name, **task_config)
            self.space = get_space(space)
            self.task.prepare(self.device)
        except UserError:
            raise
        except Exception as e:  # no candidate can run without the task's data: the run ends, in one line
            raise UserError(f"task {task_name}: preparing its data failed: {type(e).__name__}: {e}") from None
        self.worst = float(self.task.worst)

    def evaluate(self, job: Job) -> dict[str, Any]:
        try:
            with torch_threads(self.threads):
                return self._evaluate(job)
        finally:
            release_memory(self.device)  # a worker lives for the whole run: it must not keep each candidate's peak

    def _evaluate(self, job: Job) -> dict[str, Any]:
        start = time.perf_counter()
        budget = dict(job.budget)
        status, values, note = "ok", {}, ""
        for attempt in range(2):
            try:
                values = self._train(job, budget)
                status = "ok"
                break
            except Diverged as e:
                status, note = "diverged", str(e)
                break
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                status, note = "oom", f"out of memory at batch {budget.get('batch_size')}"
                if attempt == 0 and int(budget.get("batch_size", 1)) > 1:
                    budget["batch_size"] = int(budget["batch_size"]) // 2
                    continue
                break
        objective = self.task.objective
        if status == "ok" and not all(_finite(v) for v in values.values()):
            status, note = "diverged", f"non-finite result {values}"
        if status != "ok":
            values = {objective: self.worst}
        result = {"key": job.key, "status": status, "objectives": {objective: float(values[objective])},
                  "extra": {k: float(v) for k, v in values.items() if k != objective},
                  "seconds": round(time.perf_counter() - start, 3)}
        if note:
            result["note"] = note
        if budget.get("batch_size") != job.budget.get("batch_size"):
            result["batch_size"] = budget["batch_size"]
        return result

    def _train(self, job: Job, budget: dict[str, Any]) -> dict[str, float]:
        torch.manual_seed(job.seed)  # weight initialisation
        genome = Genome.from_text(job.genome)
        model = self.space.build(genome, **job.size)
        values = self.task.evaluate(model, budget, job.seed)  # trains ``model`` in place
        if job.checkpoint:  # written before the archive line, so an archived result always has its weights
            from ..checkpoint import save_checkpoint

            meta = {"task": self.task.name, "seed": job.seed, "budget": budget, **values}
            save_checkpoint(job.checkpoint, genome, model.cpu(), job.size, meta=meta, force=True)
        return values


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and v == v and abs(v) != float("inf")


def crashed(job: Job, worst: float, objective: str, note: str) -> dict[str, Any]:
    return {"key": job.key, "status": "crashed", "objectives": {objective: worst}, "extra": {}, "seconds": 0.0,
            "note": note[-500:]}


class LocalExecutor:
    """Evaluates in this process, one candidate at a time."""

    def __init__(self, task_name: str, task_config: dict[str, Any], space: str, device: str,
                 threads: int | None = None) -> None:
        self.evaluator = Evaluator(task_name, task_config, space, device, threads)

    def map(self, jobs: Iterable[Job]) -> Iterator[dict[str, Any]]:
        for job in jobs:
            for attempt in range(2):
                try:
                    yield self.evaluator.evaluate(job)
                    break
                except UserError:
                    raise
                except Exception:  # a bug or a library fault in one candidate must not end the search
                    if attempt == 1:
                        yield crashed(job, self.evaluator.worst, self.evaluator.task.objective, traceback.format_exc())

    def close(self) -> None:
        pass


_WORKER: Evaluator | None = None
_STARTED: Any = None  # the pool's queue of started job keys: tells which candidates were running when a worker died
_PREPARE_ERROR: UserError | None = None  # why this worker could not prepare its task (raised by every job)


def _init_worker(started: Any, *args: Any) -> None:
    # An initializer that raises kills its worker, which the pool cannot tell from a crash (and would respawn, forever):
    # the error is kept instead and each job raises it, which ends the run in one line.
    global _WORKER, _STARTED, _PREPARE_ERROR
    _STARTED = started
    try:
        _WORKER = Evaluator(*args)
    except UserError as e:
        _PREPARE_ERROR = UserError(str(e))


def _run_job(job: Job) -> dict[str, Any]:
    if _PREPARE_ERROR is not None:
        raise _PREPARE_ERROR
    assert _WORKER is not None
    _STARTED.put(job.key)
    return _WORKER.evaluate(job)


class PoolExecutor:
    """``workers`` processes (spawned: safe with CUDA), each preparing the task once and evaluating candidates.

    A worker that dies (killed, segfault) breaks the whole pool, and every unfinished future fails alike. The pool
    learns which candidates were *running* from the workers' "started" messages: those get a strike and are run
    again one at a time, so a second death convicts exactly the candidate that caused it (``crashed``) and innocent
    neighbours are never charged; candidates that had not started are resubmitted as they were.
    """

    def __init__(self, workers: int, task_name: str, task_config: dict[str, Any], space: str, device: str,
                 threads: int | None = None) -> None:
        self.workers = workers
        self.args = (task_name, task_config, space, device, candidate_threads(threads))
        task = task_class(task_name)  # only its class attributes are needed here; workers build and prepare it
        self.objective, self.worst = task.objective, float(task.worst)
        self.context = multiprocessing.get_context("spawn")
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        self.started = self.context.SimpleQueue()  # fresh: a killed writer may have left the old one locked
        return ProcessPoolExecutor(self.workers, mp_context=self.context, initializer=_init_worker,
                                   initargs=(self.started, *self.args))

    def _started_keys(self) -> set[str]:
        keys = set()
        while not self.started.empty():
            keys.add(self.started.get())
        return keys

    def map(self, jobs: Iterable[Job]) -> Iterator[dict[str, Any]]:
        strikes: dict[str, int] = {}
        pending = list(jobs)
        while pending:
            # candidates without a strike run together; each one with a strike runs alone
            rounds = [[j for j in pending if j.key not in strikes]] + [[j] for j in pending if j.key in strikes]
            pending = []
            for batch in filter(None, rounds):
                pending += yield from self._round(batch, strikes)

    def _round(self, batch: list[Job], strikes: dict[str, int]) -> Iterator[dict[str, Any]]:
        """Run ``batch`` in the pool, yielding results; returns the jobs to run again."""
        self._started_keys()  # drop messages of earlier rounds
        futures = {self.pool.submit(_run_job, job): job for job in batch}
        again: list[Job] = []
        lost: list[Job] = []
        for future in as_completed(futures):
            job = futures[future]
            try:
                yield future.result()
                continue
            except UserError:
                raise
            except BrokenProcessPool:
                lost.append(job)
                continue
            except Exception:
                note = traceback.format_exc()
            strikes[job.key] = strikes.get(job.key, 0) + 1
            if strikes[job.key] < 2:
                again.append(job)
            else:
                yield crashed(job, self.worst, self.objective, note)
        if lost:  # a worker died: charge the candidates that were running, resubmit the rest
            running = self._started_keys()
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()
            for job in lost:
                if job.key in running:
                    strikes[job.key] = strikes.get(job.key, 0) + 1
                    if strikes[job.key] >= 2:
                        yield crashed(job, self.worst, self.objective, "worker process died")
                        continue
                again.append(job)
        return again

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def make_executor(workers: int, task_name: str, task_config: dict[str, Any], space: str, device: str,
                  threads: int | None = None) -> LocalExecutor | PoolExecutor:
    if workers < 1:
        raise UserError(f"--workers: must be at least 1, got {workers}")
    if workers == 1:
        return LocalExecutor(task_name, task_config, space, device, threads)
    return PoolExecutor(workers, task_name, task_config, space, device, threads)
