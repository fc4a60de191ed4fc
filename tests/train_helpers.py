"""Shared by the training tests: a tiny CIFAR-like image folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_image_folder(root: Path, classes: int = 10, per_class: int = 8, test: int = 3, px: int = 32) -> Path:
    """A CIFAR-like folder: train/CLASS/*.png and test/CLASS/*.png, seeded noise with a per-class tint."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("test", test)):
        for c in range(classes):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 128, (px, px, 3)) + np.array([c * 12, 0, 127 - c * 12])
                Image.fromarray(img.astype(np.uint8)).save(folder / f"{i:03d}.png")
    return root
