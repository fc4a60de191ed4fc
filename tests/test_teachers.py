"""Teachers (CSV, ONNX, eeea checkpoint, Hugging Face when installed) and the resumable `eeea label`."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf
import torch
from ser_helpers import TINY, trained_tiny

from eeea import UserError, get_space
from eeea.checkpoint import load_checkpoint, save_checkpoint
from eeea.cli import main
from eeea.data.emodb import load_emodb
from eeea.export import export_onnx, interface_for
from eeea.metrics import DIMENSIONS
from eeea.teachers import CheckpointTeacher, CSVTeacher, ONNXTeacher, load_teacher, predict_clips, read_labels

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def clips():
    return load_emodb().subset(range(0, 135, 15))  # 9 real clips


@pytest.fixture()
def audio_dir(tmp_path, clips):
    folder = tmp_path / "audio"
    (folder / "sub").mkdir(parents=True)
    for i, (name, wave) in enumerate(zip(clips.names, clips.waves)):
        sf.write(folder / ("sub" if i % 2 else "") / f"{name}.wav", wave, 16000, subtype="FLOAT")
    return folder


@pytest.fixture(scope="module")
def onnx_teacher(tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher") / "teacher.onnx"
    export_onnx(trained_tiny(), (16000,), path)
    return path


def test_csv_teacher_matches_by_path_or_stem(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("path,arousal,dominance,valence\na/b/03a01Fa.wav,0.1,0.2,0.3\n")
    teacher = CSVTeacher(path)
    assert np.allclose(teacher.predict([np.zeros(1)], ["03a01Fa"]), [[0.1, 0.2, 0.3]])
    with pytest.raises(UserError, match="no teacher label"):
        teacher.lookup("missing")
    path.write_text("file,a,d,v\n")
    with pytest.raises(UserError, match="no dimension column"):
        CSVTeacher(path)


def test_onnx_teacher_agrees_with_torch_on_real_clips(onnx_teacher, clips):
    got = ONNXTeacher(onnx_teacher).predict(clips.waves)
    np.testing.assert_allclose(got, predict_clips(trained_tiny(), clips.waves), rtol=1e-3, atol=1e-4)


def test_onnx_teacher_reads_its_input_name_and_dims_from_the_file(onnx_teacher, tmp_path, clips):
    """eeea's files name the input ``audio``; other tools' (and older eeea) files use any name, e.g. ``input``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_teacher), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == "audio" and ONNXTeacher(onnx_teacher).dims == DIMENSIONS
    old = tmp_path / "old.onnx"
    with torch.no_grad():
        torch.onnx.export(trained_tiny(), (torch.zeros(1, 16000),), str(old), input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "b", 1: "t"}, "output": {0: "b"}},
                          dynamo=False)
    teacher = ONNXTeacher(old)
    assert teacher.dims == DIMENSIONS
    np.testing.assert_allclose(teacher.predict(clips.waves[:2]), ONNXTeacher(onnx_teacher).predict(clips.waves[:2]),
                               rtol=1e-4, atol=1e-5)
    valence = tmp_path / "valence.onnx"  # a one-output model named after its dimension
    export_onnx(get_space("wav2small").build(TINY, outputs=1).eval(), (16000,), valence,
                interface_for((16000,), 1, ("valence",)))
    assert ONNXTeacher(valence).dims == ("valence",) and ONNXTeacher(valence).predict(clips.waves[:2]).shape == (2, 1)


def test_checkpoint_round_trip_and_teacher(tmp_path, clips):
    path = save_checkpoint(tmp_path / "ck", TINY, trained_tiny(), {"seconds": 5.0, "outputs": 3})
    genome, size, model = load_checkpoint(path)
    assert genome == TINY and size == {"seconds": 5.0, "outputs": 3}
    expected = predict_clips(trained_tiny(), clips.waves)
    np.testing.assert_allclose(CheckpointTeacher(path).predict(clips.waves), expected, rtol=1e-5, atol=1e-6)
    assert isinstance(load_teacher(path), CheckpointTeacher)
    with pytest.raises(UserError, match="already holds a checkpoint"):
        save_checkpoint(path, TINY, model, size)
    (path / "weights.pt").write_bytes(b"not a state dict")
    with pytest.raises(UserError, match="not a plain state dict"):
        load_checkpoint(path)


