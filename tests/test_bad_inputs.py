"""Hostile and odd inputs across every verb: each gives exit code 2 and exactly one line ``eeea: error: ...`` on stderr
(no traceback), fast, and leaves every file the user owns as it was (nothing changed, nothing added)."""
from __future__ import annotations

import hashlib
import os
import pickle
import struct
import time
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from eeea.cli import main

GENOME = "space: eeea\narch:\n"
BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x, x]"]
                 + [f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
                    for p, c in zip("abcdefgh", "bcdefghi")]) + "\n"


def _write(path: Path, data: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


def _wav(path: Path, wave: np.ndarray, subtype: str = "PCM_16") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, 16000, subtype=subtype)
    return str(path)


class _Payload:
    """Unpickling this would create the marker directory (it must never run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def _checkpoint(tmp: Path, weights: bytes, genome: str | None = None) -> str:
    from eeea.zoo import resolve_genome

    ck = tmp / "ck"
    ck.mkdir()
    if genome is None:
        resolve_genome("wav2small_17k").save(ck / "genome.yaml", meta={"size": {}})
    else:
        _write(ck / "genome.yaml", genome)
    _write(ck / "weights.pt", weights)
    return str(ck)


def _evil_pickle(tmp: Path) -> bytes:
    return pickle.dumps({"w": _Payload(tmp / "PWNED")})


def _zip(path: Path, members: dict[str, bytes], level: int = zipfile.ZIP_DEFLATED) -> str:
    with zipfile.ZipFile(path, "w", level) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return str(path)


def _run_dir(tmp: Path, files: dict[str, str | bytes]) -> str:
    run = tmp / "run"
    for name, data in files.items():
        _write(run / name, data)
    return str(run)


def _labels(tmp: Path, body: str) -> str:
    return _write(tmp / "labels.csv", "path,arousal,dominance,valence\n" + body)


def _audio_dir(tmp: Path, good: int = 1) -> Path:
    d = tmp / "audio"
    for i in range(good):
        _wav(d / f"clip{i}.wav", 0.1 * np.sin(np.arange(1600, dtype=np.float32) / (3.0 + i)))
    return d


SER_CONFIG = "task: ser\nspace: wav2small\nseed: 0\n"

#: (id, build(tmp) -> argv)
CASES: list[tuple[str, Callable[[Path], list[str]]]] = [
    # units and out-of-range values
    ("unit-max-params", lambda t: ["search", "--out", str(t / "o"), "--max-params", "72q"]),
    ("unit-max-macs-negative", lambda t: ["search", "--out", str(t / "o"), "--max-macs", "-5M"]),
    ("search-holdout-1.5", lambda t: ["search", "--out", str(t / "o"), "--task", "cifar10", "--holdout", "1.5"]),
    ("search-population-0", lambda t: ["search", "--out", str(t / "o"), "--population", "0"]),
    ("search-threads-negative", lambda t: ["search", "--out", str(t / "o"), "--threads", "-1"]),
    ("train-holdout-1.5", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--holdout", "1.5"]),
    ("train-cutout-negative", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--cutout", "-5"]),
    ("train-drop-path-7", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--drop-path", "7"]),
    ("train-grad-clip-negative", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--grad-clip", "-1"]),
    ("train-lr-nan", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--lr", "nan"]),
    ("train-threads-negative", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--threads", "-1"]),
    ("train-epochs-0", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--epochs", "0"]),
    ("label-batch-size-0", lambda t: ["label", "--teacher", _labels(t, "clip0.wav,0.1,0.2,0.3\n"),
                                      "--audio", str(_audio_dir(t)), "--out", str(t / "l.csv"), "--batch-size", "0"]),
    ("zoo-input-size-0", lambda t: ["zoo", "--input-size", "0"]),
    # genome files and genome text
    ("genome-yaml-bomb", lambda t: ["show", _write(t / "g.yaml", BOMB)]),
    ("genome-recursive-alias", lambda t: ["show", _write(t / "g.yaml", "space: eeea\narch: &a {x: *a}\n")]),
    ("genome-binary", lambda t: ["show", _write(t / "g.yaml", bytes(range(256)) * 4)]),
    ("genome-empty", lambda t: ["show", _write(t / "g.yaml", "")]),
    ("genome-too-large", lambda t: ["show", _write(t / "g.yaml", "#" * (9 << 20))]),
    ("genome-deep-nesting", lambda t: ["show", _write(t / "g.yaml", "[" * 5000 + "]" * 5000)]),
    ("genome-space-list", lambda t: ["show", _write(t / "g.yaml", "space: [1, 2]\narch: {}\n")]),
    ("genome-space-path", lambda t: ["show", _write(t / "g.yaml", f"space: {t / 'other.yaml'}\narch: {{}}\n")]),
    ("genome-arch-list", lambda t: ["show", _write(t / "g.yaml", "space: eeea\narch: [1, 2]\n")]),
    ("genome-unknown-field", lambda t: ["show", _write(t / "g.yaml", "space: eeea\narch: {}\nspeed: 3\n")]),
    ("genome-bad-json", lambda t: ["show", _write(t / "g.json", '{"space": "eeea", ')]),
    ("genome-directory", lambda t: ["show", str((t / "d.yaml").mkdir() or t / "d.yaml")]),
    ("genome-text-bad", lambda t: ["show", "eeea:normal=notalist"]),
    ("export-genome-bomb", lambda t: ["export", _write(t / "g.yaml", BOMB), "--out", str(t / "m.onnx")]),
    # configs and recipes
    ("search-config-bomb", lambda t: ["search", "--out", str(t / "o"), "--config", _write(t / "c.yaml", BOMB)]),
    ("search-config-binary", lambda t: ["search", "--out", str(t / "o"), "--config", _write(t / "c.yaml", b"\xff\xfe\x00")]),
    ("search-config-list", lambda t: ["search", "--out", str(t / "o"), "--config", _write(t / "c.yaml", "- 1\n- 2\n")]),
    ("search-config-unknown-key", lambda t: ["search", "--out", str(t / "o"), "--config",
                                             _write(t / "c.yaml", "populaton: 3\n")]),
    ("search-config-fifo", lambda t: ["search", "--out", str(t / "o"), "--config",
                                      str(os.mkfifo(t / "c.yaml") or t / "c.yaml")]),
    ("train-config-bomb", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--config", _write(t / "c.yaml", BOMB)]),
    ("train-recipe-bomb", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--recipe", _write(t / "r.yaml", BOMB)]),
    ("train-recipe-missing", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--recipe", str(t / "nope.yaml")]),
    ("train-config-wrong-type", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--config",
                                           _write(t / "c.yaml", "train: {epochs: many}\n")]),
    # data folders and zips
    ("train-data-empty-dir", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--data", str(_audio_dir(t, 0).parent)]),
    ("train-data-zip-bomb", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--data",
                                       _zip(t / "d.zip", {"cat/a.png": bytes(32 << 20)})]),
    ("train-data-corrupt-zip", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--data",
                                          _write(t / "d.zip", b"PK\x03\x04" + b"\x00" * 200)]),
    ("train-data-bad-image", lambda t: ["train", "--arch", "eeea_c", "--out", str(t / "o"), "--data",
                                        str(Path(_write(t / "imgs/cat/a.png", "not an image")).parent.parent
                                            if _write(t / "imgs/dog/b.png", "nor this") else "")]),
    # audio
    ("label-audio-not-audio", lambda t: ["label", "--teacher", _labels(t, "x.wav,0.1,0.2,0.3\n"), "--audio",
                                         str(Path(_write(t / "audio/x.wav", "RIFF nonsense")).parent),
                                         "--out", str(t / "l.csv")]),
    ("label-audio-nan-samples", lambda t: ["label", "--teacher", _labels(t, "x.wav,0.1,0.2,0.3\n"), "--audio",
                                           str(Path(_wav(t / "audio/x.wav", np.full(160, np.nan, np.float32),
                                                         "FLOAT")).parent), "--out", str(t / "l.csv")]),
    ("label-audio-empty-dir", lambda t: ["label", "--teacher", _labels(t, ""), "--audio",
                                         str((t / "empty").mkdir() or t / "empty"), "--out", str(t / "l.csv")]),
    ("train-ser-bad-audio-zip", lambda t: ["train", "--arch", "wav2small_17k", "--dataset", "ser", "--out", str(t / "o"), "--data",
                                           _zip(t / "emo.zip", {"wav/03a01Fa.wav": b"RIFF garbage"})]),
    # labels CSVs
    ("csv-bad-header", lambda t: ["label", "--teacher", _write(t / "labels.csv", "file,a,d,v\n"), "--audio",
                                  str(_audio_dir(t)), "--out", str(t / "l.csv")]),
    ("csv-nan-row", lambda t: ["label", "--teacher", _labels(t, "clip0.wav,nan,0.2,0.3\n"), "--audio",
                               str(_audio_dir(t)), "--out", str(t / "l.csv")]),
    ("csv-two-values", lambda t: ["label", "--teacher", _labels(t, "clip0.wav,0.1,0.2\n"), "--audio",
                                  str(_audio_dir(t)), "--out", str(t / "l.csv")]),
    ("csv-binary", lambda t: ["label", "--teacher", _write(t / "labels.csv", b"\x89PNG\r\n\x1a\n\xff\xff"),
                              "--audio", str(_audio_dir(t)), "--out", str(t / "l.csv")]),
    ("csv-resume-bad-middle-row", lambda t: ["label", "--teacher", _labels(t, "clip0.wav,0.1,0.2,0.3\n"),
                                             "--audio", str(_audio_dir(t)), "--out",
                                             _write(t / "l.csv", "path,arousal,dominance,valence\nclip9.wav,1\n"
                                                    "clip8.wav,0.1,0.2,0.3\n")]),
    ("csv-missing-clip", lambda t: ["label", "--teacher", _labels(t, "other.wav,0.1,0.2,0.3\n"), "--audio",
                                    str(_audio_dir(t)), "--out", str(t / "l.csv")]),
    ("train-ser-labels-bad", lambda t: ["train", "--arch", "wav2small_17k", "--dataset", "ser", "--out", str(t / "o"), "--labels",
                                        _labels(t, "a.wav,x,y,z\n")]),
    # run directories
    ("search-resume-not-a-run", lambda t: ["search", "--resume", str((t / "r").mkdir() or t / "r")]),
    ("search-resume-config-bomb", lambda t: ["search", "--resume", _run_dir(t, {"config.yaml": BOMB})]),
    ("search-resume-config-binary", lambda t: ["search", "--resume", _run_dir(t, {"config.yaml": b"\xc3\x28"})]),
    ("search-resume-state-binary", lambda t: ["search", "--resume",
                                              _run_dir(t, {"config.yaml": SER_CONFIG, "state.json": b"\x00\xff"})]),
    ("search-resume-archive-corrupt", lambda t: ["search", "--resume", _run_dir(
        t, {"config.yaml": SER_CONFIG, "archive.jsonl": "garbage\n{\"key\": \"a\"}\n"})]),
    ("search-out-is-a-file", lambda t: ["search", "--out", _write(t / "o", "mine")]),
    ("search-out-not-empty", lambda t: ["search", "--out", str(Path(_write(t / "o/mine.txt", "mine")).parent)]),
    ("train-resume-config-bomb", lambda t: ["train", "--resume", _run_dir(t, {"config.yaml": BOMB})]),
    ("train-out-not-empty", lambda t: ["train", "--arch", "eeea_c", "--out", str(Path(_write(t / "o/config.yaml", "mine: 1\n")).parent)]),
    # checkpoints
    ("export-malicious-pickle", lambda t: ["export", _checkpoint(t, _evil_pickle(t)), "--out", str(t / "m.onnx")]),
    ("label-teacher-malicious-pickle", lambda t: ["label", "--teacher", _checkpoint(t, _evil_pickle(t)), "--audio",
                                                  str(_audio_dir(t)), "--out", str(t / "l.csv")]),
    ("export-truncated-weights", lambda t: ["export", _checkpoint(t, b"PK\x03\x04trunc"), "--out", str(t / "m.onnx")]),
    ("export-checkpoint-genome-bomb", lambda t: ["export", _checkpoint(t, b"", BOMB), "--out", str(t / "m.onnx")]),
    ("export-out-exists", lambda t: ["export", "wav2small_17k", "--out", _write(t / "m.onnx", "mine")]),
    # tables and zoo
    ("table-unknown-dataset", lambda t: ["table", "imagenet7"]),
    ("table-runs-not-a-dir", lambda t: ["table", "cifar10", "--runs", _write(t / "runs", "x")]),
    ("zoo-bad-format", lambda t: ["zoo", "--format", "xml"]),
]


#: the flag or key each range case must name in its error line (the refusal is about it, not something else)
EXPECT = {"search-holdout-1.5": "--holdout", "search-population-0": "--population", "search-threads-negative": "--threads",
          "train-holdout-1.5": "--holdout", "train-cutout-negative": "cutout", "train-drop-path-7": "--drop-path",
          "train-grad-clip-negative": "--grad-clip", "train-lr-nan": "lr", "train-threads-negative": "--threads",
          "train-epochs-0": "epochs", "label-batch-size-0": "--batch-size", "zoo-input-size-0": "--input-size",
          "unit-max-params": "--max-params", "unit-max-macs-negative": "--max-macs",
          "export-malicious-pickle": "refused", "label-teacher-malicious-pickle": "refused",
          "genome-yaml-bomb": "refused", "search-config-bomb": "refused", "genome-binary": "not UTF-8",
          "train-data-zip-bomb": "zip bomb", "train-data-bad-image": "not a readable image",
          "train-out-not-empty": "not empty", "search-out-not-empty": "not empty", "search-config-fifo": "regular file"}


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.name == ".eeea-lock":  # eeea's own lock file in an eeea run directory, not the user's
            continue
        rel = p.relative_to(root).as_posix()
        if p.is_fifo():
            out[rel] = "fifo"
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


def test_the_table_is_large_enough():
    assert len(CASES) >= 40
    assert len({c for c, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("case, build", CASES, ids=[c for c, _ in CASES])
def test_bad_input_is_one_line_and_changes_nothing(case, build, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = build(tmp_path)
    before = _snapshot(tmp_path)
    capsys.readouterr()
    start = time.perf_counter()
    code = main(argv)
    took = time.perf_counter() - start
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("eeea: error: "), err
    assert "Traceback" not in err + out
    assert EXPECT.get(case, "") in lines[0]
    assert _snapshot(tmp_path) == before  # nothing changed, nothing added
    assert not (tmp_path / "PWNED").exists()  # a malicious pickle's payload never ran
    assert took < 30, f"took {took:.1f}s"


def test_yaml_bomb_is_refused_in_milliseconds(tmp_path):
    from eeea.errors import UserError
    from eeea.files import read_data

    path = Path(_write(tmp_path / "bomb.yaml", BOMB))
    start = time.perf_counter()
    with pytest.raises(UserError, match="expand to more than"):
        read_data(path)
    assert time.perf_counter() - start < 1.0  # generous: the refusal walks ~100 nodes


def test_zip_member_checks(tmp_path):
    from eeea.errors import UserError
    from eeea.files import open_zip, read_zip_member

    path = _zip(tmp_path / "z.zip", {"big": bytes(8 << 20), "ok": b"fine"})
    with open_zip(path) as z:
        assert read_zip_member(z, "ok") == b"fine"
        with pytest.raises(UserError, match="zip bomb"):
            read_zip_member(z, "big")
        with pytest.raises(UserError, match="would inflate"):
            read_zip_member(z, "ok", limit=2)
    # a stored member declaring a huge size in its directory entry is refused before it is read
    data = bytearray(Path(_zip(tmp_path / "s.zip", {"m": b"abc"}, zipfile.ZIP_STORED)).read_bytes())
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = struct.pack("<I", 1 << 31)
    Path(tmp_path / "s.zip").write_bytes(bytes(data))
    with open_zip(tmp_path / "s.zip") as z, pytest.raises(UserError, match="would inflate"):
        read_zip_member(z, "m")


def test_utf8_bom_and_json_read(tmp_path):
    from eeea.files import read_data, read_mapping

    assert read_mapping(_write(tmp_path / "a.yaml", "\ufeffx: 1\n")) == {"x": 1}
    assert read_data(_write(tmp_path / "a.json", '{"x": [1, 2]}')) == {"x": [1, 2]}
    assert read_data(_write(tmp_path / "anchors.yaml", "a: &x [1, 2]\nb: *x\n")) == {"a": [1, 2], "b": [1, 2]}


def test_label_resume_cuts_a_torn_last_row_and_refuses_bad_teacher_outputs(tmp_path):
    from eeea.errors import UserError
    from eeea.teachers import CSVTeacher, Teacher, label_audio

    audio = _audio_dir(tmp_path, good=3)
    teacher = CSVTeacher(_labels(tmp_path, "".join(f"clip{i}.wav,0.1,0.2,0.3\n" for i in range(3))))
    out = tmp_path / "out.csv"
    out.write_text("path,arousal,dominance,valence\nclip0.wav,0.1,0.2,0.3\nclip1.wav,0.1")  # killed mid-row
    with pytest.warns(UserWarning, match="torn last row"):
        assert label_audio(teacher, audio, out, quiet=True) == (2, 1, 0)
    rows = out.read_text().splitlines()
    assert len(rows) == 4 and all(len(r.split(",")) == 4 for r in rows)

    class Broken(Teacher):
        def predict(self, waves, names=None):
            return np.full((len(waves), 1), np.nan)

    fresh = tmp_path / "fresh.csv"
    with pytest.raises(UserError, match="shape"):
        label_audio(Broken(), audio, fresh, quiet=True)
    assert not fresh.exists()  # nothing written for a teacher whose outputs are refused
