"""Writing a search's report: ``eeea report RUN_DIR`` (:func:`write_report`) and the running search's own report,
rewritten at the end of its rounds (:class:`SearchReport`)."""
from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..errors import UserError
from ..ledger import record_ahead
from ..rundir import CONFIG
from ..search.archive import ARCHIVE, PARETO_CSV, REPORT, SearchRun
from ..search.quality import TrueFront
from .ceiling import applies, true_front
from .collect import ReportData, objectives_of
from .facts import finish_session, holder_alive, read_sessions, run_facts, start_session, status_of
from .page import is_report, write_page

#: a running search spends at most this share of its time rewriting its report (tabular rounds last milliseconds)
MAX_SHARE = 0.005
#: search task options that ``eeea train`` takes under the same name
def describer(space_name: Any) -> tuple[Callable[[Any], list[str]] | None, str]:
    """``(genome or its text -> describe() lines, note)``; no describer (and why) when the run's space cannot be
    loaded."""
    from ..genome import Genome
    from ..spaces import get_space

    try:
        space = get_space(str(space_name))
    except UserError as e:
        return None, f"no architecture descriptions: {e}"
    return (lambda g: list(space.describe(g if isinstance(g, Genome) else Genome.from_text(g)))), ""


def train_flags(config: Mapping[str, Any]) -> list[str]:
    """The ``eeea train`` flags that train a candidate on the search's data (:func:`eeea.tasks.hints.train_options`, the
    same the CLI prints)."""
    from ..tasks.hints import train_options

    return train_options(config)


def measured_front(run_path: Path) -> dict[str, dict[str, str]]:
    """The front's measured latency and int8 columns from a finished run's pareto.csv, by key."""
    from ..files import read_text

    path = run_path / PARETO_CSV
    if not path.is_file():
        return {}
    rows = csv.DictReader(io.StringIO(read_text(path)))
    wanted = ("measured_fp32", "measured_int8", "int8")
    return {r["key"]: {k: r[k] for k in wanted if r.get(k)} for r in rows if r.get("key")
            and any(r.get(k) for k in wanted)}


def render(run: SearchRun, out: Path, data: ReportData, records: Sequence[Mapping[str, Any]],
           state: Mapping[str, Any], facts: Mapping[str, Any], status: str, ceiling: TrueFront | None,
           notes: Iterable[str] = ()) -> int:
    """Write one report (the verb's and the search's alike) with the run's ``facts`` (:func:`run_facts`); returns
    its size in bytes."""
    measured = measured_front(run.path) if state.get("finished") else {}
    facts = {**facts, "status": status, "run": str(run.path.resolve()), "written": time.strftime("%Y-%m-%d %H:%M:%S")}
    payload = data.payload(records, state, status=status, true_front=ceiling, measured=measured, facts=facts,
                           notes=notes)
    in_run = out.parent.resolve() == run.path.resolve()  # the run's own report: eeea's file, recorded as such
    if in_run and out.exists() and not run.ledger.owns(out.name) and not is_report(out):
        raise UserError(f"{out} is not a report eeea wrote; eeea does not overwrite it: move it out of {run.path}")
    return write_page(out, payload, (lambda tmp: record_ahead(run.ledger, out.name, tmp)) if in_run else None)


def check_out(out: Path, default: bool, force: bool) -> None:
    """Refuse, before any work, an --out that cannot be written or that holds a file eeea did not write."""
    if out.is_dir():
        raise UserError(f"--out {out} is a directory; name the report file")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: {out.parent} is not a directory")
    if out.exists() and not default and not force and not is_report(out):
        raise UserError(f"--out {out} exists and is not an eeea report; pass --force to overwrite it")
    try:  # a file can be made beside it (a read-only or special folder fails here, before any work)
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as e:
        raise UserError(f"--out {out}: cannot write in {out.parent} ({e.strerror or e})") from None


