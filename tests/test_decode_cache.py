"""Decoded images and audio clips are cached per user and memory-mapped by every later process: images keyed by the
source file's path, size and modification time, clips by the hash of the file's bytes; written atomically, skipped
when off or unwritable."""
from __future__ import annotations

import io
import os
import zipfile

import numpy as np
from PIL import Image

from eeea.data.cache import cached_images
from eeea.data.images import load_image_folder


def _zip(path, colours=((255, 0, 0), (0, 0, 255))):
    with zipfile.ZipFile(path, "w") as z:
        for c, colour in enumerate(colours):
            for i in range(3):
                buf = io.BytesIO()
                Image.new("RGB", (8, 6), tuple(v // (i + 1) for v in colour)).save(buf, "PNG")
                z.writestr(f"class{c}/{i}.png", buf.getvalue())
    return path


def test_a_zip_is_decoded_once_then_memory_mapped(tmp_path, monkeypatch):
    monkeypatch.setenv("EEEA_CACHE", str(tmp_path / "cache"))
    source = _zip(tmp_path / "data.zip")
    first = load_image_folder(source)
    entries = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(entries) == 3 and not any(n.endswith(".tmp") for n in entries)
    second = load_image_folder(source)
    assert isinstance(second.images, np.memmap) and not isinstance(first.images, np.memmap)
    assert np.array_equal(first.images, second.images) and np.array_equal(first.labels, second.labels)
    assert first.classes == second.classes == ["class0", "class1"] and second.images.dtype == np.uint8
    second.images[0, 0, 0, 0] = 7  # copy-on-write: a process's change never reaches the cache
    assert load_image_folder(source).images[0, 0, 0, 0] == first.images[0, 0, 0, 0]


def test_a_changed_source_is_decoded_again(tmp_path, monkeypatch):
    monkeypatch.setenv("EEEA_CACHE", str(tmp_path / "cache"))
    calls = []

    def decode():
        calls.append(1)
        return np.full((2, 4, 4, 3), len(calls), np.uint8), np.array([0, 1]), ["a", "b"]

    source = tmp_path / "data.zip"
    source.write_bytes(b"one")
    assert cached_images(source, "t", decode)[0][0, 0, 0, 0] == 1
    assert cached_images(source, "t", decode)[0][0, 0, 0, 0] == 1 and len(calls) == 1
    os.utime(source, ns=(0, 10**9))  # another version of the file
    assert cached_images(source, "t", decode)[0][0, 0, 0, 0] == 2 and len(calls) == 2
    assert cached_images(source, "other tag", decode)[0][0, 0, 0, 0] == 3


def test_off_or_unwritable_cache_decodes_as_before(tmp_path, monkeypatch):
    source = _zip(tmp_path / "data.zip")
    monkeypatch.setenv("EEEA_CACHE", "off")
    assert not isinstance(load_image_folder(source).images, np.memmap)
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("EEEA_CACHE", str(blocked / "cache"))
    data = load_image_folder(source)
    assert data.images.shape == (6, 6, 8, 3) and blocked.read_text() == "not a folder"


def _clips(folder, rate=44100, n=3):
    import soundfile as sf

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        sf.write(folder / f"c{i}.wav", 0.3 * rng.standard_normal((int(0.3 * rate), 2)).astype(np.float32), rate)
    labels = folder / "labels.csv"
    labels.write_text("path,arousal\n" + "".join(f"c{i}.wav,0.{i}\n" for i in range(n)))
    return labels


def test_clips_are_decoded_and_resampled_once_keyed_by_their_bytes(tmp_path, monkeypatch):
    import shutil

    from eeea.data.corpus import load_corpus

    cache = tmp_path / "cache"
    monkeypatch.setenv("EEEA_CACHE", str(cache))
    labels = _clips(tmp_path / "a")
    first = load_corpus(tmp_path / "a", labels).clips
    entries = sorted(p.name for p in cache.rglob("*.npy"))
    assert len(entries) == 3 and not list(cache.rglob("*.tmp"))
    again = load_corpus(tmp_path / "a", labels).clips
    assert all(isinstance(w, np.memmap) and w.dtype == np.float32 for w in again.waves)
    assert all(np.array_equal(a, b) and len(a) == int(0.3 * 16000) for a, b in zip(first.waves, again.waves))
    shutil.copytree(tmp_path / "a", tmp_path / "moved")  # the same bytes elsewhere: found again, nothing decoded
    load_corpus(tmp_path / "moved", tmp_path / "moved" / "labels.csv")
    assert sorted(p.name for p in cache.rglob("*.npy")) == entries
    import soundfile as sf

    sf.write(tmp_path / "moved" / "c0.wav", np.zeros((4410, 2), np.float32) + 0.1, 44100)  # edited: decoded afresh
    edited = load_corpus(tmp_path / "moved", tmp_path / "moved" / "labels.csv").clips
    assert len(list(cache.rglob("*.npy"))) == 4 and abs(float(np.median(edited.waves[0])) - 0.1) < 1e-3
    again.waves[1][0] = 5.0  # copy-on-write: a process's change never reaches the cache
    assert load_corpus(tmp_path / "a", labels).clips.waves[1][0] == first.waves[1][0]
    monkeypatch.setenv("EEEA_CACHE", "off")
    plain = load_corpus(tmp_path / "a", labels).clips
    assert not any(isinstance(w, np.memmap) for w in plain.waves)
    assert all(np.array_equal(a, b) for a, b in zip(first.waves, plain.waves))
