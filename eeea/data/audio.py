"""Audio clips: reading files, listing folders, and the fixed-length crops that students train on.

Every clip becomes mono float32 at 16 kHz (the rate the audio students' front end expects).
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import UserError
from ..files import MAX_MEMBER_BYTES, read_bytes

SAMPLE_RATE = 16000
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")


def read_audio(source: str | Path | bytes, sample_rate: int = SAMPLE_RATE, name: str | None = None) -> np.ndarray:
    """A mono float32 waveform at ``sample_rate`` from a file path or the bytes of an audio file."""
    import soundfile as sf

    label = name or (str(source) if not isinstance(source, bytes) else "audio")
    if not isinstance(source, bytes):
        source = read_bytes(source, limit=MAX_MEMBER_BYTES)
    try:
        data, rate = sf.read(io.BytesIO(source), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError) as e:
        why = re.sub(r"^Error opening <[^>]*>: ", "", (str(e).splitlines() or [type(e).__name__])[0])
        raise UserError(f"{label}: cannot read audio ({why})") from None
    if data.size == 0 or rate <= 0:
        raise UserError(f"{label}: no audio samples")
    if not np.isfinite(data).all():
        raise UserError(f"{label}: audio holds NaN or infinite samples")
    wave = data.mean(axis=1)
    if rate != sample_rate:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(rate, sample_rate)
        wave = resample_poly(wave, sample_rate // g, rate // g).astype(np.float32)
    return np.ascontiguousarray(wave, dtype=np.float32)


def list_audio(folder: str | Path) -> list[str]:
    """Audio files under ``folder`` (recursively), as sorted POSIX paths relative to it."""
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"{folder} is not a directory")
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)


@dataclass
class ClipSet:
    """Clips with their targets, speakers and splits: ``waves[i]`` (float32, 16 kHz) has ``targets[i]`` (one float
    per name in ``dims``), ``speakers[i]`` and ``splits[i]`` (train/valid/test) when known (else the lists are empty)."""

    names: list[str]
    waves: list[np.ndarray]
    targets: np.ndarray
    speakers: list[str] = field(default_factory=list)
    dims: tuple[str, ...] = ("arousal", "dominance", "valence")
    splits: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, index: Sequence[int]) -> "ClipSet":
        index = list(index)
        return ClipSet([self.names[i] for i in index], [self.waves[i] for i in index], self.targets[index],
                       [self.speakers[i] for i in index] if self.speakers else [], self.dims,
                       [self.splits[i] for i in index] if self.splits else [])

    def split_by_speaker(self, test_speakers: Sequence[str]) -> tuple["ClipSet", "ClipSet"]:
        """(train, test) with no speaker in both: the speaker-independent protocol."""
        test = set(test_speakers)
        unknown = test - set(self.speakers)
        if unknown:
            raise UserError(f"held-out speaker(s) {', '.join(sorted(unknown))} not in the data "
                            f"(speakers: {', '.join(sorted(set(self.speakers)))})")
        train_i = [i for i, s in enumerate(self.speakers) if s not in test]
        test_i = [i for i, s in enumerate(self.speakers) if s in test]
        return self.subset(train_i), self.subset(test_i)


def random_crops(waves: Sequence[np.ndarray], index: Sequence[int], length: int, rng: np.random.Generator) -> torch.Tensor:
    """``[len(index), length]``: a random window of each chosen clip; shorter clips are zero-padded at the end."""
    out = np.zeros((len(index), length), dtype=np.float32)
    for row, i in enumerate(index):
        wave = waves[i]
        if len(wave) > length:
            start = int(rng.integers(0, len(wave) - length + 1))
            out[row] = wave[start : start + length]
        else:
            out[row, : len(wave)] = wave
    return torch.from_numpy(out)
