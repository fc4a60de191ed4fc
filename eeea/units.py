"""Human units on the command line: counts (``72k``, ``3.5M``, ``600M``, ``1.2G``), durations (``2ms``) and file
sizes (``80k``, ``80KB``, ``64KiB``, ``1.5MB``)."""
from __future__ import annotations

import math
import numbers
import re
from typing import Any

from .errors import UserError

_SUFFIX = {"": 1, "k": 10**3, "K": 10**3, "m": 10**6, "M": 10**6, "g": 10**9, "G": 10**9}
_NUMBER = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e([+-]?[0-9]+))?\s*([kKmMgG]?)\s*$")


def parse_count(text: str | int | float, what: str = "value") -> int:
    """Parse ``'72k'`` -> 72000, ``'3.5M'`` -> 3500000; plain numbers pass through. Raises UserError."""
    return int(round(_parse(text, what, _NUMBER, _SUFFIX, "a number like 72k or 3.5M", "number")))


def _parse(text: str | int | float, what: str, pattern: re.Pattern, scales: dict[str, float], like: str,
           noun: str) -> float:
    """A number with a unit suffix of ``scales`` (``pattern`` captures mantissa, exponent, suffix); bare numbers
    pass through. Raises UserError naming ``what``."""
    if isinstance(text, bool):
        raise UserError(f"{what}: {text!r} is not {like}")
    if isinstance(text, (int, float)):
        try:
            value = float(text)
        except OverflowError:  # an integer beyond any float
            value = float("inf")
    else:
        m = pattern.match(str(text).replace("_", ""))
        if not m:
            raise UserError(f"{what}: {text!r} is not {like}")
        # parsed as one float: an exponent like e999 gives inf (refused below), never a huge integer power
        value = float(f"{m.group(1)}e{m.group(2) or 0}") * scales[m.group(3)]
    if value < 0 or value != value or value == float("inf"):
        raise UserError(f"{what}: {text!r} must be a finite {noun} >= 0")
    return value


def format_count(n: float, digits: int = 3) -> str:
    """Short human form: 1769230 -> '1.77M', 10806 -> '10.8k', 0.5 -> '0.5'."""
    n = float(n)
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.{digits}g}{suffix}"
    return f"{n:.{digits}g}"


def format_number(v: Any, decimals: int = 4) -> str:
    """A figure as logs and tables print it: integers with grouped digits (``3,688,530``), other numbers with
    ``decimals`` fixed decimals (``0.1234``), never in scientific notation; anything else as ``str``."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return str(v)
    if isinstance(v, numbers.Integral):  # int, numpy integers
        return f"{int(v):,}"
    v = float(v)
    return f"{v:,.{decimals}f}" if math.isfinite(v) else str(v)


def format_fields(values: dict[str, Any], decimals: dict[str, int] | None = None, sep: str = " ") -> str:
    """``key=value`` pairs with :func:`format_number` (``decimals`` per key where the default 4 do not fit)."""
    decimals = decimals or {}
    return sep.join(f"{k}={format_number(v, decimals.get(k, 4))}" for k, v in values.items())


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e([+-]?[0-9]+))?\s*(us|µs|ms|s)\s*$")
_DURATION_SCALE = {"us": 1.0, "µs": 1.0, "ms": 1e3, "s": 1e6}


def parse_duration(text: str | int | float, what: str = "value") -> float:
    """Parse ``'2ms'`` -> 2000.0 microseconds (units us, µs, ms, s; a bare number is microseconds). Raises UserError."""
    return _parse(text, what, _DURATION, _DURATION_SCALE, "a duration like 500us, 2ms or 0.1s", "duration")


def format_duration(us: float) -> str:
    """Short human form of microseconds: 850.2 -> '850us', 2345 -> '2.35ms', 1.5e6 -> '1.5s'."""
    for suffix, scale in (("s", 1e6), ("ms", 1e3)):
        if abs(us) >= scale:
            return f"{us / scale:.3g}{suffix}"
    return f"{us:.3g}us"


def check_number(name: str, value: Any, *, integer: bool = False, minimum: float | None = None,
                 maximum: float | None = None, above: float | None = None) -> Any:
    """``value`` if it is a finite number (an integer when ``integer``) with ``minimum <= value <= maximum`` and
    ``value > above``; otherwise one :class:`UserError` line naming ``name`` (a flag or a config key) and the bound
    it breaks (all of them for a value that is no number at all)."""
    kind = "an integer" if integer else "a number"
    low = [f">= {_bound(minimum)}"] if minimum is not None else []
    low += [f"> {_bound(above)}"] if above is not None else []
    high = [f"<= {_bound(maximum)}"] if maximum is not None else []
    ok_type = (isinstance(value, int) if integer else isinstance(value, (int, float))) and not isinstance(value, bool)
    if not ok_type or (isinstance(value, float) and not math.isfinite(value)):
        broken = low + high
    elif (minimum is not None and value < minimum) or (above is not None and value <= above):
        broken = low
    elif maximum is not None and value > maximum:
        broken = high
    else:
        return value
    raise UserError(f"{name}: must be {kind}" + (" " + " and ".join(broken) if broken else "") + f", got {value!r}")


def _bound(v: float) -> str:
    """A bound as a person reads it: whole numbers in full with grouped digits (``4,294,967,295``)."""
    return f"{int(v):,}" if float(v).is_integer() and abs(v) < 1e16 else f"{v:g}"


_BYTES = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e([+-]?[0-9]+))?\s*([kKmMgG]?i?)[bB]?\s*$")
_BYTES_SCALE = {"": 1, "k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "g": 1e9, "G": 1e9,
                "ki": 2**10, "Ki": 2**10, "mi": 2**20, "Mi": 2**20, "gi": 2**30, "Gi": 2**30}


def parse_bytes(text: str | int | float, what: str = "value") -> int:
    """Parse a file size: ``'80k'``, ``'80KB'`` and ``'80 kB'`` -> 80000 (decimal, as counts are), ``'64KiB'`` ->
    65536, ``'1.5MB'`` -> 1500000; a bare number is bytes. Raises UserError."""
    return int(round(_parse(text, what, _BYTES, _BYTES_SCALE, "a size like 80k, 80KB or 64KiB", "size")))


def format_bytes(n: float) -> str:
    """Short human form of a file size (decimal units): 80000 -> '80 KB', 1500000 -> '1.5 MB', 512 -> '512 B'."""
    for suffix, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {suffix}"
    return f"{n:.0f} B"
