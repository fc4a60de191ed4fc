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

Ray's own processes can fail too, and Ray does not always say so: a dead raylet leaves a waiting driver waiting
forever, a dead GCS ends the driver's process after a minute. So no wait is unbounded: ``ray.wait`` returns every
:data:`HEARTBEAT_S` seconds, and :class:`ClusterWatch` then checks the cluster without blocking (the processes of a
local instance this executor started; the GCS and its list of live nodes, probed from a thread with a timeout). A
cluster that cannot run a candidate for :data:`LOST_AFTER_S` seconds (or whose raylet or GCS process died) is lost:
the running candidates are charged by the strike rule; a local instance is started afresh (up to
:data:`MAX_RECONNECTS` times) and the search goes on; a joined cluster ends the search with
:class:`~eeea.errors.RunStopped`, its archive intact, and the CLI prints the ``--resume`` line.
"""
from __future__ import annotations

import logging
import math
import os
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ..checkpoint import WEIGHTS_FILE
from ..errors import RunStopped, UserError
from ..interrupts import keep_signal_handlers
from ..atomic import atomic_write
from ..runtime import candidate_threads
from ..tasks import task_class
from .executors import Evaluator, Job, run_in_rounds, strike

RAY_EXTRA = "pip install 'eeea[ray]'"
#: seconds between checks of the cluster while waiting for results
HEARTBEAT_S = 2.0
#: seconds between probes of the GCS, and how long one may take before the GCS counts as silent
PROBE_EVERY_S, PROBE_TIMEOUT_S = 5.0, 10.0
#: seconds the cluster may stay unable to run a candidate before it counts as lost
LOST_AFTER_S = 20.0
#: fresh starts of a local Ray instance per search before a lost one ends the search
MAX_RECONNECTS = 3
#: seconds a ``ray.get`` of a finished call may take (a checkpoint's bytes from another node)
GET_TIMEOUT_S = 120.0
log = logging.getLogger(__name__)


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


class ClusterWatch:
    """Whether a Ray cluster can still run a candidate, answered without blocking: :meth:`lost` returns why it cannot
    (once that has lasted :data:`LOST_AFTER_S` seconds, or at once when a raylet or GCS process this driver started
    has died), else None."""

    def __init__(self, ray: Any, cpus: float, gpus: float) -> None:
        self.ray, self.cpus, self.gpus = ray, cpus, gpus
        self.own = _own_processes()
        self.probe: threading.Thread | None = None
        self.probe_started = 0.0
        self.answer: tuple[float, Any] | None = None  # (when, the nodes or the exception)
        self.unable_since: float | None = None

    def lost(self) -> str | None:
        dead = [name for name, process in self.own if process.poll() is not None]
        if dead:
            return f"its {' and '.join(sorted(set(dead)))} process died"
        now = time.monotonic()
        if self.probe is None and (self.answer is None or now - self.answer[0] >= PROBE_EVERY_S):
            self.probe_started = now
            self.probe = threading.Thread(target=self._probe, name="eeea-ray-probe", daemon=True)
            self.probe.start()
        problem, since = self._problem(now)
        if problem is None:
            self.unable_since = None
            return None
        if self.unable_since is None:
            self.unable_since = since
        return problem if now - self.unable_since >= LOST_AFTER_S else None

    def _probe(self) -> None:
        try:
            answer: Any = self.ray.nodes()
        except Exception as e:  # noqa: BLE001 (any failure to answer is the finding)
            answer = e
        self.answer, self.probe = (time.monotonic(), answer), None

    def _problem(self, now: float) -> tuple[str | None, float]:
        """What keeps the cluster from running a candidate now (None: nothing known) and since when."""
        if self.probe is not None and now - self.probe_started > PROBE_TIMEOUT_S:
            return f"the GCS did not answer for {now - self.probe_started:.0f} s", self.probe_started
        if self.answer is None:
            return None, now
        when, nodes = self.answer
        if isinstance(nodes, Exception):
            return f"the GCS cannot be reached ({type(nodes).__name__})", when
        if not fitting_nodes(nodes, self.cpus, self.gpus):
            return f"no live node has {self.cpus:g} CPUs and {self.gpus:g} GPUs for a candidate", when
        return None, now


def _own_processes() -> list[tuple[str, Any]]:
    """The raylet and GCS processes of a local Ray instance that this process started (``Popen`` objects); empty when
    it joined a cluster. Ray keeps them in its private node object: without it (another Ray version) the GCS probe
    alone finds a dead raylet, only later."""
    try:
        from ray._private import worker

        processes = worker._global_node.all_processes
        return [(name, info.process) for name in ("raylet", "gcs_server") for info in processes.get(name, [])]
    except Exception:  # noqa: BLE001
        return []


def fitting_nodes(nodes: list[dict[str, Any]], cpus: float, gpus: float) -> list[dict[str, Any]]:
    """The live nodes (of ``ray.nodes()``) with ``cpus`` CPUs and ``gpus`` GPUs for one candidate."""
    return [n for n in nodes if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= cpus
            and n.get("Resources", {}).get("GPU", 0) >= gpus]


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
        self.raylets: list[int] = []  # the raylet pids of the local instance this executor started
        self.agents: list[tuple[int, str]] = []  # and the raylets' agents: (pid, start time), see raylet_children
        self.connected = False  # True: this executor started (local) or joined the Ray it uses, and shuts it down
        self.address, self.cpus = address, workers * cpus_per_candidate
        self._connect()
        self.local = self.connected and address is None  # a local instance of its own: started afresh when lost
        self.reconnects = 0
        try:
            gpus = self._gpus(device, gpus_per_candidate)
            self._check_fits(cpus_per_candidate, gpus)
            self.watch = ClusterWatch(ray, cpus_per_candidate, gpus)
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
    def _connect(self) -> None:
        ray, address = self.ray, self.address
        if ray.is_initialized():
            return
        with keep_signal_handlers():  # ray.init takes SIGTERM over; a search stops on it like on Ctrl-C
            if address is None:
                # as many logical CPUs as the actors ask for, so every actor starts (as --executor pool would)
                ray.init(num_cpus=max(os.cpu_count() or 1, math.ceil(self.cpus)), include_dashboard=False,
                         log_to_driver=False, logging_level=logging.ERROR)
                self.raylets = [process.pid for name, process in _own_processes() if name == "raylet"]
                self.agents = raylet_children(self.raylets)
            else:
                try:
                    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
                except (ConnectionError, RuntimeError, ValueError) as e:
                    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                    raise UserError(f"--ray-address {address}: cannot join a Ray cluster there ({first})") from None
        self.connected = True

    def _lost(self, reason: str) -> None:
        """The cluster was lost (see :class:`ClusterWatch`): start a local instance afresh, with new actors, or stop
        the search (a joined cluster, or a local one lost too often)."""
        if not self.local or self.reconnects >= MAX_RECONNECTS:
            again = f" (lost {self.reconnects + 1} times)" if self.local else ""
            raise RunStopped(f"the Ray cluster was lost{again}: {reason}; the search stopped with its archive "
                             f"intact")
        self.reconnects += 1
        log.warning(f"eeea: the local Ray instance was lost ({reason}); starting it again ({self.reconnects} of "
                    f"{MAX_RECONNECTS}), the candidates it was running are tried again")
        self._disconnect()
        try:
            self._connect()
        except Exception as e:  # noqa: BLE001 (whatever stops Ray from starting, the search cannot go on)
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise RunStopped(f"the Ray cluster was lost ({reason}) and could not be started again ({first}); the "
                             f"search stopped with its archive intact") from None
        self.watch = ClusterWatch(self.ray, self.watch.cpus, self.watch.gpus)
        self.setups.clear()
        self.idle.clear()
        self.actors = [None] * self.workers
        for slot in range(self.workers):
            self._spawn(slot)

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
        if fitting_nodes(self.ray.nodes(), cpus, gpus):
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
            ray.get(ref, timeout=GET_TIMEOUT_S)
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
            ready, _ = ray.wait([*running, *self.setups], num_returns=1, timeout=HEARTBEAT_S)
            # before a death is pinned on a candidate or an actor's start: was it the whole cluster?
            reason = self.watch.lost()
            if reason is not None:  # the actors are gone with it: charge what they ran, as for any death
                for job, _slot in running.values():
                    verdict = strike(job, strikes, self.worst, self.objective, f"Ray cluster lost: {reason}")
                    if verdict is None:
                        again.append(job)
                    else:
                        yield verdict
                running.clear()
                self._lost(reason)
                continue
            if not ready:
                continue
            (ref,) = ready
            if ref in self.setups:
                self._prepared(ref)
                continue
            job, slot = running.pop(ref)
            try:
                result, files = ray.get(ref, timeout=GET_TIMEOUT_S)
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
        self._disconnect()

    def _disconnect(self) -> None:
        for actor in self.actors:
            if actor is not None:
                try:
                    self.ray.kill(actor, no_restart=True)
                except Exception:
                    pass
        agents = {*self.agents, *raylet_children(self.raylets)}  # noted again while the raylets may still live
        if self.connected:
            self.ray.shutdown()
            self.connected = False
        # A lost local instance leaves processes behind that its dead raylet or GCS can no longer end: the actors
        # (each holding the task's data) and the raylet's agents. They are this machine's, ended here.
        end_raylet_processes(self.raylets, agents)
        self.actors, self.raylets, self.agents = [], [], []


def _stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name: [0] state, [1] parent pid, [19] start time."""
    return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()


