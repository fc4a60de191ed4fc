"""Image classification data as uint8 arrays: image folders (directories or zip archives) and CIFAR python folders.

Everything returns an :class:`ImageSet` (``images``: uint8 ``N x H x W x 3``, ``labels``: int64, ``classes``), the form the
device-resident batcher (:mod:`eeea.data.device`) uploads once.
"""
from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

import numpy as np

from ..errors import UserError
from ..files import MAX_MEMBER_BYTES, open_zip, read_bytes, read_zip_member
from .cache import cached_images

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class ImageSet:
    """Images (uint8, N x H x W x 3), integer labels and the class names they index."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> "ImageSet":
        return ImageSet(self.images[index], self.labels[index], self.classes)


def _decode(data: bytes, name: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except Exception as e:  # PIL raises many types for a bad file; one line names the file
        raise UserError(f"{name}: not a readable image ({e})") from None


def _from_members(members: Iterable[tuple[str, bytes]], source: str) -> ImageSet:
    """Build an ImageSet from (relative path, bytes) pairs; the class is the image's parent folder name."""
    by_class: dict[str, list[tuple[str, bytes]]] = {}
    for name, data in members:
        by_class.setdefault(PurePosixPath(name).parent.name, []).append((name, data))
    if len(by_class) < 2:
        raise UserError(f"{source}: expected an image folder with one sub-folder per class (CLASS/*.jpg), found "
                        f"{len(by_class)} class folder(s)")
    classes = sorted(by_class)
    images, labels = [], []
    shape = None
    for label, cls in enumerate(classes):
        for name, data in sorted(by_class[cls]):  # sorted: the same order on every machine
            img = _decode(data, f"{source}:{name}")
            if shape is None:
                shape = img.shape
            elif img.shape != shape:
                raise UserError(f"{source}:{name}: image is {img.shape[1]}x{img.shape[0]}, others are "
                                f"{shape[1]}x{shape[0]} (resize the folder to one size)")
            images.append(img)
            labels.append(label)
    return ImageSet(np.stack(images), np.asarray(labels, dtype=np.int64), classes)


def _split_filter(names: list[str], split: str) -> list[str]:
    """Keep the members under a ``split/`` folder when the archive has one (train/test zips)."""
    under = [n for n in names if split in n.split("/")[:-2]]
    return under or names


def image_members(path: Path) -> list[str]:
    """The image files of a directory or zip as sorted relative posix paths ([] when ``path`` is neither)."""
    if path.is_file() and zipfile.is_zipfile(path):
        with open_zip(path) as z:
            return sorted(n for n in z.namelist() if n.lower().endswith(IMAGE_SUFFIXES))
    if path.is_dir():
        return sorted(p.relative_to(path).as_posix() for p in _files(path) if p.suffix.lower() in IMAGE_SUFFIXES)
    return []


def _files(root: Path) -> Iterator[Path]:
    """Every file under ``root``; a folder that cannot be read is one line, not a class silently missing."""
    def refuse(e: OSError) -> None:
        raise UserError(f"{e.filename}: cannot read ({e.strerror or e})")

    for folder, dirs, files in os.walk(root, onerror=refuse):
        dirs.sort()
        yield from (Path(folder) / name for name in files)


def image_classes(path: str | Path, split: str = "train") -> list[str]:
    """The class names :func:`load_image_folder` would find, from the file listing alone (nothing decoded)."""
    return sorted({PurePosixPath(n).parent.name for n in _split_filter(image_members(Path(path)), split)})


def check_image_folder(path: str | Path, split: str = "train") -> None:
    """UserError unless ``path`` lists at least two class folders of images (nothing decoded)."""
    if not (Path(path).is_dir() or Path(path).is_file()):
        raise UserError(f"{path}: expected an image folder or .zip of CLASS/IMAGE files")
    found = len(image_classes(path, split))
    if found < 2:
        raise UserError(f"{path}: expected an image folder with one sub-folder per class (CLASS/*.jpg), found "
                        f"{found} class folder(s)")


def load_image_folder(path: str | Path, split: str = "train") -> ImageSet:
    """Read an ImageFolder-style directory or zip archive (``[split/]CLASS/IMAGE``); other files are ignored."""
    path = Path(path)
    names = _split_filter(image_members(path), split)
    if path.is_file() and zipfile.is_zipfile(path):
        def decode() -> tuple[np.ndarray, np.ndarray, list[str]]:
            with open_zip(path) as z:
                data = _from_members(((n, read_zip_member(z, n, str(path))) for n in names), str(path))
            return data.images, data.labels, data.classes

        # decoded once per (file, version): every further process memory-maps the cached arrays
        return ImageSet(*cached_images(path, f"image-folder:{split}", decode))
    if path.is_dir():
        return _from_members(((n, read_bytes(path / n, limit=MAX_MEMBER_BYTES)) for n in names), str(path))
    raise UserError(f"{path}: expected an image folder or .zip of CLASS/IMAGE files")


def holdout_split(labels: np.ndarray, holdout: float | int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices: a fixed random permutation (``seed``), the held-out part of size ``holdout``
    (a fraction < 1 or a count). The split depends on nothing but the data size and ``seed``."""
    n = len(labels)
    k = int(round(holdout * n)) if isinstance(holdout, float) and holdout < 1 else int(holdout)
    if not 0 < k < n:
        raise UserError(f"holdout: {holdout!r} leaves no training or no held-out images out of {n}")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[k:]), np.sort(order[:k])
