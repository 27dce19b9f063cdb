"""Aligned picture pairs for image-to-image GANs: (drawing, picture) for Pix2Pix, pictures alone
for super-resolution (the trainer makes the low-resolution inputs).

Sources:
- any image dataset turned into (edges, picture) pairs (gan_core/data/edges.py);
- `photos`: the colour photos shipped in scikit-image, used at one or more scales. scikit-learn's
  sample images (china, flower) are the held-out validation set of image restoration and are
  never in it (`validation_photos`);
- `paired_folder`: the public pix2pix layout, A|B side by side in one file, or A/ and B/ folders
  with matching file names (a folder or a .zip, read through the same safe door as other pictures).
Crops are drawn per batch, at the same place in both pictures of a pair.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import skimage.data
import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from .edges import edges_of
from .images import (
    IMAGE_SUFFIXES,
    DataError,
    ImageError,
    decode_image,
    flatten_alpha,
    iter_image_files,
    load_images,
)

# scikit-image's bundled colour photos (no download); the textures serve the anomaly detectors
TRAIN_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
                "retina", "stereo_motorcycle")
GREY_PHOTOS = ("camera", "coins", "page", "text", "clock", "moon", "brick", "grass", "gravel", "cell")
VALIDATION_PHOTOS = ("china.jpg", "flower.jpg")


@dataclass
class PairData:
    """Pictures as uint8 (C, H, W) tensors, with their drawings `a` (or None: super-resolution).
    `sample` returns float crops in [0, 1]."""

    b: list[Tensor]
    a: list[Tensor] | None
    name: str
    crop: int
    flip: bool = False
    rotate: bool = False

    def __post_init__(self):
        if not self.b:
            raise DataError(f"{self.name}: no pictures")
        small = [i for i, t in enumerate(self.b) if min(t.shape[-2:]) < self.crop]
        if small:
            raise DataError(f"{self.name}: {len(small)} picture(s) are smaller than the {self.crop}-pixel "
                            "training crops (model.img_size); use larger pictures or a smaller crop")
        if self.a is not None and any(a.shape[-2:] != b.shape[-2:] for a, b in zip(self.a, self.b)):
            raise DataError(f"{self.name}: a drawing and its picture differ in size")
        # same-sized pictures cropped whole (digits): one stacked tensor, batches by indexing
        self._stack = (torch.stack(self.b), None if self.a is None else torch.stack(self.a)) \
            if all(t.shape == self.b[0].shape for t in self.b) and self.b[0].shape[-1] == self.crop \
            and self.b[0].shape[-2] == self.crop else None

    def __len__(self) -> int:
        return len(self.b)

    @property
    def channels(self) -> int:
        return self.b[0].shape[0]

    def sample(self, n: int, g: torch.Generator) -> tuple[Tensor | None, Tensor]:
        """n random pairs of crops, (a or None, b), floats in [0, 1]."""
        idx = torch.randint(len(self), (n,), generator=g)
        flips = (torch.rand(n, generator=g) < 0.5) if self.flip else torch.zeros(n, dtype=torch.bool)
        if self._stack is not None:
            b = self._stack[0][idx]
            a = None if self._stack[1] is None else self._stack[1][idx]
        else:
            bs, as_ = [], []
            for i in idx.tolist():
                h, w = self.b[i].shape[-2:]
                top = int(torch.randint(h - self.crop + 1, (1,), generator=g))
                left = int(torch.randint(w - self.crop + 1, (1,), generator=g))
                bs.append(self.b[i][:, top:top + self.crop, left:left + self.crop])
                if self.a is not None:
                    as_.append(self.a[i][:, top:top + self.crop, left:left + self.crop])
            b, a = torch.stack(bs), (torch.stack(as_) if as_ else None)
        if flips.any():
            b = torch.where(flips[:, None, None, None], b.flip(-1), b)
            if a is not None:
                a = torch.where(flips[:, None, None, None], a.flip(-1), a)
        if self.rotate:  # drawn only when asked, so recipes without it sample exactly as before
            turns = torch.randint(4, (n,), generator=g)
            b = _turned(b, turns)
            a = None if a is None else _turned(a, turns)
        return (None if a is None else a.float() / 255), b.float() / 255


def _turned(x: Tensor, turns: Tensor) -> Tensor:
    """Each square crop x[i] turned by turns[i] quarter turns (with a horizontal flip: all eight
    symmetries of the square, the augmentation EDSR and its successors train with)."""
    out = x.clone()
    for k in (1, 2, 3):
        sel = turns == k
        if sel.any():
            out[sel] = x[sel].rot90(k, (-2, -1))
    return out


def _grey(t: Tensor) -> np.ndarray:
    return (TF.rgb_to_grayscale(t) if t.shape[0] == 3 else t)[0].numpy()


def drawing_of(picture: Tensor, method: str, sigma: float) -> Tensor:
    """uint8 (C, H, W) picture -> uint8 (1, H, W) drawing (black lines on white)."""
    return torch.from_numpy(edges_of(_grey(picture), method, sigma)).unsqueeze(0)


def _scaled(t: Tensor, scale: float) -> Tensor:
    if scale == 1.0:
        return t
    h, w = t.shape[-2:]
    return TF.resize(t, [max(1, round(h * scale)), max(1, round(w * scale))], antialias=True)


def train_photos(scales: list[float] = (1.0,), grey: bool = False) -> list[Tensor]:
    """scikit-image's colour photos as uint8 (3, H, W), each at every scale (the stereo pair both);
    with `grey`, also its greyscale photos and textures (as three equal channels)."""
    out = []
    for name in TRAIN_PHOTOS + (GREY_PHOTOS if grey else ()):
        arr = getattr(skimage.data, name)()
        for a in (arr[:2] if isinstance(arr, tuple) else (arr,)):  # stereo: left and right, not the disparity
            a = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3]
            t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).contiguous()
            out += [_scaled(t, s) for s in scales]
    return out


def validation_photos() -> dict[str, Tensor]:
    """scikit-learn's sample images, china and flower: uint8 (3, 427, 640). Never trained on."""
    from sklearn.datasets import load_sample_image  # heavy (sklearn.datasets): only evaluation needs it
    return {Path(n).stem: torch.from_numpy(np.array(load_sample_image(n))).permute(2, 0, 1).contiguous()
            for n in VALIDATION_PHOTOS}


