"""Atomic file replacement: a kill or a power cut leaves the old file or the new one, never half of one.

Light on purpose (the standard library only): the run directory, its ledger and every writer of eeea's files use it.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in directory ``path`` durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], None], durable: bool = True,
                 before_replace: Callable[[Path], None] | None = None) -> None:
    """Replace ``path`` atomically: ``write`` fills a uniquely named temporary sibling (two writers never share one),
    which is fsynced and renamed over ``path``, and the directory fsynced: a kill or a power cut leaves the old file or
    the new one, never half of one. A failed write (a full disk) removes the temporary file and raises.
    ``durable`` False skips the fsyncs, for a file derived from others and rewritten often (a report): a kill still
    leaves a whole file; only a power cut may leave it empty. ``before_replace`` sees the complete temporary file
    just before it is renamed (a run records the write ahead: see :mod:`eeea.ledger`)."""
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the file gets the usual permissions
        write(tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        if before_replace is not None:
            before_replace(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
