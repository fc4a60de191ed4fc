"""EmoDB (Berlin Database of Emotional Speech, Burkhardt et al., Interspeech 2005) as an A/D/V regression set.

File names are ``SSTTTEV.wav``: speaker ``SS``, text ``TTT``, emotion letter ``E``, version ``V``. EmoDB has categories
only; ``configs/emodb_adv.yaml`` maps each category to published pleasure/arousal/dominance values (cited there), which
then play the teacher's part. :func:`load_emodb` reads the corpus zip, an extracted folder, or (``None``) the small
subset shipped inside the package (see ``EMBEDDED`` below).
"""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
import yaml

from ..errors import UserError
from ..files import package_dir
from ..metrics import DIMENSIONS
from .audio import ClipSet
from .corpus import AudioSource, Corpus, read_clips

#: the embedded subset: per speaker and emotion, the two clips that EmoDB's listeners recognised best, as FLAC
EMBEDDED = "emodb_mini.zip"
#: test speakers of the default split (two women, one man)
TEST_SPEAKERS = ("03", "08", "16")
#: validation speakers of the default split (one man, one woman): what a search selects on; the other five train
VALID_SPEAKERS = ("11", "13")
#: EmoDB's ten speakers and ten texts: a file name is EmoDB's only with one of each
SPEAKERS = ("03", "08", "09", "10", "11", "12", "13", "14", "15", "16")
TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
_NAME = re.compile(r"^(\d\d)([ab]\d\d)([WLEAFTN])([a-z])$")


def parse_name(path: str) -> tuple[str, str, str] | None:
    """``(speaker, text, emotion letter)`` of an EmoDB file name (one of its speakers and texts), or None."""
    m = _NAME.match(Path(path).stem)
    if not m or m.group(1) not in SPEAKERS or m.group(2) not in TEXTS:
        return None
    return m.group(1), m.group(2), m.group(3)


def is_emodb(clips: ClipSet) -> bool:
    """Whether ``clips`` are EmoDB's (all of them or a part): every clip's file name is an EmoDB name, and the speaker
    column, when the labels have one, agrees with the names. Only then do EmoDB's fixed test and validation speakers
    apply: other corpora number their speakers ``03``, ``08``, ``11`` ... too."""
    if not len(clips):
        return False
    parsed = [parse_name(name) for name in clips.names]
    if any(p is None for p in parsed):
        return False
    return not clips.speakers or all(p[0] == s for p, s in zip(parsed, clips.speakers))  # type: ignore[index]


def adv_mapping() -> dict[str, np.ndarray]:
    """Emotion letter -> ``[arousal, dominance, valence]`` in [0, 1], from ``configs/emodb_adv.yaml``."""
    doc = yaml.safe_load((package_dir("configs") / "emodb_adv.yaml").read_text())
    (lo, hi), (to_lo, to_hi) = doc["scale"]["from"], doc["scale"]["to"]

    def scale(v: float) -> float:
        return to_lo + (v - lo) * (to_hi - to_lo) / (hi - lo)

    return {letter: np.array([scale(p["arousal"]), scale(p["dominance"]), scale(p["pleasure"])], dtype=np.float32)
            for letter, p in doc["pad"].items()}


def embedded_path() -> Path:
    return Path(str(resources.files("eeea.data").joinpath(EMBEDDED)))


def emodb_corpus(source: str | Path | None = None, speakers: Sequence[str] | None = None) -> Corpus:
    """EmoDB clips with mapped A/D/V targets, from a zip, a folder, or the embedded subset (``None``), read by the
    same reader as any corpus (:func:`eeea.data.corpus.read_clips`: 16 kHz mono, silent clips skipped)."""
    path = embedded_path() if source is None else Path(source)
    mapping = adv_mapping()
    try:
        audio = AudioSource(path)
    except UserError:
        raise UserError(f"{path}: not an EmoDB zip or folder") from None
    with audio:
        chosen = []  # (member, parsed name), the speaker filter applied before anything is decoded
        for member in audio.members:
            parsed = parse_name(Path(member).name)
            if parsed and (speakers is None or parsed[0] in speakers):
                chosen.append((member, parsed))
        if not chosen and not any(parse_name(Path(m).name) for m in audio.members):
            raise UserError(f"{path}: no EmoDB clips (SSTTTEV.wav names) found; for other corpora pass a labels CSV "
                            f"(--labels)")
        targets = np.stack([mapping[p[2]] for _, p in chosen]) if chosen else np.zeros((0, 3), np.float32)
        return read_clips(audio, [m for m, _ in chosen], targets, DIMENSIONS, [p[0] for _, p in chosen],
                          names=[Path(m).stem for m, _ in chosen])


def load_emodb(source: str | Path | None = None, speakers: Sequence[str] | None = None) -> ClipSet:
    """EmoDB clips with mapped A/D/V targets, from a zip, a folder, or the embedded subset (``None``)."""
    return emodb_corpus(source, speakers).clips
