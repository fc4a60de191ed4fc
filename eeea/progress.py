"""When progress bars show: only for a person watching a terminal. Redirected output (a log file, a pipe, CI) gets
no bars and so no escape codes; ``--quiet`` hides them everywhere."""
from __future__ import annotations

import sys


def hide_progress(quiet: bool = False) -> bool:
    """True when progress bars must stay off: ``quiet``, or stdout or stderr is not a terminal."""
    if quiet:
        return True
    try:
        return not (sys.stdout.isatty() and sys.stderr.isatty())
    except (AttributeError, ValueError):  # a replaced or closed stream
        return True
