"""Typed, bounded values of flags and config keys: one rule per option, used by argparse (``type=``) and by the
config checks alike, so ``--seed -1`` and ``seed: -1`` in a ``--config`` file are refused with the same line.

Light on purpose (no torch, no numpy): the command line builds its parser from it before anything heavy loads.
"""
from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from typing import Any, Callable

from .errors import UserError
from .units import check_number, parse_bytes, parse_count, parse_duration

#: the largest integer a flag takes where nothing smaller is meant (an int32: torch and numpy take it everywhere)
INT_MAX = 2**31 - 1
#: seeds: numpy's legacy generators (and pymoo through them) take 32 bits
SEED_MAX = 2**32 - 1
#: thresholds in counts (params, MACs): far beyond any network, far below where a float loses whole numbers
COUNT_MAX = 10**15
#: thresholds in time: an hour per inference is no threshold on a network's latency
DURATION_MAX_US = 3600e6


@dataclass(frozen=True)
class Bound:
    """A number's type and range: an integer or a finite float, ``minimum <= v <= maximum`` and ``v > above``."""

    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None

    def check(self, name: str, value: Any) -> Any:
        """``value`` when it fits, else one :class:`UserError` line naming ``name`` (a flag or a config key)."""
        maximum = self.maximum if self.maximum is not None else (INT_MAX if self.integer else None)
        return check_number(name, value, integer=self.integer, minimum=self.minimum, maximum=maximum,
                            above=self.above)

    def parse(self, name: str, text: str) -> int | float:
        """The number written in ``text`` (a flag's argument), checked."""
        try:
            value: int | float = int(text.strip()) if self.integer else float(text)
        except (ValueError, OverflowError):
            kind = "an integer" if self.integer else "a number"
            raise UserError(f"{name}: {text!r} is not {kind}") from None
        return self.check(name, value)


POSITIVE = Bound(integer=True, minimum=1)
NON_NEGATIVE = Bound(integer=True, minimum=0)
SEED = Bound(integer=True, minimum=0, maximum=SEED_MAX)
PROBABILITY = Bound(minimum=0, maximum=1)
POSITIVE_FLOAT = Bound(above=0)
NON_NEGATIVE_FLOAT = Bound(minimum=0)
#: resources per Ray candidate: a share of a machine, never thousands of them
CPUS = Bound(above=0, maximum=4096)
GPUS = Bound(minimum=0, maximum=4096)
#: a population or a round of candidates: every member is held in memory at once
POPULATION = Bound(integer=True, minimum=2, maximum=10**6)
WORKERS = Bound(integer=True, minimum=1, maximum=4096)
#: a clip length in seconds (an hour of audio is 57.6 M samples: anything longer is not one training crop)
SECONDS = Bound(above=0, maximum=3600)


def flag(name: str, bound: Bound) -> Callable[[str], int | float]:
    """argparse ``type=`` of a bounded number flag (its error names the flag once, in one line)."""
    return _argparse_type(lambda text: bound.parse(name, text))


def count_flag(name: str) -> Callable[[str], int]:
    """argparse type for human counts (``72k``, ``3.5M``), at most :data:`COUNT_MAX`."""
    return _argparse_type(lambda text: check_count(name, text))


def bytes_flag(name: str) -> Callable[[str], int]:
    """argparse type for file sizes (``80k``, ``80KB``, ``64KiB``), at most :data:`COUNT_MAX` bytes."""
    return _argparse_type(lambda text: check_bytes(name, text))


def duration_flag(name: str) -> Callable[[str], float]:
    """argparse type for durations (``2ms``, ``500us``), in microseconds, at most an hour."""
    return _argparse_type(lambda text: check_duration(name, text))


def holdout_flag(text: str) -> float | int:
    """argparse type of ``--holdout``: a fraction in (0, 1) or a whole count >= 1."""
    return _argparse_type(lambda t: check_holdout(_number(t, "--holdout")))(text)


def check_count(name: str, value: Any) -> int:
    """A human count (``72k``) or number, whole, within :data:`COUNT_MAX`."""
    count = parse_count(value, name)
    if count > COUNT_MAX:
        raise UserError(f"{name}: {value!r} is more than {COUNT_MAX:.0e}")
    return count


def check_bytes(name: str, value: Any) -> int:
    """A file size (``80KB``) or number of bytes, whole, within :data:`COUNT_MAX`."""
    size = parse_bytes(value, name)
    if size > COUNT_MAX:
        raise UserError(f"{name}: {value!r} is more than {COUNT_MAX:.0e} bytes")
    return size


def check_duration(name: str, value: Any) -> float:
    """A duration (``2ms``) in microseconds, within an hour."""
    us = parse_duration(value, name)
    if us > DURATION_MAX_US:
        raise UserError(f"{name}: {value!r} is more than an hour")
    return us


def check_holdout(holdout: Any) -> float | int:
    """``holdout`` if it is a fraction in (0, 1) or a whole count >= 1; otherwise one line (``--holdout 1.5``).
    Zero is refused: "hold nothing out" would leave no split to report."""
    ok = not isinstance(holdout, bool) and isinstance(holdout, (int, float)) and math.isfinite(holdout) and (
        0 < holdout < 1 or (holdout >= 1 and float(holdout).is_integer() and holdout < 2**53))
    if not ok:
        raise UserError(f"--holdout: must be a fraction between 0 and 1 or a whole count of images, got {holdout!r}")
    return int(holdout) if holdout >= 1 else holdout


def check_mapping(name: str, value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping with text keys (a config section), else one line naming ``name``."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise UserError(f"{name}: expected a mapping of options (key: value), got {_shown(value)}")
    return value


def check_text(name: str, value: Any, optional: bool = True) -> Any:
    """``value`` when it is text (or None when ``optional``); a number or a list is one line naming ``name``."""
    if (value is None and optional) or isinstance(value, str):
        return value
    raise UserError(f"{name}: expected text, got {_shown(value)}")


def check_path(name: str, value: Any, optional: bool = True) -> Any:
    """``value`` when it is a path (text or ``os.PathLike``; None when ``optional``)."""
    if isinstance(value, os.PathLike):
        return value
    return check_text(name, value, optional)


def check_flag(name: str, value: Any, optional: bool = False) -> Any:
    """``value`` when it is true or false (or None when ``optional``)."""
    if isinstance(value, bool) or (value is None and optional):
        return value
    raise UserError(f"{name}: must be true or false{' or null' if optional else ''}, got {_shown(value)}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(text: str, name: str) -> float | int:
    try:
        return int(text) if text.strip().lstrip("+").isdigit() else float(text)
    except (ValueError, OverflowError):
        raise UserError(f"{name}: {text!r} is not a number") from None


def _argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type: a :class:`UserError` becomes argparse's error (argparse adds the flag's name itself)."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except UserError as e:
            raise argparse.ArgumentTypeError(str(e).split(": ", 1)[-1]) from None

    return convert