def raylet_children(raylets: Iterable[int]) -> list[tuple[int, str]]:
    """``(pid, start time)`` of the processes a raylet of ``raylets`` started and still parents: its agents, which
    it starts with itself (their environment cannot name them: a process title may overwrite it)."""
    wanted, found = set(raylets), []
    if wanted:
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                fields = _stat(entry.name)
                if int(fields[1]) in wanted:
                    found.append((int(entry.name), fields[19]))
            except (OSError, ValueError, IndexError):  # gone meanwhile
                continue
    return found


def end_raylet_processes(raylets: Iterable[int], children: Iterable[tuple[int, str]] = ()) -> None:
    """SIGKILL this user's processes that a raylet of ``raylets`` (pids) started: its workers, which Ray gives
    ``RAY_RAYLET_PID`` in their environment, and ``children`` (:func:`raylet_children`, taken while the raylet lived)
    that still run with the same start time. An agent whose GCS died can outlive its raylet by a minute. Nothing
    where ``/proc`` cannot tell."""
    for pid, started in children:
        try:
            if _stat(pid)[19] == started and pid != os.getpid():
                os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):  # gone already
            continue
    marks = [f"\0RAY_RAYLET_PID={pid}\0".encode() for pid in raylets]
    if not marks:
        return
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = b"\0" + (entry / "environ").read_bytes()
            if any(mark in environ for mark in marks) and int(entry.name) != os.getpid():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):  # gone meanwhile, or another user's
            continue
