"""The archive of a search's evaluations, in its run directory: append-only ``archive.jsonl``, the trained
checkpoints of candidates, and the Pareto front (CSV, PNG, genome files).

``archive.jsonl`` holds one JSON object per finished evaluation, flushed and fsynced before the search moves on, so a
run killed at any moment loses at most the evaluations in flight. A torn last line (the kill hit mid-write) is dropped
with a warning and cut off before new lines are appended.

Every record is checked when it is read (:func:`check_record`): a JSON object with a key, a status, a genome text and
finite objectives; for a resume also a genome of the run's space whose key is the record's, every objective the run
needs, and the checkpoint it names still there. A bad record is one line naming its line number, and nothing is
written before the whole archive has passed: no front is ever built from a damaged archive.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import UserError
from ..files import MAX_TABLE_BYTES, parse_json, read_bytes
from ..genome import Genome
from ..rundir import _HELD, CONFIG, LOCK, LOG, STATE, RunDir

ARCHIVE, PARETO_CSV, PARETO_PNG, GENOMES, CHECKPOINTS, REPORT, SESSIONS = (
    "archive.jsonl", "pareto.csv", "pareto.png", "genomes", "checkpoints", "report.html", "sessions.json",
)


def counted_columns(front: Sequence[Mapping[str, Any]], objectives: Sequence[str]) -> list[str]:
    """The front's figures shown beside its objectives (pareto.csv and the printout): params and MACs always;
    predicted latency (with a latency table) and the front's measured latency (us) and int8 method, when present."""
    counted = [c for c in ("params", "macs") if c not in objectives]
    return counted + [c for c in ("latency", "measured_fp32", "measured_int8", "int8")
                      if c not in objectives and any(c in r for r in front)]


#: names eeea gives a front member's genome file and a candidate's checkpoint folder (adopted from older runs)
GENOME_NAME = re.compile(r"^[0-9]{2,}_[0-9a-f]+\.yaml$")
KEY_NAME = re.compile(r"^[0-9a-f]+$")


def check_record(record: Any, where: str, space: Any = None, objectives: Sequence[str] = (),
                 root: Path | None = None) -> dict[str, Any]:
    """``record`` when it is a sound archive record (see the module docstring), else one :class:`UserError` line
    starting with ``where`` (``archive.jsonl:LINE``). ``space``, ``objectives`` and ``root`` (the run directory,
    for the checkpoint a record names) add the checks of a resume."""
    if not isinstance(record, dict):
        raise UserError(f"{where}: not a record (a JSON object); fix or remove the line")
    for field in ("key", "status", "genome"):
        if not isinstance(record.get(field), str) or not record[field]:
            raise UserError(f"{where}: the record has no {field} text; fix or remove the line")
    values = record.get("objectives")
    if not isinstance(values, dict):
        raise UserError(f"{where}: record {record['key']} has no objectives; fix or remove the line")
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UserError(f"{where}: record {record['key']}: objective {name} is {value!r}, not a finite number; "
                            f"fix or remove the line")
    missing = next((o for o in objectives if o not in values), None)
    if missing:
        raise UserError(f"{where}: record {record['key']} has no {missing} objective (the run's objectives: "
                        f"{', '.join(objectives)}); fix or remove the line")
    if space is not None:
        try:
            # the run's space says which genomes are its own (a union space holds its members' genomes)
            key = space.validate(Genome.from_text(record["genome"])).key
        except UserError as e:
            raise UserError(f"{where}: record {record['key']}: {e}; fix or remove the line") from None
        if key != record["key"]:
            raise UserError(f"{where}: record {record['key']}: its genome's key is {key}; fix or remove the line")
    checkpoint = record.get("checkpoint")
    if root is not None and checkpoint is not None:
        from ..checkpoint import is_checkpoint

        if not isinstance(checkpoint, str) or not is_checkpoint(root / checkpoint):
            raise UserError(f"{where}: record {record['key']} names checkpoint {checkpoint}, which is missing "
                            f"(deleted by hand?); restore it, or remove the line to train that candidate again")
    return record


