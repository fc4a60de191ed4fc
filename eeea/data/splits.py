"""Three-way splits of a speech-emotion corpus: training, validation (what a search selects on) and test (what only a
final report reads), and k folds by speaker for a steadier validation score.

Which split, in order: the labels' ``split`` column; else held-out speakers when the corpus knows its speakers
(``test_speakers`` / ``valid_speakers``, by default EmoDB's fixed ones on EmoDB and a seeded fifth of the speakers each
otherwise); else a seeded split of the clips (a fifth each for validation and test). :attr:`Split.how` says which.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import UserError
from .audio import ClipSet

#: the fraction of speakers (or clips) held out for validation, and again for test, when none are named
HELD_OUT = 0.2


@dataclass
class Split:
    """Clip indices of each part, and how the split was made, in words."""

    train: list[int]
    valid: list[int]
    test: list[int]
    how: str


def _named(kind: str, speakers: Sequence[str], index: Sequence[int]) -> str:
    return f"{kind} speakers {', '.join(speakers)} ({len(index)} clips)"


def _pick(pool: list[str], n: int, rng: np.random.Generator) -> list[str]:
    return sorted(pool[i] for i in rng.permutation(len(pool))[:n])


def three_way(clips: ClipSet, test_speakers: Sequence[str] | None = None, valid_speakers: Sequence[str] | None = None,
              seed: int = 0, defaults: tuple[Sequence[str], Sequence[str]] | None = None) -> Split:
    """Split ``clips`` three ways (see the module docstring); ``defaults`` are (test, valid) speakers to use when none
    are named and the corpus has them all (EmoDB's)."""
    n = len(clips)
    if clips.splits:
        if test_speakers or valid_speakers:
            raise UserError("the labels' split column fixes the split: drop --test-speakers / --valid-speakers")
        parts = {s: [i for i in range(n) if clips.splits[i] == s] for s in ("train", "valid", "test")}
        for s, index in parts.items():
            if not index:
                raise UserError(f"the labels' split column has no {s!r} clip (after skipping unusable clips)")
        return Split(parts["train"], parts["valid"], parts["test"],
                     f"split column: train {len(parts['train'])} clips, valid {len(parts['valid'])}, "
                     f"test {len(parts['test'])}")
    if not clips.speakers:
        if test_speakers or valid_speakers:
            raise UserError("--test-speakers / --valid-speakers need a speaker column in the labels")
        order = np.random.default_rng(seed).permutation(n)
        k = max(1, int(round(n * HELD_OUT)))
        if n < 3 or 2 * k >= n:
            raise UserError(f"{n} clips are too few to split into train, valid and test")
        test, valid, train = sorted(order[:k].tolist()), sorted(order[k : 2 * k].tolist()), sorted(order[2 * k :].tolist())
        return Split(train, valid, test, f"seeded clip split (no speaker column; seed {seed}): train {len(train)} "
                                         f"clips, valid {len(valid)}, test {len(test)}")
    everyone = sorted(set(clips.speakers))
    for flag, named in (("--test-speakers", test_speakers), ("--valid-speakers", valid_speakers)):
        unknown = sorted(set(named or ()) - set(everyone))
        if unknown:
            raise UserError(f"{flag}: speaker(s) {', '.join(unknown)} not in the data (speakers: {', '.join(everyone)})")
    if defaults and set(defaults[0]) | set(defaults[1]) <= set(everyone):
        test_speakers = list(test_speakers or defaults[0])
        if not valid_speakers:
            valid_speakers = [s for s in defaults[1] if s not in test_speakers] or None
    rng = np.random.default_rng(seed)
    k = max(1, int(round(len(everyone) * HELD_OUT)))
    test = sorted(test_speakers) if test_speakers else _pick(everyone, k, rng)
    rest = [s for s in everyone if s not in test]
    valid = sorted(valid_speakers) if valid_speakers else _pick(rest, k, rng)
    overlap = sorted(set(test) & set(valid))
    if overlap:
        raise UserError(f"speaker(s) {', '.join(overlap)} both in --test-speakers and --valid-speakers")
    train = [s for s in rest if s not in valid]
    if not train:
        raise UserError(f"no training speaker left (speakers: {', '.join(everyone)}; test {', '.join(test)}, "
                        f"valid {', '.join(valid)})")
    index = {name: [i for i, s in enumerate(clips.speakers) if s in set(group)]
             for name, group in (("train", train), ("valid", valid), ("test", test))}
    return Split(index["train"], index["valid"], index["test"],
                 f"speaker-independent: {_named('train', train, index['train'])}; "
                 f"{_named('valid', valid, index['valid'])}; {_named('test', test, index['test'])}")


def folds(clips: ClipSet, pool: Sequence[int], k: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """``k`` (train, valid) partitions of the clips ``pool``: by speaker when the clips have speakers (no speaker in
    both parts), else by clip; groups drawn with ``seed``."""
    units = sorted({clips.speakers[i] for i in pool}) if clips.speakers else [str(i) for i in pool]
    if k > len(units):
        raise UserError(f"--folds {k}: only {len(units)} {'speakers' if clips.speakers else 'clips'} to split")
    order = [units[i] for i in np.random.default_rng(seed).permutation(len(units))]
    out = []
    for f in range(k):
        held = set(order[f::k])
        key = (lambda i: clips.speakers[i]) if clips.speakers else (lambda i: str(i))
        out.append(([i for i in pool if key(i) not in held], [i for i in pool if key(i) in held]))
    return out