def write_report(run_dir: str | Path, out: str | Path | None = None, force: bool = False) -> tuple[Path, str]:
    """Write the report of the search run in ``run_dir`` (finished, interrupted or running) to ``out`` (default
    ``RUN_DIR/report.html``); returns the file and a one-line summary."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"{path} is not a directory")
    if not (path / CONFIG).is_file():
        raise UserError(f"{path} is not a search run directory (no {CONFIG})")
    run = SearchRun.read(path)
    kind = run.manifest().get("kind")
    if kind and kind != SearchRun.__name__:
        raise UserError(f"{path} is not a search run directory (it holds a {kind}); eeea report reads searches")
    target = Path(out) if out is not None else path / REPORT
    check_out(target, out is None, force)
    state = run.read_state()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = run.read_archive(repair=False)  # never modify a run: its search may be writing it now
    notes = [str(w.message) + " (a resume drops it)" for w in caught]
    for i, r in enumerate(records):
        if not (isinstance(r.get("genome"), str) and isinstance(r.get("objectives"), dict) and r["objectives"]):
            raise UserError(f"{path / ARCHIVE}: record {i + 1} ({r['key']}) lacks its genome or objectives; "
                            f"not an archive of eeea search")
    config = run.config()
    sessions, sessions_note = read_sessions(path)
    status = status_of(state, records, sessions, holder_alive(path) and not state.get("finished"))
    describe, why = describer(config.get("space"))
    data = ReportData(path, config, describe, train_flags(config))
    objectives = objectives_of(config, records)
    ceiling = true_front(config, objectives, compute=True)
    facts = run_facts(path, config, sessions, status, objectives)
    notes += [n for n in (why, sessions_note) if n]
    try:
        size = render(run, target, data, records, state, facts, status, ceiling, notes)
    except OSError as e:
        raise UserError(f"cannot write {target} ({e.strerror or e})") from None
    return target, f"{len(records)} candidates, {status}, {size / 2**20:.1f} MB"


class SearchReport:
    """A running search's report: its session recorded when it starts, the page rewritten at the end of its rounds
    while the report's time stays within :data:`MAX_SHARE` of the search's (the last round's always), the session
    closed when it finishes. A report that cannot be written is logged, never fatal to the search."""

    def __init__(self, run: SearchRun, config: Mapping[str, Any], log: logging.Logger, *, resumed: bool,
                 evaluations: int, notes: Sequence[str], latency_table: Any = None) -> None:
        self.run, self.log = run, log
        self.started = time.perf_counter()
        self.writes, self.skipped, self.last_cost = 0, 0, 0.0
        self.failed: str | None = None
        table = None
        if latency_table is not None:
            from ..latency import describe_device

            table = {"file": config.get("latency_table") or latency_table.source, "space": latency_table.space,
                     "size": latency_table.size, "device": describe_device(latency_table)}
        self.sessions = self._guard(lambda: start_session(run.path, resumed, evaluations, notes, table)) or []
        describe, why = describer(config.get("space"))
        self.notes = [why] if why else []
        self.data = ReportData(run.path, config, describe, train_flags(config))
        self.ceiling: TrueFront | None = None
        self.objectives: list[str] | None = None
        self.facts: dict[str, Any] = {}
        self.spent = time.perf_counter() - self.started  # the session record and the set-up count too

    def _guard(self, work: Callable[[], Any]) -> Any:
        try:
            return work()
        except Exception as e:  # noqa: BLE001 - the report is a by-product: the search goes on without it
            message = f"{type(e).__name__}: {e}" if not isinstance(e, UserError) else str(e)
            if message != self.failed:
                self.log.info(f"report: not written ({message})")
                self.failed = message
            return None

    def round(self, records: Iterable[Mapping[str, Any]], state: Mapping[str, Any], genomes: Iterable[Any] = (),
              last: bool = False) -> None:
        """Rewrite the report after a round when that, at the cost of the last write, keeps the report within
        :data:`MAX_SHARE` of the search's time so far: a trained task's rounds last seconds or more, so each is
        written; a tabular search's last milliseconds, so a few are. The ``last`` round is always written.
        ``genomes``: the round's decoded genomes, kept for their rows (parsing their text again costs more)."""
        self.data.genomes.update((g.key, g) for g in genomes if g.key not in self.data.rows)
        elapsed = time.perf_counter() - self.started
        if not last and self.spent + self.last_cost > MAX_SHARE * elapsed:
            self.skipped += 1
            return
        start = time.perf_counter()
        self._guard(lambda: self._write(list(records), state, "finished" if state.get("finished") else "running"))
        self.last_cost = time.perf_counter() - start
        self.spent += self.last_cost
        self.writes += 1

    def _write(self, records: list[Mapping[str, Any]], state: Mapping[str, Any], status: str) -> None:
        objectives = objectives_of(self.data.config, records)
        if objectives != self.objectives or status == "finished":  # what the facts say changes this seldom
            self.objectives = objectives
            # the ceiling from the cache only: computing it costs more than a tabular search
            self.ceiling = true_front(self.data.config, objectives, compute=False)
            self.facts = run_facts(self.run.path, self.data.config, self.sessions, status, objectives)
        notes = list(self.notes)
        if self.ceiling is None and applies(self.data.config, objectives):
            notes.append(f"the true front's hypervolume (the ceiling) is not computed yet: eeea report "
                         f"{self.run.path} computes it once per table")
        render(self.run, self.run.path / REPORT, self.data, records, state, self.facts, status, self.ceiling, notes)

    def finish(self, records: Iterable[Mapping[str, Any]], state: Mapping[str, Any]) -> None:
        """The search finished: close its session, write the final report, log what the report cost."""
        start = time.perf_counter()
        self._guard(lambda: finish_session(self.run.path, self.sessions))
        self.spent += time.perf_counter() - start
        self.round(records, state, (), last=True)
        self.log.info(f"report: {self.run.path / REPORT} written {self.writes} time(s) in {self.spent:.2f}s"
                      + (f" ({self.skipped} round(s) skipped to keep it under {MAX_SHARE:.1%} of the search's time)"
                         if self.skipped else ""))

