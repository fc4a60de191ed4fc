"""Speech emotion (A/D/V) distillation: a student learns a teacher's (or annotators') arousal, dominance, valence.

Training sees random fixed-length crops; scoring runs each clip whole. The data split three ways
(:mod:`eeea.data.splits`): a search trains on the training part and selects on the *validation* part (optionally k
folds by speaker: each candidate trained k times, the mean is the objective, the spread archived as ``ccc_std``);
``eeea train`` trains on training + validation and reports the *test* part (``test_*``), which no search reads.
The objective ``1-ccc`` is ``1 - mean CCC`` over the dimensions the labels hold, CCC computed over all scored clips
at once (population moments). Per-dimension CCCs are returned for the archive.

Data: EmoDB (the corpus zip, an extracted folder, or by default the subset embedded in the package) with the published
category -> A/D/V mapping (``configs/emodb_adv.yaml``); or, with ``labels=``, any corpus: the clips a labels CSV lists
under ``data`` (a folder or zip; the embedded EmoDB subset when not given), see :mod:`eeea.data.corpus`.
"""
from __future__ import annotations

import copy
import json
import math
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..data.audio import SAMPLE_RATE, ClipSet, random_crops
from ..data.corpus import Corpus, label_dims, load_corpus
from ..data.emodb import TEST_SPEAKERS, VALID_SPEAKERS, embedded_path, emodb_corpus, is_emodb, parse_name
from ..data.splits import Split, folds, three_way
from ..errors import UserError
from ..metrics import DIMENSIONS, ccc_loss, ccc_mean_loss, ccc_mse_loss, ccc_report
from ..teachers import predict_clips
from ..runtime import Levers
from ..units import check_number
from .base import Task, Training, register_task
from .training import Diverged

LOSSES = {"ccc+mean": ccc_mean_loss, "ccc": ccc_loss, "ccc+mse": ccc_mse_loss}
#: the default budget: small enough for a search on 2 CPU cores, large enough to rank students. ``clips_per_epoch``:
#: an epoch trains on at most this many clips (a fresh random draw each epoch, rounded down to whole batches);
#: None = every training clip
DEFAULT_BUDGET = {"epochs": 8, "batch_size": 16, "lr": 3e-3, "weight_decay": 1e-4, "clips_per_epoch": None}
#: the search's clip budget per epoch: a candidate's cost stops growing with the corpus past this many training clips
#: (EmoDB's 241 stay whole; a 2,000-clip corpus's ~1,400 are sampled). 256, not 512: it brings the default search on
#: 2,000 clips within 15 min on 2 cores (docs/decisions.md, 2026-12-03)
SEARCH_CLIPS_PER_EPOCH = 256


def complete_budget(budget: dict[str, Any] | None) -> dict[str, Any]:
    """``budget`` over :data:`DEFAULT_BUDGET`; UserError for an unknown key or a non-positive size."""
    full = {**DEFAULT_BUDGET, **(budget or {})}
    unknown = set(full) - set(DEFAULT_BUDGET)
    if unknown:
        raise UserError(f"ser task: unknown budget key {sorted(unknown)[0]!r} (known: {', '.join(DEFAULT_BUDGET)})")
    for key in ("epochs", "batch_size", "clips_per_epoch"):
        if key == "clips_per_epoch" and full[key] in (None, 0):
            full[key] = None  # 0 on the command line: every clip
            continue
        if isinstance(full[key], bool) or not isinstance(full[key], int) or full[key] < 1:
            raise UserError(f"ser task: {key} must be a positive integer, got {full[key]!r}")
    check_number("ser task: lr", full["lr"], above=0)
    check_number("ser task: weight_decay", full["weight_decay"], minimum=0)
    return full


