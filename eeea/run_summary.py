"""What a search run prints, read from its files alone: its summary (``eeea show RUN_DIR``), its result as the
search returned it, and the front's isomorphic members (networks that compute the same function).

Whatever a run's state (finished, interrupted, every candidate diverged), these read only its files and change none.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from .genome import Genome


def isomorphic_groups(front: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Indices of front members whose networks compute the same function (isomorphic cells, by their space's
    :meth:`~eeea.spaces.base.SearchSpace.function_key`), in groups of two or more, each in front order."""
    from .spaces import get_space

    groups: dict[str, list[int]] = {}
    for i, r in enumerate(front):
        if r.get("status") == "ok" and r.get("genome"):
            genome = Genome.from_text(r["genome"])
            groups.setdefault(get_space(genome.space).function_key(genome), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def collapse_isomorphic(front: Sequence[Mapping[str, Any]], objectives: Sequence[str]
                        ) -> tuple[list[int], dict[int, list[int]], list[str]]:
    """``(shown, twins, notes)``: the front rows to print, the isomorphic rows each printed row stands for (same
    function and the same figures, objectives, counts and the task's own: one network under several keys), and one
    note per group. Isomorphic members whose figures differ are all printed and the note says which differ: counts
    (ops on edges that cannot reach the output still have parameters and MACs) or the score (a benchmark that
    trained each separately)."""
    hidden: set[int] = set()
    twins: dict[int, list[int]] = {}
    notes = []
    for group in isomorphic_groups(front):
        keys = " = ".join(str(front[i]["key"]) for i in group)
        differ = [name for name in _figures(front[group[0]], objectives)
                  if len({_figures(front[i], objectives).get(name) for i in group}) > 1]
        if not differ:
            twins[group[0]] = group[1:]
            hidden.update(group[1:])
            notes.append(f"isomorphic cells, one network printed once (rank {group[0]}): {keys}")
        elif objectives[0] in differ or not {"params", "macs"} & set(differ):
            notes.append(f"isomorphic cells (same function) with different {', '.join(differ)}, the benchmark having "
                         f"trained each: {keys}")
        else:
            notes.append(f"isomorphic cells (same function and {objectives[0]}) with different {', '.join(differ)}, "
                         f"counting ops on edges that cannot reach the output: {keys}")
    return [i for i in range(len(front)) if i not in hidden], twins, notes


def _figures(record: Mapping[str, Any], objectives: Sequence[str]) -> dict[str, Any]:
    """What a front row prints of a member: its objectives, params and MACs, and the task's own figures."""
    return {**{o: record["objectives"][o] for o in objectives}, **{c: record.get(c) for c in ("params", "macs")},
            **dict(record.get("extra") or {})}


def search_result(run_dir: Path) -> Any:
    """A :class:`~eeea.search.archive.SearchResult` of a search run as its files hold it now: the front over every
    finished evaluation (with the front's measured latency when the run finished), finished or not."""
    from .search.archive import SearchResult, SearchRun
    from .search.quality import pareto_front
    from .tasks.base import task_class

    run = SearchRun.read(run_dir)
    config, state, records = run.config(), run.read_state(), run.read_archive()
    cls = task_class(str(config["task"]))
    objectives = list(config.get("objectives") or [cls.objective, "params"])
    objectives = [cls.objective] + [o for o in objectives if o != cls.objective]
    usable = [r for r in records if all(o in r.get("objectives", {}) for o in objectives)]
    front = pareto_front(usable, objectives)
    if state.get("finished") and (run_dir / "pareto.csv").is_file():  # the front's measured latency
        import csv

        with open(run_dir / "pareto.csv", newline="") as f:
            measured = {row["key"]: row for row in csv.DictReader(f)}
        for r in front:
            row = measured.get(r["key"], {})
            for k in ("measured_fp32", "measured_int8"):
                if row.get(k):
                    r[k] = float(row[k])
            if row.get("int8"):
                r["int8"] = row["int8"]
    eepi = state.get("eepi") or {"draws": 0, "rejections": 0, "acceptance_rate": 0.0}
    return SearchResult(run.path, front, objectives, 0, len(records), eepi, tuple(cls.summary_columns))


def summary_lines(run_dir: Path) -> list[str]:
    """``eeea show RUN_DIR`` above the front: what the run searched, its state, and its evaluations."""
    from collections import Counter

    from .search.archive import SearchRun
    from .units import format_count

    run = SearchRun.read(run_dir)
    config, state, records = run.config(), run.read_state(), run.read_archive()
    task = str(config["task"])
    options = ", ".join(f"{k} {v}" for k, v in (config.get("task_config") or {}).items() if v is not None)
    budget = [f"{flag} {format_count(config[k])}" for k, flag in (("max_params", "max-params"),
                                                                   ("max_macs", "max-macs")) if config.get(k)]
    if config.get("max_latency"):
        budget.append(f"max-latency {config['max_latency']}us")
    lines = [f"run:         {run.path} (search)",
             f"task:        {task}{f' ({options})' if options else ''} on space {config['space']}, seed "
             f"{config['seed']}, algorithm {config['algorithm']}" + (f", data {config['data']}" if config.get("data")
                                                                     else ""),
             f"budget:      {', '.join(budget) or 'no EE-PI threshold'}; population {config['population']}, "
             f"generations {config['generations']}"
             + (f", at most {config['max_evaluations']} evaluations" if config.get("max_evaluations") else "")]
    if state.get("finished"):
        status = "finished"
    elif state:
        status = (f"interrupted after generation {state.get('generation', 0)} of {config['generations']} "
                  f"(continue with: eeea search --resume {run.path})")
    else:
        status = f"interrupted before its first generation ended (continue with: eeea search --resume {run.path})"
    statuses = Counter(str(r.get("status")) for r in records)
    lines.append(f"status:      {status}")
    lines.append(f"evaluations: {len(records)}" + (f" ({', '.join(f'{n} {s}' for s, n in statuses.most_common())})"
                                                   if records else ""))
    if records and not statuses.get("ok"):
        notes = sorted({str(r.get("note", ""))[:120] for r in records if r.get("note")})
        lines.append(f"no candidate finished training: every one {next(iter(statuses))}"
                     + (f" (e.g. {notes[0]})" if notes else "") + f"; see {run.path / 'log.txt'}")
    return lines
