"""Speaker splits on generated corpora: EmoDB's fixed speakers only on EmoDB, clip-share parts on any other corpus
(zero-padded ids like EmoDB's included), parts within 5 points of their shares on an uneven corpus, and the warnings
about small parts and splits that mix speakers."""
from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from eeea.data.audio import ClipSet
from eeea.data.emodb import SPEAKERS, TEST_SPEAKERS, VALID_SPEAKERS, emodb_corpus, is_emodb
from eeea.data.splits import MIN_SHARE, TEST_SHARE, VALID_SHARE, three_way
from eeea.data.synthetic import clip_counts, spectral_centroid, write_corpus
from eeea.errors import UserError
from eeea.tasks import get_task

EMODB_FIXED = (TEST_SPEAKERS, VALID_SPEAKERS)


def clip_set(counts: list[int], ids: list[str] | None = None) -> ClipSet:
    """Clips without audio, ``counts[i]`` of them by speaker ``ids[i]`` (default 01, 02, ...)."""
    ids = ids or [f"{i + 1:02d}" for i in range(len(counts))]
    speakers = [s for s, n in zip(ids, counts) for _ in range(n)]
    n = len(speakers)
    return ClipSet([f"{s}/{i:04d}.wav" for i, s in enumerate(speakers)], [np.zeros(1, np.float32)] * n,
                   np.zeros((n, 1), np.float32), speakers, ("arousal",))


@pytest.fixture(scope="module")
def padded_corpus(tmp_path_factory):
    """A generated corpus of 20 speakers 01..20 (EmoDB's 03, 08, 11, 13, 16 among them), short clips."""
    root = tmp_path_factory.mktemp("padded")
    return root, write_corpus(root, clips=120, speakers=20, heavy=3, heavy_share=0.5, seconds=(0.3, 0.5))


def test_zero_padded_ids_like_emodbs_get_a_seeded_clip_share_split(padded_corpus):
    root, labels = padded_corpus
    task = get_task("ser", data=str(root), labels=str(labels))
    clips = task.load().clips
    assert {"03", "08", "11", "13", "16"} <= set(clips.speakers) and not is_emodb(clips)
    split = task.split
    assert "speakers drawn" in split.how and "fixed" not in split.how
    assert (split.speakers["test"], split.speakers["valid"]) != (sorted(TEST_SPEAKERS), sorted(VALID_SPEAKERS))
    for part, share in (("valid", VALID_SHARE), ("test", TEST_SHARE)):
        assert abs(split.shares()[part] - share) <= 0.05
    again = get_task("ser", data=str(root), labels=str(labels)).load()
    assert three_way(again.clips, seed=0).speakers == split.speakers  # seeded: the same split again
    assert any(three_way(clips, seed=s).speakers != split.speakers for s in range(1, 4))


def test_emodb_is_recognised_by_its_file_names_and_keeps_its_fixed_speakers(tmp_path):
    embedded = emodb_corpus().clips
    assert is_emodb(embedded)
    split = three_way(embedded, fixed=EMODB_FIXED)
    assert split.speakers["test"] == sorted(TEST_SPEAKERS) and split.speakers["valid"] == sorted(VALID_SPEAKERS)
    assert "fixed" in split.how
    # a part of EmoDB through a labels CSV is EmoDB too; a speaker column that disagrees with the names is not
    part = embedded.subset(range(0, len(embedded), 3))
    assert is_emodb(part)
    part.speakers = ["99"] * len(part)
    assert not is_emodb(part)
    # names that look like EmoDB's but use a speaker or text EmoDB does not have
    for name in ("01a01Fa", "03c01Fa", "03a03Fa", "speaker03_take1"):
        fake = ClipSet([name], [np.zeros(1)], np.zeros((1, 1)), ["03"], ("arousal",))
        assert not is_emodb(fake), name
    assert len(SPEAKERS) == 10


