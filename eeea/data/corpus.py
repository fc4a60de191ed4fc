"""Speech-emotion corpora: a folder or zip of clips and a labels CSV, read into a :class:`~eeea.data.audio.ClipSet`.

The labels CSV (one row per clip; header names are case-insensitive, other columns are ignored):

* ``path`` (required): the clip, relative to the data root (a folder or a zip) or absolute;
* ``arousal``, ``dominance``, ``valence``: any of them, at least one; a dimension without a column is neither trained
  nor scored (a corpus with arousal only trains one-output students);
* ``speaker`` (optional): for speaker-independent splits;
* ``split`` (optional): ``train``, ``valid`` or ``test`` per clip, overriding any other split.

Clips at any sample rate are resampled to 16 kHz and mixed down to mono. Silent clips and clips shorter than
:data:`MIN_SECONDS` are skipped and reported (:attr:`Corpus.skipped`); an unreadable file or a bad row is a
:class:`~eeea.errors.UserError` naming it, raised before any training.
"""
from __future__ import annotations

import csv
import io
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..files import MAX_MEMBER_BYTES, MAX_TABLE_BYTES, decode_text, open_zip, read_bytes, read_zip_member
from ..errors import UserError
from ..metrics import DIMENSIONS
from .audio import AUDIO_EXTENSIONS, SAMPLE_RATE, ClipSet, read_audio
from .cache import cached_decode

SPLITS = ("train", "valid", "test")
#: clips shorter than this are skipped
MIN_SECONDS = 0.1
#: clips whose peak stays below this (about -80 dBFS) are silent and skipped
SILENCE = 1e-4


@dataclass
class LabelTable:
    """The rows of a labels CSV: ``targets[i]`` holds the values of ``dims`` for clip ``paths[i]``."""

    path: Path
    dims: tuple[str, ...]
    paths: list[str]
    targets: np.ndarray
    speakers: list[str] | None = None
    splits: list[str] | None = None


def _header(path: Path, row: Sequence[str]) -> list[str]:
    return [c.strip().lower() for c in row]


def _table_text(path: Path) -> str:
    """A labels CSV's text through the one reader of user files (size limit, UTF-8 errors as one line)."""
    return decode_text(read_bytes(path, "labels", MAX_TABLE_BYTES), str(path))


def label_dims(path: str | Path) -> tuple[str, ...]:
    """The dimensions a labels CSV holds, from its header alone (UserError when it holds none)."""
    path = Path(path)
    header = _header(path, next(csv.reader(io.StringIO(_table_text(path))), []))
    dims = tuple(d for d in DIMENSIONS if d in header)
    if not dims:
        raise UserError(f"{path}: no dimension column (need at least one of {', '.join(DIMENSIONS)}; header: "
                        f"{','.join(header) or 'nothing'})")
    return dims


def read_table(path: str | Path) -> LabelTable:
    """A labels CSV, checked row by row (one line naming the file, line and problem on the first bad row).
    A path listed twice keeps its last row (a resumed ``eeea label`` appends)."""
    path = Path(path)
    dims = label_dims(path)
    # one read through the checked reader of user files (size limit, UTF-8), then parsed from memory
    reader = csv.reader(io.StringIO(_table_text(path)))
    header = _header(path, next(reader))
    if "path" not in header:
        raise UserError(f"{path}: no 'path' column (header: {','.join(header)})")
    col = {name: header.index(name) for name in ("path", *dims, "speaker", "split") if name in header}
    rows: dict[str, tuple[list[float], str | None, str | None]] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise UserError(f"{path}:{line}: expected {len(header)} columns, got {len(row)}")
        clip = row[col["path"]].strip()
        if not clip:
            raise UserError(f"{path}:{line}: empty path")
        values = []
        for d in dims:
            text = row[col[d]].strip()
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise UserError(f"{path}:{line}: {d} is {text!r}, not a finite number")
            values.append(value)
        speaker = row[col["speaker"]].strip() if "speaker" in col else None
        split = row[col["split"]].strip().lower() if "split" in col else None
        if split is not None and split not in SPLITS:
            raise UserError(f"{path}:{line}: split is {split!r}, not one of {', '.join(SPLITS)}")
        rows[clip] = (values, speaker, split)
    if not rows:
        raise UserError(f"{path}: no rows")
    paths = list(rows)
    return LabelTable(path, dims, paths, np.array([rows[p][0] for p in paths], dtype=np.float32).reshape(len(paths), -1),
                      [str(rows[p][1]) for p in paths] if "speaker" in col else None,
                      [str(rows[p][2]) for p in paths] if "split" in col else None)


