"""Shared tiny audio students for the teacher, export and SER tests (trained once per test session)."""
from __future__ import annotations

from functools import lru_cache

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

