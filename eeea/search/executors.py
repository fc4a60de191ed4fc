"""Executors run candidate evaluations: in this process (:class:`LocalExecutor`) or in worker processes
(:class:`PoolExecutor`, several per GPU allowed); :mod:`eeea.search.ray_executor` adds Ray actors across a cluster and
:mod:`eeea.search.executor_choice` picks one. All expose ``map(jobs)``, yielding results as they finish; the search
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
import os
import signal
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

import torch

from ..errors import UserError
from ..genome import Genome
from ..runtime import Levers, candidate_threads, release_memory, resolve_device, resolve_levers, torch_threads
from ..spaces import get_space
from ..tasks import get_task, task_class
from ..tasks.training import Diverged, cpu_amp_guard


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


#: the search options that are speed levers of the proxy training (see :func:`eeea.runtime.resolve_levers`)
LEVER_KEYS = ("amp", "channels_last", "compile")


class Evaluator:
    """Holds a prepared task and builds, trains and scores candidates (one per worker process).

    ``levers`` holds the search's lever options (:data:`LEVER_KEYS`: ``amp`` auto/bf16/none, ``channels_last``
    None/True/False, ``compile``), resolved here for the device and the task; None: all off."""

    def __init__(self, task_name: str, task_config: dict[str, Any], space: str, device: str,
                 threads: int | None = None, levers: Mapping[str, Any] | None = None) -> None:
        self.threads = candidate_threads(threads)
        try:
            self.device = resolve_device(device)
            self.task = get_task(task_name, **task_config)
            self.levers = Levers() if levers is None else resolve_levers(
                str(levers.get("amp", "auto")), levers.get("channels_last"), bool(levers.get("compile", False)),
                self.device, self.task.autocast)
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
            # A worker lives for the whole run: it must not keep each candidate's peak. A table lookup builds nothing,
            # and a full collection per lookup (~0.1 s with a benchmark table in memory) would dominate its search.
            if not self.task.lookup_only:
                release_memory(self.device)

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
        genome = Genome.from_text(job.genome)
        if self.task.lookup_only:  # a tabular benchmark: its table holds the trained result, no network is built
            return self.task.lookup(genome)
        torch.manual_seed(job.seed)  # weight initialisation
        model = self.space.build(genome, **job.size)
        with cpu_amp_guard(self.device, self.levers.amp):
            values = self.task.evaluate(model, budget, job.seed, self.levers)  # trains ``model`` in place
        if job.checkpoint:  # written before the archive line, so an archived result always has its weights
            from ..checkpoint import save_checkpoint

            meta = {"task": self.task.name, "seed": job.seed, "budget": budget, **values}
            if getattr(self.task, "dims", None):  # the emotion dimensions the outputs hold (an exported file names them)
                meta["dims"] = list(self.task.dims)
            try:
                save_checkpoint(job.checkpoint, genome, model.cpu(), job.size, meta=meta, force=True)
            except OSError as e:  # a full disk is not the candidate's fault: stop the run; resume retrains it
                raise UserError(f"cannot save the weights of candidate {job.key} ({e.strerror or e}); the search "
                                f"stopped with its archive intact: free space, then --resume to retrain it") from None
        return values


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and v == v and abs(v) != float("inf")


def crashed(job: Job, worst: float, objective: str, note: str) -> dict[str, Any]:
    return {"key": job.key, "status": "crashed", "objectives": {objective: worst}, "extra": {}, "seconds": 0.0,
            "note": note[-500:]}


def strike(job: Job, strikes: dict[str, int], worst: float, objective: str, note: str) -> dict[str, Any] | None:
    """Charge ``job`` with a failure: None while it may run again (once), else its ``crashed`` result."""
    strikes[job.key] = strikes.get(job.key, 0) + 1
    return crashed(job, worst, objective, note) if strikes[job.key] >= 2 else None


Round = Callable[[list[Job], dict[str, int]], Iterator[dict[str, Any]]]


def run_in_rounds(jobs: Iterable[Job], run_round: Round) -> Iterator[dict[str, Any]]:
    """The strike rule of the executors that run candidates side by side: candidates without a strike run together,
    each one with a strike runs alone (so a second failure convicts exactly that candidate, never a neighbour).
    ``run_round(batch, strikes)`` yields the batch's results and returns the jobs to run again."""
    strikes: dict[str, int] = {}
    pending = list(jobs)
    while pending:
        rounds = [[j for j in pending if j.key not in strikes]] + [[j] for j in pending if j.key in strikes]
        pending = []
        for batch in filter(None, rounds):
            pending += yield from run_round(batch, strikes)


