"""Checkpoints: a trained network as a directory that people and tools can read.

``DIR/genome.yaml``  the genome file (``eeea show DIR/genome.yaml`` works), with ``meta.size`` (the size it was built
                     at) and any other facts (task, metrics) under ``meta``;
``DIR/weights.pt``   the state dict (``torch.save``), always read back with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import errno
import pickle
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn

from .errors import UserError
from .files import read_mapping
from .genome import Genome
from .atomic import atomic_write
from .runtime import check_memory

GENOME_FILE = "genome.yaml"
WEIGHTS_FILE = "weights.pt"


def is_checkpoint(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and (path / GENOME_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def save_checkpoint(path: str | Path, genome: Genome, model: nn.Module, size: Mapping[str, Any],
                    meta: Mapping[str, Any] | None = None, force: bool = False,
                    record: Callable[[str, Path], None] | None = None) -> Path:
    """Write ``genome.yaml`` and ``weights.pt`` into directory ``path`` (refusing to replace a checkpoint unless force).
    ``record(name, tmp)`` sees each file complete just before it takes its place (a run's ledger records it ahead)."""
    path = Path(path)
    if is_checkpoint(path) and not force:
        raise UserError(f"{path} already holds a checkpoint; pass --force to overwrite it")
    path.mkdir(parents=True, exist_ok=True)
    # weights first, each file atomically: a failure (a full disk) leaves no truncated weights.pt behind, and a
    # directory is a checkpoint only once its genome.yaml is there too
    text = genome.file_text(meta={**(meta or {}), "size": dict(size)})
    for name, fill in ((WEIGHTS_FILE, lambda tmp: _save_state_dict(model, tmp)),
                       (GENOME_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))):
        atomic_write(path / name, fill, before_replace=(lambda tmp, name=name: record(name, tmp)) if record else None)
    return path


def _save_state_dict(model: nn.Module, path: Path) -> None:
    try:
        torch.save(model.state_dict(), path)
    except RuntimeError as e:  # torch reports a failed write (a full disk) as a RuntimeError: it is an I/O error
        raise OSError(errno.EIO, f"writing {path.name} failed ({str(e).strip().splitlines()[-1][:120]})") from None


def checkpoint_size(path: Path) -> dict[str, Any]:
    """The size a checkpoint's weights were built at (``meta.size`` of its genome file), checked for shape only."""
    meta = read_mapping(path / GENOME_FILE, "checkpoint genome").get("meta") or {}
    if not isinstance(meta, dict):
        raise UserError(f"{path / GENOME_FILE}: meta must be a mapping (size, task, figures)")
    size = meta.get("size") or {}
    if not isinstance(size, dict):
        raise UserError(f"{path / GENOME_FILE}: meta.size must be a mapping of size options")
    return dict(size)


def load_checkpoint(path: str | Path) -> tuple[Genome, dict[str, Any], nn.Module]:
    """``(genome, size, model)`` with the weights loaded, in eval mode."""
    from .spaces import get_space

    path = Path(path)
    if not is_checkpoint(path):
        raise UserError(f"{path} is not a checkpoint (a directory with {GENOME_FILE} and {WEIGHTS_FILE})")
    genome = Genome.load(path / GENOME_FILE)
    size = checkpoint_size(path)
    space = get_space(genome.space)
    genome = space.validate(genome)
    space.check_memory(genome, **size)  # a size the file claims is checked before anything is allocated
    model = space.build(genome, **size)
    check_memory((path / WEIGHTS_FILE).stat().st_size, f"reading {path / WEIGHTS_FILE}")
    try:
        with warnings.catch_warnings():  # torch's notes on a foreign pickle: the refusal below says it in one line
            warnings.simplefilter("ignore")
            state = torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except pickle.UnpicklingError:  # torch's tensors-only unpickler stopped: damaged, or a pickle that runs code
        raise UserError(f"{path / WEIGHTS_FILE}: not a plain state dict of tensors; refused without running any of "
                        "it (a damaged file, or a pickle that could run code)") from None
    except (RuntimeError, OSError, ValueError, EOFError) as e:
        detail = (str(e).splitlines() or [f"{type(e).__name__}: empty or cut short"])[0][:200]
        raise UserError(f"{path / WEIGHTS_FILE}: weights do not fit the genome ({detail})") from None
    return genome, size, model.eval()