def test_an_uneven_corpus_gets_parts_within_five_points_of_their_shares():
    rng = np.random.default_rng(0)
    counts = clip_counts(2000, 60, 6, 0.74, rng)
    assert sum(counts) == 2000 and min(counts) >= 1
    assert sum(sorted(counts)[-6:]) / 2000 == pytest.approx(0.74, abs=0.01)  # six speakers hold 74 %
    clips = clip_set(counts)
    for seed in range(25):
        split = three_way(clips, seed=seed)
        shares = split.shares()
        assert abs(shares["valid"] - VALID_SHARE) <= 0.05 and abs(shares["test"] - TEST_SHARE) <= 0.05, seed
        parts = [set(split.speakers[p]) for p in ("train", "valid", "test")]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert sorted(split.train + split.valid + split.test) == list(range(2000))
        assert not split.warnings()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=3, max_size=40), st.integers(0, 2**16))
def test_any_speaker_counts_split_into_three_disjoint_nonempty_parts(counts, seed):
    clips = clip_set(counts)
    split = three_way(clips, seed=seed)
    assert split.train and split.valid and split.test
    assert sorted(split.train + split.valid + split.test) == list(range(len(clips)))
    assert sum(len(v) for v in split.speakers.values()) == len(counts)
    for part in ("train", "valid", "test"):
        assert {clips.speakers[i] for i in split.part(part)} == set(split.speakers[part])


def test_small_parts_and_a_missing_speaker_column_are_warned_about():
    clips = clip_set([60, 30, 5, 5])
    split = three_way(clips, test_speakers=["04"], valid_speakers=["03"])
    warned = split.warnings()
    assert len(warned) == 2 and all(line.startswith("warning: ") and "\n" not in line for line in warned)
    assert "valid part holds 5.0 % of the clips (under 10 %) and 1 speaker (under 3)" in warned[0]
    assert "--valid-speakers" in warned[0] and "test part" in warned[1]
    assert split.report()[-2:] == warned
    # EmoDB's fixed validation part has two speakers: under three, so it is said (the test part has three)
    (emodb,) = three_way(emodb_corpus().clips, fixed=EMODB_FIXED).warnings()
    assert "valid part holds 2 speakers (under 3)" in emodb
    no_speakers = ClipSet([str(i) for i in range(40)], [np.zeros(1)] * 40, np.zeros((40, 1)), dims=("arousal",))
    split = three_way(no_speakers, seed=1)
    assert split.shares()["test"] == pytest.approx(TEST_SHARE, abs=0.02)
    (line,) = split.warnings()
    assert "not speaker-independent" in line
    no_speakers.splits = ["train"] * 30 + ["valid"] * 5 + ["test"] * 5
    assert not three_way(no_speakers).warnings()  # a split column is the user's own choice
    assert MIN_SHARE == 0.10


def test_named_speakers_and_bad_names(padded_corpus):
    root, labels = padded_corpus
    clips = get_task("ser", data=str(root), labels=str(labels)).load().clips
    split = three_way(clips, test_speakers=["03", "08"], seed=5)
    assert split.speakers["test"] == ["03", "08"] and "test speakers named" in split.how
    assert abs(split.shares()["valid"] - VALID_SHARE) <= 0.05
    with pytest.raises(UserError, match="--valid-speakers: speaker"):
        three_way(clips, valid_speakers=["99"])
    with pytest.raises(UserError, match="both in"):
        three_way(clips, test_speakers=["03"], valid_speakers=["03"])


def test_the_generated_corpus_has_a_known_signal(padded_corpus):
    root, labels = padded_corpus
    clips = get_task("ser", data=str(root), labels=str(labels)).load().clips
    with open(labels) as f:
        rows = list(csv.DictReader(f))
    assert set(rows[0]) == {"path", "arousal", "speaker"} and {r["arousal"] for r in rows} == {"0", "0.5", "1"}
    assert all(0.3 <= len(w) / 16000 <= 0.5 + 1e-3 for w in clips.waves)
    centroid = np.array([spectral_centroid(np.asarray(w), 16000) for w in clips.waves])
    arousal = clips.targets[:, 0]
    assert spearmanr(centroid, arousal).statistic > 0.4  # brighter with arousal (0.55 here)
    assert Counter(clips.speakers).most_common(1)[0][1] >= 15  # the heavy speakers
