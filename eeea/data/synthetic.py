"""A generated speech-emotion corpus with a known signal: many speakers, an uneven number of clips per speaker, clips
of varied length, and arousal in three levels that shows in the sound.

Each clip is a voiced "utterance": a harmonic tone with a moving pitch contour, syllable-like loudness bursts and
background noise. A speaker has a base pitch (lower or higher voices), a channel tilt, a noise level, a recording
gain and an expressiveness; arousal raises the pitch, brightens the spectrum (slower harmonic roll-off) and quickens
the syllables, scaled by the speaker's expressiveness and blurred per clip, so the signal is learnable but far from
exact, and unseen speakers are harder than seen ones. Loudness depends mostly on the speaker and the take, and
only a little on arousal (a student's per-clip normalisation hides it anyway). :func:`spectral_centroid` is the
measurable property: it grows with arousal, most clearly within a speaker.

It stands in for a real acted-emotion corpus in tests and measurements (``benchmarks/bench_ser_search.py``), where no
such corpus can be downloaded; nothing in a search or a training reads it by default.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

#: arousal levels of the labels (low, medium, high), as an acted corpus with three levels has
LEVELS = (0.0, 0.5, 1.0)


def clip_counts(clips: int, speakers: int, heavy: int, heavy_share: float, rng: np.random.Generator) -> list[int]:
    """Clips per speaker: ``heavy`` speakers hold about ``heavy_share`` of the ``clips`` (evenly among them, +-20 %),
    the others share the rest unevenly (at least one clip each)."""
    if not 0 <= heavy <= speakers or not 0 <= heavy_share < 1 or clips < speakers:
        raise ValueError("need 0 <= heavy <= speakers <= clips and 0 <= heavy_share < 1")
    big = int(round(clips * heavy_share)) if heavy else 0
    light = speakers - heavy
    if light == 0:
        big = clips
    weights = rng.uniform(0.8, 1.2, heavy)
    counts = list(np.floor(big * weights / weights.sum()).astype(int)) if heavy else []
    rest = clips - sum(counts)
    if light:
        w = rng.gamma(1.5, 1.0, light)
        small = np.maximum(1, np.floor((rest - light) * w / w.sum()).astype(int) + 1)
        counts += list(small)
    counts = [int(c) for c in counts]
    i = 0
    while sum(counts) != clips:  # rounding: add or take one clip at a time, never below one
        j = i % speakers
        if sum(counts) < clips:
            counts[j] += 1
        elif counts[j] > 1:
            counts[j] -= 1
        i += 1
    return counts


def synthesize(arousal: float, seconds: float, rate: int, voice: dict[str, float],
               rng: np.random.Generator) -> np.ndarray:
    """One clip (float32 in [-1, 1]) of ``seconds`` at ``rate`` Hz for an ``arousal`` in [0, 1] and a speaker's
    ``voice`` (``pitch`` Hz, ``tilt`` of the channel, ``noise`` relative to the voice, ``gain``, and how
    ``expressive`` the speaker is: the share of the arousal that shows in the sound)."""
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    # how aroused this take sounds: the label scaled by how expressive the speaker is, blurred per clip
    excite = voice["expressive"] * arousal + rng.normal(0, 0.3)
    f0 = voice["pitch"] * (1 + 0.45 * excite) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.3, 1.2) * t
                                                                    + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    rolloff = max(0.6, 2.2 - 1.1 * excite + voice["tilt"])  # harmonic k has amplitude k^-rolloff
    k = np.arange(1, 1 + int(min(16, 0.45 * rate / np.max(f0))))[:, None]
    wave = ((k ** -rolloff) * np.sin(k * phase + rng.uniform(0, 2 * np.pi, (len(k), 1)))).sum(axis=0)
    syllables = rng.uniform(2.5, 4.0) * (1 + 0.6 * excite)  # per second
    envelope = np.clip(np.sin(np.pi * syllables * t + rng.uniform(0, np.pi)), 0, None) ** 0.7
    wave = wave * envelope / (np.max(np.abs(wave)) + 1e-9)
    wave += voice["noise"] * rng.standard_normal(n)  # the speaker's signal-to-noise ratio, whatever the gain
    # recording gain: mostly the speaker's and the take's, a little the arousal's
    wave *= voice["gain"] * rng.uniform(0.4, 1.0) * (1 + 0.3 * arousal)
    return np.clip(wave, -1, 1).astype(np.float32)


def spectral_centroid(wave: np.ndarray, rate: int) -> float:
    """The power-weighted mean frequency of a clip in Hz: the property arousal moves in :func:`synthesize`."""
    power = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / rate)
    return float((power * freqs).sum() / (power.sum() + 1e-12))


def write_corpus(root: str | Path, clips: int = 2000, speakers: int = 60, heavy: int = 6, heavy_share: float = 0.74,
                 seconds: tuple[float, float] = (0.8, 5.1), rate: int = 16000, seed: int = 0,
                 speaker_ids: list[str] | None = None) -> Path:
    """Write the corpus under ``root`` (``SPEAKER/NNNN.wav``, 16-bit PCM at ``rate``) and its labels CSV
    ``root/labels.csv`` (``path,arousal,speaker``); returns the CSV's path. Speakers are zero-padded numbers
    ``01``, ``02``, ... unless ``speaker_ids`` names them; ``heavy`` of them hold ``heavy_share`` of the clips.
    The same arguments write the same files."""
    import soundfile as sf

    root = Path(root)
    rng = np.random.default_rng(seed)
    ids = list(speaker_ids) if speaker_ids is not None else [f"{i + 1:02d}" for i in range(speakers)]
    if len(ids) != speakers or len(set(ids)) != speakers:
        raise ValueError(f"need {speakers} distinct speaker ids")
    counts = clip_counts(clips, speakers, heavy, heavy_share, rng)
    heavy_at = set(rng.permutation(speakers)[:heavy].tolist())  # which speakers are the heavy ones
    order = sorted(range(speakers), key=lambda s: (s not in heavy_at, s))
    per_speaker = dict(zip(order, sorted(counts, reverse=True)))
    rows = []
    number = 0
    for s, name in enumerate(ids):
        voice = {"pitch": float(rng.choice([115.0, 210.0]) * rng.uniform(0.85, 1.15)),
                 "tilt": float(rng.normal(0, 0.3)), "noise": float(rng.uniform(0.01, 0.05)),
                 "gain": float(rng.uniform(0.2, 0.6)), "expressive": float(rng.uniform(0.4, 1.2))}
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(per_speaker[s]):
            arousal = float(rng.choice(LEVELS))
            wave = synthesize(arousal, float(rng.uniform(*seconds)), rate, voice, rng)
            rel = f"{name}/{number:04d}.wav"
            sf.write(root / rel, wave, rate, subtype="PCM_16")
            rows.append([rel, f"{arousal:g}", name])
            number += 1
    labels = root / "labels.csv"
    with labels.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "arousal", "speaker"])
        writer.writerows(rows)
    return labels
