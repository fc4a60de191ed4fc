"""A per-user cache of decoded data that every process (each pool worker) memory-maps instead of decoding again:
a zip of JPEGs is decoded once into uint8 ``.npy`` files (:func:`cached_images`), an audio clip once into a float32
``.npy`` at 16 kHz (:func:`cached_decode`).

The cache lives in ``$EEEA_CACHE`` (default ``~/.cache/eeea``; ``EEEA_CACHE=off`` disables it). An image entry is keyed
by the source file's resolved path, size and modification time (and what was read from it), so an edited or replaced
file is decoded afresh; an audio entry by the hash of the clip file's bytes, so a copied or moved corpus is found
again and an edited clip never is. Memory-mapped entries are shared between processes: a search's workers hold one
copy of a corpus's samples in the page cache, not one each. Entries are written under unique temporary names and
renamed into place, the class list last, so a reader never sees half an entry and concurrent writers cannot corrupt
one. A cache that cannot be written (read-only
home, full disk) is skipped: the data are then decoded as before.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

CACHE_ENV = "EEEA_CACHE"


def cache_dir() -> Path | None:
    """Where decoded data are cached, or None when ``EEEA_CACHE=off``."""
    value = os.environ.get(CACHE_ENV, "")
    if value.lower() == "off":
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "eeea"


def _entry(source: Path, tag: str) -> str:
    stat = source.stat()
    ident = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{tag}"
    return hashlib.sha256(ident.encode()).hexdigest()[:24]


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def cached_images(source: Path, tag: str,
                  decode: Callable[[], tuple[np.ndarray, np.ndarray, list[str]]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(images, labels, classes)`` of ``source``: memory-mapped from the cache, or ``decode()``-d and cached."""
    root = cache_dir()
    if root is None:
        return decode()
    key = f"images-{_entry(source, tag)}"
    images_path, labels_path, classes_path = (root / f"{key}.{s}" for s in ("images.npy", "labels.npy", "json"))
    if classes_path.is_file():
        try:
            classes = json.loads(classes_path.read_text())["classes"]
            # copy-on-write: shared read-only pages between workers, private only where a process writes
            return np.load(images_path, mmap_mode="c"), np.load(labels_path), classes
        except (OSError, ValueError, KeyError):
            pass  # a damaged entry is decoded again and rewritten
    images, labels, classes = decode()
    try:
        root.mkdir(parents=True, exist_ok=True)
        _save_npy(images_path, images)
        _save_npy(labels_path, labels)
        tmp = classes_path.with_name(f".{classes_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"source": str(source), "classes": classes}))
        os.replace(tmp, classes_path)  # last: the entry is complete once this exists
    except OSError:
        pass  # no cache here: the decoded arrays serve as they are
    return images, labels, classes


def cached_json(source: Path, tag: str, compute: Callable[[], object] | None) -> object | None:
    """A small JSON value derived from the file ``source`` (``tag`` says how): read from the cache, else
    ``compute()``-d and cached; None when it is not cached and ``compute`` is None (the caller cannot afford it now)."""
    root = cache_dir()
    path = root / f"derived-{_entry(Path(source), tag)}.json" if root is not None else None
    if path is not None and path.is_file():
        try:
            return json.loads(path.read_text())["value"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged entry is computed again
    if compute is None:
        return None
    value = compute()
    if path is not None:
        try:
            root.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"source": str(source), "tag": tag, "value": value}))
            os.replace(tmp, path)
        except OSError:
            pass  # no cache here: the value serves this process only
    return value


def cached_decode(data: bytes, tag: str, decode: Callable[[], np.ndarray]) -> np.ndarray:
    """``decode()`` of a file whose bytes are ``data``: memory-mapped from the cache entry keyed by the bytes' hash
    and ``tag`` (what the decoding produces, e.g. ``audio-16000``), or decoded, cached and memory-mapped."""
    root = cache_dir()
    if root is None:
        return decode()
    key = hashlib.sha256(data).hexdigest()[:40]
    path = root / "decoded" / key[:2] / f"{key}-{tag}.npy"
    if path.is_file():
        try:
            return np.load(path, mmap_mode="c")  # copy-on-write: read pages shared, a writer gets its own
        except (OSError, ValueError):
            pass  # a damaged entry is decoded again and rewritten
    array = decode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _save_npy(path, array)
        return np.load(path, mmap_mode="c")  # the decoding process shares the pages too
    except (OSError, ValueError):
        return array  # no cache here: the decoded array serves as it is
