"""Where eeea writes, checked before any work starts: an output folder under a file, in a read-only place or without
permission, an output file whose folder is missing or that exists (without ``--force``) is one line, not a traceback
after minutes of work. The checks only look (``os.access`` of the effective user, the mount's read-only flag): they
write nothing, not even a probe file.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError


def writable(folder: Path) -> bool:
    """Whether this process may create files in ``folder`` (permissions of the effective user, read-only mounts)."""
    effective = os.access in os.supports_effective_ids
    return os.access(folder, os.W_OK | os.X_OK, effective_ids=effective)


def why_not_writable(folder: Path) -> str:
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "permission denied"


def missing_folders(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, deepest first (what ``mkdir(parents=True)`` would make)."""
    missing = []
    for folder in (path, *path.parents):
        if os.path.lexists(folder):
            break
        missing.append(folder)
    return missing


def check_output_dir(path: str | Path, flag: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot be made or written (one line naming ``flag``): under a
    file, in a read-only place, without permission."""
    path = Path(path)
    missing = missing_folders(path)
    existing = missing[-1].parent if missing else path
    if not existing.is_dir():
        raise UserError(f"{flag} {path}: {existing} is a file, not a folder")
    if not writable(existing):
        raise UserError(f"{flag} {path}: cannot write in {existing} ({why_not_writable(existing)})")


def check_output_file(path: str | Path, force: bool = False, flag: str = "--out", append: bool = False) -> None:
    """Refuse, before any work, an output file eeea could not write: one in a folder that does not exist or cannot
    be written, a folder in its place, or an existing file without ``force`` (with ``append``, an existing file is
    continued and must be writable itself)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a folder; name a file")
    parent = path.parent
    if not parent.is_dir():
        what = "is a file, not a folder" if parent.exists() else "does not exist"
        raise UserError(f"{flag} {path}: {parent} {what}")
    exists = os.path.lexists(path)
    if exists and not force and not append:
        raise UserError(f"{path} exists; pass --force to replace it")
    if exists and append and not force:
        effective = os.access in os.supports_effective_ids
        if not os.access(path, os.R_OK | os.W_OK, effective_ids=effective):
            raise UserError(f"{flag} {path}: cannot write it ({why_not_writable(parent)})")
    elif not writable(parent):
        raise UserError(f"{flag} {path}: cannot write in {parent} ({why_not_writable(parent)})")
