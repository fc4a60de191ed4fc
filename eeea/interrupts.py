"""Stopping a command on a signal: SIGINT (Ctrl-C, ``kill -INT``) and SIGTERM (``kill``, a scheduler's stop) both
raise :class:`Interrupted` in the main thread, so a search or a training unwinds as it does on Ctrl-C: its workers
stopped, what finished kept, the ``--resume`` line printed (see :func:`eeea.cli.main`).

A signal is handled even when the shell started eeea with SIGINT ignored (a background job of a script ignores it by
default): whoever sends ``kill -INT`` to a search means to stop it. A second signal within :data:`STOPPING_S` seconds of
the first is ignored, so an impatient second Ctrl-C cannot tear the front or the log line being written on the way
out; a later one interrupts again (the stop itself is bounded well under that time, and SIGKILL is always safe: the
archive is written line by line).
"""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

#: the signals that stop a command cleanly
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: seconds after a first signal during which another one is ignored (the stop is under way)
STOPPING_S = 15.0


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived (a KeyboardInterrupt, so code that catches ``Exception`` lets it through)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


#: the signals received inside :func:`stop_on_signals` (latest last)
_RECEIVED: list[int] = []


def signal_of(interrupt: KeyboardInterrupt) -> int:
    """The signal behind a KeyboardInterrupt: its own, else the last one received (a library may raise a plain
    KeyboardInterrupt in place of ours: Ray does, inside ``ray.wait``), else SIGINT (Python's own Ctrl-C)."""
    return getattr(interrupt, "signum", None) or (_RECEIVED[-1] if _RECEIVED else signal.SIGINT)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise :class:`Interrupted` in the main thread; the previous handlers are
    restored on the way out (a test or a notebook calling the CLI in-process keeps its own). Off the main thread
    (where Python cannot install handlers) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    first: list[float] = []

    def handler(signum: int, frame: Any) -> None:
        now = time.monotonic()
        if first and now - first[-1] < STOPPING_S:
            return  # already stopping
        first.append(now)
        _RECEIVED.append(signum)
        raise Interrupted(signum)

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    _RECEIVED.clear()
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


@contextmanager
def keep_signal_handlers() -> Iterator[None]:
    """Restore this process's SIGINT/SIGTERM handlers after the body: ``ray.init`` replaces SIGTERM's with its own
    ``sys.exit`` (and Ray's core adds a handler that prints a stack dump), which would end a search on SIGTERM
    without its workers stopped, its front written or its ``--resume`` line."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            if old is not None:
                signal.signal(sig, old)
