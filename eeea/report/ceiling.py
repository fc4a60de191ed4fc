"""The ceiling of a tabular search's hypervolume: the true front of its benchmark table, every network scored by the
table and counted at the run's evaluation size, in the run's objectives.

Scoring and counting a whole table takes seconds (15,625 NAS-Bench-201 cells), far more than a per-round report may
cost, so the front's points are kept in the per-user cache (``$EEEA_CACHE``), keyed by the table file's identity and
the run's task options, objectives and size: ``eeea report`` computes them once per table, and the search's own
reports use them from then on.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..search.quality import TrueFront, non_dominated

#: objectives a table's networks can be given without measuring anything
COUNTABLE = ("params", "macs")


def applies(config: Mapping[str, Any], objectives: Sequence[str]) -> bool:
    """Whether the run has a true front to compare with: one of eeea's tabular tasks, its table file at hand, and
    objectives that need no device (not latency)."""
    from ..tasks import list_tasks, task_class

    task = str(config.get("task"))
    if len(objectives) < 2 or any(o not in COUNTABLE for o in objectives[1:]):
        return False
    if task not in list_tasks() or not task_class(task).lookup_only:  # never import a run's own task code
        return False
    data = config.get("data")
    return bool(data) and Path(data).is_file()


def true_front(config: Mapping[str, Any], objectives: Sequence[str], compute: bool) -> TrueFront | None:
    """The true front of the run's table in its objectives, or None: :func:`applies` does not hold, or
    (``compute`` False) it is not cached yet."""
    from ..data.cache import cached_json

    if not applies(config, objectives):
        return None
    data = config["data"]
    tag = json.dumps(["true front", config["task"], config.get("task_config"), config.get("space"),
                      config.get("eval_size"), list(objectives)], sort_keys=True, default=str)
    points = cached_json(Path(data), tag, (lambda: _front_points(config, objectives)) if compute else None)
    if not points:
        return None
    F = np.asarray(points, dtype=float)
    return TrueFront(*F.T)


def _front_points(config: Mapping[str, Any], objectives: Sequence[str]) -> list[list[float]]:
    """The non-dominated points of every network of the table (each scored and counted once)."""
    from ..spaces import get_space
    from ..tasks import get_task

    task = get_task(str(config["task"]), data=config["data"], **(config.get("task_config") or {}))
    space = get_space(config["space"])
    keys = space.size_keys  # the same evaluation size as the search's counts (see eeea.search.loop)
    fixed = {k: v for k, v in task.size_overrides().items() if not keys or k in keys}
    size = space.size(**{**fixed, **(config.get("eval_size") or {})})
    count = {"params": space.count_params, "macs": space.count_macs}
    points = [[scores[objectives[0]], *(count[o](genome, **size) for o in objectives[1:])]
              for genome, scores in task.entries()]
    return non_dominated(np.asarray(points, dtype=float)).tolist()
