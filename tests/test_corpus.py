"""Speech-emotion students on a user's own corpus: a generated folder of clips (8 / 22.05 / 44.1 kHz, stereo, nested
folders, any names) and a labels CSV with relative paths, a speaker column and only an arousal column."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from eeea.cli import main
from eeea.data.audio import ClipSet
from eeea.data.corpus import load_corpus, read_table
from eeea.data.splits import folds, three_way
from eeea.errors import UserError
from eeea.tasks import get_task

RATES = (8000, 22050, 44100)


def write_corpus(root: Path, speakers: int = 5, per_speaker: int = 3) -> Path:
    """Clips whose loudness and pitch follow their arousal; returns the labels CSV (path, arousal, speaker)."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(speakers):
        for c in range(per_speaker):
            rate = RATES[(s + c) % 3]
            arousal = float(rng.random())
            t = np.arange(int(rate * (0.6 + 0.2 * c))) / rate
            wave = (0.1 + 0.6 * arousal) * np.sin(2 * np.pi * (120 + 200 * arousal) * t)
            wave = wave + 0.01 * rng.standard_normal(len(t))
            stereo = c == 1
            data = np.stack([wave, 0.5 * wave], axis=1) if stereo else wave
            rel = Path(f"speaker {s}") / ("session_a" if c % 2 else "b") / f"take-{c}{'.stereo' if stereo else ''}.wav"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            sf.write(root / rel, data.astype(np.float32), rate)
            rows.append([rel.as_posix(), f"{arousal:.4f}", f"spk{s}"])
    for name, wave in (("silent.wav", np.zeros(16000)), ("blip.wav", 0.5 * np.ones(800))):
        sf.write(root / name, wave.astype(np.float32), 16000)
        rows.append([name, "0.5", "spk0"])
    labels = root.parent / "labels.csv"
    with labels.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "arousal", "speaker"])
        writer.writerows(rows)
    return labels


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("corpus")
    root = base / "clips"
    root.mkdir()
    return root, write_corpus(root)


def test_reader_resamples_mixes_down_and_skips_unusable_clips(corpus):
    root, labels = corpus
    loaded = load_corpus(root, labels)
    clips = loaded.clips
    assert clips.dims == ("arousal",) and clips.targets.shape == (15, 1)
    assert all(w.ndim == 1 and w.dtype == np.float32 for w in clips.waves)
    first = clips.names.index("speaker 0/b/take-0.wav")  # 0.6 s at 8 kHz
    assert len(clips.waves[first]) == int(0.6 * 16000)
    assert sorted(p for p, _ in loaded.skipped) == ["blip.wav", "silent.wav"]
    notes = loaded.notes()
    assert sum(line.startswith("skipped clip") for line in notes) == 2 and "2 skipped" in notes[-1]


def test_a_zip_and_absolute_paths_read_the_same(corpus, tmp_path):
    import shutil

    root, labels = corpus
    archive = Path(shutil.make_archive(str(tmp_path / "clips"), "zip", root))
    from_zip = load_corpus(archive, labels).clips
    from_dir = load_corpus(root, labels).clips
    assert from_zip.names == from_dir.names and all(np.array_equal(a, b) for a, b in zip(from_zip.waves, from_dir.waves))
    table = read_table(labels)
    absolute = tmp_path / "absolute.csv"
    absolute.write_text("path,valence\n" + "".join(f"{root / p},0.5\n" for p in table.paths[:3]))
    clips = load_corpus(tmp_path, absolute).clips  # absolute paths: the data root does not matter
    assert clips.dims == ("valence",) and len(clips) == 3


def test_task_trains_one_output_per_dimension_present(corpus):
    root, labels = corpus
    task = get_task("ser", data=str(root), labels=str(labels), crop_seconds=0.5)
    assert task.size_overrides() == {"outputs": 1}
    task.prepare("cpu")
    assert "speaker-independent" in task.split.how
    assert not set(task.train_set.speakers) & set(task.test_set.speakers)
    from eeea import get_space
    from ser_helpers import TINY

    model = get_space("wav2small").build(TINY, outputs=1)
    scores = task.evaluate(model, {"epochs": 1, "batch_size": 4}, seed=0)
    assert set(scores) >= {"ccc_arousal", "ccc", "1-ccc"} and "ccc_valence" not in scores


def test_folds_score_the_mean_over_speaker_folds_and_archive_the_spread(corpus):
    root, labels = corpus
    task = get_task("ser", data=str(root), labels=str(labels), test_speakers=["spk4"], folds=2, crop_seconds=0.5)
    task.prepare("cpu")
    assert len(task.fold_sets) == 2 and any("mean of 2 folds" in line for line in task.check_data())
    for train, valid in task.fold_sets:
        assert "spk4" not in set(train.speakers) | set(valid.speakers)
        assert not set(train.speakers) & set(valid.speakers)
    from eeea import get_space
    from ser_helpers import TINY

    scores = task.evaluate(get_space("wav2small").build(TINY, outputs=1), {"epochs": 1, "batch_size": 4}, seed=0)
    assert scores["ccc_std"] >= 0 and abs(scores["1-ccc"] - (1 - scores["ccc"])) < 1e-9


