"""A task that injects real faults, for the executor tests: it kills its own worker process (SIGKILL) or raises
CUDA's out-of-memory error for chosen candidates, or fails to prepare (a UserError, like missing data). Referenced as
``fault_tasks:FaultTask`` (a ``module:Class`` task), so spawned pool workers and Ray actors import it the way they
would import a user's task."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from eeea.errors import UserError
from eeea.tasks import Task


class FaultTask(Task):
    objective = "error"

    search_defaults = {**Task.search_defaults, "population": 4, "generations": 1}

    def __init__(self, marker_dir: str, data: str | None = None, kill_once: Sequence[int] = (), kill_always: Sequence[int] = (),
                 oom_above: int | None = None, sleep: float = 0.0, fail_prepare: str | None = None,
                 hold_after: int | None = None) -> None:
        self.marker_dir, self.sleep, self.fail_prepare = Path(marker_dir), sleep, fail_prepare
        self.kill_once, self.kill_always, self.oom_above = set(kill_once), set(kill_always), oom_above
        self.hold_after = hold_after

    def prepare(self, device: torch.device) -> None:
        if self.fail_prepare:  # what a task says when its data cannot be loaded in a worker
            (self.marker_dir / f"prepare-{os.getpid()}").touch()
            raise UserError(self.fail_prepare)

    def evaluate(self, model: Any, budget: dict[str, Any], seed: int, levers: Any = None) -> dict[str, float]:
        time.sleep(self.sleep)  # keeps neighbours in flight when another candidate kills its worker
        if self.hold_after is not None:
            self._hold(seed)
        marker = self.marker_dir / f"killed-{seed}"
        if seed in self.kill_always or (seed in self.kill_once and not marker.exists()):
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        batch = int(budget.get("batch_size", 1))
        if self.oom_above is not None and batch > self.oom_above:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory at batch {batch} (injected)")
        params = sum(p.numel() for p in model.parameters())
        return {"error": (seed % 997) / 997, "params_seen": float(params), "trained_batch": float(batch),
                "threads": float(torch.get_num_threads())}


    def _hold(self, seed: int) -> None:
        """A candidate that trains for as long as the file ``hold`` exists in the marker folder (after the first
        ``hold_after`` candidates to start, which finish at once): a search caught mid-candidate, for the signal
        tests. Each held candidate marks itself ``holding-PID`` (the process that holds it)."""
        (self.marker_dir / f"started-{seed}").touch()
        hold = self.marker_dir / "hold"
        if len(list(self.marker_dir.glob("started-*"))) <= self.hold_after or not hold.exists():
            return
        marker = self.marker_dir / f"holding-{os.getpid()}"
        marker.touch()
        try:
            while hold.exists():
                time.sleep(0.05)
        finally:
            marker.unlink(missing_ok=True)


class PrepareFailsTask(FaultTask):
    """A task whose data cannot be prepared: ``error="user"`` raises UserError only inside pool workers (the main
    process's cheap check passes), ``error="bug"`` raises a RuntimeError wherever it is prepared."""

    def __init__(self, marker_dir: str, data: str | None = None, error: str = "user") -> None:
        super().__init__(marker_dir, data)
        self.error = error

    def prepare(self, device: torch.device) -> None:
        import multiprocessing

        from eeea.errors import UserError

        if self.error == "bug":
            raise RuntimeError("the data loader broke (injected)")
        if multiprocessing.parent_process() is not None:
            raise UserError("cannot read the data in a worker (injected)")


class DivergeTask(Task):
    """Every candidate's training diverges (a non-finite loss), as a too-high learning rate makes it."""

    objective = "error"
    search_defaults = {**Task.search_defaults, "population": 2, "generations": 0}

    def __init__(self, data: str | None = None) -> None:
        self.data = data

    def prepare(self, device: torch.device) -> None:
        pass

    def evaluate(self, model: Any, budget: dict[str, Any], seed: int, levers: Any = None) -> dict[str, float]:
        from eeea.tasks.training import Diverged

        raise Diverged("loss became nan in epoch 1 (injected)")
