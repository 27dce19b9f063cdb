"""torchvision datasets from a local root, on tiny files the test writes in the official formats."""
import gzip
import pickle
import struct

import numpy as np
import pytest

from gan_core.recipes import load_recipe
from gan_core.data.images import DataError, load_images, torchvision_images


def _idx(path, array, magic):
    with open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, magic, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def _fake_mnist(root, folder="MNIST", n=12):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split in ("train", "t10k"):
        _idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), 0x08)
        _idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10, 0x08)


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_style_from_root(tmp_path, name, folder):
    _fake_mnist(tmp_path, folder)
    data = torchvision_images(name, tmp_path, "train")
    assert data.images.shape == (12, 1, 28, 28) and data.labels.tolist()[:3] == [0, 1, 2]
    cfg = load_recipe(None, [f"data.name={name}", f"data.root={tmp_path}", "model.img_size=32", "model.channels=3"])
    resized = load_images(cfg.data, 32, 3)
    assert resized.images.shape == (12, 3, 32, 32)


def test_cifar10_from_root(tmp_path, monkeypatch):
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(base / name, "wb") as f:  # the official files are pickles; this one is the test's own
            pickle.dump({"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}, f)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                     "ship", "truck"]}, f)
    import torchvision.datasets.cifar as cifar
    # the test's files cannot match the official md5 sums
    monkeypatch.setattr(cifar, "check_integrity", lambda *a, **k: True)
    monkeypatch.setattr(cifar.CIFAR10, "_check_integrity", lambda self: True)
    data = torchvision_images("cifar10", tmp_path, "train")
    assert data.images.shape == (20, 3, 32, 32) and data.classes[3] == "cat"


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="was not found under .*data.download: true"):
        torchvision_images("mnist", tmp_path, "train", download=False)
