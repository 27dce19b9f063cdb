"""Which pictures a detector learns from and is tested on: the normal ones, the anomalous pool that
chooses the thresholds, and the built-in test sets (MNIST-5k's test digits, a texture's test rows,
a folder's test/ pictures).

A folder or .zip of one's own pictures: normal/ trains the GAN; test/normal/ and test/abnormal/,
if there, are labelled pictures. Half of test/abnormal (a fixed, seeded half) chooses the thresholds
with the held-out normal pictures; the other half and test/normal are the detector's test set.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import torch
from torch import Tensor

from ...data.images import (IMAGE_SUFFIXES, ImageData, from_uint8, image_collection, iter_image_files, load_images,
                            mnist5k, resize_images)
from ...data.textures import defect_set
from .scoring import Detector

FOLDER_PARTS = ("normal", "test/normal", "test/abnormal")


@dataclass
class TestSet:
    """The built-in test set of a detector: images in [-1, 1], labels (1 = anomalous), a group per
    image (its digit, or its defect kind) and defect masks where known."""
    x: Tensor
    labels: Tensor
    groups: list[str]
    masks: Tensor | None
    name: str


def folder_parts(path) -> dict[str, int]:
    """How many picture files each part of the layout holds (0: absent)."""
    counts = dict.fromkeys(FOLDER_PARTS, 0)
    for rel, _ in iter_image_files(path):
        if PurePosixPath(rel).suffix.lower() in IMAGE_SUFFIXES:
            for part in FOLDER_PARTS:
                if rel.startswith(part + "/"):
                    counts[part] += 1
    return counts


def normal_images(data_cfg, size: int, channels: int) -> ImageData:
    """The normal training pictures: data.classes of a dataset, a texture's patches, or the normal/
    part of a folder laid out as FOLDER_PARTS (a folder without it is normal throughout)."""
    if data_cfg.name == "folder" and folder_parts(data_cfg.path)["normal"]:
        return image_collection(data_cfg.path, size, channels, data_cfg.max_images, subfolder="normal")
    return load_images(data_cfg, size, channels)


def _abnormal_halves(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """(validation, test) indices of a folder's test/abnormal pictures."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7))
    return perm[: n // 2], perm[n // 2:]


def anomalous_pool(data_cfg, size: int, channels: int, seed: int = 0) -> ImageData | None:
    """The images of the same source that are *not* normal under data.classes / data.exclude_classes,
    synthetic texture defects, or half of a folder's test/abnormal (None when there are none)."""
    if data_cfg.name == "folder":
        if not folder_parts(data_cfg.path)["test/abnormal"]:
            return None
        abnormal = image_collection(data_cfg.path, size, channels, subfolder="test/abnormal")
        keep, _ = _abnormal_halves(len(abnormal), seed)
        if not len(keep):
            return None
        return ImageData(abnormal.images[keep], None, abnormal.name, files=[abnormal.files[i] for i in keep])
    if data_cfg.name == "texture":  # synthetic defects on training-region patches (the test region stays unseen)
        d = defect_set(data_cfg.texture, 400, size, seed=1, split="train")
        defective = torch.from_numpy(d["images"][d["labels"] == 1]).unsqueeze(1)
        return ImageData(resize_images(defective, size, channels), None, f"texture/{data_cfg.texture}/defects")
    if data_cfg.classes is not None:
        swapped = {"classes": None, "exclude_classes": list(data_cfg.classes)}
    elif data_cfg.exclude_classes:
        swapped = {"classes": list(data_cfg.exclude_classes), "exclude_classes": []}
    else:
        return None
    return load_images(data_cfg.model_copy(update=swapped), size, channels)


def texture_test_set(texture: str, n: int, size: int) -> TestSet:
    """n patches of the texture's test rows (never trained on), half with defects of known masks."""
    d = defect_set(texture, n, size, seed=0, split="test")
    return TestSet(from_uint8(torch.from_numpy(d["images"]).unsqueeze(1)), torch.from_numpy(d["labels"]),
                   [str(k) for k in d["kinds"]], torch.from_numpy(d["masks"]), f"texture/{texture}/test")


def builtin_test_set(det: Detector) -> TestSet:
    """MNIST-5k's 500 held-out test digits (anomalous: the digits that were not normal in training),
    200 patches of the texture's test rows, half with defects, or a folder's test pictures."""
    data = det.card["data"]
    if data["name"] == "texture":
        return texture_test_set(data["texture"], 200, det.img_size)
    if data["name"] == "mnist5k":
        test = mnist5k("test")
        x = from_uint8(resize_images(test.images, det.img_size, det.channels))
        y = test.labels
        if data.get("classes") is not None:
            anomalous = ~torch.isin(y, torch.tensor(data["classes"]))
        else:
            anomalous = torch.isin(y, torch.tensor(data.get("exclude_classes") or [-1]))
        return TestSet(x, anomalous.long(), [str(int(k)) for k in y], None, "mnist5k/test")
    if data["name"] == "folder":
        return folder_test_set(det)
    raise ValueError(f"no built-in test set for data {data['name']!r}; upload labelled images instead")


def _spread(n: int, k: int) -> list[int]:
    """min(k, n) indices spread evenly over range(n), first and last included."""
    return torch.linspace(0, n - 1, min(k, n)).round().long().tolist() if n else []


def sample_indices(test: TestSet, per_label: int = 3) -> list[int]:
    """Which pictures of a test set to offer as samples to try in one click: `per_label` normal ones
    spread over the set, then as many anomalous ones, each from another group where there are
    several (digits 1, 5 and 9 of nine; one cut-paste, one foreign texture, one scratch). The same
    ones every time, so a page and its tests see the same samples."""
    normal = (test.labels == 0).nonzero().flatten().tolist()
    by_group: dict[str, list[int]] = {}
    for i in (test.labels == 1).nonzero().flatten().tolist():
        by_group.setdefault(test.groups[i], []).append(i)
    groups = sorted(by_group, key=lambda g: (0, int(g), "") if g.isdigit() else (1, 0, g))  # "10" after "9"
    groups = [groups[i] for i in _spread(len(groups), per_label)]
    anomalous: list[int] = []
    for turn in range(max(map(len, by_group.values()), default=0)):  # fewer groups than wanted: a second round
        anomalous += [by_group[g][turn] for g in groups if turn < len(by_group[g])]
        if len(anomalous) >= per_label:
            break
    return [normal[i] for i in _spread(len(normal), per_label)] + anomalous[:per_label]


def folder_test_set(det: Detector) -> TestSet:
    """test/normal and the half of test/abnormal that did not choose the thresholds."""
    data = det.card["data"]
    path = Path(data["path"])
    if not path.exists():
        raise ValueError(f"the pictures this detector was trained on ({path}) are not here any more, so it has no "
                         "test set; upload labelled pictures instead")
    parts = folder_parts(path)
    if not parts["test/normal"] and not parts["test/abnormal"]:
        raise ValueError(f"{path.name} has no test/normal/ or test/abnormal/ pictures, so this detector has no "
                         "test set; upload pictures instead")
    xs, labels, groups = [], [], []
    if parts["test/normal"]:
        normal = image_collection(path, det.img_size, det.channels, subfolder="test/normal")
        xs.append(normal.images)
        labels += [0] * len(normal)
        groups += ["normal"] * len(normal)
    if parts["test/abnormal"]:
        abnormal = image_collection(path, det.img_size, det.channels, subfolder="test/abnormal")
        _, keep = _abnormal_halves(len(abnormal), det.card.get("seed", 0))
        xs.append(abnormal.images[keep])
        labels += [1] * len(keep)
        groups += ["abnormal"] * len(keep)
    return TestSet(from_uint8(torch.cat(xs)), torch.tensor(labels), groups, None, f"{path.name}/test")
