"""A run directory for any verb (``eeea search``, ``eeea train``): the create / open / ``--force`` rule, the lock,
atomic writes, the resolved ``config.yaml``, ``state.json`` and ``log.txt``.

Each verb subclasses :class:`RunDir` and names the files it writes (``files``) and those whose presence means the run
has produced results (``progress``). Rules, shared by every verb:

* ``.eeea-run`` (the manifest) marks a directory eeea made and holds the hash of the resolved config;
* ``.eeea-files`` (the ledger, :mod:`eeea.ledger`) records every file eeea wrote there: eeea deletes or overwrites only
  those, unchanged since; ``--force`` removes exactly them, and refuses, naming them, when the verb's files or folders
  hold anything else (a file the user added, an eeea file the user changed): nothing is moved or lost;
* a directory eeea made whose run never produced results (a failed start) is reused without ``--force``;
* ``.eeea-lock`` is locked (``flock``) by the process using the run: a second one is refused, naming the holder's pid;
* ``config.yaml`` edited by hand since the run started (its hash differs from the manifest's) is refused on resume.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import yaml

from .config import read_yaml_mapping
from .errors import UserError
from .atomic import atomic_write, atomic_write_text
from .ledger import LEDGER, Ledger
from .outputs import check_output_dir, missing_folders, why_not_writable, writable

CONFIG, STATE, LOG = "config.yaml", "state.json", "log.txt"
MANIFEST, LOCK = ".eeea-run", ".eeea-lock"
#: lock files this process holds: resolved path -> descriptor of the locked file
_HELD: dict[str, int] = {}
#: run directories this process holds locked: resolved path -> the verb's RunDir class
_HELD_KIND: dict[str, type] = {}


def check_code_task(stored: Any, asked: Any, run: str | Path, flag: str) -> None:
    """A ``module:Class`` task named by a run's config.yaml is code outside eeea: import it only when the command line
    names it again (a copied run directory must not make eeea import a module of its choosing)."""
    if isinstance(stored, str) and ":" in stored and asked != stored:
        raise UserError(f"--resume {run}: the run's task {stored} is code outside eeea; pass {flag} {stored} again "
                        f"to import it")


def held_runs() -> list["RunDir"]:
    """The run directories this process holds (the run a Ctrl-C interrupted)."""
    return [kind(path) for path, kind in _HELD_KIND.items()]


def release_locks() -> None:
    """Release every lock this process holds (the CLI does at exit; so do tests running it in-process)."""
    for key in list(_HELD):
        os.close(_HELD.pop(key))
    _HELD_KIND.clear()


def hold_lock(lock: Path, what: str | Path) -> None:
    """Hold an exclusive ``flock`` on the file ``lock`` (created, the holder's pid written inside) until this process
    exits or :func:`release_lock`; re-entrant within a process. When another process holds it, one line naming
    ``what`` (the thing the lock guards) and the holder's pid. A lock file removed by its holder on release (see
    :func:`release_lock`) is detected and opened afresh, so two processes never hold two different files."""
    key = str(Path(lock).resolve())
    if key in _HELD:  # this process holds it already (a resume opens the run twice)
        return
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise UserError(f"{what} is in use by another eeea process (pid {holder}); wait for it to finish or "
                                f"stop it") from None
            raise UserError(f"{what}: cannot lock ({e.strerror or e})") from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # its holder removed the file while releasing it: lock the current one
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[key] = fd


def release_lock(lock: Path, remove: bool = False) -> None:
    """Release a lock of :func:`hold_lock`; ``remove`` deletes its file first (while still holding it), leaving no
    trace beside a user's file."""
    fd = _HELD.pop(str(Path(lock).resolve()), None)
    if fd is None:
        return
    if remove:
        Path(lock).unlink(missing_ok=True)
    os.close(fd)


def _listed(names: list[str], most: int = 3) -> str:
    """``a, b and c`` / ``a, b, c and 4 more``: the files a refusal names."""
    shown = names[:most]
    more = len(names) - len(shown)
    if more:
        return ", ".join(shown) + f" and {more} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


class _RunLogHandler(logging.Handler):
    """Appends a run's log lines to its log.txt through the ledger (so eeea knows the lines are its own)."""

    def __init__(self, run: "RunDir") -> None:
        super().__init__()
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.run.ledger.append(LOG, (self.format(record) + "\n").encode())
        except Exception:  # a log line must never stop a run (a full disk stops it at the archive instead)
            self.handleError(record)


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of a config's canonical JSON form (key order and YAML formatting do not matter)."""
    return hashlib.sha256(json.dumps(dict(config), sort_keys=True, default=str).encode()).hexdigest()