class SearchRun(RunDir):
    """A search's run directory (see the module docstring for its files)."""

    files = (CONFIG, ARCHIVE, STATE, PARETO_CSV, PARETO_PNG, GENOMES, LOG, CHECKPOINTS, REPORT, SESSIONS)
    progress = (ARCHIVE, STATE)
    appended = (ARCHIVE, LOG)

    # archive -------------------------------------------------------------------------------------------------------
    def read_archive(self, space: Any = None, objectives: Sequence[str] = (), checkpoints: bool = False,
                     repair: bool = True) -> list[dict[str, Any]]:
        """All complete records, in the order written, each checked (:func:`check_record`; with ``space``,
        ``objectives`` and ``checkpoints``, as a resume needs). A torn last line is dropped with a warning, and cut
        off when this process holds the run, only once every other line has passed; ``repair`` False leaves the file
        as it is (a reader beside a running search, whose last line may be in flight)."""
        path = self.path / ARCHIVE
        if not path.exists():
            return []
        data = read_bytes(path, limit=MAX_TABLE_BYTES)
        records: list[dict[str, Any]] = []
        good_end, torn, finish = 0, None, False
        lines = data.split(b"\n")
        root = self.path if checkpoints else None
        for i, line in enumerate(lines):
            if not line.strip():
                good_end += len(line) + (1 if i < len(lines) - 1 else 0)
                continue
            last = i == len(lines) - 1  # no newline after it: the write may have been cut
            where = f"{path}:{i + 1}"
            try:
                record = parse_json(line.decode("utf-8"), where, finite=True)
            except (UserError, UnicodeDecodeError) as e:
                if last:  # no newline after it: a write the kill cut short (eeea ends every line it writes)
                    torn = line
                    break
                detail = "not UTF-8" if isinstance(e, UnicodeDecodeError) else str(e).split(": ", 1)[-1]
                raise UserError(f"{where}: corrupt archive line ({detail}; a complete line, not a torn write); fix "
                                f"or remove it") from None
            records.append(check_record(record, where, space, objectives, root))
            if last:  # a complete JSON object without its newline: keep it, finish the line
                finish = True
            good_end += len(line) + 1
        held = repair and str((self.path / LOCK).resolve()) in _HELD
        if torn is not None:
            warnings.warn(f"{path}: dropped a torn last line ({len(torn)} bytes) from an interrupted write")
            if held:
                with open(path, "r+b") as f:
                    f.truncate(good_end)
                self.ledger.refresh(ARCHIVE)
        elif finish and held:
            self.ledger.append(ARCHIVE, b"\n")
        return records

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one record and make it durable before returning."""
        line = (json.dumps(dict(record), sort_keys=True, allow_nan=False) + "\n").encode()
        try:
            self.ledger.append(ARCHIVE, line, fsync=True)
        except OSError as e:  # a full disk: the partial line is cut, the run stops; resume retrains the candidate
            raise UserError(f"cannot write {self.path / ARCHIVE} ({e.strerror or e}); the search stopped with "
                            f"its archive intact: free space, then --resume") from None

    def saved_summary(self) -> str:
        path = self.path / ARCHIVE
        n = sum(1 for line in path.read_bytes().splitlines() if line.strip()) if path.is_file() else 0
        front = f", their front in {PARETO_CSV}" if n and (self.path / PARETO_CSV).is_file() else ""
        return f"{n} finished evaluation(s) saved in {ARCHIVE}{front}"

    def legacy_files(self) -> list[str]:
        """A run of an eeea that kept no record of its files: its own files, the front's genome files and the
        candidates' checkpoints by eeea's names."""
        names = super().legacy_files()
        genomes = self.path / GENOMES
        if genomes.is_dir():
            names += [f"{GENOMES}/{p.name}" for p in sorted(genomes.iterdir())
                      if GENOME_NAME.match(p.name) and p.is_file() and not p.is_symlink()]
        checkpoints = self.path / CHECKPOINTS
        if checkpoints.is_dir():
            from ..checkpoint import GENOME_FILE, WEIGHTS_FILE

            names += [f"{CHECKPOINTS}/{d.name}/{f}" for d in sorted(checkpoints.iterdir())
                      if KEY_NAME.match(d.name) and d.is_dir() and not d.is_symlink()
                      for f in (GENOME_FILE, WEIGHTS_FILE) if (d / f).is_file() and not (d / f).is_symlink()]
        return names

    # checkpoints (trained weights of evaluated candidates, when the search keeps them) --------------------------------
    def checkpoint_dir(self, key: str) -> Path:
        return self.path.resolve() / CHECKPOINTS / key

    def has_checkpoint(self, key: str) -> bool:
        from ..checkpoint import is_checkpoint

        return is_checkpoint(self.checkpoint_dir(key))

    def record_checkpoint(self, key: str) -> None:
        """Record the files of a candidate's checkpoint (written by a worker) as eeea's."""
        from ..checkpoint import GENOME_FILE, WEIGHTS_FILE

        for name in (WEIGHTS_FILE, GENOME_FILE):
            self.ledger.record(self.checkpoint_dir(key) / name)

    # front ---------------------------------------------------------------------------------------------------------
    def write_front(self, front: Sequence[Mapping[str, Any]], objectives: Sequence[str], space_name: str,
                    all_points: Iterable[Sequence[float]] = (), extras: Sequence[str] = (), plot: bool = True) -> None:
        """pareto.csv, pareto.png and genomes/NN_KEY.yaml for the front members (sorted by the first objective).
        ``extras``: the task's figures (per-dimension CCC, accuracy) shown beside the objectives. ``plot`` False (a
        run stopping, which must be quick) removes an older pareto.png instead of drawing one. The genome files of
        an earlier front that eeea wrote are replaced; any other file in genomes/ stays."""
        counted = counted_columns(front, objectives)
        extras = [e for e in extras if e not in objectives]
        headers = ["rank", "key", *objectives, *counted, *extras, "status", "checkpoint", "genome"]
        names = [f"{GENOMES}/{i:02d}_{r['key']}.yaml" for i, r in enumerate(front)]
        self.check_replaceable(PARETO_CSV, PARETO_PNG, *names)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        for i, r in enumerate(front):
            found = r.get("extra", {})
            writer.writerow([i, r["key"], *(_fmt(r["objectives"][o]) for o in objectives),
                             *(r.get(c, "") for c in counted), *(_fmt(found[e]) if e in found else "" for e in extras),
                             r["status"], r.get("checkpoint", ""), r["genome"]])
        self.write_text(PARETO_CSV, buf.getvalue())
        for rel in [r for r in self.ledger.entries() if r.startswith(f"{GENOMES}/") and r not in names]:
            if self.ledger.owns(rel):  # the front may have changed since the last write
                (self.path / rel).unlink()
            self.ledger.forget(rel)
        for name, r in zip(names, front):
            meta = {o: r["objectives"][o] for o in objectives}
            self.write_text(name, Genome.from_text(r["genome"]).file_text(meta={**meta, "key": r["key"]}))
        if plot:
            self.write_file(PARETO_PNG, lambda tmp: plot_front(tmp, front, objectives, list(all_points), space_name))
        else:  # check_replaceable above: an older pareto.png here is eeea's
            (self.path / PARETO_PNG).unlink(missing_ok=True)
            self.ledger.forget(PARETO_PNG)


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6f}"


def plot_front(path: Path, front: Sequence[Mapping[str, Any]], objectives: Sequence[str],
               all_points: Sequence[Sequence[float]], title: str) -> None:
    """Scatter of every evaluation (grey) and the front (red) on the first two objectives."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede pyplot
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    if all_points:
        pts = np.asarray(all_points, dtype=float)
        ax.scatter(pts[:, 1], pts[:, 0], s=10, c="0.7", label="evaluated")
    fx = [r["objectives"][objectives[1]] for r in front]
    fy = [r["objectives"][objectives[0]] for r in front]
    ax.plot(fx, fy, "o-", c="tab:red", ms=4, label="Pareto front")
    ax.set_xlabel(objectives[1])
    ax.set_ylabel(objectives[0])
    ax.set_title(f"search front ({title})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")  # the name may be a temporary one, without the .png suffix
    plt.close(fig)


@dataclass
class SearchResult:
    run_dir: Path
    front: list[dict[str, Any]]
    objectives: list[str]
    trained: int  # candidates trained by this call (not replayed from the archive)
    evaluations: int  # distinct genomes evaluated in the run
    eepi: dict[str, Any]
    columns: tuple[tuple[str, str], ...] = ()  # the task's extra figures worth printing: (key in "extra", header)
    latency_note: str = ""  # where the predicted latency holds, when it comes from eeea's reference table
    stop_note: str = ""  # why the run ended short of --max-evaluations (empty when it reached it or had none)
    looked_up: bool = False  # a tabular benchmark: ``trained`` counts table lookups, not trainings
