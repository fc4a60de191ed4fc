"""The archive of a search's evaluations, in its run directory: append-only ``archive.jsonl``, the trained
checkpoints of candidates, and the Pareto front (CSV, PNG, genome files).

``archive.jsonl`` holds one JSON object per finished evaluation, flushed and fsynced before the search moves on, so a
run killed at any moment loses at most the evaluations in flight. A torn last line (the kill hit mid-write) is dropped
with a warning and cut off before new lines are appended.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import UserError
from ..files import MAX_TABLE_BYTES, read_bytes
from ..genome import Genome
from ..rundir import CONFIG, LOG, STATE, RunDir

ARCHIVE, PARETO_CSV, PARETO_PNG, GENOMES, CHECKPOINTS, REPORT, SESSIONS = (
    "archive.jsonl", "pareto.csv", "pareto.png", "genomes", "checkpoints", "report.html", "sessions.json",
)


def counted_columns(front: Sequence[Mapping[str, Any]], objectives: Sequence[str]) -> list[str]:
    """The front's figures shown beside its objectives (pareto.csv and the printout): params and MACs always;
    predicted latency (with a latency table) and the front's measured latency (us) and int8 method, when present."""
    counted = [c for c in ("params", "macs") if c not in objectives]
    return counted + [c for c in ("latency", "measured_fp32", "measured_int8", "int8")
                      if c not in objectives and any(c in r for r in front)]


class SearchRun(RunDir):
    """A search's run directory (see the module docstring for its files)."""

    files = (CONFIG, ARCHIVE, STATE, PARETO_CSV, PARETO_PNG, GENOMES, LOG, CHECKPOINTS, REPORT, SESSIONS)
    progress = (ARCHIVE, STATE)

    # archive -------------------------------------------------------------------------------------------------------
    def read_archive(self, repair: bool = True) -> list[dict[str, Any]]:
        """All complete records, in the order written. A torn last line is cut off (with a warning); ``repair``
        False leaves the file as it is (a reader beside a running search, whose last line may be in flight)."""
        path = self.path / ARCHIVE
        if not path.exists():
            return []
        data = read_bytes(path, limit=MAX_TABLE_BYTES)
        records: list[dict[str, Any]] = []
        good_end = 0
        lines = data.split(b"\n")
        for i, line in enumerate(lines):
            if not line.strip():
                good_end += len(line) + (1 if i < len(lines) - 1 else 0)
                continue
            last = i == len(lines) - 1  # no newline after it: the write may have been cut
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or "key" not in record:
                    raise ValueError("not a record")
            except ValueError:
                if last or (i == len(lines) - 2 and not lines[-1]):
                    warnings.warn(f"{path}: dropped a torn last line ({len(line)} bytes) from an interrupted write")
                    if repair:
                        with open(path, "r+b") as f:
                            f.truncate(good_end)
                    break
                raise UserError(f"{path}:{i + 1}: corrupt archive line (not the last one); fix or remove it") from None
            if last and repair:  # a complete JSON object without its newline: keep it, finish the line
                with open(path, "ab") as f:
                    f.write(b"\n")
            records.append(record)
            good_end += len(line) + 1
        return records

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one record and make it durable before returning."""
        line = (json.dumps(dict(record), sort_keys=True, allow_nan=False) + "\n").encode()
        fd = os.open(self.path / ARCHIVE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            end = os.lseek(fd, 0, os.SEEK_END)
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except OSError as e:  # a full disk: cut the partial line, stop the run; resume retrains the candidate
                try:
                    os.ftruncate(fd, end)
                except OSError:
                    pass  # a torn last line is dropped on the next read anyway
                raise UserError(f"cannot write {self.path / ARCHIVE} ({e.strerror or e}); the search stopped with "
                                f"its archive intact: free space, then --resume") from None
        finally:
            os.close(fd)

    def saved_summary(self) -> str:
        path = self.path / ARCHIVE
        n = sum(1 for line in path.read_bytes().splitlines() if line.strip()) if path.is_file() else 0
        front = f", their front in {PARETO_CSV}" if n and (self.path / PARETO_CSV).is_file() else ""
        return f"{n} finished evaluation(s) saved in {ARCHIVE}{front}"

    # checkpoints (trained weights of evaluated candidates, when the search keeps them) --------------------------------
    def checkpoint_dir(self, key: str) -> Path:
        return self.path.resolve() / CHECKPOINTS / key

    def has_checkpoint(self, key: str) -> bool:
        from ..checkpoint import is_checkpoint

        return is_checkpoint(self.checkpoint_dir(key))

    # front ---------------------------------------------------------------------------------------------------------
    def write_front(self, front: Sequence[Mapping[str, Any]], objectives: Sequence[str], space_name: str,
                    all_points: Iterable[Sequence[float]] = (), extras: Sequence[str] = (), plot: bool = True) -> None:
        """pareto.csv, pareto.png and genomes/NN_KEY.yaml for the front members (sorted by the first objective).
        ``extras``: the task's figures (per-dimension CCC, accuracy) shown beside the objectives. ``plot`` False (a
        run stopping, which must be quick) removes an older pareto.png instead of drawing one."""
        counted = counted_columns(front, objectives)
        extras = [e for e in extras if e not in objectives]
        headers = ["rank", "key", *objectives, *counted, *extras, "status", "checkpoint", "genome"]
        with open(self.path / PARETO_CSV, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(headers)
            for i, r in enumerate(front):
                found = r.get("extra", {})
                writer.writerow([i, r["key"], *(_fmt(r["objectives"][o]) for o in objectives),
                                 *(r.get(c, "") for c in counted), *(_fmt(found[e]) if e in found else "" for e in extras),
                                 r["status"], r.get("checkpoint", ""), r["genome"]])
        genomes = self.path / GENOMES
        if genomes.exists():
            shutil.rmtree(genomes)  # the front may have changed since the last write
        genomes.mkdir()
        for i, r in enumerate(front):
            meta = {o: r["objectives"][o] for o in objectives}
            Genome.from_text(r["genome"]).save(genomes / f"{i:02d}_{r['key']}.yaml", meta={**meta, "key": r["key"]})
        if plot:
            plot_front(self.path / PARETO_PNG, front, objectives, list(all_points), space_name)
        else:
            (self.path / PARETO_PNG).unlink(missing_ok=True)


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
    fig.savefig(path)
    plt.close(fig)
