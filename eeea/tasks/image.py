"""Image classification tasks: ``cifar10``, ``cifar100`` and ``imagefolder``.

Search: candidates train on the training set minus a held-out part (default 10%: 45k/5k on CIFAR) and are scored on
that held-out part; the test set is never touched. Objective: ``error`` = 1 - top-1 accuracy.
Final training (``eeea train``, :meth:`ImageClassificationTask.prepare_final`): the whole training set, scored on the
test split (:mod:`eeea.data.final` says which split that is).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from ..data.cifar import CIFAR_MEAN, CIFAR_STD, check_cifar, load_cifar
from ..data.device import DeviceImages
from ..data.final import ImageData, autoaugment, cifar_data, folder_data
from ..cli_types import POSITIVE, check_holdout
from ..data.images import ImageSet, check_image_folder, holdout_split, image_classes, load_image_folder
from ..errors import UserError
from .base import Task, Training, register_task
from .training import TrainConfig, epoch_seed, evaluate_accuracy, make_optimizer, train_epoch


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
        # a limit of 0 would read as "no limit" below: refused, like a negative one
        limit = None if limit is None else POSITIVE.check("--limit", limit)
        self.holdout, self.split_seed, self.limit = check_holdout(holdout), split_seed, limit
        self.autoaugment = False
        self.train_set: Any = None  # DeviceImages, or data.final.FolderImages in a final training
        self.val_set: Any = None
        self.num_classes: int | None = None
        self.final = False

    def load(self) -> ImageSet:
        return load_cifar(self.dataset, self.data, self.download)

    def check_data(self) -> list[str]:
        check_cifar(self.dataset, self.data, self.download)
        return []

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

    def final_data(self, device: torch.device, input_shape: tuple[int, ...], test_data: str | None) -> ImageData:
        return cifar_data(self.dataset, self.data, test_data, self.holdout, device, self.download)

    def prepare_final(self, device: torch.device, input_shape: tuple[int, ...], test_data: str | None = None,
                      autoaugment: bool = False) -> str:
        """``test_data``: an image folder/zip holding the test split when the data has none; ``autoaugment``:
        torchvision's AutoAugment on the training images (CPU, per image)."""
        self.autoaugment = autoaugment
        data = self.final_data(torch.device(device), input_shape, test_data)
        self.train_set, self.val_set, self.classes = data.train, data.test, list(data.classes)
        self.num_classes, self.final = len(data.classes), True
        return data.test_split

    def start(self, model: nn.Module, budget: dict[str, Any], seed: int, *, max_steps: int | None = None,
              amp: torch.dtype | None = None, channels_last: bool = False, compile: bool = False) -> "ImageTraining":
        if self.train_set is None:
            raise RuntimeError("prepare() or prepare_final() must run before start()")
        cfg = TrainConfig.from_dict(budget)
        if max_steps is not None:
            cfg.max_steps = max_steps
        transform = autoaugment(self.dataset) if self.autoaugment else None
        return ImageTraining(self, model, cfg, seed, amp, channels_last, compile, transform)


class ImageTraining(Training):
    """SGD training of a classifier (the recipe of :class:`TrainConfig`), scored by top-1 accuracy."""

    def __init__(self, task: ImageClassificationTask, model: nn.Module, cfg: TrainConfig, seed: int,
                 amp: torch.dtype | None, channels_last: bool, compile: bool, transform: Any) -> None:
        self.task, self.cfg, self.seed, self.amp, self.transform = task, cfg, seed, amp, transform
        self.channels_last = channels_last
        self.model = model.to(task.train_set.device)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net: nn.Module = torch.compile(self.model, mode="reduce-overhead") if compile else self.model
        self.steps = task.train_set.steps(cfg.batch_size)
        if self.steps == 0:
            raise UserError(f"batch size {cfg.batch_size} exceeds the {len(task.train_set)} training images")
        if cfg.max_steps:
            self.steps = min(self.steps, cfg.max_steps)
        self.epochs = cfg.epochs
        self.opt, self.sched = make_optimizer(self.model, cfg, self.steps * self.epochs)

    def _layout(self, batches: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in batches:
            if self.net is not self.model:  # compiled: a new CUDA-graph step may overwrite the last one's outputs
                torch.compiler.cudagraph_mark_step_begin()
            yield (x.contiguous(memory_format=torch.channels_last) if self.channels_last else x), y

    def train_epoch(self, epoch: int, progress: Any = None) -> tuple[dict[str, float], int]:
        # one generator per epoch, seeded by (seed, epoch): an interrupted training resumes on the same batches
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
        batches = self.task.train_set.batches(self.cfg.batch_size, generator, augment=True, cutout=self.cfg.cutout,
                                              transform=self.transform)
        stats: dict[str, Any] = {}
        loss = train_epoch(self.net, self._layout(batches), self.opt, self.sched, self.cfg, epoch=epoch,
                           progress=progress, amp=self.amp, stats=stats)
        seen = int(stats.get("seen", 0))
        return {"train_loss": loss, "train_acc": float(stats.get("correct", 0)) / max(1, seen)}, seen

    def score(self) -> dict[str, float]:
        batches = self.task.val_set.batches(self.cfg.eval_batch_size, drop_last=False)
        accuracy = evaluate_accuracy(self.net, self._layout(batches), self.amp)
        if self.task.final:
            return {"test_acc": accuracy, "test_error": 1.0 - accuracy}
        return {"error": 1.0 - accuracy, "accuracy": accuracy}

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(), "extra": {}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])


@register_task("cifar10")
class Cifar10Task(ImageClassificationTask):
    """CIFAR-10 (embedded real subset when no data is given)."""

    dataset = "cifar10"


@register_task("cifar100")
class Cifar100Task(ImageClassificationTask):
    dataset = "cifar100"


@register_task("imagefolder")
class ImageFolderTask(ImageClassificationTask):
    """Any ImageFolder-style directory or zip. Search: equally sized RGB images (CIFAR normalisation); final training:
    ``train/`` and ``val/`` folders of any image sizes at the network's resolution, on the ImageNet network layout."""

    dataset = "imagefolder"
    final_size = {"network": "imagenet"}

    def _data_path(self) -> str | Path:
        if self.data is None:
            raise UserError("task imagefolder needs --data (a folder or .zip of CLASS/IMAGE files)")
        return self.data

    def load(self) -> ImageSet:
        return load_image_folder(self._data_path())

    def check_data(self) -> list[str]:
        check_image_folder(self._data_path())
        return []

    def final_data(self, device: torch.device, input_shape: tuple[int, ...], test_data: str | None) -> ImageData:
        return folder_data(self.data, test_data, self.holdout, device, int(input_shape[-1]))

    def size_overrides(self) -> dict[str, Any]:
        """The classifier width from the class folders' names: nothing is decoded until :meth:`prepare`."""
        if self.final:
            return {"num_classes": self.num_classes}
        if self.num_classes is None:
            classes = image_classes(self._data_path())
            if len(classes) < 2:
                self.load()  # not an image folder: load's one-line error says what was expected
            self.num_classes = len(classes)
        return {"num_classes": self.num_classes}
