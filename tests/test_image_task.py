"""Image data and the CIFAR task: loaders (embedded subset, shared JPEG zip), held-out split, device augmentation,
proxy training, and candidate faults (divergence, crashes)."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch
from shared_data import missing_hint, shared_folder

from eeea.data.cifar import CIFAR_MEAN, CIFAR_STD, embedded_subset_path, load_cifar
from eeea.data.device import DeviceImages, apply_cutout, random_crop_flip
from eeea.data.images import load_image_folder
from eeea.errors import UserError
from eeea.search.executors import Job, LocalExecutor, candidate_seed
from eeea.tasks import Task, get_task, register_task
from eeea.tasks.image import holdout_split

torch.set_num_threads(1)
SHARED = shared_folder() / "data" / "cifar10-train.zip"
TINY_SIZE = {"channels": 4, "layers": 3, "num_classes": 10, "auxiliary": True}
TINY_BUDGET = {"batch_size": 32, "max_steps": 2, "eval_batch_size": 100}


def test_embedded_subset_is_small_real_and_balanced():
    assert embedded_subset_path().stat().st_size <= 10 * 2**20
    data = load_cifar("cifar10")
    assert data.images.shape == (5000, 32, 32, 3) and data.images.dtype == np.uint8
    assert np.bincount(data.labels).tolist() == [500] * 10 and data.classes[0] == "airplane"


@pytest.mark.skipif(not SHARED.exists(), reason=missing_hint(SHARED))
def test_embedded_subset_matches_the_shared_copy(tmp_path):
    with zipfile.ZipFile(SHARED) as z, zipfile.ZipFile(embedded_subset_path()) as e:
        name = "train/cat/0042.jpg"
        assert z.read(name) == e.read(name)
    # an image folder directory reads like the zip
    for cls in ("cat", "dog"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        with zipfile.ZipFile(SHARED) as z:
            for i in range(3):
                (tmp_path / "train" / cls / f"{i:04d}.jpg").write_bytes(z.read(f"train/{cls}/{i:04d}.jpg"))
    folder = load_cifar("cifar10", tmp_path)
    assert folder.classes == ["cat", "dog"] and len(folder) == 6


def test_missing_or_wrong_data_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="expected a folder holding cifar-10-batches-py"):
        load_cifar("cifar10", tmp_path / "missing")
    with pytest.raises(UserError, match="cifar100 has no embedded subset"):
        load_cifar("cifar100")
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "a.jpg").write_bytes(b"not an image")
    with pytest.raises(UserError, match="class folder"):
        load_image_folder(tmp_path)


def test_holdout_is_disjoint_fixed_and_45k_5k_on_cifar():
    labels = np.zeros(50_000, dtype=np.int64)
    train, val = holdout_split(labels, 0.1)
    assert (len(train), len(val)) == (45_000, 5_000) and not set(train) & set(val)
    assert np.array_equal(val, holdout_split(labels, 0.1)[1])
    assert len(holdout_split(labels, 1000)[1]) == 1000


def test_device_augmentation_is_vectorised_and_seeded():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32) % 251 + 1
    a = random_crop_flip(x, 4, torch.Generator().manual_seed(0))
    b = random_crop_flip(x, 4, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)
    unpadded = random_crop_flip(x, 0, torch.Generator().manual_seed(1))  # pad 0: identity or mirror image
    for i in range(2):
        assert torch.equal(unpadded[i], x[i]) or torch.equal(unpadded[i], x[i].flip(-1))
    cut = apply_cutout(x, 16, torch.Generator().manual_seed(0))
    zeros = (cut == 0).flatten(1).sum(1) // 3
    assert ((zeros > 0) & (zeros <= 256)).all()
    data = load_cifar("cifar10").subset(np.arange(64))
    images = DeviceImages(data, torch.device("cpu"), CIFAR_MEAN, CIFAR_STD)
    xb, yb = next(images.batches(16, torch.Generator().manual_seed(0), augment=True, cutout=16))
    assert xb.shape == (16, 3, 32, 32) and xb.dtype == torch.float32 and yb.shape == (16,)


def test_cifar_task_trains_and_scores_deterministically():
    task = get_task("cifar10", limit=200)
    task.prepare(torch.device("cpu"))
    assert len(task.val_set) == 20 and len(task.train_set) == 180
    ex = LocalExecutor("cifar10", {"limit": 200}, "eeea", "cpu", 1)
    g = "eeea:" + ";".join(f"{c}=" + ",".join(f"sep_conv_3x3@{min(i // 2 + 1, 1)}" for i in range(10))
                           for c in ("normal", "reduce"))
    job = Job("k" * 16, g, candidate_seed(0, "k" * 16), TINY_SIZE, TINY_BUDGET)
    r1, r2 = list(ex.map([job])), list(ex.map([job]))
    assert r1[0]["status"] == "ok" and r1[0]["objectives"] == r2[0]["objectives"]
    assert 0 <= r1[0]["objectives"]["error"] <= 1 and "accuracy" in r1[0]["extra"]


def test_diverged_candidate_is_recorded_with_the_worst_error():
    ex = LocalExecutor("cifar10", {"limit": 200}, "eeea", "cpu", 1)
    g = "eeea:" + ";".join(f"{c}=" + ",".join("sep_conv_3x3@1" for _ in range(10)) for c in ("normal", "reduce"))
    job = Job("d" * 16, g, 1, TINY_SIZE, {**TINY_BUDGET, "lr": 1e30, "grad_clip": 0, "max_steps": 4})
    (r,) = ex.map([job])
    assert r["status"] == "diverged" and r["objectives"] == {"error": 1.0}


@register_task("test_flaky")
class FlakyTask(Task):
    """Fails on its first evaluate of every genome, then works: a crash that one retry absorbs."""

    calls: dict[int, int] = {}

    def prepare(self, device: torch.device) -> None:
        pass

    def evaluate(self, model, budget, seed, levers=None):
        FlakyTask.calls[seed] = FlakyTask.calls.get(seed, 0) + 1
        if seed == 13 or FlakyTask.calls[seed] == 1:
            raise RuntimeError("worker fault")
        return {"error": 0.25}


def test_crashing_candidate_is_retried_once_then_recorded():
    ex = LocalExecutor("test_flaky", {}, "eeea", "cpu", 1)
    g = "eeea:" + ";".join(f"{c}=" + ",".join("max_pool_3x3@1" for _ in range(10)) for c in ("normal", "reduce"))
    ok, bad = ex.map([Job("a" * 16, g, 12, TINY_SIZE, {}), Job("b" * 16, g, 13, TINY_SIZE, {})])
    assert ok["status"] == "ok" and ok["objectives"] == {"error": 0.25}
    assert bad["status"] == "crashed" and bad["objectives"] == {"error": 1.0} and "worker fault" in bad["note"]


def test_imagefolder_task_sizes_its_classifier_from_the_listing_and_trains(tmp_path):
    from train_helpers import write_image_folder

    root = write_image_folder(tmp_path / "imgs", classes=3, per_class=10)
    task = get_task("imagefolder", data=str(root), holdout=6)
    assert task.size_overrides() == {"num_classes": 3}
    task.prepare(torch.device("cpu"))
    assert task.num_classes == 3 and len(task.train_set) == 24 and len(task.val_set) == 6
    with pytest.raises(UserError, match="expected an image folder"):
        get_task("imagefolder", data=str(tmp_path / "nothing")).size_overrides()