def _fit_channels(t: Tensor, channels: int) -> Tensor:
    if t.shape[0] == channels:
        return t
    return t.expand(3, -1, -1).contiguous() if channels == 3 else TF.rgb_to_grayscale(t)


def _read_picture(src, rel: str, channels: int) -> Tensor:
    img = flatten_alpha(decode_image(src if isinstance(src, bytes) else Path(src), name=rel, min_side=8))
    return TF.pil_to_tensor(img.convert("L" if channels == 1 else "RGB"))


def folder_pictures(path: str | Path, channels: int, max_images: int = 200_000,
                    shorter_side: int | None = None) -> list[Tensor]:
    """Every picture of a folder or .zip as uint8 (channels, H, W): whole, or scaled as it is decoded
    so its shorter side is `shorter_side` (a thousand 12 MP photos are never all in memory at full
    size). Other file types are skipped; a picture that does not decode is a DataError naming it."""
    pictures = []
    for rel, src in iter_image_files(path, max_files=max_images * 4):
        if PurePosixPath(rel).suffix.lower() in IMAGE_SUFFIXES:
            if len(pictures) >= max_images:
                raise DataError(f"{Path(path).name}: more than {max_images:,} images; raise data.max_images")
            t = _read_picture(src, rel, channels)  # an ImageError is a DataError
            if shorter_side and min(t.shape[-2:]) != shorter_side:
                t = TF.resize(t, shorter_side, antialias=True)
            pictures.append(t)
    if not pictures:
        raise DataError(f"{Path(path).name}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return pictures


def paired_folder(path: str | Path, in_channels: int, channels: int, direction: str = "AtoB",
                  max_images: int = 200_000) -> tuple[list[Tensor], list[Tensor]]:
    """The pix2pix layout -> (inputs, targets) as uint8 (C, H, W) lists.

    A/ and B/ folders (anywhere in the tree) pair files by name; otherwise every picture is A|B,
    its left half the A side. `direction` BtoA swaps the roles."""
    files = [(rel, src) for rel, src in iter_image_files(path, max_files=max_images * 4)
             if PurePosixPath(rel).suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataError(f"{Path(path).name}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    sides: dict[str, dict[str, tuple[str, object]]] = {"A": {}, "B": {}}
    for rel, src in files:
        parts = PurePosixPath(rel).parts
        if len(parts) >= 2 and parts[-2] in ("A", "B"):
            key = "/".join(parts[:-2] + (PurePosixPath(parts[-1]).stem,))
            sides[parts[-2]][key] = (rel, src)
    first, second = (1, 0) if direction == "BtoA" else (0, 1)
    pairs_in, pairs_out, bad = [], [], []
    if sides["A"] or sides["B"]:
        common = sorted(set(sides["A"]) & set(sides["B"]))
        lonely = sorted(set(sides["A"]) ^ set(sides["B"]))
        if not common:
            raise DataError(f"{Path(path).name}: A/ and B/ hold no files with matching names")
        if lonely:
            raise DataError(f"{Path(path).name}: {len(lonely)} file(s) have no partner in the other folder: "
                            + ", ".join(lonely[:5]))
        for key in common[:max_images]:
            try:
                a = _read_picture(sides["A"][key][1], sides["A"][key][0], 3)
                b = _read_picture(sides["B"][key][1], sides["B"][key][0], 3)
            except ImageError as e:
                bad.append(str(e))
                continue
            if a.shape != b.shape:
                bad.append(f"{key}: A is {a.shape[2]}x{a.shape[1]}, B is {b.shape[2]}x{b.shape[1]}")
                continue
            pair = (a, b)
            pairs_in.append(pair[first])
            pairs_out.append(pair[second])
    else:
        for rel, src in files[:max_images]:
            try:
                ab = _read_picture(src, rel, 3)
            except ImageError as e:
                bad.append(str(e))
                continue
            w = ab.shape[-1]
            if w % 2:
                bad.append(f"{rel}: width {w} is odd, so it is not an A|B pair side by side")
                continue
            pair = (ab[..., : w // 2], ab[..., w // 2:])
            pairs_in.append(pair[first])
            pairs_out.append(pair[second])
    if bad:
        raise DataError(f"{Path(path).name}: {len(bad)} pair(s) could not be used:\n  " + "\n  ".join(bad[:10]))
    return ([_fit_channels(t, in_channels) for t in pairs_in], [_fit_channels(t, channels) for t in pairs_out])


def load_pairs(cfg) -> PairData:
    """PairData for a Config whose model is pix2pix, srresnet or rrdb."""
    d, m = cfg.data, cfg.model
    crop = m.img_size
    if d.name == "paired":
        a, b = paired_folder(d.path, m.in_channels, m.channels, d.direction, d.max_images)
        return PairData(b, a, Path(d.path).name, crop, d.flip, d.rotate)
    if d.name == "photos":  # at a small scale some photos are smaller than a crop: those are left out
        pictures = [_fit_channels(t, m.channels) for t in train_photos(d.photo_scales, d.photo_set == "all")
                    if min(t.shape[-2:]) >= crop]
        name = "scikit-image photos" + (" (colour and grey)" if d.photo_set == "all" else "")
    elif d.name == "folder":  # whole pictures, not squashed to one size: crops are taken per batch
        name, pictures = Path(d.path).name, folder_pictures(d.path, m.channels)
    else:  # a labelled image dataset (digits): whole pictures at the crop size
        data = load_images(d, crop, m.channels)
        pictures, name = list(data.images), data.name
    if m.arch != "pix2pix":
        return PairData(pictures, None, name, crop, d.flip, d.rotate)
    drawings = [drawing_of(t, d.edges, d.edge_sigma) for t in pictures]
    return PairData(pictures, drawings, f"{name} ({d.edges} edges)", crop, d.flip, d.rotate)
