"""What a search report shows, gathered from a run's records: one row per candidate, the front, progress (best task
objective and hypervolume so far, per evaluation) and the EE-PI funnel.

A running search calls :class:`ReportData` once a round with every record so far, so the work done per candidate
(its describe() lines, its commands, its JSON) is kept between rounds and only the new candidates cost anything.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..search.quality import TrueFront, hypervolume

#: objectives a search counts rather than measures (see ``eeea.search.loop``)
COUNTED = ("params", "macs", "latency")
#: row fields, in the order each row of the page's table of candidates holds them
ROW_FIELDS = ("key", "generation", "status", "seconds", "objective", "params", "macs", "latency", "extra", "genome",
              "describe", "note", "checkpoint")


def objectives_of(config: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The run's objectives, the task's first (as the search orders them); [] before any record names the task's."""
    task_objective = next((o for r in records for o in r.get("objectives", {}) if o not in COUNTED), None)
    if task_objective is None:
        return []
    asked = list(config.get("objectives") or [task_objective, "params"])
    return [task_objective] + [o for o in asked if o != task_objective]


def front_indices(points: np.ndarray) -> list[int]:
    """Indices of the non-dominated rows of ``points`` (all minimised), in row order; the same rule as the search's
    ``pareto_front``: equal points are all kept."""
    if not len(points):
        return []
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    return sorted(int(i) for i in NonDominatedSorting().do(points, only_non_dominated_front=True))


class FrontHistory:
    """The non-dominated set after each evaluation, kept incrementally: only the evaluations that change it store a
    copy, so the hypervolume-so-far curve costs one hypervolume per change whatever the normalisation."""

    def __init__(self) -> None:
        self.front = np.empty((0, 0))
        self.changes: list[tuple[int, np.ndarray]] = []  # (evaluation index, front after it)
        self.seen = 0
        self._volumes, self._same = [], None  # hypervolumes of the changes under the normalisation ``_same``

    def extend(self, points: np.ndarray) -> None:
        for p in np.asarray(points, dtype=float):
            if not np.isfinite(p).all():  # a failed or incomplete evaluation: counted, never on the front
                pass
            elif self.front.size == 0:
                self.front = p[None, :].copy()
                self.changes.append((self.seen, self.front))
            elif not (self.front <= p).all(axis=1).any():  # not dominated by (nor equal to) a member
                self.front = np.vstack([self.front[~(p <= self.front).all(axis=1)], p])
                self.changes.append((self.seen, self.front))
            self.seen += 1

    def curve(self, normalise: Callable[[np.ndarray], np.ndarray], scale: float = 1.0,
              same: Any = None) -> list[float]:
        """Hypervolume after each evaluation (normalised points, reference point 1), divided by ``scale``. ``same``
        names the normalisation: while it stays equal, the volumes of earlier fronts are reused."""
        if same is None or same != self._same:
            self._volumes: list[float] = []
            self._same = same
        for _, front in self.changes[len(self._volumes):]:
            self._volumes.append(round(hypervolume(normalise(front)) / scale, 6))
        out: list[float] = []
        for (start, _), value, nxt in zip(self.changes, self._volumes, [c[0] for c in self.changes[1:]] + [self.seen]):
            out.extend([value] * (nxt - start))
        return [0.0] * (self.seen - len(out)) + out


