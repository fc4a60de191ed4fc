"""Speech emotion (A/D/V) distillation: a student learns a teacher's arousal, dominance and valence.

Training sees random fixed-length crops; scoring runs each held-out clip whole. The search and ``eeea train`` both
score on the held-out speakers (a final training reports them as ``test_*``). The objective ``1-ccc`` is
``1 - mean CCC`` over the three dimensions, CCC computed over all held-out clips at once (population moments);
held-out clips come from speakers the student never heard. Per-dimension CCCs are returned for the archive.

Data: EmoDB (the corpus zip, an extracted folder, or by default the subset embedded in the package); targets come
from the published category -> A/D/V mapping (``configs/emodb_adv.yaml``) or, with ``labels=``, from a teacher's
labels CSV (``eeea label``), matched by file stem.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..data.audio import SAMPLE_RATE, ClipSet, random_crops
from ..data.emodb import TEST_SPEAKERS, check_emodb, load_emodb
from ..errors import UserError
from ..metrics import ccc_loss, ccc_mse_loss, ccc_report
from ..teachers import CSVTeacher, predict_clips
from .base import Task, Training, register_task
from .training import Diverged

LOSSES = {"ccc": ccc_loss, "ccc+mse": ccc_mse_loss}
#: the default budget: small enough for a search on 2 CPU cores, large enough to rank students
DEFAULT_BUDGET = {"epochs": 8, "batch_size": 16, "lr": 3e-3, "weight_decay": 1e-4}


def complete_budget(budget: dict[str, Any] | None) -> dict[str, Any]:
    """``budget`` over :data:`DEFAULT_BUDGET`; UserError for an unknown key or a non-positive size."""
    full = {**DEFAULT_BUDGET, **(budget or {})}
    unknown = set(full) - set(DEFAULT_BUDGET)
    if unknown:
        raise UserError(f"ser task: unknown budget key {sorted(unknown)[0]!r} (known: {', '.join(DEFAULT_BUDGET)})")
    for key in ("epochs", "batch_size"):
        if isinstance(full[key], bool) or not isinstance(full[key], int) or full[key] < 1:
            raise UserError(f"ser task: {key} must be a positive integer, got {full[key]!r}")
    return full


@register_task("ser")
class SERTask(Task):
    objective = "1-ccc"
    input_rank = 1  # raw audio
    autocast = False  # the log-power front end wants fp32
    summary_columns = (("ccc_arousal", "CCC A"), ("ccc_dominance", "CCC D"), ("ccc_valence", "CCC V"),
                       ("ccc", "mean CCC"))
    # The default search (``eeea search --max-params 72k``) fits 15 minutes on 2 CPU cores (docs/decisions.md):
    # MACs are capped near wav2small_17k's 322M per 5 s, which bounds each candidate's training time and its latency.
    search_defaults = {
        "space": "wav2small",
        "max_params": 72_000,  # Wav2Small's size
        "max_macs": 400_000_000,  # per 5 s clip
        "population": 10,
        "generations": 3,
        "train": dict(DEFAULT_BUDGET),
        "checkpoints": True,  # front members are small trained students worth exporting
        # Two single-threaded workers: these small students gain little from intra-op threads, and two threads per
        # process on a busy 2-core machine made one candidate 4x slower (OpenMP oversubscription, decisions.md).
        "workers": 2,
        "threads": 1,
    }

    @classmethod
    def check_budget(cls, budget: dict[str, Any]) -> dict[str, Any]:
        return complete_budget(budget)

    def __init__(self, data: str | None = None, labels: str | None = None,
                 test_speakers: Sequence[str] = TEST_SPEAKERS, crop_seconds: float = 1.0, loss: str = "ccc") -> None:
        if loss not in LOSSES:
            raise UserError(f"ser task: loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if crop_seconds <= 0:
            raise UserError(f"ser task: crop_seconds must be positive, got {crop_seconds}")
        self.data, self.labels, self.loss_name = data, labels, loss
        self.test_speakers = [str(s) for s in test_speakers]
        self.crop = int(round(crop_seconds * SAMPLE_RATE))
        self.train_set: ClipSet | None = None
        self.test_set: ClipSet | None = None
        self.device = torch.device("cpu")
        self.final = False

    def check_data(self) -> None:
        check_emodb(self.data)
        if self.labels and not Path(self.labels).expanduser().is_file():
            raise UserError(f"{self.labels}: no such labels file")

    def prepare(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        clips = load_emodb(self.data)
        if self.labels:
            teacher = CSVTeacher(self.labels)
            clips.targets = teacher.predict(clips.waves, clips.names).astype(np.float32)
        self.train_set, self.test_set = clips.split_by_speaker(self.test_speakers)

    def prepare_final(self, device: torch.device, input_shape: tuple[int, ...]) -> str:
        self.prepare(device)
        assert self.test_set is not None
        self.final = True
        return f"held-out speakers {', '.join(self.test_speakers)} ({len(self.test_set)} clips)"

    def start(self, model: nn.Module, budget: dict[str, Any], seed: int, *, max_steps: int | None = None,
              amp: torch.dtype | None = None, channels_last: bool = False, compile: bool = False) -> "SERTraining":
        if self.train_set is None:
            self.prepare(self.device)
        return SERTraining(self, model, complete_budget(budget), seed, max_steps)

    def score(self, model: nn.Module) -> dict[str, float]:
        """CCC per dimension and ``1-ccc`` on the held-out speakers' whole clips (``test_*`` names after
        :meth:`prepare_final`); Diverged when the student's outputs are not finite."""
        if self.test_set is None:
            self.prepare(self.device)
        assert self.test_set is not None
        pred = predict_clips(model, self.test_set.waves, self.device)[:, :3]
        if not np.all(np.isfinite(pred)):
            raise Diverged("the student's outputs are not finite")
        report = ccc_report(pred, self.test_set.targets)
        if self.final:
            return {k if k.startswith("1-") else f"test_{k}": v for k, v in report.items()}
        return report