class RunDir:
    """A verb's output folder: ``config.yaml`` (the resolved configuration), ``state.json``, ``log.txt`` and the files
    the verb names in :attr:`files`."""

    #: every file or folder the verb writes (``--force`` removes these and nothing else)
    files: ClassVar[tuple[str, ...]] = (CONFIG, STATE, LOG)
    #: files whose presence means the run has produced results (without them, a failed start: reusable)
    progress: ClassVar[tuple[str, ...]] = (STATE,)
    #: files the verb only appends to (a resume adds lines, whoever wrote the ones before)
    appended: ClassVar[tuple[str, ...]] = (LOG,)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock_fd: int | None = None
        self.ledger = Ledger(self.path)
        #: folders :meth:`create` made (the run's and any missing parent): a failed start removes them again
        self.created: list[Path] = []

    # creation / opening --------------------------------------------------------------------------------------------
    @classmethod
    def check_new(cls, path: str | Path, force: bool = False) -> None:
        """Refuse, before anything is written, a ``path`` that :meth:`create` would refuse: a file, a folder that
        cannot be written, a non-empty folder eeea did not make, a started run without ``force``, or a run folder
        whose files include some that are not eeea's (named)."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise UserError(f"{path} exists and is not a directory")
        check_output_dir(path)
        if not path.is_dir() or not any(p.name != LOCK for p in path.iterdir()):
            return
        if not (path / MANIFEST).is_file():
            if force:
                raise UserError(f"{path} was not made by eeea (no {MANIFEST}); --force deletes only in eeea's run "
                                f"directories: pick an empty or new --out")
            raise UserError(f"{path} is not empty; pick an empty or new --out")
        if not force and any((path / name).exists() for name in cls.progress):
            raise UserError(f"{path} is not empty; pass --resume {path} to continue it or --force to start over")
        cls(path).manifest()  # a damaged manifest is one line
        foreign = Ledger(path).foreign(cls.files)
        if foreign:
            legacy = "" if (path / LEDGER).is_file() else " (this run predates eeea's record of its files)"
            them = "it" if len(foreign) == 1 else "them"
            raise UserError(f"{path}: {_listed(foreign)}: not written by eeea, or changed since{legacy}; eeea "
                            f"removes only its own files: move {them} out of {path}, then run again")

    @classmethod
    def create(cls, path: str | Path, config: Mapping[str, Any], force: bool = False) -> "RunDir":
        """A fresh run directory, locked. A non-empty folder is refused unless eeea made it and either ``force`` or
        its run never started; then exactly the files eeea recorded writing are removed (see :meth:`check_new`)."""
        cls.check_new(path, force)
        run = cls(path)
        run.created = missing_folders(run.path)
        run.path.mkdir(parents=True, exist_ok=True)
        run.lock()
        cls.check_new(path, force)  # again under the lock: another process may have started it meanwhile
        run.ledger.remove_owned()
        run.write_config(config)
        return run

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """An existing run, locked (for ``--resume``): a folder eeea cannot write is refused before anything else."""
        run = cls.read(path)
        if not writable(run.path):
            raise UserError(f"--resume {run.path}: cannot write in it ({why_not_writable(run.path)}); a resumed run "
                            f"writes its results there")
        run.lock()
        return run

    def legacy_files(self) -> list[str]:
        """The files of a run made before eeea recorded its files that follow eeea's own names (adopted by
        :meth:`check_resumable`)."""
        return [name for name in self.files if (self.path / name).is_file() and not (self.path / name).is_symlink()]

    @classmethod
    def read(cls, path: str | Path) -> "RunDir":
        """An existing run, for reading only: not locked, so a report can read a run another process holds."""
        run = cls(path)
        if not (run.path / CONFIG).is_file():
            raise UserError(f"{run.path}: not a run directory (no {CONFIG}); nothing to resume")
        run.config()  # a damaged or edited config.yaml is refused before anything is written
        return run

    # lock ----------------------------------------------------------------------------------------------------------
    def lock(self) -> None:
        """Hold ``.eeea-lock`` until this process exits (or :meth:`unlock`); refuse a run another process holds."""
        hold_lock(self.path / LOCK, self.path)
        self._lock_fd = _HELD[str((self.path / LOCK).resolve())]
        _HELD_KIND[str(self.path.resolve())] = type(self)

    def unlock(self) -> None:
        """Release the lock (closing the descriptor releases the flock), after compacting the ledger."""
        if str((self.path / LOCK).resolve()) in _HELD and self.ledger.exists():
            try:
                self.ledger.compact()
            except OSError:
                pass  # a full disk: the ledger keeps its (longer) form
        self.ledger.close()
        release_lock(self.path / LOCK)
        _HELD_KIND.pop(str(self.path.resolve()), None)
        self._lock_fd = None

    def write_config(self, config: Mapping[str, Any]) -> None:
        """config.yaml and, in the manifest, its hash (written first: a kill between the two leaves a manifest that
        names a config never written, which a resume reports instead of trusting)."""
        manifest = {"format": "eeea-run", "kind": type(self).__name__, "files": list(self.files),
                    "config_sha256": config_hash(config)}
        atomic_write_text(self.path / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        self.write_text(CONFIG, yaml.safe_dump(dict(config), sort_keys=False))

    def config(self) -> dict[str, Any]:
        """The resolved config; refused when config.yaml was edited since eeea wrote it."""
        config = read_yaml_mapping(self.path / CONFIG)
        manifest = self.manifest()
        expected = manifest.get("config_sha256")
        if expected and config_hash(config) != expected:
            raise UserError(f"{self.path / CONFIG} was changed since the run started; a resumed run keeps its "
                            f"config (restore it, or start a new --out with the new settings)")
        return config

    def manifest(self) -> dict[str, Any]:
        """The manifest's content ({} for a run written before manifests existed)."""
        from .files import parse_json, read_text

        path = self.path / MANIFEST
        if not path.is_file():
            return {}
        data = parse_json(read_text(path), str(path))
        if not isinstance(data, dict) or data.get("format") != "eeea-run":
            raise UserError(f"{path}: not eeea's run manifest (damaged?); eeea will not trust this run directory")
        return data

    # state ---------------------------------------------------------------------------------------------------------
    def write_state(self, state: Mapping[str, Any]) -> None:
        """Atomically replace state.json (write a temporary file, then rename)."""
        self.write_text(STATE, json.dumps(dict(state), indent=2, sort_keys=True) + "\n")

    def read_state(self) -> dict[str, Any]:
        path = self.path / STATE
        if not path.exists():
            return {}
        from .files import parse_json, read_text

        state = parse_json(read_text(path), str(path))
        if not isinstance(state, dict):
            raise UserError(f"{path}: expected a JSON object")
        return state

    # log -----------------------------------------------------------------------------------------------------------
    def logger(self) -> logging.Logger:
        """A logger writing to log.txt (appending on resume; each line recorded in the ledger)."""
        log = logging.getLogger(f"eeea.run.{self.path.resolve()}")
        log.setLevel(logging.INFO)
        log.propagate = False
        if not log.handlers:
            handler = _RunLogHandler(self)
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
            log.addHandler(handler)
        return log

    def close_logger(self) -> None:
        log = logging.getLogger(f"eeea.run.{self.path.resolve()}")
        for h in list(log.handlers):
            h.close()
            log.removeHandler(h)

    def log_line(self, message: str) -> None:
        """Append one timestamped line to log.txt (a run's last words: an interruption)."""
        import time

        try:
            self.ledger.append(LOG, f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n".encode())
        except OSError:
            pass

    # files ---------------------------------------------------------------------------------------------------------
    def check_replaceable(self, *names: str) -> None:
        """Refuse (one line naming them) to overwrite files under the run that exist but are not eeea's own."""
        foreign = [n for n in names if (self.path / n).exists() and not self.ledger.owns(n)]
        if foreign:
            them = "it" if len(foreign) == 1 else "them"
            raise UserError(f"{self.path}: {_listed(foreign)}: not written by eeea, or changed since; eeea does not "
                            f"overwrite a file of yours: move {them} out of {self.path}, then run again")

    def write_file(self, name: str, write: Callable[[Path], None]) -> Path:
        """Write ``name`` (relative to the run) atomically with ``write`` (see :func:`atomic_write`) and record it;
        a file of the user's in its place is refused, not overwritten."""
        self.check_replaceable(name)
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, write, before_replace=lambda tmp: self.ledger.record(name, tmp))
        return path

    def write_text(self, name: str, text: str) -> Path:
        return self.write_file(name, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def check_resumable(self) -> None:
        """Before a resume writes a byte: every file of the verb it will replace is eeea's own (appended files, the
        log and an archive, take new lines whoever changed them). A run of an eeea that kept no record of its files
        has those that follow eeea's names taken as eeea's first."""
        if not self.ledger.exists() and (self.path / MANIFEST).is_file():
            for name in self.legacy_files():
                self.ledger.record(name)
        self.check_replaceable(*(n for n in self.files if n not in self.appended and (self.path / n).is_file()))

    def discard(self) -> None:
        """Undo a start that failed before producing anything: remove the files eeea wrote, its manifest, ledger and
        lock, and the folders :meth:`create` made if they are empty now. Only a run this process holds."""
        if str((self.path / LOCK).resolve()) not in _HELD:
            return
        self.close_logger()
        self.ledger.remove_owned()
        self.ledger.close()
        for name in (MANIFEST, LEDGER):
            (self.path / name).unlink(missing_ok=True)
        _HELD_KIND.pop(str(self.path.resolve()), None)
        release_lock(self.path / LOCK, remove=True)
        for folder in self.created:
            try:
                folder.rmdir()
            except OSError:
                break

    def saved_summary(self) -> str:
        """What an interrupted run has kept, in words (a verb may say more)."""
        kept = [name for name in self.progress if (self.path / name).exists()]
        return f"saved: {', '.join(kept)}" if kept else "nothing finished yet"

    def relative(self, path: Path) -> str:
        return Path(path).relative_to(self.path.resolve()).as_posix()
