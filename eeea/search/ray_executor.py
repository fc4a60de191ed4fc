"""The Ray executor: candidates trained by a pool of Ray actors, on this machine or across the nodes of a Ray cluster.

Each actor builds one :class:`~eeea.search.executors.Evaluator` (the task prepared once: data loaded, on its GPU
when it has one) and trains many candidates, one at a time; ``map`` yields results as they finish. The run directory
stays with the driver: a candidate's checkpoint is written by the actor into a temporary folder with the same
:func:`~eeea.checkpoint.save_checkpoint` as everywhere, travels back through Ray's object store as the files' bytes, and
the driver writes those bytes into ``RUN/checkpoints/KEY`` (no shared filesystem needed).

Faults follow the rule of the other executors (:func:`~eeea.search.executors.run_in_rounds`): a candidate whose actor
dies (process killed, node gone) or that raises gets a strike, the actor is replaced, and the candidate runs again,
alone; a second failure records it ``crashed``. Neighbours are never charged: one actor runs one candidate, so a death
names its candidate. NaN and out-of-memory are handled inside the Evaluator, as in every executor. A
:class:`~eeea.errors.UserError` raised while an actor prepares the task (bad ``--data``, say) ends the run with that
line. Ray itself is imported only when this executor is built (``pip install 'eeea[ray]'``).
"""
from __future__ import annotations

import logging
import math
import os
import sys
import tempfile
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ..checkpoint import WEIGHTS_FILE
from ..errors import UserError
from ..rundir import atomic_write
from ..runtime import candidate_threads
from ..tasks import task_class
from .executors import Evaluator, Job, run_in_rounds, strike

RAY_EXTRA = "pip install 'eeea[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--executor ray needs Ray, which is not installed: {RAY_EXTRA}") from None
    return ray


class EvaluatorActor:
    """One Ray actor (one worker process): prepares the task once, then trains candidates one at a time."""

    def __init__(self, paths: list[str]) -> None:
        # the driver's import paths that exist here too (a user's ``module:Class`` task), as spawned pool workers get
        for path in paths:
            if path not in sys.path and os.path.isdir(path):
                sys.path.append(path)
        self.evaluator: Evaluator | None = None

    def prepare(self, args: tuple[Any, ...]) -> int:
        self.evaluator = Evaluator(*args)
        return os.getpid()

    def evaluate(self, job: Job) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The job's result and, when it asks for a checkpoint, the checkpoint's files (name -> bytes)."""
        assert self.evaluator is not None
        if not job.checkpoint:
            return self.evaluator.evaluate(job), {}
        with tempfile.TemporaryDirectory(prefix="eeea-checkpoint-") as tmp:
            result = self.evaluator.evaluate(replace(job, checkpoint=tmp))
            files = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
        return result, files


def write_checkpoint(path: str | Path, files: dict[str, bytes]) -> None:
    """Write a checkpoint's files into directory ``path``, each atomically, the weights last (as save_checkpoint)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for name in sorted(files, key=lambda n: (n == WEIGHTS_FILE, n)):
        data = files[name]
        atomic_write(path / name, lambda tmp: tmp.write_bytes(data))