class SERTraining(Training):
    """AdamW with a one-cycle schedule on random crops of the training speakers' clips (CCC loss)."""

    def __init__(self, task: SERTask, model: nn.Module, budget: dict[str, Any], seed: int,
                 max_steps: int | None) -> None:
        assert task.train_set is not None
        self.task, self.budget = task, budget
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.model = model.to(task.device).train()
        self.epochs, self.batch_size = int(budget["epochs"]), int(budget["batch_size"])
        self.steps = max(1, len(task.train_set) // self.batch_size)
        if max_steps:
            self.steps = min(self.steps, max_steps)
        self.opt = torch.optim.AdamW(model.parameters(), lr=budget["lr"], weight_decay=budget["weight_decay"])
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=budget["lr"],
                                                         total_steps=self.epochs * self.steps)

    def train_epoch(self, epoch: int, progress: Any = None) -> tuple[dict[str, float], int]:
        train_set = self.task.train_set
        assert train_set is not None
        self.model.train()
        targets = torch.from_numpy(train_set.targets).to(self.task.device)
        loss_fn = LOSSES[self.task.loss_name]
        order = self.rng.permutation(len(train_set))
        total = 0.0
        for s in range(self.steps):
            index = order[s * self.batch_size : (s + 1) * self.batch_size]
            x = random_crops(train_set.waves, index, self.task.crop, self.rng).to(self.task.device)
            loss = loss_fn(self.model(x), targets[index])
            value = float(loss.detach())
            if not math.isfinite(value):
                raise Diverged(f"loss is {value}")
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.sched.step()
            total += value
            if progress is not None:
                progress.update(1)
        return {"train_loss": total / self.steps}, self.steps * self.batch_size

    def score(self) -> dict[str, float]:
        return self.task.score(self.model)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                "extra": {"crop_rng": json.dumps(self.rng.bit_generator.state)}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = json.loads(state["extra"]["crop_rng"])
