"""Three-way splits of a speech-emotion corpus: training, validation (what a search selects on) and test (what only a
final report reads), and k folds by speaker for a steadier validation score.

Which split, in order:

1. the labels' ``split`` column;
2. held-out speakers when the corpus knows its speakers: those named (``test_speakers`` / ``valid_speakers``), else a
   corpus's *fixed* ones (EmoDB's, passed only for a corpus recognised as EmoDB), else whole speakers drawn with the
   seed until each part holds about its share of the *clips* (:data:`VALID_SHARE`, :data:`TEST_SHARE`): a corpus
   where a few speakers hold most clips still gets parts of the intended size;
3. else (no speaker column) a seeded split of the clips with the same shares, which is not speaker-independent.

:meth:`Split.report` says how the split was made, the share of clips and speakers in each part, and warns (one line
each) about a part under :data:`MIN_SHARE` of the clips or :data:`MIN_SPEAKERS` speakers, and about a clip split.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import UserError
from .audio import ClipSet

#: the share of the clips held out for validation, and for test, when no split is named
VALID_SHARE = 0.15
TEST_SHARE = 0.15
#: a held-out part under this share of the clips, or under this many speakers, is warned about
MIN_SHARE = 0.10
MIN_SPEAKERS = 3
PARTS = ("train", "valid", "test")
#: seeded draws of the held-out speakers; the one closest to the shares is kept
DRAWS = 16


@dataclass
class Split:
    """Clip indices of each part, and how the split was made, in words; ``speakers``: each part's speakers (empty
    without a speaker column)."""

    train: list[int]
    valid: list[int]
    test: list[int]
    how: str
    speakers: dict[str, list[str]] = field(default_factory=dict)

    def part(self, name: str) -> list[int]:
        return {"train": self.train, "valid": self.valid, "test": self.test}[name]

    def shares(self) -> dict[str, float]:
        """Each part's share of the clips."""
        total = len(self.train) + len(self.valid) + len(self.test)
        return {p: len(self.part(p)) / total for p in PARTS}

    def summary(self) -> str:
        """``train 70.1 % of the clips (1402), 48 speakers; valid ...``: the size of each part."""
        shares = self.shares()
        return "; ".join(f"{p} {100 * shares[p]:.1f} % of the clips ({len(self.part(p))})"
                         + (f", {len(self.speakers[p])} speaker{'s' * (len(self.speakers[p]) != 1)}"
                            if self.speakers else "") for p in PARTS)

    def warnings(self) -> list[str]:
        """One line per held-out part that is small enough to make its score noisy, and one for a split that mixes
        speakers (no speaker column)."""
        out = []
        if not self.speakers and not self.how.startswith("split column"):
            out.append("warning: the labels have no speaker column, so the split is not speaker-independent: the "
                       "same speakers are in train, valid and test, and the scores are optimistic (add a speaker "
                       "column, or a split column)")
        shares = self.shares()
        for p in ("valid", "test"):
            small = []
            if shares[p] < MIN_SHARE:
                small.append(f"{100 * shares[p]:.1f} % of the clips (under {100 * MIN_SHARE:.0f} %)")
            if self.speakers and len(self.speakers[p]) < MIN_SPEAKERS:
                small.append(f"{len(self.speakers[p])} speaker{'s' * (len(self.speakers[p]) != 1)} "
                             f"(under {MIN_SPEAKERS})")
            if small:
                fix = f"name more speakers with --{p}-speakers" if self.speakers else "add a speaker column"
                out.append(f"warning: the {p} part holds {' and '.join(small)}: its score is noisy; {fix}")
        return out

    def report(self) -> list[str]:
        """The lines a run log (and the terminal) shows: how, the size of each part, then any warnings."""
        return [f"split: {self.how}", f"split sizes: {self.summary()}", *self.warnings()]

    def to_dict(self) -> dict[str, Any]:
        """Plain data of the split: how, and each part's clip count and speakers."""
        return {"how": self.how, **{p: {"clips": len(self.part(p)), "speakers": self.speakers.get(p, [])}
                                    for p in PARTS}}


def _named(kind: str, speakers: Sequence[str], index: Sequence[int]) -> str:
    return f"{kind} speakers {', '.join(speakers)} ({len(index)} clips)"


def pick_by_share(pool: Sequence[str], clips: Counter, target: float, rng: np.random.Generator,
                  leave: int = 1) -> list[str]:
    """Whole speakers of ``pool`` holding about ``target`` clips (``clips[s]``: clips of speaker s), leaving at least
    ``leave`` speakers of the pool for the other parts: in a seeded random order, each speaker that still fits under
    the target; then the smallest one left, when it brings the count closer to the target. The count misses the
    target by at most half the smallest speaker left over, and at least one speaker is picked."""
    order = [pool[i] for i in rng.permutation(len(pool))]
    most = max(1, len(pool) - leave)
    chosen, total = [], 0
    for s in order:
        if len(chosen) < most and total + clips[s] <= target:
            chosen.append(s)
            total += clips[s]
    left = [s for s in order if s not in set(chosen)]
    if left and len(chosen) < most:
        smallest = min(left, key=lambda s: clips[s])
        if not chosen or total + clips[smallest] / 2 < target:  # |total + n - target| < |total - target|
            chosen.append(smallest)
    return sorted(chosen)