def test_splits_without_speakers_and_from_a_split_column():
    n = 20
    clips = ClipSet([str(i) for i in range(n)], [np.zeros(1)] * n, np.zeros((n, 1)), dims=("arousal",))
    split = three_way(clips, seed=3)
    assert split.how.startswith("seeded clip split") and len(split.test) == len(split.valid) == 3  # 15 % each
    assert sorted(split.train + split.valid + split.test) == list(range(n))
    with pytest.raises(UserError, match="need a speaker column"):
        three_way(clips, test_speakers=["a"])
    clips.splits = ["train"] * 10 + ["valid"] * 5 + ["test"] * 5
    split = three_way(clips)
    assert split.valid == list(range(10, 15)) and split.how.startswith("split column")
    clips.splits, clips.speakers = [], [f"s{i % 5}" for i in range(n)]
    parts = folds(clips, list(range(n)), 5)
    assert all(not {clips.speakers[i] for i in t} & {clips.speakers[i] for i in v} for t, v in parts)
    assert sorted(i for _, v in parts for i in v) == list(range(n))


def test_search_train_label_export_end_to_end(corpus, tmp_path, capsys):
    """(The split named here holds one speaker per held-out part: the search warns about it on stderr.)"""
    root, labels = corpus
    data = ["--data", str(root), "--labels", str(labels)]
    run = tmp_path / "search"
    # wav2small: its one-epoch students still vary enough for the int8 check's CCC (a one-epoch mobilenet_audio
    # student's outputs are nearly constant, and int8 export then refuses it in one line, as it should)
    assert main(["search", "--task", "ser", *data, "--valid-speakers", "spk1", "--test-speakers", "spk2",
                 "--space", "wav2small",
                 "--population", "2", "--generations", "0", "--epochs", "1", "--batch-size", "4", "--workers", "1",
                 "--max-macs", "40M",
                 "--out", str(run), "--quiet"]) == 0
    log = (run / "log.txt").read_text()
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert len(warned) == 2 and "valid part holds" in warned[0] and "1 speaker (under 3)" in warned[0]
    assert all(line in log for line in warned)  # shown with --quiet, and kept in the run log
    assert "skipped clip silent.wav: silent" in log and "2 skipped" in log
    assert "valid speakers spk1" in log and "test speakers spk2" in log
    genome = sorted((run / "genomes").glob("00_*.yaml"))[0]

    out = tmp_path / "train"
    assert main(["train", "--task", "ser", "--arch", str(genome), *data, "--valid-speakers", "spk1",
                 "--test-speakers", "spk2", "--epochs", "1", "--batch-size", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test CCC" in printed and "(arousal " in printed and "test part" in printed
    assert "skipped clip blip.wav" in (out / "log.txt").read_text()

    teacher_labels = tmp_path / "teacher.csv"
    assert main(["label", "--teacher", str(out / "model"), "--data", str(root), "--labels", str(labels),
                 "--out", str(teacher_labels), "--quiet"]) == 0
    table = read_table(teacher_labels)
    assert table.dims == ("arousal",) and len(table.paths) == 15 and table.speakers is not None

    onnx = tmp_path / "student.int8.onnx"
    assert main(["export", str(out / "model"), "--format", "onnx-int8", "--out", str(onnx)]) == 0
    assert onnx.stat().st_size < 80_000


@pytest.mark.parametrize("content, message", [
    ("file,arousal\nspeaker 0/b/take-0.wav,0.5\n", "no 'path' column"),
    ("path,arousal\nnot/there.wav,0.5\n", "unknown clip 'not/there.wav'"),
    ("path,arousal\nspeaker 0/b/take-0.wav,nan\n", "labels.csv:2: arousal is 'nan', not a finite number"),
    ("path,speaker\nspeaker 0/b/take-0.wav,a\n", "no dimension column"),
])
def test_bad_labels_give_one_line_and_exit_2(corpus, tmp_path, capsys, content, message):
    root, _ = corpus
    bad = tmp_path / "labels.csv"
    bad.write_text(content)
    code = main(["train", "--task", "ser", "--arch", "wav2small_17k", "--data", str(root), "--labels", str(bad),
                 "--epochs", "1", "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_an_unreadable_clip_stops_before_training(tmp_path, capsys):
    broken = tmp_path / "clips"
    broken.mkdir()
    (broken / "a.wav").write_bytes(b"not audio at all")
    bad = tmp_path / "labels.csv"
    bad.write_text("path,arousal\na.wav,0.5\n")
    code = main(["search", "--task", "ser", "--data", str(broken), "--labels", str(bad), "--population", "2",
                 "--generations", "0", "--workers", "1", "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "a.wav: cannot read audio" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "archive.jsonl").exists()