class AudioSource:
    """The audio files under a data root: a folder or a zip (members read without extracting)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.archive: zipfile.ZipFile | None = None
        if self.root.is_dir():
            self.members = sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                                  if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
        elif self.root.is_file() and zipfile.is_zipfile(self.root):
            self.archive = open_zip(self.root)
            self.members = sorted(m for m in self.archive.namelist() if Path(m).suffix.lower() in AUDIO_EXTENSIONS)
        else:
            raise UserError(f"{root}: not a folder or zip of audio clips")
        self._stems: dict[str, list[str]] | None = None

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def __enter__(self) -> "AudioSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find(self, path: str) -> str:
        """The member (or absolute file) a CSV path names: exact relative path, an absolute path, or a file stem
        that only one member has. UserError for an unknown clip."""
        clip = path.replace("\\", "/")
        if Path(clip).is_absolute():
            if self.archive is None and Path(clip).is_relative_to(self.root.resolve()):
                clip = Path(clip).relative_to(self.root.resolve()).as_posix()
            elif Path(clip).is_file():
                return clip
        clip = clip.removeprefix("./")
        if clip in set(self.members):
            return clip
        if self._stems is None:
            self._stems = {}
            for m in self.members:
                self._stems.setdefault(Path(m).stem, []).append(m)
        found = self._stems.get(Path(clip).stem, [])
        if len(found) == 1:
            return found[0]
        raise UserError(f"unknown clip {path!r}: not under {self.root}" + (" (its name is ambiguous there)" if found
                                                                             else ""))

    def read(self, member: str) -> np.ndarray:
        """The clip's samples (mono float32, 16 kHz), decoded once per file content (:func:`cached_decode`)."""
        if Path(member).is_absolute():
            data = read_bytes(member, limit=MAX_MEMBER_BYTES)
        elif self.archive is not None:
            data = read_zip_member(self.archive, member, str(self.root))
        else:
            data = read_bytes(self.root / member, limit=MAX_MEMBER_BYTES)
        return cached_decode(data, f"audio-{SAMPLE_RATE}", lambda: read_audio(data, name=member))


def skip_reason(wave: np.ndarray) -> str | None:
    """Why a clip is not worth training on (silent, too short), or None."""
    if len(wave) < MIN_SECONDS * SAMPLE_RATE:
        return f"shorter than {MIN_SECONDS} s ({len(wave) / SAMPLE_RATE:.3f} s)"
    if not len(wave) or float(np.max(np.abs(wave))) < SILENCE:
        return "silent"
    return None


@dataclass
class Corpus:
    """Decoded clips with their targets, and the clips skipped as ``(path, reason)``."""

    clips: ClipSet
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per skipped clip, then a count: what a run log says about the data."""
        lines = [f"skipped clip {p}: {why}" for p, why in self.skipped]
        return lines + [f"data: {len(self.clips)} clips, dimensions {', '.join(self.clips.dims)}, "
                        f"{len(self.skipped)} skipped (silent or under {MIN_SECONDS} s)"]


def read_clips(source: AudioSource, members: Sequence[str], targets: np.ndarray, dims: Sequence[str],
               speakers: Sequence[str] | None = None, splits: Sequence[str] | None = None,
               names: Sequence[str] | None = None) -> Corpus:
    """Decode ``members`` of ``source`` (16 kHz mono), skipping silent and too-short clips."""
    keep, waves, skipped = [], [], []
    for i, member in enumerate(members):
        wave = source.read(member)
        reason = skip_reason(wave)
        if reason:
            skipped.append((names[i] if names else member, reason))
            continue
        keep.append(i)
        waves.append(wave)
    if not keep:
        raise UserError(f"{source.root}: no usable clips ({len(skipped)} silent or too short)")
    label = list(names) if names else [Path(m).stem for m in members]
    clips = ClipSet([label[i] for i in keep], waves, np.asarray(targets, dtype=np.float32)[keep],
                    [str(speakers[i]) for i in keep] if speakers is not None else [], tuple(dims),
                    [str(splits[i]) for i in keep] if splits is not None else [])
    return Corpus(clips, skipped)


def load_corpus(data: str | Path, labels: str | Path,
                speaker_of: Callable[[str], str | None] | None = None) -> Corpus:
    """The clips a labels CSV lists under the data root ``data`` (a folder or zip), with the CSV's targets,
    speakers and splits. Without a speaker column, ``speaker_of(path)`` names each clip's speaker when it knows them
    all (EmoDB's file names do)."""
    table = read_table(labels)
    with AudioSource(data) as source:
        members = [source.find(p) for p in table.paths]
        speakers = table.speakers
        if speakers is None and speaker_of is not None:
            found = [speaker_of(m) for m in members]
            speakers = [str(s) for s in found] if all(s is not None for s in found) else None
        return read_clips(source, members, table.targets, table.dims, speakers, table.splits, table.paths)
