"""Progress for whoever watches. A person at a terminal gets tqdm bars; redirected output (a log file, a pipe, CI)
gets no bars and so no escape codes or ``\\r`` frames, but plain lines, each flushed at once: a counted phase says
how far it is and when it should end (:class:`Progress`). ``--quiet`` hides both."""
from __future__ import annotations

import sys
import time
from collections import deque
from typing import Any, Callable, TextIO

#: a non-terminal gets a line of a long phase at most this often (and always at its start and end)
LINE_EVERY_S = 30.0
#: the ETA also looks at the rate of this many latest items
RECENT = 10


def hide_progress(quiet: bool = False) -> bool:
    """True when progress bars must stay off: ``quiet``, or stdout or stderr is not a terminal."""
    if quiet:
        return True
    try:
        return not (sys.stdout.isatty() and sys.stderr.isatty())
    except (AttributeError, ValueError):  # a replaced or closed stream
        return True


def format_seconds(seconds: float) -> str:
    """A duration as a person reads it: ``42s``, ``3m05s``, ``2h07m``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def say(text: str, quiet: bool = False, file: TextIO | None = None) -> None:
    """One line for the person watching (stderr by default), flushed; it does not tear a tqdm bar on a terminal."""
    if quiet:
        return
    from tqdm.auto import tqdm

    stream = file or sys.stderr
    tqdm.write(text, file=stream)
    stream.flush()


class Progress:
    """A counted phase: ``total`` items of ``unit`` under the name ``desc``.

    On a terminal, a tqdm bar. Elsewhere, lines ``desc: done/total unit, 1m05s elapsed, ETA 4m10s; note`` on stderr:
    one for every update when ``each`` (a search's finished candidates), else at most one per ``every_s`` seconds
    (a latency table's hundreds of modules), and always at the start, after the first finished item (the first
    ETA) and at the end. The ETA extrapolates the rate of the items finished in this session, or that of the last
    :data:`RECENT` items when it is slower (a phase whose late items cost more, like a latency table's whole
    networks after its modules, would otherwise promise seconds for minutes of work)."""

    def __init__(self, desc: str, total: int, unit: str = "", *, quiet: bool = False, each: bool = False,
                 every_s: float = LINE_EVERY_S, leave: bool = True, initial: int = 0, file: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, start_line: bool = True) -> None:
        self.desc, self.total, self.unit, self.each, self.every_s = desc, int(total), unit, each, every_s
        self.done = self._first = int(initial)
        self.quiet, self.file, self.clock = quiet, file, clock
        self.started = self._last = clock()
        self._recent: deque[tuple[float, int]] = deque([(self.started, self.done)], maxlen=RECENT + 1)
        self.bar: Any = None
        if not quiet and not hide_progress():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, initial=initial, desc=desc, unit=unit or "it", leave=leave)
        elif not quiet and start_line:
            say(self.status(), file=self.file)

    @property
    def lines(self) -> bool:
        """Whether this progress speaks in lines (a non-terminal, not quiet)."""
        return not self.quiet and self.bar is None

    def eta(self) -> float | None:
        """Seconds left at the rate so far; None before the first item of this session is done."""
        finished = self.done - self._first
        if finished <= 0:
            return None
        now = self.clock()
        per_item = (now - self.started) / finished
        then, done = self._recent[0]
        if self.done > done:
            per_item = max(per_item, (now - then) / (self.done - done))
        return per_item * max(0, self.total - self.done)

    def status(self, note: str = "") -> str:
        elapsed = self.clock() - self.started
        unit = f" {self.unit}" if self.unit else ""
        text = f"{self.desc}: {self.done}/{self.total}{unit}, {format_seconds(elapsed)} elapsed"
        eta = self.eta()
        if self.done >= self.total:
            text += ", done"
        elif eta is not None:
            text += f", ETA {format_seconds(eta)}"
        return text + (f"; {note}" if note else "")

    def update(self, n: int = 1, note: str = "") -> None:
        """``n`` more items done; ``note`` (e.g. the finished candidate's score) goes on its line."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        if self.quiet:
            return
        now = self.clock()
        self._recent.append((now, self.done))
        first = self.done - n <= self._first  # the first item of this session: the first ETA
        if self.each or first or self.done >= self.total or now - self._last >= self.every_s:
            self._last = now
            say(self.status(note), file=self.file)

    def advance(self, n: int) -> None:
        """``n`` items done without work in this session (a resumed run's archived results): counted, not said, and
        left out of the rate the ETA extrapolates."""
        if n <= 0:
            return
        self.done += n
        self._first += n
        self._recent.clear()
        self._recent.append((self.clock(), self.done))
        if self.bar is not None:
            self.bar.update(n)

    def write(self, text: str) -> None:
        """A line beside the progress (through the bar on a terminal, so it is not torn)."""
        say(text, self.quiet, self.file)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
