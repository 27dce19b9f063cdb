"""Unpaired data for CycleGAN: two collections, A (X) and B (Y), of any sizes and counts.

Nothing pairs a picture of A with one of B: each batch draws its A and B pictures independently.
Each side is a built-in set (MNIST-5k digits, their drawn strokes, scikit-learn's UCI digits) or a
folder/zip of pictures. Built-in sets keep their fixed test split (data.split), and `half` takes
every other picture, so a set and its own strokes can be used with no picture on both sides.
Folder pictures are scaled so their shorter side is 9/8 of the crop (the official code's 286 for
256) and cropped at random per batch, flipped when data.flip.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor

from .images import DataError, ImageData, mnist5k, resize_images, uci_digits
from .pairs import PairData, drawing_of, folder_pictures

BUILT_IN = {"mnist5k": "MNIST-5k digits", "mnist5k_strokes": "MNIST-5k strokes", "uci_digits": "UCI digits"}


def built_in_set(name: str, split: str = "train") -> ImageData:
    """A built-in domain as labelled ImageData (labels are for measuring only, never for training):
    the digits at their own size; strokes are the 1-pixel skeletons of the digits at 32x32, dark on
    white, the drawings pix2pix_digits learns from."""
    if name == "mnist5k":
        return mnist5k(split)
    if name == "uci_digits":
        return uci_digits(split)
    if name == "mnist5k_strokes":
        digits = mnist5k(split)
        pictures = resize_images(digits.images, 32, 1)
        strokes = torch.stack([drawing_of(t, "skeleton", 2.0) for t in pictures])
        return ImageData(strokes, digits.labels, f"mnist5k_strokes/{split}", digits.classes)
    raise DataError(f"unknown built-in set {name!r}; known: {', '.join(BUILT_IN)}")


def _half(items, half: str):
    return items if half == "all" else items[0 if half == "even" else 1::2]


def domain(src, split: str, size: int, channels: int, flip: bool) -> PairData:
    """One side as a crop sampler (PairData without drawings: single pictures, random crops)."""
    if src.name == "folder":
        pictures = _half(folder_pictures(src.path, channels, shorter_side=size * 9 // 8), src.half)
        name = Path(src.path).name
    else:
        data = built_in_set(src.name, split)
        pictures = list(resize_images(_half(data.images, src.half), size, channels))
        name = data.name + ("" if src.half == "all" else f" ({src.half} half)")
    return PairData(pictures, None, name, size, flip)


@dataclass
class UnpairedData:
    """Domains A and B; `sample` returns independent crops of each, floats in [0, 1]."""

    a: PairData
    b: PairData
    preview_n: ClassVar[int | None] = None

    @property
    def name(self) -> str:
        return f"{self.a.name} <-> {self.b.name}"

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def sample(self, n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
        return self.a.sample(n, g)[1], self.b.sample(n, g)[1]


def load_unpaired(cfg) -> UnpairedData:
    """UnpairedData for a recipe with data.name unpaired (model.arch cyclegan)."""
    d, m = cfg.data, cfg.model
    sides = []
    for label, src, channels in (("A", d.a, m.channels_a), ("B", d.b, m.channels_b)):
        try:
            side = domain(src, d.split, m.img_size, channels, d.flip)
        except DataError as e:
            raise DataError(f"domain {label}: {e}") from None
        if len(side) < 2:
            raise DataError(f"domain {label} ({side.name}): at least 2 pictures are needed to train, found {len(side)}")
        sides.append(side)
    return UnpairedData(*sides)
