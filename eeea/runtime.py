"""Where and how torch runs: the device (``auto``, ``cpu``, ``cuda[:N]``) and the number of CPU threads."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch

from .choices import AMP
from .errors import UserError


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available on this machine (use cpu or auto)")
    try:
        return torch.device(device)
    except RuntimeError:
        raise UserError(f"--device: {device!r} is not auto, cpu or cuda[:N]") from None


def candidate_threads(threads: int | None) -> int:
    """Torch CPU threads per candidate: 1 unless asked. The same number in every executor, because the thread count
    changes the order of floating-point sums on the CPU and hence the last bits of a result; use ``--workers N``
    (processes) rather than threads to use N cores."""
    if threads is None:
        return 1
    if threads < 1:
        raise UserError(f"--threads: must be at least 1, got {threads}")
    return int(threads)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` torch CPU threads, restoring the caller's setting afterwards."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


_AMP_DTYPES = {"bf16": torch.bfloat16, "none": None}


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of an :data:`AMP` choice on ``device``."""
    if amp not in AMP:
        raise UserError(f"--amp: {amp!r} is not one of {', '.join(AMP)}")
    if amp == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return _AMP_DTYPES[amp]


@dataclass(frozen=True)
class Levers:
    """The resolved speed levers of a training: autocast dtype, channels_last layout, ``torch.compile``."""

    amp: torch.dtype | None = None
    channels_last: bool = False
    compile: bool = False

    def options(self) -> dict[str, Any]:
        """The keyword arguments of ``Task.start``."""
        return {"amp": self.amp, "channels_last": self.channels_last, "compile": self.compile}

    def describe(self) -> str:
        """One word per lever in use (``fp32`` when none), e.g. ``bf16+channels_last``."""
        words = [str(self.amp).replace("torch.bfloat", "bf")] if self.amp is not None else []
        words += ["channels_last"] * self.channels_last + ["compile"] * self.compile
        return "+".join(words) or "fp32"


def resolve_levers(amp: str, channels_last: bool | None, compile: bool, device: torch.device,
                   autocast: bool = True) -> Levers:
    """The levers of an ``--amp`` choice (:data:`AMP`), ``--channels-last`` (None: on for CUDA, off on the CPU) and
    ``--compile`` on ``device``; a task that must not autocast (``autocast=False``) never does."""
    dtype = resolve_amp(amp, device)
    cuda = device.type == "cuda"
    return Levers(dtype if autocast else None, cuda if channels_last is None else bool(channels_last), bool(compile))


def trim_heap() -> None:
    """Return glibc's free heap pages to the system (``malloc_trim``): after a large temporary (a traced network, a
    runtime session) a process otherwise keeps its peak for good. Nothing on other C libraries."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def release_memory(device: torch.device | None = None) -> None:
    """Give memory freed by a finished candidate back: collect cycles, return glibc's free heap pages to the system
    (``malloc_trim``; a long-lived worker otherwise keeps its peak), and empty CUDA's cache on a GPU."""
    import gc

    gc.collect()
    trim_heap()
    if device is not None and device.type == "cuda":
        torch.cuda.empty_cache()


def available_memory() -> int:
    """Bytes of memory this process may still take: the kernel's estimate of available memory (``MemAvailable``),
    capped by the cgroup's limit (a container), or the free pages where neither is known."""
    available = None
    try:
        for line in open("/proc/meminfo", encoding="ascii"):
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return 1 << 62  # unknown: no refusal on that ground
    try:
        limit = open("/sys/fs/cgroup/memory.max", encoding="ascii").read().strip()
        used = int(open("/sys/fs/cgroup/memory.current", encoding="ascii").read().strip())
        if limit != "max":
            available = min(available, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(available, 0)


def check_memory(nbytes: float, what: str) -> None:
    """Refuse (one line) a request for ``nbytes`` of memory that this machine does not have, before allocating it:
    a size like ``--channels 100000000`` is a line, not a minute of swapping and a traceback."""
    available = available_memory()
    if nbytes > available:
        from .units import format_count

        raise UserError(f"{what} needs at least {format_count(nbytes)}B of memory; {format_count(available)}B are "
                        f"available here: pick a smaller size")