@register_task("ser")
class SERTask(Task):
    objective = "1-ccc"
    input_rank = 1  # raw audio
    autocast = False  # the log-power front end wants fp32
    summary_columns = (("ccc_arousal", "valid CCC A"), ("ccc_dominance", "valid CCC D"),
                       ("ccc_valence", "valid CCC V"), ("ccc", "valid mean CCC"), ("ccc_std", "sd over folds"))
    # The default search (``eeea search --max-params 72k``) fits 15 minutes on 2 CPU cores (docs/decisions.md).
    # audio_union (wav2small + mobilenet_audio) with wav2small_17k in the first population: mobilenet_audio alone
    # beat wav2small_17k on EmoDB but lost to it on another corpus, so the front now holds the public layout or a
    # student that beats it on validation (docs/decisions.md). MACs stay capped near wav2small_17k's 322M per 5 s
    # (no mobilenet_audio student of 72K params reaches it; it bounds the wav2small members' training time).
    search_defaults = {
        "space": "audio_union",
        "max_params": 72_000,  # Wav2Small's size
        "max_macs": 400_000_000,  # per 5 s clip
        "max_model_bytes": 80_000,  # the int8 ONNX file, as Wav2Small's card suggests (every front member meets it)
        "initial_genomes": ["wav2small_17k"],  # the public layout: a searched student must beat it to lead
        "population": 10,
        "generations": 3,
        "train": {**DEFAULT_BUDGET, "clips_per_epoch": SEARCH_CLIPS_PER_EPOCH},
        "checkpoints": True,  # front members are small trained students worth exporting
        # Two single-threaded workers: these small students gain little from intra-op threads, and two threads per
        # process on a busy 2-core machine made one candidate 4x slower (OpenMP oversubscription, decisions.md).
        "workers": 2,
        "threads": 1,
    }

    search_legacy = {**Task.search_legacy, "train": {"clips_per_epoch": None}}

    @classmethod
    def check_budget(cls, budget: dict[str, Any]) -> dict[str, Any]:
        return complete_budget(budget)

    def __init__(self, data: str | None = None, labels: str | None = None,
                 test_speakers: Sequence[str] | None = None, valid_speakers: Sequence[str] | None = None,
                 folds: int = 1, split_seed: int = 0, crop_seconds: float = 1.0, loss: str = "ccc+mean") -> None:
        """``data``: EmoDB zip/folder, or with ``labels`` (a labels CSV) the root its paths are relative to;
        ``test_speakers`` / ``valid_speakers``: held-out speakers (default: EmoDB's fixed ones on EmoDB, else
        whole speakers drawn until each part holds ~15 % of the clips, :mod:`eeea.data.splits`); ``folds``: k > 1
        scores a search candidate by k-fold cross-validation over the training and validation speakers;
        ``split_seed``: seed of drawn splits and folds; ``loss``: ``ccc+mean`` (default: 1 - CCC held at the
        targets' mean, :func:`~eeea.metrics.ccc_mean_loss`), ``ccc`` alone (can stall a student at CCC 0) or
        ``ccc+mse``."""
        if loss not in LOSSES:
            raise UserError(f"ser task: loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if crop_seconds <= 0:
            raise UserError(f"ser task: crop_seconds must be positive, got {crop_seconds}")
        if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
            raise UserError(f"ser task: folds must be a positive integer, got {folds!r}")
        self.data, self.labels, self.loss_name = data, labels, loss
        self.test_speakers = _speakers(test_speakers)
        self.valid_speakers = _speakers(valid_speakers)
        self.folds, self.split_seed = folds, int(split_seed)
        self.crop = int(round(crop_seconds * SAMPLE_RATE))
        self.dims: tuple[str, ...] = label_dims(labels) if labels else DIMENSIONS
        self.corpus: Corpus | None = None
        self.split: Split | None = None
        self.train_set: ClipSet | None = None
        self.test_set: ClipSet | None = None  # the part scored: validation in a search, test after prepare_final
        self.fold_sets: list[tuple[ClipSet, ClipSet]] = []
        self.device = torch.device("cpu")
        self.final = False

    def size_overrides(self) -> dict[str, Any]:
        """One output per dimension the labels hold."""
        return {"outputs": len(self.dims)}

    def load(self) -> Corpus:
        """Read the corpus (once) and split it; UserError for unreadable files or bad labels."""
        if self.corpus is None:
            if self.labels:
                root = self.data if self.data is not None else embedded_path()
                self.corpus = load_corpus(root, self.labels, speaker_of=lambda m: (parse_name(m) or (None,))[0])
            else:
                self.corpus = emodb_corpus(self.data)
            # EmoDB's fixed speakers only for EmoDB: another corpus's speakers 03, 08, 16 are other people
            fixed = (TEST_SPEAKERS, VALID_SPEAKERS) if is_emodb(self.corpus.clips) else None
            self.split = three_way(self.corpus.clips, self.test_speakers, self.valid_speakers, self.split_seed, fixed)
        return self.corpus

    def check_data(self) -> list[str]:
        """The corpus's notes (clips skipped), then the split: how it was made, each part's share of the clips and
        speakers, and a warning per part too small to score on (or for a split that mixes speakers)."""
        corpus = self.load()
        assert self.split is not None
        lines = self.split.report()
        if self.folds > 1:
            lines[0] += f"; search score: mean of {self.folds} folds by speaker over train + valid"
        return corpus.notes() + lines

    def data_record(self) -> dict[str, Any]:
        """The split: how it was made and each part's clips and speakers (a run's state.json keeps it)."""
        self.load()
        assert self.split is not None
        return {"split": self.split.to_dict()}

    def prepare(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        clips = self.load().clips
        assert self.split is not None
        self.train_set, self.test_set = clips.subset(self.split.train), clips.subset(self.split.valid)
        if self.folds > 1:
            pool = sorted(self.split.train + self.split.valid)
            self.fold_sets = [(clips.subset(t), clips.subset(v))
                              for t, v in folds(clips, pool, self.folds, self.split_seed)]

    def prepare_final(self, device: torch.device, input_shape: tuple[int, ...]) -> str:
        self.device = torch.device(device)
        clips = self.load().clips
        assert self.split is not None
        self.train_set = clips.subset(sorted(self.split.train + self.split.valid))
        self.test_set = clips.subset(self.split.test)
        self.final = True
        return f"test part ({len(self.test_set)} clips) of the {self.split.how}; trained on train + valid"

    def start(self, model: nn.Module, budget: dict[str, Any], seed: int, *, max_steps: int | None = None,
              amp: torch.dtype | None = None, channels_last: bool = False, compile: bool = False) -> "SERTraining":
        if self.train_set is None:
            self.prepare(self.device)
        assert self.train_set is not None and self.test_set is not None
        return SERTraining(self, model, complete_budget(budget), seed, max_steps, self.train_set, self.test_set)

    def evaluate(self, model: nn.Module, budget: dict[str, Any], seed: int,
                 levers: Levers = Levers()) -> dict[str, float]:
        """As :meth:`Task.evaluate` (SER never autocasts: no lever applies); with ``folds`` > 1 (a search), the mean over folds of every figure, and the
        spread of the mean CCC over folds as ``ccc_std``. ``model`` ends with the first fold's weights."""
        if self.train_set is None:
            self.prepare(self.device)
        if self.folds <= 1 or self.final:
            return super().evaluate(model, budget, seed, levers)
        initial = copy.deepcopy(model.state_dict())
        reports = []
        for train, valid in reversed(self.fold_sets):
            model.load_state_dict(initial)
            training = SERTraining(self, model, complete_budget(budget), seed, None, train, valid)
            for epoch in range(training.epochs):
                metrics, _ = training.train_epoch(epoch)
            reports.append({**training.score(), "train_loss": metrics["train_loss"]})
        out = {k: float(np.mean([r[k] for r in reports])) for k in reports[0]}
        out["1-ccc"] = 1.0 - out["ccc"]
        out["ccc_std"] = float(np.std([r["ccc"] for r in reports]))
        return out

    def score(self, model: nn.Module, clips: ClipSet | None = None) -> dict[str, float]:
        """CCC per dimension and ``1-ccc`` on ``clips`` (default: the scored part: validation in a search, test
        after :meth:`prepare_final`, keys then prefixed ``test_``), each clip whole; Diverged when the student's
        outputs are not finite."""
        if self.test_set is None:
            self.prepare(self.device)
        clips = clips if clips is not None else self.test_set
        assert clips is not None
        pred = predict_clips(model, clips.waves, self.device)[:, : len(self.dims)]
        if not np.all(np.isfinite(pred)):
            raise Diverged("the student's outputs are not finite")
        report = ccc_report(pred, clips.targets, self.dims)
        if self.final:
            return {k if k.startswith("1-") else f"test_{k}": v for k, v in report.items()}
        return report


def _speakers(value: Sequence[str] | str | None) -> list[str] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    return [str(s).strip() for s in items if str(s).strip()] or None


class SERTraining(Training):
    """AdamW with a one-cycle schedule on random crops of the training speakers' clips (the task's loss, by default
    ``ccc+mean``); each epoch a fresh random order, cut to the budget's ``clips_per_epoch`` when it has one."""

    def __init__(self, task: SERTask, model: nn.Module, budget: dict[str, Any], seed: int,
                 max_steps: int | None, train_set: ClipSet, score_set: ClipSet) -> None:
        self.task, self.budget = task, budget
        self.train_set, self.score_set = train_set, score_set
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.model = model.to(task.device).train()
        self.epochs, self.batch_size = int(budget["epochs"]), int(budget["batch_size"])
        self.steps = max(1, len(train_set) // self.batch_size)
        if budget.get("clips_per_epoch"):  # each epoch's permutation starts with a fresh draw of that many clips
            self.steps = min(self.steps, max(1, int(budget["clips_per_epoch"]) // self.batch_size))
        if max_steps:
            self.steps = min(self.steps, max_steps)
        self.opt = torch.optim.AdamW(model.parameters(), lr=budget["lr"], weight_decay=budget["weight_decay"])
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=budget["lr"],
                                                         total_steps=self.epochs * self.steps)

    def train_epoch(self, epoch: int, progress: Any = None) -> tuple[dict[str, float], int]:
        train_set = self.train_set
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
        return self.task.score(self.model, self.score_set)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                "extra": {"crop_rng": json.dumps(self.rng.bit_generator.state)}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = json.loads(state["extra"]["crop_rng"])
