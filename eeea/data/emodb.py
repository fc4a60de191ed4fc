"""EmoDB (Berlin Database of Emotional Speech, Burkhardt et al., Interspeech 2005) as an A/D/V regression set.

File names are ``SSTTTEV.wav``: speaker ``SS``, text ``TTT``, emotion letter ``E``, version ``V``. EmoDB has categories
only; ``configs/emodb_adv.yaml`` maps each category to published pleasure/arousal/dominance values (cited there), which
then play the teacher's part. :func:`load_emodb` reads the corpus zip, an extracted folder, or (``None``) the small
subset shipped inside the package (see ``EMBEDDED`` below).
"""
from __future__ import annotations

import re
import zipfile
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
import yaml

from ..errors import UserError
from .audio import AUDIO_EXTENSIONS, ClipSet, read_audio

#: the embedded subset: per speaker and emotion, the two clips that EmoDB's listeners recognised best, as FLAC
EMBEDDED = "emodb_mini.zip"
#: held-out speakers of the default split (two women, one man); the other seven train
TEST_SPEAKERS = ("03", "08", "16")
_NAME = re.compile(r"^(\d\d)([a-z]\d\d)([WLEAFTN])([a-z])$")


def parse_name(path: str) -> tuple[str, str, str] | None:
    """``(speaker, text, emotion letter)`` of an EmoDB file name, or None for other files."""
    m = _NAME.match(Path(path).stem)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def adv_mapping() -> dict[str, np.ndarray]:
    """Emotion letter -> ``[arousal, dominance, valence]`` in [0, 1], from ``configs/emodb_adv.yaml``."""
    doc = yaml.safe_load(resources.files("eeea.configs").joinpath("emodb_adv.yaml").read_text())
    (lo, hi), (to_lo, to_hi) = doc["scale"]["from"], doc["scale"]["to"]

    def scale(v: float) -> float:
        return to_lo + (v - lo) * (to_hi - to_lo) / (hi - lo)

    return {letter: np.array([scale(p["arousal"]), scale(p["dominance"]), scale(p["pleasure"])], dtype=np.float32)
            for letter, p in doc["pad"].items()}


def embedded_path() -> Path:
    return Path(str(resources.files("eeea.data").joinpath(EMBEDDED)))


def _emodb_members(path: Path, speakers: Sequence[str] | None) -> tuple[zipfile.ZipFile | None, list]:
    """The open zip (None for a folder) and its ``(member, parsed name)`` clips, from the listing alone."""
    archive = zipfile.ZipFile(path) if not path.is_dir() and zipfile.is_zipfile(path) else None
    if path.is_dir():
        members = [p.relative_to(path).as_posix() for p in path.rglob("*")]
    elif archive is not None:
        members = archive.namelist()
    else:
        raise UserError(f"{path}: not an EmoDB zip or folder")
    chosen = []  # (member, parsed name), the speaker filter applied before anything is decoded
    for member in sorted(members):
        parsed = parse_name(Path(member).name) if Path(member).suffix.lower() in AUDIO_EXTENSIONS else None
        if parsed and (speakers is None or parsed[0] in speakers):
            chosen.append((member, parsed))
    if not chosen and not any(parse_name(Path(m).name) for m in members):
        if archive is not None:
            archive.close()
        raise UserError(f"{path}: no EmoDB clips (SSTTTEV.wav names) found")
    return archive, chosen


def check_emodb(source: str | Path | None = None) -> None:
    """UserError unless ``source`` is an EmoDB zip or folder holding clips (a listing: nothing is decoded)."""
    archive, _ = _emodb_members(embedded_path() if source is None else Path(source), None)
    if archive is not None:
        archive.close()


def load_emodb(source: str | Path | None = None, speakers: Sequence[str] | None = None) -> ClipSet:
    """EmoDB clips with mapped A/D/V targets, from a zip, a folder, or the embedded subset (``None``)."""
    path = embedded_path() if source is None else Path(source)
    mapping = adv_mapping()
    archive, chosen = _emodb_members(path, speakers)
    names, waves, targets, spk = [], [], [], []
    try:
        for member, (speaker, _, emotion) in chosen:
            names.append(Path(member).stem)
            waves.append(read_audio(archive.read(member), name=member) if archive else read_audio(path / member))
            targets.append(mapping[emotion])
            spk.append(speaker)
    finally:
        if archive is not None:
            archive.close()
    return ClipSet(names, waves, np.stack(targets), spk)
