"""The data of a final training (``eeea train``) on images: the whole training set and the test split.

CIFAR (``cifar10``/``cifar100``): equally sized images held on the device as uint8 (:class:`DeviceImages`), random
crop (pad 4) + flip + cutout there. The test split is, in order: the CIFAR python folder's test batch, ``--test-data``
(an image folder/zip; its ``test/`` part if it has one), the ``test/`` part of ``--data``; when none exists a fixed
held-out part of the training set stands in, and the run's metadata says so.

Image folders (``imagefolder``, ImageNet style): ``train/`` and ``val/`` (or ``test/``) sub-folders of any image
sizes, decoded per batch on the CPU; random-resized crop + flip for training, resize to ``res / 0.875`` + centre crop
for evaluation, at the network's resolution. Random draws come from the CPU generators, so a seed (and the saved RNG
state on resume) gives the same batches.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator, Protocol

import numpy as np
import torch

from ..errors import UserError
from ..files import MAX_MEMBER_BYTES, open_zip, read_bytes, read_zip_member
from .cifar import CIFAR_MEAN, CIFAR_STD, load_cifar, load_cifar_test
from .device import DeviceImages, apply_cutout
from .images import holdout_split, image_members, load_image_folder

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EVAL_CROP = 0.875  # evaluation: resize the shorter side to res / 0.875, centre-crop res


class Batches(Protocol):
    device: torch.device

    def __len__(self) -> int: ...

    def steps(self, batch_size: int, drop_last: bool = True) -> int: ...

    def batches(self, batch_size: int, generator: torch.Generator | None = None, **kw: Any
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


@dataclass
class ImageData:
    train: Batches
    test: Batches
    classes: list[str]
    test_split: str  # where the test figures come from, in words (result.json)


#: how :attr:`ImageData.test_split` begins when no test set was given and part of the training set stands in
HELD_OUT = "held-out"


def split_kind(test_split: str) -> str:
    """``"held-out"`` when a training's test figures come from a held-out part of its training set (the words of
    :attr:`ImageData.test_split`), else ``"test"``."""
    return HELD_OUT if test_split.startswith(HELD_OUT) else "test"


def autoaugment(dataset: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """torchvision's AutoAugment (CIFAR-10 policy; ImageNet policy for image folders) per image of a uint8 batch.

    It runs image by image on the CPU (torchvision applies one draw to a whole batch tensor), drawing from torch's
    global generator; the batch is moved back to its device afterwards."""
    from torchvision.transforms import AutoAugment, AutoAugmentPolicy

    policy = AutoAugmentPolicy.IMAGENET if dataset == "imagefolder" else AutoAugmentPolicy.CIFAR10
    augment = AutoAugment(policy)

    def apply(x: torch.Tensor) -> torch.Tensor:
        return torch.stack([augment(img) for img in x.cpu()]).to(x.device)

    return apply


def cifar_data(dataset: str, data: str | None, test_data: str | None, holdout: float | int, device: torch.device,
               download: bool = False) -> ImageData:
    """CIFAR-10/100 (``dataset``) for a final training, held on ``device`` (see the module docstring)."""
    train = load_cifar(dataset, data, download)
    test, where = None, ""
    if data is not None and (test := load_cifar_test(dataset, data)) is not None:
        where = f"test split of {data}"
    elif test_data is not None:
        test, where = load_image_folder(_existing(test_data, "--test-data"), split="test"), f"test data {test_data}"
    elif data is not None and _split_names(image_members(Path(data)), "test"):
        test, where = load_image_folder(data, split="test"), f"test/ of {data}"
    if test is None:
        keep, held = holdout_split(train.labels, holdout, seed=0)
        train, test = train.subset(keep), train.subset(held)
        where = f"{HELD_OUT} {len(test)} of the training images (split seed 0): no test set was given"
    elif test.classes != train.classes:
        raise UserError(f"{where}: classes {test.classes[:3]}... differ from the training classes {train.classes[:3]}...")
    return ImageData(DeviceImages(train, device, CIFAR_MEAN, CIFAR_STD), DeviceImages(test, device, CIFAR_MEAN, CIFAR_STD),
                     list(train.classes), where)


def _existing(path: str, flag: str) -> str:
    if not Path(path).exists():
        raise UserError(f"{flag} {path}: no such file or folder")
    return path


def _split_names(members: list[str], split: str) -> list[str]:
    """The image members under a ``split/`` folder (``members`` from :func:`image_members`)."""
    return [n for n in members if split in n.split("/")[:-2]]


def folder_data(data: str | None, test_data: str | None, holdout: float | int, device: torch.device,
                resolution: int) -> ImageData:
    """An ImageNet-style folder for a final training at ``resolution`` (see the module docstring)."""
    if data is None:
        raise UserError("--dataset imagefolder needs --data (a folder or .zip with train/CLASS/IMAGE and val/CLASS/IMAGE)")
    root = Path(_existing(data, "--data"))
    members = image_members(root)
    train = _split_names(members, "train")
    if not train:
        raise UserError(f"{root}: no train/CLASS/IMAGE files")
    test_root, test = root, _split_names(members, "val") or _split_names(members, "test")
    where = f"val/ of {root}"
    if test_data is not None:
        test_root = Path(_existing(test_data, "--test-data"))
        test_members = image_members(test_root)
        test = _split_names(test_members, "val") or _split_names(test_members, "test")
        where = f"test data {test_data}"
        if not test:
            raise UserError(f"--test-data {test_data}: no val/CLASS/IMAGE or test/CLASS/IMAGE files")
    classes = sorted({PurePosixPath(n).parent.name for n in train})
    if len(classes) < 2:
        raise UserError(f"{root}: expected one train/ sub-folder per class, found {len(classes)}")
    label = {c: i for i, c in enumerate(classes)}
    labels = np.array([label[PurePosixPath(n).parent.name] for n in train])
    if not test:
        keep, held = holdout_split(labels, holdout, seed=0)
        test, train = [train[i] for i in held], [train[i] for i in keep]
        where = f"{HELD_OUT} {len(test)} of the training images (split seed 0): no val/ or test/ split was found"
    missing = {PurePosixPath(n).parent.name for n in test} - set(classes)
    if missing:
        raise UserError(f"{where}: class {sorted(missing)[0]!r} is not among the training classes")
    return ImageData(FolderImages(root, train, label, resolution, device, train=True),
                     FolderImages(test_root, test, label, resolution, device, train=False), classes, where)


class FolderImages:
    """Images of any size decoded per batch; :meth:`batches` matches :meth:`DeviceImages.batches`."""

    def __init__(self, root: Path, names: list[str], label: dict[str, int], resolution: int, device: torch.device,
                 train: bool) -> None:
        from torchvision import transforms as T

        self.root, self.names, self.device = root, names, torch.device(device)
        self.labels = torch.tensor([label[PurePosixPath(n).parent.name] for n in names])
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, -1, 1, 1) * 255
        self.augment = T.Compose([T.RandomResizedCrop(resolution), T.RandomHorizontalFlip()])
        self.plain = T.Compose([T.Resize(int(round(resolution / EVAL_CROP))), T.CenterCrop(resolution)])
        self._zip = open_zip(root) if root.is_file() else None

    def __len__(self) -> int:
        return len(self.names)

    def steps(self, batch_size: int, drop_last: bool = True) -> int:
        return len(self) // batch_size if drop_last else -(-len(self) // batch_size)

    def _image(self, name: str, augment: bool) -> torch.Tensor:
        from PIL import Image
        from torchvision.transforms.functional import pil_to_tensor

        data = (read_zip_member(self._zip, name, str(self.root)) if self._zip is not None
                else read_bytes(self.root / name, limit=MAX_MEMBER_BYTES))
        try:
            with Image.open(io.BytesIO(data)) as im:
                img = im.convert("RGB")
        except Exception as e:  # PIL raises many types for a bad file
            raise UserError(f"{self.root}:{name}: not a readable image ({e})") from None
        return pil_to_tensor((self.augment if augment else self.plain)(img))

    def batches(self, batch_size: int, generator: torch.Generator | None = None, *, augment: bool = False,
                cutout: int = 0, drop_last: bool = True, transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                pad: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self), generator=generator) if generator is not None else torch.arange(len(self))
        for i in range(self.steps(batch_size, drop_last)):
            index = order[i * batch_size:(i + 1) * batch_size]
            x = torch.stack([self._image(self.names[int(j)], augment) for j in index]).to(self.device)
            if transform is not None:
                x = transform(x)
            x = (x.float() - self.mean) / self.std
            if augment and cutout > 0:
                x = apply_cutout(x, cutout, generator)
            yield x, self.labels[index].to(self.device)

