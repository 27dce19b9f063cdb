"""Texture patches with synthetic defects of known masks, for pixel-level anomaly evaluation.

Source: scikit-image's 512x512 greyscale textures (brick, grass, gravel), shipped in its wheel.
Rows 0-383 of each texture give the *normal* training patches; rows 384-511 the test patches,
so no test pixel was ever seen in training. A defective test patch carries one of:

    cutpaste  a rectangle from elsewhere in the test region, flipped and brightened, pasted in
    scratch   a thin bright or dark line, 1-2 px wide
    foreign   an ellipse of another texture blended in (alpha 0.8)

and its mask marks exactly the pixels the defect changed.
"""
from __future__ import annotations

import numpy as np
from skimage import data as skdata
from skimage.draw import ellipse, line

TEXTURES = ("brick", "grass", "gravel")
DEFECTS = ("cutpaste", "scratch", "foreign")
TRAIN_ROWS = 384


def texture(name: str) -> np.ndarray:
    if name not in TEXTURES:
        raise ValueError(f"unknown texture {name!r}; choose {', '.join(TEXTURES)}")
    return getattr(skdata, name)().astype(np.uint8)


def _region(name: str, split: str) -> np.ndarray:
    img = texture(name)
    if split == "train":
        return img[:TRAIN_ROWS]
    if split == "test":
        return img[TRAIN_ROWS:]
    raise ValueError(f"split must be train or test, not {split!r}")


def _crops(region: np.ndarray, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    h, w = region.shape
    if size > min(h, w):
        raise ValueError(f"patch size {size} does not fit a {h}x{w} region")
    ys, xs = rng.integers(0, h - size + 1, n), rng.integers(0, w - size + 1, n)
    return np.stack([region[y:y + size, x:x + size] for y, x in zip(ys, xs)])


def normal_patches(name: str, n: int, size: int = 32, split: str = "train", seed: int = 0) -> np.ndarray:
    """n random size x size crops, uint8 (n, size, size)."""
    return _crops(_region(name, split), n, size, np.random.default_rng(seed))


def add_defect(patch: np.ndarray, kind: str, source: np.ndarray, other: np.ndarray,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(defective patch, mask) for one uint8 patch; `source` is the texture region the pasted
    piece comes from, `other` a region of another texture (foreign)."""
    s = patch.shape[0]
    out = patch.astype(np.float64)
    mask = np.zeros((s, s), bool)
    if kind == "cutpaste":
        h, w = rng.integers(s // 5, s // 2, 2)
        piece = _crops(source, 1, max(h, w), rng)[0][:h, :w][::-1, ::-1].astype(np.float64)
        piece = np.clip(piece * rng.uniform(1.2, 1.5) + 20, 0, 255)
        y, x = rng.integers(0, s - h + 1), rng.integers(0, s - w + 1)
        out[y:y + h, x:x + w] = piece
        mask[y:y + h, x:x + w] = True
    elif kind == "scratch":
        r0, c0, r1, c1 = rng.integers(0, s, 4)
        while abs(int(r1) - int(r0)) + abs(int(c1) - int(c0)) < s // 3:   # long enough to be a scratch
            r1, c1 = rng.integers(0, s, 2)
        value = 255.0 if rng.random() < 0.5 else 0.0
        for dr in range(int(rng.integers(1, 3))):
            rr, cc = line(int(r0), int(c0), int(r1), int(c1))
            rr = np.clip(rr + dr, 0, s - 1)
            out[rr, cc] = value
            mask[rr, cc] = True
    elif kind == "foreign":
        piece = _crops(other, 1, s, rng)[0].astype(np.float64)
        rr, cc = ellipse(rng.integers(s // 4, 3 * s // 4), rng.integers(s // 4, 3 * s // 4),
                         rng.integers(s // 8, s // 4), rng.integers(s // 8, s // 4), shape=(s, s))
        out[rr, cc] = 0.2 * out[rr, cc] + 0.8 * piece[rr, cc]
        mask[rr, cc] = True
    else:
        raise ValueError(f"unknown defect {kind!r}; choose {', '.join(DEFECTS)}")
    result = np.clip(np.round(out), 0, 255).astype(np.uint8)
    mask &= result != patch          # only pixels the defect really changed
    return result, mask


def defect_set(name: str, n: int = 200, size: int = 32, seed: int = 0, split: str = "test") -> dict[str, np.ndarray]:
    """Patches of a split, half normal and half defective (the three kinds in turn): images uint8
    (n, size, size), masks bool (n, size, size), labels (n,) 1 = defective, kinds (n,). The test
    split is for evaluation; the train split's (other seeds) serve to choose thresholds."""
    rng = np.random.default_rng(10_000 + seed)
    source = _region(name, split)
    other = _region(next(t for t in TEXTURES if t != name), split)
    images = _crops(source, n, size, rng)
    masks = np.zeros_like(images, bool)
    labels = np.zeros(n, np.int64)
    kinds = np.array(["normal"] * n, dtype="<U8")
    for i in range(n // 2, n):
        kind = DEFECTS[i % len(DEFECTS)]
        for _ in range(10):  # a defect that changed nothing (a paste of near-identical pixels) is redrawn
            img, mask = add_defect(images[i], kind, source, other, rng)
            if mask.sum() >= 4:
                break
        images[i], masks[i], labels[i], kinds[i] = img, mask, 1, kind
    return {"images": images, "masks": masks, "labels": labels, "kinds": kinds}