def run_ranges(points: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(low, span)``: normalisation to [0, 1] between the best and worst value of each objective over the run's
    successful candidates (failed candidates carry the task's worst score, which would squash the scale)."""
    base = points[ok] if ok.any() else points[np.isfinite(points).all(axis=1)]
    if not len(base):
        return np.zeros(points.shape[1]), np.ones(points.shape[1])
    low, high = base.min(axis=0), base.max(axis=0)
    return low, np.where(high > low, high - low, 1.0)


def _number(v: Any) -> Any:
    """A figure for the page: a non-finite float as null."""
    return None if isinstance(v, float) and v - v != 0 else v


class ReportData:
    """The report's data of one run, rebuilt from records; per-candidate work is cached by genome key."""

    def __init__(self, run_path: str | os.PathLike, config: Mapping[str, Any],
                 describe: Callable[[Any], list[str]] | None = None, train_flags: Sequence[str] = ()) -> None:
        self.run_path = os.path.abspath(run_path)
        self.config = config
        self.describe = describe
        self.train_flags = list(train_flags)
        self.rows: dict[str, str] = {}  # key -> the row's JSON
        self.genomes: dict[str, Any] = {}  # key -> the decoded genome of a candidate whose row is not built yet
        self.extras: tuple[str, ...] = ()
        self.history = FrontHistory()
        self.history_keys: list[str] = []
        self.objectives: list[str] = []

    # rows ---------------------------------------------------------------------------------------------------------
    def row(self, record: Mapping[str, Any], objective: str) -> str:
        """One candidate's row as JSON (see :data:`ROW_FIELDS`; the page builds its commands from it)."""
        key = record["key"]
        found = self.rows.get(key)
        if found is None:
            extra = record.get("extra", {})
            try:
                genome = self.genomes.pop(key, None) or record["genome"]
                lines = self.describe(genome) if self.describe else []
            except Exception as e:  # noqa: BLE001 - a genome the space no longer reads still gets its row
                lines = [f"(no description: {e})"]
            values = [key, record.get("generation"), record.get("status", "?"), record.get("seconds"),
                      record["objectives"].get(objective), record.get("params"), record.get("macs"),
                      record.get("latency"), [extra.get(e) for e in self.extras], record.get("genome", ""), lines,
                      record.get("note", "")[-300:], record.get("checkpoint", "")]
            try:
                found = json.dumps(values, separators=(",", ":"), allow_nan=False)
            except ValueError:  # a NaN or infinity someone wrote into the archive: shown as missing
                found = json.dumps([[_number(x) for x in v] if isinstance(v, list) else _number(v) for v in values],
                                   separators=(",", ":"))
            self.rows[key] = found
        return found

    # the whole payload ----------------------------------------------------------------------------------------------
    def payload(self, records: Sequence[Mapping[str, Any]], state: Mapping[str, Any], *, status: str,
                true_front: TrueFront | None = None, measured: Mapping[str, Mapping[str, str]] | None = None,
                facts: Mapping[str, Any] | None = None, notes: Iterable[str] = ()) -> str:
        """The page's data as JSON (the rows spliced in from the cache)."""
        measured = measured or {}
        objectives = objectives_of(self.config, records)
        extras = tuple(sorted({k for r in records for k in r.get("extra", {})}))
        if extras != self.extras or objectives != self.objectives:
            self.rows.clear()  # the row layout changed (a new figure appeared)
        if objectives != self.objectives or self.history_keys != [r["key"] for r in records[:len(self.history_keys)]]:
            self.history, self.history_keys = FrontHistory(), []
        self.extras, self.objectives = extras, objectives
        notes = list(notes)
        front: list[int] = []
        progress: dict[str, Any] = {"best": [], "hv": [], "generations": []}
        if objectives:
            points = np.array([[r["objectives"].get(o, np.nan) for o in objectives] for r in records], dtype=float)
            ok = np.array([r.get("status") == "ok" for r in records])
            complete = ~np.isnan(points).any(axis=1)
            if not complete.all():
                notes.append(f"{int((~complete).sum())} record(s) lack an objective of the run and are left out of "
                             f"the front and the hypervolume")
            front = [int(i) for i in np.flatnonzero(complete)[front_indices(points[complete])]]
            progress = self.progress(records, points, ok & complete, true_front)
        rows = ",".join(self.row(r, objectives[0] if objectives else "") for r in records)
        axes = [a for a in COUNTED if any(r.get(a) is not None for r in records)]
        head = {
            "status": status, "objectives": objectives, "axes": axes, "extras": list(extras), "fields": ROW_FIELDS,
            "front": front, "progress": progress, "funnel": funnel(state.get("eepi", {}), records),
            "state": {k: state.get(k) for k in ("generation", "generations", "evaluations", "finished")},
            "measured": measured, "facts": facts or {}, "notes": notes,
            "commands": {"run": self.run_path, "train_flags": self.train_flags},
        }
        text = json.dumps(head, separators=(",", ":"), allow_nan=False, default=str)
        return text[:-1] + ',"rows":[' + rows + "]}"

    def progress(self, records: Sequence[Mapping[str, Any]], points: np.ndarray, usable: np.ndarray,
                 true_front: TrueFront | None) -> dict[str, Any]:
        """Best task objective and hypervolume after each evaluation, and where each generation starts."""
        best = np.fmin.accumulate(np.where(usable, points[:, 0], np.nan))
        new = [i for i in range(len(self.history_keys), len(records))]
        self.history.extend(np.where(usable[new, None], points[new], np.nan))  # unusable points dominate nothing
        self.history_keys += [records[i]["key"] for i in new]
        if true_front is not None and true_front.front.shape[1] == points.shape[1]:
            hv = self.history.curve(true_front.normalise, true_front.volume, same=id(true_front))
            label, ceiling = "hypervolume / the true front's", 1.0
        else:
            low, span = run_ranges(points, usable)
            hv = self.history.curve(lambda F: (F - low) / span, same=(tuple(low), tuple(span)))
            label, ceiling = "hypervolume (objectives scaled to the run's range)", None
        starts: dict[int, int] = {}
        for i, r in enumerate(records):
            starts.setdefault(int(r.get("generation", 0)), i + 1)
        best_list = [None if v != v else v for v in np.round(best, 6).tolist()]  # NaN (nothing usable yet): null
        return {"best": best_list, "hv": hv, "hv_label": label, "ceiling": ceiling,
                "generations": sorted(starts.items())}


def funnel(eepi: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The EE-PI funnel as ``{stage, label, count}`` rows: drawn, rejected by each screen (whatever screens the run
    had), accepted; offspring screened, repaired, redrawn; evaluated and each outcome."""
    rows: list[dict[str, Any]] = []

    def add(stage: str, label: str, count: Any) -> None:
        if isinstance(count, (int, float)):
            rows.append({"stage": stage, "label": label, "count": int(count)})

    if eepi:
        add("draws", "drawn by EE-PI", eepi.get("draws"))
        by = eepi.get("rejected_by") or {}
        for screen, n in sorted(by.items(), key=lambda kv: -kv[1] if isinstance(kv[1], (int, float)) else 0):
            add("draws", f"rejected by the {screen} screen", n)
        unnamed = int(eepi.get("rejections", 0) or 0) - sum(v for v in by.values() if isinstance(v, (int, float)))
        if unnamed > 0:
            add("draws", "rejected (screen not recorded)", unnamed)
        if isinstance(eepi.get("draws"), (int, float)):
            add("draws", "accepted", eepi["draws"] - int(eepi.get("rejections", 0) or 0))
        if eepi.get("offspring_screened"):
            add("offspring", "offspring screened", eepi["offspring_screened"])
            add("offspring", "over budget, repaired by re-mutation", eepi.get("repaired"))
            add("offspring", "over budget, replaced by a fresh draw", eepi.get("redrawn"))
    add("evaluated", "evaluated", len(records))
    statuses: dict[str, int] = {}
    for r in records:
        statuses[str(r.get("status", "?"))] = statuses.get(str(r.get("status", "?")), 0) + 1
    for status in sorted(statuses, key=lambda s: (s != "ok", s)):
        add("evaluated", status, statuses[status])
    return rows
