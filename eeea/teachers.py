"""Teachers: where a student's arousal / dominance / valence targets come from.

* :class:`CSVTeacher` - precomputed outputs, a labels CSV (``path`` and any of ``arousal,dominance,valence``,
  :mod:`eeea.data.corpus`);
* :class:`ONNXTeacher` - any ONNX model taking raw 16 kHz audio ``[batch, samples]`` (whatever its input's name) to
  ``[batch, dims]``, run by onnxruntime (a student exported by ``eeea export`` qualifies: its metadata names its dims);
* :class:`CheckpointTeacher` - a network trained by eeea (a checkpoint directory), so a big student can teach small ones;
* :class:`HFTeacher` - a local Hugging Face wav2vec2 directory with a 3-output head (needs ``transformers``).

:func:`label_audio` runs a teacher over a folder or zip of clips and appends to a labels CSV, skipping clips already
labelled; one process at a time writes a CSV (``.NAME.eeea-lock`` beside it while it runs, the run-directory lock of
:mod:`eeea.rundir`). A teacher's ``dims`` name its outputs (a checkpoint trained on arousal only has one).
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from .errors import UserError
from .progress import hide_progress
from .metrics import DIMENSIONS
from .rundir import LOCK, hold_lock, release_lock



def predict_clips(model: nn.Module, waves: Sequence[np.ndarray], device: torch.device | str = "cpu") -> np.ndarray:
    """``[n, outputs]`` for whole clips. Clips run one by one: padding would change the per-clip normalisation."""
    model.eval()
    out = []
    with torch.no_grad():
        for wave in waves:
            out.append(model(torch.from_numpy(np.asarray(wave, dtype=np.float32))[None].to(device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(DIMENSIONS)), dtype=np.float32)


class Teacher:
    """Maps whole clips (mono float32, 16 kHz) to ``[n, len(dims)]`` values of the dimensions ``dims``."""

    dims: tuple[str, ...] = DIMENSIONS

    def predict(self, waves: Sequence[np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
        raise NotImplementedError


class CSVTeacher(Teacher):
    """Precomputed teacher outputs. Rows match clips by path or, failing that, by file stem. The CSV's ``speaker``
    and ``split`` columns, when it has them, are kept in :attr:`columns` (``eeea label`` copies them)."""

    def __init__(self, path: str | Path) -> None:
        from .data.corpus import read_table

        self.path = Path(path)
        table = read_table(self.path)
        self.dims = table.dims
        self.paths = list(table.paths)
        self.index = {p: i for i, p in enumerate(self.paths)}
        self.by_stem = {Path(p).stem: i for i, p in enumerate(self.paths)}
        self.targets = table.targets
        self.columns = {k: v for k, v in (("speaker", table.speakers), ("split", table.splits)) if v is not None}

    def row(self, name: str) -> int:
        """The CSV row of clip ``name`` (by path, else by file stem)."""
        i = self.index.get(name, self.by_stem.get(Path(name).stem))
        if i is None:
            raise UserError(f"{self.path}: no teacher label for {name!r}")
        return i

    def lookup(self, name: str) -> np.ndarray:
        return self.targets[self.row(name)]

    def predict(self, waves: Sequence[np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
        if names is None:
            raise UserError("a CSV teacher labels clips by name, not by audio")
        return np.stack([self.lookup(n) for n in names])


class ONNXTeacher(Teacher):
    def __init__(self, path: str | Path, threads: int = 0) -> None:
        from .onnx_io import onnx_session

        try:
            self.session = onnx_session(path, threads)
        except Exception as e:  # onnxruntime raises its own exception types for unreadable models
            raise UserError(f"{path}: not a usable ONNX model ({str(e).splitlines()[0][:200]})") from None
        self.dims = onnx_dims(self.session)

    def predict(self, waves: Sequence[np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
        from .onnx_io import run_onnx  # feeds the model's own input name (``audio``; other tools' models: any)

        return run_onnx(self.session, [np.asarray(w, dtype=np.float32)[None] for w in waves])[:, : len(self.dims)]


def onnx_dims(session: Any) -> tuple[str, ...]:
    """The dimensions an ONNX model's outputs hold: its ``output_dims`` metadata (``eeea export`` writes it), else its
    output's name when that names dimensions (``arousal_valence``), else arousal, dominance, valence."""
    meta = session.get_modelmeta().custom_metadata_map
    for text in (meta.get("output_dims", ""), session.get_outputs()[0].name.replace("_", ",")):
        dims = tuple(d for d in text.split(",") if d)
        if dims and all(d in DIMENSIONS for d in dims):
            return dims
    return DIMENSIONS


