"""Teachers: where a student's arousal / dominance / valence targets come from.

* :class:`CSVTeacher` - precomputed outputs, a CSV with header ``path,arousal,dominance,valence``;
* :class:`ONNXTeacher` - any ONNX model taking raw 16 kHz audio ``[batch, samples]`` to ``[batch, 3]``, run by
  onnxruntime (a student exported by ``eeea export`` qualifies);
* :class:`CheckpointTeacher` - a network trained by eeea (a checkpoint directory), so a big student can teach small ones;
* :class:`HFTeacher` - a local Hugging Face wav2vec2 directory with a 3-output head (needs ``transformers``).

:func:`label_audio` runs a teacher over a folder and appends to a labels CSV, skipping clips already labelled.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from .data.audio import read_audio
from .errors import UserError
from .progress import hide_progress
from .metrics import DIMENSIONS

HEADER = ("path", *DIMENSIONS)


def predict_clips(model: nn.Module, waves: Sequence[np.ndarray], device: torch.device | str = "cpu") -> np.ndarray:
    """``[n, outputs]`` for whole clips. Clips run one by one: padding would change the per-clip normalisation."""
    model.eval()
    out = []
    with torch.no_grad():
        for wave in waves:
            out.append(model(torch.from_numpy(np.asarray(wave, dtype=np.float32))[None].to(device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(DIMENSIONS)), dtype=np.float32)


class Teacher:
    """Maps whole clips (mono float32, 16 kHz) to ``[n, 3]`` arousal / dominance / valence."""

    def predict(self, waves: Sequence[np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
        raise NotImplementedError


class CSVTeacher(Teacher):
    """Precomputed teacher outputs. Rows match clips by path or, failing that, by file stem."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows = read_labels(self.path)
        self.by_stem = {Path(p).stem: v for p, v in self.rows.items()}

    def lookup(self, name: str) -> np.ndarray:
        value = self.rows.get(name, self.by_stem.get(Path(name).stem))
        if value is None:
            raise UserError(f"{self.path}: no teacher label for {name!r}")
        return value

    def predict(self, waves: Sequence[np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
        if names is None:
            raise UserError("a CSV teacher labels clips by name, not by audio")
        return np.stack([self.lookup(n) for n in names])


class ONNXTeacher(Teacher):
    def __init__(self, path: str | Path, threads: int = 0) -> None:
        from .export import onnx_session

        try:
            self.session = onnx_session(path, threads)
        except Exception as e:  # onnxruntime raises its own exception types for unreadable models
            raise UserError(f"{path}: not a usable ONNX model ({str(e).splitlines()[0][:200]})") from None

    def predict(self, waves: Sequence[np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
        from .export import run_onnx

        return run_onnx(self.session, [np.asarray(w, dtype=np.float32)[None] for w in waves])[:, : len(DIMENSIONS)]


class CheckpointTeacher(Teacher):
    def __init__(self, path: str | Path) -> None:
        from .checkpoint import load_checkpoint

        _, _, self.model = load_checkpoint(path)

    def predict(self, waves: Sequence[np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
        return predict_clips(self.model, waves)[:, : len(DIMENSIONS)]


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


def read_labels(path: str | Path, torn_ok: bool = False) -> dict[str, np.ndarray]:
    """``{path: [arousal, dominance, valence]}`` from a labels CSV (later rows win). Every row is checked: a path and
    three finite numbers. ``torn_ok``: a malformed last row without its newline (an interrupted write, when resuming
    the CSV) is dropped instead of refused."""
    return _parse_labels(Path(path), torn_ok)[0]


def _parse_labels(path: Path, torn_ok: bool) -> tuple[dict[str, np.ndarray], int | None]:
    """(rows, byte offset where a torn last row starts, or None)."""
    import io

    from .files import MAX_TABLE_BYTES, decode_text, read_bytes

    data = read_bytes(path, "labels", MAX_TABLE_BYTES)
    text = decode_text(data, str(path))
    lines = text.splitlines(keepends=True)
    reader = csv.reader(io.StringIO(lines[0] if lines else ""))
    header = tuple(next(reader, ()))
    if header != HEADER:
        raise UserError(f"{path}: expected the header {','.join(HEADER)}, got {','.join(header)[:80] or 'nothing'}")
    rows: dict[str, np.ndarray] = {}
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        row = next(csv.reader(io.StringIO(line)), [])
        values = _row_values(row)
        if values is None:
            if torn_ok and i == len(lines) and not line.endswith(("\n", "\r")):
                return rows, len(data) - len(line.encode("utf-8"))
            raise UserError(f"{path}:{i}: expected a path and three finite numbers, got {line.strip()[:80]!r}")
        rows[row[0]] = values
    return rows, None


def _row_values(row: Sequence[str]) -> np.ndarray | None:
    if len(row) != len(HEADER) or not row[0]:
        return None
    try:
        values = np.array([float(v) for v in row[1:]], dtype=np.float32)
    except ValueError:
        return None
    return values if np.isfinite(values).all() else None


def check_predictions(values: np.ndarray, n: int, source: str) -> np.ndarray:
    """A teacher's ``[n, 3]`` outputs, finite; anything else is one line (nothing is written)."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or values.shape != (n, len(DIMENSIONS)):
        raise UserError(f"{source}: the teacher gave outputs of shape {tuple(values.shape)}, expected ({n}, "
                        f"{len(DIMENSIONS)}) (arousal, dominance, valence per clip)")
    if not np.isfinite(values).all():
        raise UserError(f"{source}: the teacher gave NaN or infinite outputs")
    return values


def label_audio(teacher: Teacher, audio_dir: str | Path, out: str | Path, batch_size: int = 16,
                quiet: bool = False, force: bool = False) -> tuple[int, int]:
    """Label every audio file under ``audio_dir`` into ``out``; returns ``(newly labelled, already there)``.

    Resumable: an existing ``out`` is appended to, and its clips are skipped; rows are flushed after every batch, so an
    interrupted run loses at most one batch (a torn last row is cut off). ``force`` starts ``out`` afresh.
    """
    from tqdm import tqdm

    from .data.audio import list_audio

    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    out = Path(out)
    clips = list_audio(audio_dir)
    if not clips:
        raise UserError(f"{audio_dir}: no audio files (.wav, .flac, .ogg)")
    done: set[str] = set()
    if out.exists() and not force and out.stat().st_size > 0:
        rows, torn_at = _parse_labels(out, torn_ok=True)
        done = set(rows)
        if torn_at is not None:
            import warnings

            warnings.warn(f"{out}: dropped a torn last row from an interrupted write", stacklevel=2)
            with open(out, "r+b") as f:
                f.truncate(torn_at)
        elif not out.read_bytes().endswith((b"\n", b"\r")):
            with open(out, "ab") as f:  # a complete last row without its newline
                f.write(b"\n")
    todo = [c for c in clips if c not in done]
    fresh = force or not out.exists() or out.stat().st_size == 0
    f = None  # opened when the first batch is labelled: a failure before it leaves --out as it was
    try:
        with tqdm(total=len(clips), initial=len(clips) - len(todo), unit="clip", disable=hide_progress(quiet),
                  desc="label") as bar:
            for batch in _chunks(todo, batch_size):
                waves = [read_audio(Path(audio_dir) / c, name=c) for c in batch]
                values = check_predictions(teacher.predict(waves, batch), len(batch), f"labelling {batch[0]}")
                if f is None:
                    f = out.open("w" if fresh else "a", newline="")
                    if fresh:
                        f.write(",".join(HEADER) + "\n")
                csv.writer(f, lineterminator="\n").writerows([c, *(f"{v:.6f}" for v in row)]
                                                            for c, row in zip(batch, values))
                f.flush()
                bar.update(len(batch))
    finally:
        if f is not None:
            f.close()
    if f is None and fresh:  # nothing new to label: still leave a valid (header-only) CSV
        out.write_text(",".join(HEADER) + "\n")
    return len(todo), len(clips) - len(todo)


def _chunks(items: Sequence[str], n: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), max(1, n)):
        yield items[i : i + n]
