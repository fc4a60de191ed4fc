"""What the fuzz harness (test_fuzz.py) and the reliability tests share: running eeea in-process on a command line
that must be refused, and the checks every refusal passes.

A refusal is: exit code 2, exactly one line ``eeea: error: ...`` on stderr, no traceback, nothing under the case's
folder changed or added (SHA-256 of every file; no run folder left behind), and at most :data:`MAX_CPU_S` seconds of
CPU after start-up. CPU seconds rather than wall-clock ones: the machines that run the tests are shared, and a load of
ten stretches wall time without telling anything about eeea.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from eeea.cli import main

#: CPU seconds a refusal may take after start-up (the issue's "done in <= 5 s")
MAX_CPU_S = 5.0
#: a genome file nested this deep is refused by the reader layer (eeea.files.MAX_DEPTH is 64)
DEEP = 100


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``: a SHA-256 per file, "dir" per folder. eeea's lock files are left out
    (a refused resume takes the run's lock, writing its pid, and gives it back)."""
    out = {}
    for p in sorted(_walk(root)):
        if p.name == ".eeea-lock":
            continue
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = "link"
        elif p.is_file():
            try:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            except PermissionError:  # a file a test made unreadable: its size and time stand for its content
                st = p.stat()
                out[rel] = f"unreadable {st.st_size} {st.st_mtime_ns}"
        else:
            out[rel] = "dir"
    return out


def _walk(root: Path) -> list[Path]:
    """Everything under ``root``, unreadable folders included (listed, not entered)."""
    found = []
    for folder, dirs, files in os.walk(root):
        found += [Path(folder) / name for name in dirs + files]
    return found


def refused(argv: list[str], root: Path, expect: str = "") -> str:
    """Run ``eeea ARGV`` in-process with ``root`` as the working folder and assert it is a clean refusal (see the
    module docstring); ``expect`` must appear in the error line. Returns the line."""
    before = snapshot(root)
    out, err = io.StringIO(), io.StringIO()
    cpu = time.process_time()
    with contextlib.chdir(root), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    took = time.process_time() - cpu
    lines = err.getvalue().strip().splitlines()
    assert code == 2, (argv, code, err.getvalue()[-2000:], out.getvalue()[-500:])
    assert len(lines) == 1 and lines[0].startswith("eeea: error: "), (argv, err.getvalue()[-2000:])
    assert "Traceback" not in err.getvalue() + out.getvalue(), argv
    assert expect in lines[0], (argv, lines[0])
    after = snapshot(root)
    assert after == before, (argv, lines[0], {k: after.get(k) for k in set(after) ^ set(before)},
                             [k for k in before if k in after and before[k] != after[k]])
    assert took <= MAX_CPU_S, (argv, f"{took:.1f} CPU s")
    return lines[0]


def nested(depth: int, leaf: object = 1) -> object:
    """A list nested ``depth`` levels deep."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# fixtures' files -----------------------------------------------------------------------------------------------------
def macro_table(path: Path) -> Path:
    """A NAS-Bench-Macro table of the whole space (6,561 networks) with made-up but valid accuracies."""
    table = {}
    for digits in itertools.product(range(3), repeat=8):
        key = "".join(map(str, digits))
        acc = 80.0 + (int(hashlib.sha256(key.encode()).hexdigest()[:6], 16) % 1500) / 100
        table[key] = {"test_acc": [acc, acc, acc], "mean_acc": acc, "std": 0.0, "params": 1000, "flops": 2000}
    path.write_text(json.dumps(table))
    return path


def nb201_rows(n: int = 4) -> list[str]:
    """Valid rows of a NAS-Bench-201 CSV (cell strings of real genomes) with the header first."""
    from eeea.spaces import get_space

    space = get_space("nb201")
    rng = np.random.default_rng(0)
    rows = ["arch,cifar10_valid_12ep,cifar10_test_12ep"]
    for i in range(n):
        name = space.benchmark_name(space.decode(space.sample(rng)))
        rows.append(f"{name},{80 + i},{81 + i}")
    return rows


def audio_dir(path: Path, n: int = 2) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sf.write(str(path / f"clip{i}.wav"), 0.1 * np.sin(np.arange(4000, dtype=np.float32) / (3.0 + i)), 16000)
    return path


def checkpoint(path: Path, arch: str, **size: object) -> Path:
    """A checkpoint of zoo genome ``arch`` with random weights at ``size``."""
    from eeea.checkpoint import save_checkpoint
    from eeea.spaces import get_space
    from eeea.zoo import resolve

    genome, default = resolve(arch)
    space = get_space(genome.space)
    full = space.size(**{**default, **size})
    return save_checkpoint(path, genome, space.build(genome, **full), full)