class LocalExecutor:
    """Evaluates in this process, one candidate at a time."""

    def __init__(self, task_name: str, task_config: dict[str, Any], space: str, device: str,
                 threads: int | None = None, levers: Mapping[str, Any] | None = None) -> None:
        self.evaluator = Evaluator(task_name, task_config, space, device, threads, levers)

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


def exit_with_parent(parent: int, interval: float = 1.0) -> None:
    """Watch the parent (pid ``parent``, passed in: it may have died while this worker was still importing) from a
    daemon thread and end this process when it is gone: a SIGKILLed search must not leave workers blocked on a pipe
    forever, holding their data."""

    def watch() -> None:
        while os.getppid() == parent:  # re-parented: the search process is gone
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="eeea-parent-watch", daemon=True).start()


def _init_worker(started: Any, parent: int, *args: Any) -> None:
    # An initializer that raises kills its worker, which the pool cannot tell from a crash (and would respawn,
    # forever): the error is kept instead and each job raises it, which ends the run in one line.
    global _WORKER, _STARTED, _PREPARE_ERROR
    # Ctrl-C reaches the whole process group: the search process alone decides (it stops the workers, see close()),
    # so a worker never dies half-way and gets a candidate charged with a crash.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(parent)
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
                 threads: int | None = None, levers: Mapping[str, Any] | None = None) -> None:
        self.workers = workers
        self.args = (task_name, task_config, space, device, candidate_threads(threads),
                     None if levers is None else dict(levers))
        task = task_class(task_name)  # only its class attributes are needed here; workers build and prepare it
        self.objective, self.worst = task.objective, float(task.worst)
        self.context = multiprocessing.get_context("spawn")
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        self.started = self.context.SimpleQueue()  # fresh: a killed writer may have left the old one locked
        self.futures: dict[Any, Job] = {}  # the current round's
        return ProcessPoolExecutor(self.workers, mp_context=self.context, initializer=_init_worker,
                                   initargs=(self.started, os.getpid(), *self.args))

    def _started_keys(self) -> set[str]:
        keys = set()
        while not self.started.empty():
            keys.add(self.started.get())
        return keys

    def map(self, jobs: Iterable[Job]) -> Iterator[dict[str, Any]]:
        return run_in_rounds(jobs, self._round)

    def _round(self, batch: list[Job], strikes: dict[str, int]) -> Iterator[dict[str, Any]]:
        """Run ``batch`` in the pool, yielding results; returns the jobs to run again."""
        self._started_keys()  # drop messages of earlier rounds
        futures = self.futures = {self.pool.submit(_run_job, job): job for job in batch}
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
            verdict = strike(job, strikes, self.worst, self.objective, note)
            if verdict is None:
                again.append(job)
            else:
                yield verdict
        if lost:  # a worker died: charge the candidates that were running, resubmit the rest
            running = self._started_keys()
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()
            for job in lost:
                if job.key in running:
                    verdict = strike(job, strikes, self.worst, self.objective, "worker process died")
                    if verdict is not None:
                        yield verdict
                        continue
                again.append(job)
        return again

    def close(self) -> None:
        """Shut the pool down. Candidates still running (the search was interrupted or failed) are stopped with their
        workers, not awaited: a candidate may train for many minutes, and a stop must take seconds."""
        if all(f.done() for f in self.futures):
            self.pool.shutdown(wait=True, cancel_futures=True)
            return
        if hasattr(self.pool, "terminate_workers"):  # Python 3.14+
            self.pool.terminate_workers()
            return
        # before 3.14: the pool's own workers and management thread, taken before shutdown() forgets them
        workers = list((getattr(self.pool, "_processes", None) or {}).values())
        manager = getattr(self.pool, "_executor_manager_thread", None)
        self.pool.shutdown(wait=False, cancel_futures=True)
        terminate_processes(workers)
        if manager is not None:
            # It ends once it sees its workers gone, closing its wake-up pipe. Left running, it races the
            # interpreter's exit hook, which writes to that pipe (a traceback under the run's one-line error).
            manager.join(timeout=30)


def terminate_processes(processes: list[Any], grace: float = 3.0) -> None:
    """SIGTERM ``processes`` (multiprocessing Process objects), then SIGKILL those still alive after ``grace``
    seconds; returns when all have ended."""
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()