class CheckpointTeacher(Teacher):
    def __init__(self, path: str | Path) -> None:
        from .checkpoint import GENOME_FILE, load_checkpoint
        from .onnx_io import output_dims
        from .files import read_mapping
        from .spaces import get_space

        genome, size, self.model = load_checkpoint(path)
        space = get_space(genome.space)
        if len(space.genome_input_shape(genome, **size)) != 1:
            raise UserError(f"--teacher {path}: a network of space {space.name} takes images, not raw audio; a "
                            f"teacher labels audio (an eeea audio checkpoint, an .onnx audio model or a labels CSV)")
        # the dimensions it was trained on: its final figures (test_ccc_arousal, ...) name them
        meta = read_mapping(Path(path) / GENOME_FILE, "checkpoint genome").get("meta") or {}
        self.dims = output_dims(meta if isinstance(meta, dict) else {}, None) or DIMENSIONS

    def predict(self, waves: Sequence[np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
        return predict_clips(self.model, waves)[:, : len(self.dims)]


class HFTeacher(Teacher):
    """A local wav2vec2 directory (``config.json`` + weights) with a 3-output sequence regression head.

    Loaded with ``Wav2Vec2ForSequenceClassification``; its outputs are read as arousal, dominance, valence, the
    order of audEERING's public dimensional model. Input is normalised per clip, as wav2vec2 feature extractors do.
    That model ships its own head class (``classifier.dense`` / ``classifier.out_proj``), which this loader would not
    fill: export such a model to ONNX and use :class:`ONNXTeacher`, or save it in this class's layout first.
    """

    def __init__(self, path: str | Path) -> None:
        try:
            from transformers import Wav2Vec2ForSequenceClassification
        except ImportError:
            raise UserError("Hugging Face teachers need transformers: pip install 'eeea[hf]'") from None
        self.model = Wav2Vec2ForSequenceClassification.from_pretrained(str(path)).eval()
        if self.model.config.num_labels != len(DIMENSIONS):
            raise UserError(f"{path}: the model has {self.model.config.num_labels} outputs, not 3 (A/D/V)")

    def predict(self, waves: Sequence[np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
        out = []
        with torch.no_grad():
            for w in waves:
                x = torch.from_numpy(np.asarray(w, dtype=np.float32))[None]
                x = (x - x.mean()) / torch.sqrt(x.var() + 1e-7)
                out.append(self.model(x).logits.float().numpy())
        return np.concatenate(out)


def load_teacher(spec: str | Path) -> Teacher:
    """A teacher from a labels CSV, an ONNX file, an eeea checkpoint directory or a Hugging Face directory."""
    from .checkpoint import is_checkpoint

    path = Path(spec)
    if path.suffix == ".csv" and path.is_file():
        return CSVTeacher(path)
    if path.suffix == ".onnx" and path.is_file():
        return ONNXTeacher(path)
    if is_checkpoint(path):
        return CheckpointTeacher(path)
    if path.is_dir() and (path / "config.json").is_file():
        return HFTeacher(path)
    raise UserError(f"{spec}: not a teacher (a labels .csv, an .onnx model, an eeea checkpoint or a Hugging Face directory)")


def read_labels(path: str | Path) -> dict[str, np.ndarray]:
    """``{path: values of the CSV's dimensions}`` from a labels CSV (later rows win)."""
    from .data.corpus import read_table

    table = read_table(path)
    return dict(zip(table.paths, table.targets))


def label_audio(teacher: Teacher, audio_dir: str | Path, out: str | Path, batch_size: int = 16,
                quiet: bool = False, force: bool = False, labels: str | Path | None = None) -> tuple[int, int, int]:
    """Label the clips under ``audio_dir`` (a folder or zip; with ``labels``, only the clips that CSV lists, its
    ``speaker`` and ``split`` columns copied) into ``out``; returns ``(newly labelled, already there, skipped)``.
    A CSV teacher's own ``speaker`` and ``split`` columns are copied too (where ``labels`` has none), so labelling
    keeps a speaker-independent split possible.

    Silent and too-short clips are skipped with one line each on stderr. Resumable: an existing ``out`` (with the same
    header) is appended to, and its clips are skipped; rows are flushed after every batch, so an interrupted run loses
    at most one batch. ``force`` starts ``out`` afresh.
    """
    from tqdm import tqdm

    from .data.corpus import AudioSource, read_table, skip_reason

    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    out = Path(out)
    extra: dict[str, list[str]] = {}
    with AudioSource(audio_dir) as source:
        if labels is not None:
            table = read_table(labels)
            clips = table.paths
            extra = {k: v for k, v in (("speaker", table.speakers), ("split", table.splits)) if v is not None}
            members = {c: source.find(c) for c in clips}
        else:
            clips = list(source.members)
            members = {c: c for c in clips}
        if not clips:
            raise UserError(f"{audio_dir}: no audio files (.wav, .flac, .ogg)")
        columns = {k: dict(zip(clips, v)) for k, v in extra.items()}
        if isinstance(teacher, CSVTeacher):  # its speaker and split columns, where the labels have none
            for k, values in teacher.columns.items():
                if k not in columns:
                    columns[k] = {c: values[teacher.row(c)] for c in clips}
        kept = [k for k in ("speaker", "split") if k in columns]
        header = ["path", *teacher.dims, *kept]
        if not out.parent.is_dir():
            raise UserError(f"--out {out}: the folder {out.parent} does not exist")
        lock = out.parent / f".{out.name}{LOCK}"  # one labelling per CSV: a second process is refused
        hold_lock(lock, out)
        f = None  # opened with the first labelled batch: a failure before it leaves the user's files as they were
        try:
            fresh = force or not out.exists() or out.stat().st_size == 0
            done: set[str] = set()
            if not fresh:
                done = _labelled(out, header)
            todo = [c for c in clips if c not in done]
            skipped = 0
            with tqdm(total=len(clips), initial=len(clips) - len(todo), unit="clip", disable=hide_progress(quiet),
                      desc="label") as bar:
                for batch in _chunks(todo, batch_size):
                    waves, names = [], []
                    for c in batch:
                        wave = source.read(members[c])
                        reason = skip_reason(wave)
                        if reason:
                            tqdm.write(f"skipped clip {c}: {reason}", file=sys.stderr)
                            skipped += 1
                        else:
                            waves.append(wave)
                            names.append(c)
                    values = teacher.predict(waves, names) if names else np.zeros((0, len(teacher.dims)))
                    values = check_predictions(values, len(names), len(teacher.dims), str(out))
                    if f is None:
                        f = out.open("w" if fresh else "a", newline="")
                        writer = csv.writer(f)
                        if fresh:
                            writer.writerow(header)
                    writer.writerows([c, *(f"{v:.6f}" for v in row), *(columns[k][c] for k in kept)]
                                     for c, row in zip(names, values))
                    f.flush()
                    bar.update(len(batch))
        finally:
            if f is not None:
                f.close()
            release_lock(lock, remove=True)
    return len(todo) - skipped, len(clips) - len(todo), skipped


def _labelled(out: Path, header: list[str]) -> set[str]:
    """The clips an existing labels CSV holds, every row checked (the header, a path, finite numbers). A malformed
    last row without its newline is an interrupted write: it is cut off with a warning, and its clip labelled again."""
    import io
    import warnings

    from .files import MAX_TABLE_BYTES, decode_text, read_bytes

    data = read_bytes(out, "labels", MAX_TABLE_BYTES)
    lines = decode_text(data, str(out)).splitlines(keepends=True)
    first = next(csv.reader(io.StringIO(lines[0] if lines else "")), [])
    if [c.strip().lower() for c in first] != header:
        raise UserError(f"{out}: its header {','.join(first)} is not this labelling's {','.join(header)}; "
                        f"pass --force to start it afresh")
    done: set[str] = set()
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        row = next(csv.reader(io.StringIO(line)), [])
        try:
            ok = len(row) == len(header) and bool(row[0]) and all(
                np.isfinite(float(v)) for v in row[1 : 1 + _dims(header)])
        except ValueError:
            ok = False
        if not ok:
            if i == len(lines) and not line.endswith(("\n", "\r")):
                warnings.warn(f"{out}: cut off a torn last row ({line.strip()[:40]!r}) from an interrupted write")
                with open(out, "r+b") as f:
                    f.truncate(len(data) - len(line.encode("utf-8")))
                break
            raise UserError(f"{out}:{i}: expected {','.join(header)}, got {line.strip()[:80]!r}")
        done.add(row[0])
    return done


def _dims(header: list[str]) -> int:
    """How many dimension columns a labels header has (they follow ``path``)."""
    return sum(1 for c in header[1:] if c in DIMENSIONS)


def check_predictions(values: np.ndarray, n: int, dims: int, source: str) -> np.ndarray:
    """A teacher's ``[n, dims]`` outputs, finite; anything else is one line (nothing is written)."""
    values = np.asarray(values, dtype=np.float32)
    if values.shape != (n, dims):
        raise UserError(f"{source}: the teacher gave outputs of shape {tuple(values.shape)}, expected ({n}, {dims})")
    if not np.isfinite(values).all():
        raise UserError(f"{source}: the teacher gave NaN or infinite outputs")
    return values


def _chunks(items: Sequence[str], n: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), max(1, n)):
        yield items[i : i + n]
