"""Image classification tasks: ``cifar10``, ``cifar100`` and ``imagefolder``.

Candidates train on the training set minus a held-out part (default 10%: 45k/5k on CIFAR) and are scored on that
held-out part; the test set is never touched during search. Objective: ``error`` = 1 - top-1 accuracy.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.cifar import CIFAR_MEAN, CIFAR_STD, load_cifar
from ..data.device import DeviceImages
from ..data.images import ImageSet, image_classes, load_image_folder
from ..errors import UserError
from .training import TrainConfig, evaluate_accuracy, make_optimizer, train_epoch
from .base import Task, register_task


def holdout_split(labels: np.ndarray, holdout: float | int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices: a fixed random permutation (``seed``), the held-out part of size ``holdout``
    (a fraction < 1 or a count). The split depends on nothing but the data size and ``seed``."""
    n = len(labels)
    k = int(round(holdout * n)) if isinstance(holdout, float) and holdout < 1 else int(holdout)
    if not 0 < k < n:
        raise UserError(f"holdout: {holdout!r} leaves no training or no held-out images out of {n}")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[k:]), np.sort(order[:k])


class ImageClassificationTask(Task):
    """Train briefly on the training part, score top-1 error on the held-out part."""

    objective = "error"
    dataset = ""
    downloadable = True
    summary_columns = (("accuracy", "accuracy"),)
    search_defaults = {
        "space": "eeea",
        "max_params": 5_000_000,  # EE-PI threshold beta at the evaluation size; 0 or null = no early exit
        "max_macs": None,
        "population": 40,
        "generations": 30,  # offspring generations after the initial population
        "train": TrainConfig().to_dict(),
        "task_config": {"holdout": 0.1, "split_seed": 0, "limit": None},
        "checkpoints": False,  # proxy-trained weights of a cell network at search size are of no later use
    }

    @classmethod
    def check_budget(cls, budget: dict[str, Any]) -> dict[str, Any]:
        return TrainConfig.from_dict(budget).to_dict()

    def __init__(
        self,
        data: str | Path | None = None,
        download: bool = False,
        holdout: float | int = 0.1,
        split_seed: int = 0,
        limit: int | None = None,
    ) -> None:
        self.data, self.download = data, download
        self.holdout, self.split_seed, self.limit = holdout, split_seed, limit
        self.train_set: DeviceImages | None = None
        self.val_set: DeviceImages | None = None
        self.num_classes: int | None = None

    def load(self) -> ImageSet:
        return load_cifar(self.dataset, self.data, self.download)

    def size_overrides(self) -> dict[str, Any]:
        """Network size options the task fixes (the classifier width)."""
        known = {"cifar10": 10, "cifar100": 100}
        return {"num_classes": self.num_classes or known.get(self.dataset) or len(self.load().classes)}

    def prepare(self, device: torch.device) -> None:
        data = self.load()
        if self.limit:  # a fixed, class-balanced-in-expectation prefix of a fixed permutation
            keep = np.sort(np.random.default_rng(self.split_seed + 1).permutation(len(data))[: self.limit])
            data = data.subset(keep)
        self.num_classes = len(data.classes)
        train, val = holdout_split(data.labels, self.holdout, self.split_seed)
        self.train_set = DeviceImages(data.subset(train), device, CIFAR_MEAN, CIFAR_STD)
        self.val_set = DeviceImages(data.subset(val), device, CIFAR_MEAN, CIFAR_STD)

    def evaluate(self, model: nn.Module, budget: dict[str, Any], seed: int) -> dict[str, float]:
        if self.train_set is None or self.val_set is None:
            raise RuntimeError("prepare() must run before evaluate()")
        cfg = TrainConfig.from_dict(budget)
        if cfg.batch_size > len(self.train_set):
            raise UserError(f"batch size {cfg.batch_size} exceeds the {len(self.train_set)} training images")
        generator = torch.Generator().manual_seed(seed)
        model.to(self.train_set.device)
        steps = self.train_set.steps(cfg.batch_size)
        if cfg.max_steps is not None:
            steps = min(steps, cfg.max_steps)
        opt, sched = make_optimizer(model, cfg, steps * cfg.epochs)
        loss = 0.0
        for epoch in range(cfg.epochs):
            batches = self.train_set.batches(cfg.batch_size, generator, augment=True, cutout=cfg.cutout)
            loss = train_epoch(model, batches, opt, sched, cfg, epoch=epoch)
        accuracy = evaluate_accuracy(model, self.val_set.batches(cfg.eval_batch_size, drop_last=False))
        return {"error": 1.0 - accuracy, "accuracy": accuracy, "train_loss": loss}


@register_task("cifar10")
class Cifar10Task(ImageClassificationTask):
    """CIFAR-10 (embedded real subset when no data is given)."""

    dataset = "cifar10"


@register_task("cifar100")
class Cifar100Task(ImageClassificationTask):
    dataset = "cifar100"


@register_task("imagefolder")
class ImageFolderTask(ImageClassificationTask):
    """Any ImageFolder-style directory or zip of equally sized RGB images (CIFAR normalisation)."""

    dataset = "imagefolder"

    def _data_path(self) -> str | Path:
        if self.data is None:
            raise UserError("task imagefolder needs --data (a folder or .zip of CLASS/IMAGE files)")
        return self.data

    def load(self) -> ImageSet:
        return load_image_folder(self._data_path())

    def size_overrides(self) -> dict[str, Any]:
        """The classifier width from the class folders' names: nothing is decoded until :meth:`prepare`."""
        if self.num_classes is None:
            classes = image_classes(self._data_path())
            if len(classes) < 2:
                self.load()  # not an image folder: load's one-line error says what was expected
            self.num_classes = len(classes)
        return {"num_classes": self.num_classes}
