"""Shared tiny audio students for the teacher, export and SER tests (trained once per test session)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
import torch

from eeea import Genome, get_space

TINY = Genome("wav2small", {"mels": 20, "hop": 64, "channels": [8, 8], "kernels": [3, 3], "pool": [1, 0],
                            "head": "attention_gram"})


@lru_cache(maxsize=None)
def ser_task():
    from eeea.tasks import get_task

    task = get_task("ser", crop_seconds=0.5)
    task.prepare("cpu")
    return task


@lru_cache(maxsize=None)
def trained_tiny() -> torch.nn.Module:
    """A tiny student trained briefly on the embedded EmoDB subset: its outputs vary with the clip."""
    torch.manual_seed(0)
    model = get_space("wav2small").build(TINY)
    return ser_task().train(model, {"epochs": 10, "batch_size": 16, "lr": 1e-2}, seed=0)


@pytest.fixture(scope="session")
def emodb_zip() -> Path:
    """The full EmoDB zip of the shared data folder beside the project (tests only; the package never reads it)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "emodb.zip"
    if not path.is_file():
        pytest.skip(f"{path} is not beside the project")
    return path
