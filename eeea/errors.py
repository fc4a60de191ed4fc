"""The one exception type that user-facing code raises for bad input: the CLI prints it as one line, exit code 2."""
from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (a flag, a file, a genome): the message alone says what is wrong."""


class GenomeError(UserError, ValueError):
    """A genome that its space cannot accept; the message names the offending field."""


class RunStopped(UserError):
    """A run stopped for a cause outside it (its Ray cluster was lost): what finished is kept, and the CLI adds the
    ``--resume`` line of the run to the message."""