class RayExecutor:
    """``workers`` Ray actors, each with ``cpus_per_candidate`` CPUs and ``gpus_per_candidate`` GPUs (a fraction shares
    a GPU: 0.25 puts four candidates on each), evaluating candidates as they free up.

    ``address``: None starts a local Ray instance (stopped by :meth:`close`); ``auto`` or ``HOST:PORT`` joins a running
    cluster (left running). When this process already runs Ray (``ray.init`` called by the caller) that one is used
    as it is. ``gpus_per_candidate`` None: 1 when ``device`` is not ``cpu`` and the cluster has GPUs, else 0.
    """

    def __init__(self, workers: int, task_name: str, task_config: dict[str, Any], space: str, device: str,
                 threads: int | None = None, levers: Mapping[str, Any] | None = None, *, address: str | None = None,
                 gpus_per_candidate: float | None = None, cpus_per_candidate: float = 1) -> None:
        ray = self.ray = import_ray()
        if not cpus_per_candidate > 0:
            raise UserError(f"--cpus-per-candidate: must be more than 0, got {cpus_per_candidate}")
        if gpus_per_candidate is not None and not gpus_per_candidate >= 0:
            raise UserError(f"--gpus-per-candidate: must be 0 or more, got {gpus_per_candidate}")
        task = task_class(task_name)  # only its class attributes are needed here; actors build and prepare it
        self.objective, self.worst = task.objective, float(task.worst)
        self.workers = workers
        self.actors: list[Any] = []
        self.connected = False
        self._connect(address, workers * cpus_per_candidate)
        try:
            gpus = self._gpus(device, gpus_per_candidate)
            self._check_fits(cpus_per_candidate, gpus)
            # Ray shows an actor only the GPUs it reserved, as cuda:0..; without one, "auto" means the CPU there
            actor_device = "cuda" if gpus > 0 and device.startswith("cuda") else device
            self.args = (task_name, task_config, space, actor_device, candidate_threads(threads),
                         None if levers is None else dict(levers))
            self.actor_class = ray.remote(EvaluatorActor).options(num_cpus=cpus_per_candidate, num_gpus=gpus,
                                                                  max_restarts=0)
            self.paths = [p for p in sys.path if p and os.path.isdir(p)]
            self.actors = [None] * workers
            self.setups: dict[Any, int] = {}  # the prepare() call of each starting actor -> its slot
            self.idle: deque[int] = deque()  # slots whose actor is prepared and free
            self.setup_deaths = 0
            for slot in range(workers):
                self._spawn(slot)
        except BaseException:
            self.close()
            raise

    # --- the cluster -------------------------------------------------------------------------------------------------
    def _connect(self, address: str | None, cpus: float) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        if address is None:
            # as many logical CPUs as the actors ask for, so every actor starts (as --executor pool would)
            ray.init(num_cpus=max(os.cpu_count() or 1, math.ceil(cpus)), include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR)
        else:
            try:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as e:
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise UserError(f"--ray-address {address}: cannot join a Ray cluster there ({first})") from None
        self.connected = True

    def _gpus(self, device: str, asked: float | None) -> float:
        total = float(self.ray.cluster_resources().get("GPU", 0))
        if device.startswith("cuda") and total == 0:
            raise UserError(f"--device {device}: the Ray cluster has no GPU (use cpu or auto)")
        if asked is None:
            return 1.0 if device != "cpu" and total > 0 else 0.0
        if asked > total:
            raise UserError(f"--gpus-per-candidate {asked:g}: the Ray cluster has {total:g} GPUs")
        return float(asked)

    def _check_fits(self, cpus: float, gpus: float) -> None:
        nodes = [n.get("Resources", {}) for n in self.ray.nodes() if n.get("Alive")]
        if any(r.get("CPU", 0) >= cpus and r.get("GPU", 0) >= gpus for r in nodes):
            return
        # refused rather than left waiting for a node that may never come
        raise UserError(f"no node of the Ray cluster has {cpus:g} CPUs and {gpus:g} GPUs for one candidate "
                        "(lower --cpus-per-candidate / --gpus-per-candidate)")

    def _spawn(self, slot: int) -> None:
        actor = self.actor_class.remote(self.paths)
        self.actors[slot] = actor
        self.setups[actor.prepare.remote(self.args)] = slot

    def _replace(self, slot: int) -> None:
        try:
            self.ray.kill(self.actors[slot], no_restart=True)
        except Exception:  # already gone with its process or node
            pass
        self._spawn(slot)

    def _prepared(self, ref: Any) -> None:
        """An actor's prepare() ended: it is ready, or the run ends (a UserError), or it died and is started again."""
        ray, slot = self.ray, self.setups.pop(ref)
        try:
            ray.get(ref)
        except ray.exceptions.RayTaskError as e:
            if isinstance(e.cause, UserError):
                raise UserError(str(e.cause)) from None
            raise RuntimeError(f"a Ray worker could not prepare the task:\n{e}") from None
        except ray.exceptions.RayError as e:  # died while preparing (killed, node gone): another try, not forever
            self.setup_deaths += 1
            if self.setup_deaths > 2 * self.workers + 2:
                raise UserError(f"Ray workers keep dying while preparing the task ({type(e).__name__}); see the "
                                "Ray logs of the cluster") from None
            self._spawn(slot)
        else:
            self.idle.append(slot)

    # --- the executor contract ---------------------------------------------------------------------------------------
    def map(self, jobs: Iterable[Job]) -> Iterator[dict[str, Any]]:
        return run_in_rounds(jobs, self._round)

    def _round(self, batch: list[Job], strikes: dict[str, int]) -> Iterator[dict[str, Any]]:
        """Run ``batch`` on the actors, yielding results as they finish; returns the jobs to run again."""
        ray = self.ray
        queue, running, again = deque(batch), {}, []
        while queue or running:
            while queue and self.idle:
                slot, job = self.idle.popleft(), queue.popleft()
                running[self.actors[slot].evaluate.remote(job)] = (job, slot)
            (ref,), _ = ray.wait([*running, *self.setups], num_returns=1)
            if ref in self.setups:
                self._prepared(ref)
                continue
            job, slot = running.pop(ref)
            try:
                result, files = ray.get(ref)
            except ray.exceptions.RayTaskError as e:  # the candidate raised (a bug or a library fault)
                if isinstance(e.cause, UserError):
                    raise UserError(str(e.cause)) from None
                note = str(e)
                self.idle.append(slot)
            except ray.exceptions.RayError as e:  # its actor died: process killed, node gone
                note = f"worker process died ({type(e).__name__})"
                self._replace(slot)
            else:
                self.idle.append(slot)
                if job.checkpoint and files:  # before the archive line, so an archived result has its weights
                    write_checkpoint(job.checkpoint, files)
                yield result
                continue
            verdict = strike(job, strikes, self.worst, self.objective, note)
            if verdict is None:
                again.append(job)
            else:
                yield verdict
        return again

    def close(self) -> None:
        """Kill the actors (their running candidates stop); stop a local Ray instance this executor started."""
        for actor in self.actors:
            if actor is not None:
                try:
                    self.ray.kill(actor, no_restart=True)
                except Exception:
                    pass
        self.actors = []
        if self.connected:
            self.ray.shutdown()
            self.connected = False