def test_label_cli_is_batched_and_resumable(onnx_teacher, audio_dir, tmp_path, capsys):
    out = tmp_path / "labels.csv"
    first = sorted(audio_dir.rglob("*.wav"))
    moved = first[-3:]  # label a partial folder first, as an interrupted run would leave it
    for p in moved:
        p.rename(tmp_path / p.name)
    args = ["label", "--teacher", str(onnx_teacher), "--audio", str(audio_dir), "--out", str(out), "--batch-size", "2",
            "--quiet"]
    assert main(args) == 0
    assert len(read_labels(out)) == 6
    before = out.read_text()
    for p in moved:
        (tmp_path / p.name).rename(p)
    assert main(args) == 0
    assert "labelled 3 clip(s)" in capsys.readouterr().out
    assert out.read_text().startswith(before)  # appended, nothing rewritten
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["path", "arousal", "dominance", "valence"] and len(rows) == 10
    assert len({r[0] for r in rows[1:]}) == 9 and any(r[0].startswith("sub/") for r in rows[1:])
    # labels equal the teacher's predictions on the files
    teacher = ONNXTeacher(onnx_teacher)
    path, *values = rows[1]
    wave, _ = sf.read(audio_dir / path, dtype="float32")
    np.testing.assert_allclose([float(v) for v in values], teacher.predict([wave])[0], atol=1e-5)
    assert main([*args, "--force"]) == 0 and len(read_labels(out)) == 9


def test_label_with_a_csv_teacher_keeps_its_speaker_and_split_columns(audio_dir, tmp_path):
    """``eeea label --teacher labels.csv`` (no --labels): the teacher's own speaker and split columns are copied, so
    the new labels still split by speaker; with --labels, that table's columns win and the teacher fills the rest."""
    files = sorted(p.relative_to(audio_dir).as_posix() for p in audio_dir.rglob("*.wav"))
    parts = ["train", "valid", "test"]
    teacher = tmp_path / "teacher.csv"
    with teacher.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "arousal", "speaker", "split"])
        writer.writerows([p, f"{i / 10:.1f}", p.split("/")[-1][:2], parts[i % 3]] for i, p in enumerate(files))
    out = tmp_path / "labels.csv"
    assert main(["label", "--teacher", str(teacher), "--audio", str(audio_dir), "--out", str(out), "--quiet"]) == 0
    got = {r["path"]: r for r in csv.DictReader(out.open())}
    assert list(next(csv.reader(out.open()))) == ["path", "arousal", "speaker", "split"]
    for i, p in enumerate(files):
        assert got[p]["speaker"] == p.split("/")[-1][:2] and got[p]["split"] == parts[i % 3]
        assert float(got[p]["arousal"]) == pytest.approx(i / 10)
    table = tmp_path / "table.csv"  # --labels with a speaker column but no split: its speakers, the teacher's split
    table.write_text("path,arousal,speaker\n" + "".join(f"{p},0.5,spk{i}\n" for i, p in enumerate(files)))
    both = tmp_path / "both.csv"
    assert main(["label", "--teacher", str(teacher), "--audio", str(audio_dir), "--labels", str(table),
                 "--out", str(both), "--quiet"]) == 0
    rows = list(csv.DictReader(both.open()))
    assert [r["speaker"] for r in rows] == [f"spk{i}" for i in range(len(files))]
    assert [r["split"] for r in rows] == [parts[i % 3] for i in range(len(files))]


HOLD_LABELS = """
import sys, time
from pathlib import Path
from eeea.rundir import hold_lock
hold_lock(Path(sys.argv[1]), sys.argv[2])
print("locked", flush=True)
time.sleep(60)
"""


def test_label_refuses_a_csv_another_process_is_labelling(onnx_teacher, audio_dir, tmp_path, capsys):
    """Two `eeea label` on one CSV: the second is refused in one line naming the holder's pid (the lock of run
    directories, held here by another real process through the same API), and nothing is written."""
    import subprocess
    import sys

    out = tmp_path / "labels.csv"
    lock = tmp_path / ".labels.csv.eeea-lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LABELS, str(lock), str(out)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        args = ["label", "--teacher", str(onnx_teacher), "--audio", str(audio_dir), "--out", str(out), "--quiet"]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{out} is in use by another eeea process (pid {holder.pid})" in err, err
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    assert main(args) == 0 and len(read_labels(out)) == 9  # the holder is gone: the lock is free
    assert not lock.exists()  # released and removed: nothing left beside the user's CSV


def test_label_errors_are_one_line(tmp_path, capsys):
    assert main(["label", "--teacher", str(tmp_path / "x.bin"), "--audio", str(tmp_path), "--out", "o.csv"]) == 2
    assert "not a teacher" in capsys.readouterr().err


def test_hugging_face_teacher_with_a_tiny_random_wav2vec2(tmp_path, clips):
    transformers = pytest.importorskip("transformers")
    config = transformers.Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=32, conv_dim=(8, 8), conv_stride=(5, 4),
                                         conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                                         num_conv_pos_embedding_groups=2, num_labels=3)
    transformers.Wav2Vec2ForSequenceClassification(config).save_pretrained(tmp_path / "hf")
    teacher = load_teacher(tmp_path / "hf")
    out = teacher.predict(clips.waves[:2])
    assert out.shape == (2, 3) and np.all(np.isfinite(out))
