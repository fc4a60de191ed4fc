"""What eeea wrote in a run directory, and nothing else: the ledger ``.eeea-files``.

One JSON line per write: the file's path (relative to the run directory), size, modification time and SHA-256. A
file is eeea's own while it is exactly as one of its last two records says (same size and time, or, after a copy that
changed the times, the same hash); ``{"path": P, "removed": true}`` forgets it. Everything else in the folder (a file
the user added, an eeea file the user changed) is the user's, and eeea never deletes or overwrites it.

Records are written ahead: a file replaced by renaming is recorded from its temporary file just before the rename, an
appended one with its size and hash after the append just before it, so a kill at any moment leaves the file as the
last record or the one before says: a ``kill -9`` never turns eeea's own file into a stranger. Losing ledger lines
only ever makes eeea more careful: the ledger is not fsynced, and a torn or unreadable line is ignored, so a file
whose record was lost is treated as the user's, never the other way round.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any, Iterable

from .atomic import atomic_write_text

LEDGER = ".eeea-files"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _matches(path: Path, entry: dict[str, Any] | None) -> bool:
    """Whether the file at ``path`` is the one ``entry`` records (same size and time, or the same content)."""
    if entry is None:
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != entry["size"]:
        return False
    return st.st_mtime_ns == entry.get("mtime_ns") or file_sha256(path) == entry["sha256"]


def record_ahead(ledger: "Ledger", name: str, tmp: Path) -> None:
    """Record ``name`` as ``tmp`` is, for a by-product written beside a run (a report): a ledger that cannot be
    written (a read-only run read by ``eeea report --out`` elsewhere) is no reason to fail the write."""
    try:
        ledger.record(name, tmp)
    except OSError:
        pass


class Ledger:
    """The record of the files eeea wrote under ``root`` (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._resolved: Path | None = None
        self._file: Any = None
        self._entries: dict[str, dict[str, Any]] | None = None
        #: the record before the latest of each file (a kill between a write-ahead record and its write)
        self._previous: dict[str, dict[str, Any]] = {}
        #: appended files: relative path -> (running SHA-256, size) while eeea owns the file, None once it does not
        self._appending: dict[str, tuple[Any, int] | None] = {}

    @property
    def path(self) -> Path:
        return self.root / LEDGER

    def exists(self) -> bool:
        return self.path.is_file()

    def _abs_root(self) -> Path:
        """The root, absolute with links resolved (once: the paths eeea hands in are built from it)."""
        if self._resolved is None:
            self._resolved = Path(os.path.realpath(self.root))
        return self._resolved

    def full(self, path: str | Path) -> Path:
        """A path of the run: absolute as given, or a name relative to the root."""
        path = Path(path)
        return path if path.is_absolute() else self._abs_root() / path

    def rel(self, path: str | Path) -> str:
        """``path`` (see :meth:`full`) relative to the root, in posix form (the key of its record)."""
        if isinstance(path, str) and not path.startswith("/"):
            return path  # a name eeea gives (``archive.jsonl``): already the key
        path = Path(path)
        if not path.is_absolute():
            return path.as_posix()
        try:
            return path.relative_to(self._abs_root()).as_posix()
        except ValueError:  # reached through a link: compare resolved folders
            try:
                return (Path(os.path.realpath(path.parent)) / path.name).relative_to(self._abs_root()).as_posix()
            except ValueError:
                raise ValueError(f"{path} is outside the run directory {self.root}") from None

    # reading -------------------------------------------------------------------------------------------------------
    def entries(self) -> dict[str, dict[str, Any]]:
        """The latest record of every file eeea wrote and has not removed."""
        if self._entries is None:
            self._entries, self._previous = {}, {}
            try:
                data = self.path.read_bytes()
            except OSError:
                data = b""
            for line in data.splitlines():
                try:
                    entry = json.loads(line)
                    rel = entry["path"]
                    if not isinstance(rel, str):
                        continue
                    if entry.get("removed"):
                        self._entries.pop(rel, None)
                        self._previous.pop(rel, None)
                    elif isinstance(entry.get("size"), int) and isinstance(entry.get("sha256"), str):
                        self._remember(rel, entry)
                except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
                    continue  # a torn or damaged line: that file is simply not known to be eeea's
        return self._entries

    def owns(self, path: str | Path) -> bool:
        """Whether ``path`` (see :meth:`full`) is a regular file exactly as eeea recorded writing it (the record
        read again from the file when it does not match: another eeea process, ``eeea report``, may have written
        the file and recorded it since)."""
        path = self.full(path)
        rel = self.rel(path)
        for attempt in range(2):
            if attempt:
                self._entries = None
            if _matches(path, self.entries().get(rel)) or _matches(path, self._previous.get(rel)):
                return True
        return False

    def _remember(self, rel: str, entry: dict[str, Any]) -> None:
        entries = self.entries()
        if rel in entries:
            self._previous[rel] = entries[rel]
        entries[rel] = entry

    def foreign(self, names: Iterable[str]) -> list[str]:
        """The files under ``names`` (files or folders of the root) that are not eeea's: added by someone else or
        changed since eeea wrote them. Links count as foreign and are never followed."""
        found = []
        for name in names:
            top = self._abs_root() / name
            if top.is_symlink() or (top.exists() and not top.is_dir()):
                if not self.owns(top):
                    found.append(name)
                continue
            for folder, dirs, files in os.walk(top):
                for entry in sorted(files) + sorted(d for d in dirs if os.path.islink(os.path.join(folder, d))):
                    path = Path(folder) / entry
                    if path.is_symlink() or not self.owns(path):
                        found.append(self.rel(path))
                dirs.sort()
        return found

    # writing -------------------------------------------------------------------------------------------------------
    def _log(self, entry: dict[str, Any]) -> None:
        if self._file is None:  # kept open: a search appends a line per evaluation and per log line
            self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed by close() or with the object
        self._file.write((json.dumps(entry, sort_keys=True) + "\n").encode())

    def close(self) -> None:
        """Close the ledger file (it is opened again on the next record)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def record(self, path: str | Path, source: str | Path | None = None) -> None:
        """Record ``path`` (just written by eeea) as it is now; or, written ahead, as ``source`` is (its temporary
        file, about to be renamed over it: a rename keeps the size, time and content)."""
        path = self.full(path)
        source = path if source is None else Path(source)
        self._set(self.rel(path), os.stat(source).st_size, file_sha256(source), os.stat(source).st_mtime_ns)

    def _set(self, rel: str, size: int, sha: str, mtime_ns: int | None) -> None:
        entry = {"path": rel, "size": size, "mtime_ns": mtime_ns, "sha256": sha}
        self._log(entry)
        self._remember(rel, entry)

    def refresh(self, path: str | Path) -> None:
        """``path`` was cut back by eeea (a torn last line): recorded anew when it is what eeea recorded before."""
        self._appending.pop(self.rel(path), None)
        if self.owns(path):
            self.record(path)

    def forget(self, path: str | Path) -> None:
        rel = self.rel(path)
        if rel in self.entries():
            self._log({"path": rel, "removed": True})
            self.entries().pop(rel)
            self._previous.pop(rel, None)
        self._appending.pop(rel, None)

    def append(self, path: str | Path, data: bytes, fsync: bool = False) -> None:
        """Append ``data`` to ``path`` (created if missing), recorded ahead when the file was eeea's before (a file the
        user changed takes the lines too, but stays the user's). A failed write (a full disk) cuts the partial data
        off again and raises: the file is then as the record before says."""
        path = self.full(path)
        rel = self.rel(path)
        if rel not in self._appending:
            if not path.exists():
                self._appending[rel] = (hashlib.sha256(), 0)
            elif self.owns(path):
                content = path.read_bytes()
                self._appending[rel] = (hashlib.sha256(content), len(content))
            else:
                self._appending[rel] = None
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            end = os.lseek(fd, 0, os.SEEK_END)
            state = self._appending[rel]
            if state is not None and end != state[1]:  # someone else wrote to it meanwhile: no longer eeea's alone
                state = self._appending[rel] = None
            if state is not None:
                digest = state[0].copy()
                digest.update(data)
                self._appending[rel] = (digest, end + len(data))
                # its time is known only after the write: the record's hash stands for it
                self._set(rel, end + len(data), digest.hexdigest(), None)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                if fsync:
                    os.fsync(fd)
            except BaseException:  # a full disk, or Ctrl-C mid-write: the file goes back to before this append
                try:
                    os.ftruncate(fd, end)
                except OSError:
                    pass
                if state is not None:  # and so do the running hash and the record
                    self._appending[rel] = state
                    self._set(rel, state[1], state[0].hexdigest(), None)
                raise
        finally:
            os.close(fd)

    def remove_owned(self) -> list[str]:
        """Delete every file eeea owns (as recorded, unchanged), then the folders that held them if now empty; the
        ledger starts afresh. Returns what was removed."""
        removed = []
        for rel in sorted(self.entries()):
            if self.owns(rel):
                self.full(rel).unlink()
                removed.append(rel)
        for folder in sorted({Path(rel).parent for rel in removed if Path(rel).parent != Path(".")},
                             key=lambda p: -len(p.parts)):
            for parent in (folder, *folder.parents):
                if parent == Path("."):
                    break
                try:
                    (self.root / parent).rmdir()  # only an empty folder goes
                except OSError:
                    break
        self.reset()
        return removed

    def reset(self) -> None:
        """An empty ledger (a new run in the folder)."""
        self.close()
        self.path.write_bytes(b"")
        self._entries, self._previous, self._appending = {}, {}, {}

    def compact(self) -> None:
        """Rewrite the ledger with one line per file (a long run appends one per log line)."""
        self.close()  # the file is replaced below: a kept descriptor would write to the old one
        self._entries = None  # from the file: another object of the same run may have recorded files since
        entries = self.entries()
        atomic_write_text(self.path, "".join(json.dumps(e, sort_keys=True) + "\n" for _, e in sorted(entries.items())))