def three_way(clips: ClipSet, test_speakers: Sequence[str] | None = None, valid_speakers: Sequence[str] | None = None,
              seed: int = 0, fixed: tuple[Sequence[str], Sequence[str]] | None = None) -> Split:
    """Split ``clips`` three ways (see the module docstring). ``fixed``: (test, valid) speakers of a known corpus,
    used for the parts not named when the corpus has them all (EmoDB's; pass them only for EmoDB)."""
    n = len(clips)
    if clips.splits:
        if test_speakers or valid_speakers:
            raise UserError("the labels' split column fixes the split: drop --test-speakers / --valid-speakers")
        parts = {s: [i for i in range(n) if clips.splits[i] == s] for s in PARTS}
        for s, index in parts.items():
            if not index:
                raise UserError(f"the labels' split column has no {s!r} clip (after skipping unusable clips)")
        speakers = ({p: sorted({clips.speakers[i] for i in parts[p]}) for p in PARTS} if clips.speakers else {})
        return Split(parts["train"], parts["valid"], parts["test"],
                     f"split column: train {len(parts['train'])} clips, valid {len(parts['valid'])}, "
                     f"test {len(parts['test'])}", speakers)
    if not clips.speakers:
        if test_speakers or valid_speakers:
            raise UserError("--test-speakers / --valid-speakers need a speaker column in the labels")
        order = np.random.default_rng(seed).permutation(n)
        k_test, k_valid = (max(1, int(round(n * share))) for share in (TEST_SHARE, VALID_SHARE))
        if n < 3 or k_test + k_valid >= n:
            raise UserError(f"{n} clips are too few to split into train, valid and test")
        test = sorted(order[:k_test].tolist())
        valid = sorted(order[k_test : k_test + k_valid].tolist())
        train = sorted(order[k_test + k_valid :].tolist())
        return Split(train, valid, test, f"seeded clip split (no speaker column; seed {seed}): train {len(train)} "
                                         f"clips, valid {len(valid)}, test {len(test)}")
    everyone = sorted(set(clips.speakers))
    for flag, named in (("--test-speakers", test_speakers), ("--valid-speakers", valid_speakers)):
        unknown = sorted(set(named or ()) - set(everyone))
        if unknown:
            raise UserError(f"{flag}: speaker(s) {', '.join(unknown)} not in the data (speakers: {', '.join(everyone)})")
    source = {"test": "named" if test_speakers else "", "valid": "named" if valid_speakers else ""}
    if fixed and set(fixed[0]) | set(fixed[1]) <= set(everyone):
        if not test_speakers:
            test_speakers, source["test"] = list(fixed[0]), "the corpus's fixed ones"
        if not valid_speakers:
            valid_speakers = [s for s in fixed[1] if s not in test_speakers] or None
            source["valid"] = "the corpus's fixed ones" if valid_speakers else ""
    counts = Counter(clips.speakers)
    rng = np.random.default_rng(seed)
    best: tuple[float, list[str], list[str]] | None = None
    for _ in range(DRAWS if not (test_speakers and valid_speakers) else 1):
        test = sorted(test_speakers) if test_speakers else pick_by_share(everyone, counts, TEST_SHARE * n, rng,
                                                                           leave=1 if valid_speakers else 2)
        rest = [s for s in everyone if s not in test]
        if not rest:
            raise UserError(f"no training speaker left (speakers: {', '.join(everyone)}; test {', '.join(test)})")
        valid = sorted(valid_speakers) if valid_speakers else pick_by_share(rest, counts, VALID_SHARE * n, rng)
        miss = (abs(sum(counts[s] for s in test) - TEST_SHARE * n)
                + abs(sum(counts[s] for s in valid) - VALID_SHARE * n))
        if best is None or miss < best[0]:
            best = (miss, test, valid)
    assert best is not None
    _, test, valid = best
    rest = [s for s in everyone if s not in test]
    overlap = sorted(set(test) & set(valid))
    if overlap:
        raise UserError(f"speaker(s) {', '.join(overlap)} both in --test-speakers and --valid-speakers")
    train = [s for s in rest if s not in valid]
    if not train:
        raise UserError(f"no training speaker left (speakers: {', '.join(everyone)}; test {', '.join(test)}, "
                        f"valid {', '.join(valid)})")
    drawn = {"test": f"~{100 * TEST_SHARE:.0f} %", "valid": f"~{100 * VALID_SHARE:.0f} %"}
    if source["test"] == source["valid"]:
        how = (f"valid and test speakers {source['test']}" if source["test"] else
               f"whole speakers drawn until valid and test each hold {drawn['valid']} of the clips, seed {seed}")
    else:
        how = ", ".join(f"{p} speakers {source[p] or f'drawn whole until {drawn[p]} of the clips, seed {seed}'}"
                        for p in ("valid", "test"))
    groups = {"train": train, "valid": valid, "test": test}
    index = {name: [i for i, s in enumerate(clips.speakers) if s in set(group)] for name, group in groups.items()}
    return Split(index["train"], index["valid"], index["test"],
                 f"speaker-independent ({how}): {_named('train', train, index['train'])}; "
                 f"{_named('valid', valid, index['valid'])}; {_named('test', test, index['test'])}",
                 {p: list(groups[p]) for p in PARTS})


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
