"""Which executor runs a search's candidates: ``local`` (in this process), ``pool`` (worker processes on this machine)
or ``ray`` (Ray actors on a local Ray instance or a cluster). Ray is imported only when chosen."""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import UserError
from .executors import LocalExecutor, PoolExecutor

#: the executor names; None (the default) picks local for one worker, pool for more
EXECUTORS = ("local", "pool", "ray")


def make_executor(workers: int, task_name: str, task_config: dict[str, Any], space: str, device: str,
                  threads: int | None = None, *, kind: str | None = None, ray_address: str | None = None,
                  gpus_per_candidate: float | None = None, cpus_per_candidate: float = 1,
                  levers: Mapping[str, Any] | None = None) -> Any:
    """An executor with ``map(jobs)`` and ``close()``: ``kind`` names it (default: local for 1 worker, pool for more);
    the ``ray_*`` and ``*_per_candidate`` options apply to the Ray executor only; ``levers``: see
    :class:`~eeea.search.executors.Evaluator`."""
    if workers < 1:
        raise UserError(f"--workers: must be at least 1, got {workers}")
    kind = kind or ("local" if workers == 1 else "pool")
    if kind not in EXECUTORS:
        raise UserError(f"--executor: {kind!r} is not one of {', '.join(EXECUTORS)}")
    if kind == "local":
        if workers > 1:
            raise UserError(f"--executor local trains one candidate at a time; drop --workers {workers} or use "
                            "--executor pool or ray")
        return LocalExecutor(task_name, task_config, space, device, threads, levers)
    if kind == "pool":
        return PoolExecutor(workers, task_name, task_config, space, device, threads, levers)
    from .ray_executor import RayExecutor

    return RayExecutor(workers, task_name, task_config, space, device, threads, levers, address=ray_address,
                       gpus_per_candidate=gpus_per_candidate, cpus_per_candidate=cpus_per_candidate)
