"""Speech emotion (A/D/V) distillation: a student learns a teacher's arousal, dominance and valence.

Training sees random fixed-length crops; scoring runs each held-out clip whole. The objective ``1-ccc`` is
``1 - mean CCC`` over the three dimensions, CCC computed over all held-out clips at once (population moments);
held-out clips come from speakers the student never heard. Per-dimension CCCs are returned for the archive.

Data: EmoDB (the corpus zip, an extracted folder, or by default the subset embedded in the package); targets come
from the published category -> A/D/V mapping (``configs/emodb_adv.yaml``) or, with ``labels=``, from a teacher's
labels CSV (``eeea label``), matched by file stem.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..data.audio import SAMPLE_RATE, ClipSet, random_crops
from ..data.emodb import TEST_SPEAKERS, load_emodb
from ..errors import UserError
from ..metrics import ccc_loss, ccc_mse_loss, ccc_report
from ..teachers import CSVTeacher, predict_clips
from .base import Task, register_task

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
        "task_config": {"labels": None, "test_speakers": list(TEST_SPEAKERS), "crop_seconds": 1.0, "loss": "ccc"},
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

    def prepare(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        clips = load_emodb(self.data)
        if self.labels:
            teacher = CSVTeacher(self.labels)
            clips.targets = teacher.predict(clips.waves, clips.names).astype(np.float32)
        self.train_set, self.test_set = clips.split_by_speaker(self.test_speakers)

    def steps_per_epoch(self, budget: dict[str, Any] | None, max_steps: int | None = None) -> int:
        assert self.train_set is not None
        steps = max(1, len(self.train_set) // complete_budget(budget)["batch_size"])
        return min(steps, max_steps) if max_steps else steps

    def start_training(self, model: nn.Module, budget: dict[str, Any] | None, seed: int,
                       max_steps: int | None = None) -> tuple[torch.optim.Optimizer, Any, np.random.Generator]:
        """Seed, move ``model`` to the device and return ``(optimizer, schedule, crop rng)`` for :meth:`train_epoch`;
        ``max_steps`` caps the steps per epoch (the schedule spans the capped steps)."""
        if self.train_set is None:
            self.prepare(self.device)
        b = complete_budget(budget)
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        model.to(self.device).train()
        opt = torch.optim.AdamW(model.parameters(), lr=b["lr"], weight_decay=b["weight_decay"])
        total = b["epochs"] * self.steps_per_epoch(b, max_steps)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=b["lr"], total_steps=total)
        return opt, sched, rng

    def train_epoch(self, model: nn.Module, opt: torch.optim.Optimizer, sched: Any, budget: dict[str, Any] | None,
                    rng: np.random.Generator, max_steps: int | None = None, progress: Any = None) -> float:
        """One epoch on random crops of the training speakers' clips; returns the mean loss."""
        assert self.train_set is not None
        b = complete_budget(budget)
        model.train()
        targets = torch.from_numpy(self.train_set.targets).to(self.device)
        loss_fn = LOSSES[self.loss_name]
        order = rng.permutation(len(self.train_set))
        steps = self.steps_per_epoch(b, max_steps)
        total = 0.0
        for s in range(steps):
            index = order[s * b["batch_size"] : (s + 1) * b["batch_size"]]
            x = random_crops(self.train_set.waves, index, self.crop, rng).to(self.device)
            loss = loss_fn(model(x), targets[index])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
            if progress is not None:
                progress.update(1)
        return total / steps

    def train(self, model: nn.Module, budget: dict[str, Any] | None, seed: int) -> nn.Module:
        """Train on random crops of the training speakers' clips."""
        opt, sched, rng = self.start_training(model, budget, seed)
        for _ in range(complete_budget(budget)["epochs"]):
            self.train_epoch(model, opt, sched, budget, rng)
        return model.eval()

    def score(self, model: nn.Module) -> dict[str, float]:
        """CCC per dimension and ``1-ccc`` on the held-out speakers' whole clips."""
        if self.test_set is None:
            self.prepare(self.device)
        assert self.test_set is not None
        pred = predict_clips(model, self.test_set.waves, self.device)[:, :3]
        if not np.all(np.isfinite(pred)):
            return {"1-ccc": 1.0, "ccc": 0.0, "diverged": 1.0}
        return ccc_report(pred, self.test_set.targets)

    def evaluate(self, model: nn.Module, budget: dict[str, Any], seed: int) -> dict[str, float]:
        return self.score(self.train(model, budget, seed))
