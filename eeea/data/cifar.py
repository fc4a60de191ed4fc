"""CIFAR-10/100 training data: the embedded subset, torchvision's python folders (with their real download), or any
ImageFolder-style directory / zip (like the JPEG copy ``cifar10-train.zip``)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import UserError
from ..files import open_zip, read_zip_member
from .images import ImageSet, _from_members, check_image_folder, image_members, load_image_folder

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
_TORCHVISION = {"cifar10": ("CIFAR10", "cifar-10-batches-py"), "cifar100": ("CIFAR100", "cifar-100-python")}


def embedded_subset_path() -> Path:
    """The real CIFAR-10 subset shipped with the package (500 images per class; see cifar10_subset.yaml)."""
    return Path(str(resources.files("eeea.data").joinpath("cifar10_subset.zip")))


def embedded_sample(per_class: int, skip: int = 0) -> ImageSet:
    """``per_class`` images of every class of the embedded subset, the ones after the first ``skip`` in name order,
    decoded alone (a few real images, e.g. to check an exported classifier, without decoding all 5,000)."""
    path = embedded_subset_path()
    by_class: dict[str, list[str]] = {}
    for name in image_members(path):
        by_class.setdefault(PurePosixPath(name).parent.name, []).append(name)
    chosen = [n for c in sorted(by_class) for n in sorted(by_class[c])[skip:skip + per_class]]
    with open_zip(path) as z:
        return _from_members(((n, read_zip_member(z, n, str(path))) for n in chosen), str(path))


def load_cifar(name: str, data: str | Path | None = None, download: bool = False) -> ImageSet:
    """The training split of CIFAR-10/100 (``name``) from ``data``, or the embedded CIFAR-10 subset when ``data`` is None.

    ``data`` may be a torchvision CIFAR folder (holding ``cifar-10-batches-py``), an image folder or a zip of
    ``[train/]CLASS/IMAGE`` files. With ``download`` a missing torchvision folder is fetched into ``data``.
    """
    if name not in _TORCHVISION:
        raise UserError(f"unknown CIFAR data set {name!r} (cifar10, cifar100)")
    if data is None:
        if name != "cifar10":
            raise UserError(f"{name} has no embedded subset: pass --data DIR (a CIFAR python folder or image folder)")
        return load_image_folder(embedded_subset_path())
    path = Path(data).expanduser()
    cls_name, folder = _TORCHVISION[name]
    if (path / folder).is_dir() or path.name == folder or download:
        root = path.parent if path.name == folder else path
        return _load_torchvision(cls_name, root, download)
    if path.is_file() or path.is_dir():
        return load_image_folder(path)
    raise UserError(
        f"{path}: no {name} data there; expected a folder holding {folder}/ (torchvision's CIFAR python version; add "
        f"--download to fetch it), an image folder or a .zip of CLASS/IMAGE files"
    )


def check_cifar(name: str, data: str | Path | None = None, download: bool = False) -> None:
    """UserError where :func:`load_cifar` would fail for want of data, from listings alone (nothing decoded), so a
    bad ``--data`` is refused once in the main process before any worker starts."""
    if name not in _TORCHVISION:
        raise UserError(f"unknown CIFAR data set {name!r} (cifar10, cifar100)")
    if data is None:
        if name != "cifar10":
            raise UserError(f"{name} has no embedded subset: pass --data DIR (a CIFAR python folder or image folder)")
        return
    path = Path(data).expanduser()
    cls_name, folder = _TORCHVISION[name]
    if (path / folder).is_dir() or path.name == folder or download:
        return
    if path.is_file() or path.is_dir():
        check_image_folder(path)
        return
    raise UserError(
        f"{path}: no {name} data there; expected a folder holding {folder}/ (torchvision's CIFAR python version; add "
        f"--download to fetch it), an image folder or a .zip of CLASS/IMAGE files"
    )


def load_cifar_test(name: str, data: str | Path) -> ImageSet | None:
    """The test split of a torchvision CIFAR folder, or None when ``data`` is not one (image folders/zips have their
    test split in another archive or under ``test/``, see :mod:`eeea.train_data`)."""
    path = Path(data).expanduser()
    cls_name, folder = _TORCHVISION[name]
    if (path / folder).is_dir() or path.name == folder:
        return _load_torchvision(cls_name, path.parent if path.name == folder else path, False, train=False)
    return None


def _load_torchvision(cls_name: str, root: Path, download: bool, train: bool = True) -> ImageSet:
    import torchvision

    try:
        ds = getattr(torchvision.datasets, cls_name)(str(root), train=train, download=download)
    except RuntimeError as e:  # torchvision raises RuntimeError("Dataset not found or corrupted ...")
        raise UserError(f"{root}: {str(e).splitlines()[0]}") from None
    except OSError as e:  # offline download
        raise UserError(f"{root}: cannot download {cls_name} ({e}); pass a local --data folder") from None
    return ImageSet(np.asarray(ds.data, dtype=np.uint8), np.asarray(ds.targets, dtype=np.int64), list(ds.classes))
