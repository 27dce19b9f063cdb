"""Pictures and look-ups for the Unpaired translation page: examples, a photo's cycle in tiles, rows
of digits, the cycle-loss ablation pair and the paired model to compare with. No page code (and no
streamlit) here."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gan_core.apps.cyclegan import CLASSIFIERS, Cycle, Translator, picture, sides
from gan_core.data.images import ImageData, from_uint8, to_uint8

EXAMPLE_PHOTOS = ("astronaut", "chelsea", "coffee")   # scikit-image's colour photos, for photo models
STROKES = "mnist5k_strokes"


def back(direction: str) -> str:
    """The direction that undoes `direction`."""
    return "b2a" if direction == "a2b" else "a2b"


def example_photo(name: str) -> Image.Image:
    """One of scikit-image's colour photos (EXAMPLE_PHOTOS), as RGB."""
    import skimage.data  # only when a photo model asks for an example
    return Image.fromarray(np.ascontiguousarray(getattr(skimage.data, name)()[..., :3]))


def held_out_picture(data: ImageData, seed: int) -> tuple[Image.Image, int]:
    """A random test picture of a built-in set (never trained on): (grey picture, its label)."""
    i = int(np.random.default_rng(seed).integers(len(data)))
    return Image.fromarray(data.images[i, 0].numpy()), int(data.labels[i])


def pictures(batch: Tensor) -> list[Image.Image]:
    """(N, C, H, W) in [-1, 1] -> N pictures."""
    return [picture(x[None]) for x in batch]


def photo_cycle(tr: Translator, img: Image.Image, direction: str, size: int, tile: int, overlap: int,
                progress: Callable[[int, int, int], None] | None = None) -> Cycle:
    """The cycle of a photo model at `size` (shorter side), each way tiled above `tile` like
    Translator.translate: x, G_XY(x) and, with both generators, G_YX(G_XY(x)) and mean |rec - x| on
    0..1. progress(pass, done, total) follows the tiles of pass 1 (there) and 2 (back)."""
    x = picture(tr.prepare(img, sides(direction)[0], size))
    y = tr.translate(img, direction, size, tile, overlap, (lambda d, n: progress(1, d, n)) if progress else None)
    if back(direction) not in tr.directions:
        return Cycle(x, y, None, None)
    # y already has `size` on its shorter side: prepare leaves it as it is
    rec = tr.translate(y, back(direction), min(y.size), tile, overlap,
                       (lambda d, n: progress(2, d, n)) if progress else None)
    error = np.abs(np.asarray(rec, np.float32) - np.asarray(x, np.float32)).mean() / 255
    return Cycle(x, y, rec, round(float(error), 4))


def cycle_weight(card: dict) -> float:
    """The cycle loss weight a model was trained with (the recipe default, 10, if its card has none)."""
    return float((card.get("train") or {}).get("cycle_weight", 10.0))


def _sides(card: dict) -> tuple | None:
    data = card.get("data") or {}
    if data.get("name") != "unpaired":
        return None
    return tuple((s.get("name"), s.get("path"), s.get("half", "all")) for s in (data.get("a") or {}, data.get("b") or {}))


def ablation(cards: dict[str, dict], name: str) -> tuple[str, str] | None:
    """(the model trained with the cycle loss, the one without) among `cards` (name -> card): the
    model `name` and another of the same data sides and size whose cycle weight is 0 where this one's
    is not (or the other way round); None without such a pair."""
    card = cards[name]
    mine = _sides(card)
    if mine is None:
        return None
    for other, c in cards.items():
        if other == name or _sides(c) != mine or \
                (c.get("model") or {}).get("img_size") != (card.get("model") or {}).get("img_size"):
            continue
        if cycle_weight(card) > 0 and cycle_weight(c) == 0:
            return name, other
        if cycle_weight(card) == 0 and cycle_weight(c) > 0:
            return other, name
    return None


def strokes_sketcher(cards: dict[str, dict]) -> str | None:
    """The Pix2Pix model trained on the same strokes (MNIST-5k skeletons, paired with their digits),
    pix2pix_digits if it is there."""
    fits = [n for n, c in cards.items() if (c.get("data") or {}).get("name") == "mnist5k"
            and (c.get("data") or {}).get("edges") == "skeleton"]
    return "pix2pix_digits" if "pix2pix_digits" in fits else (fits[0] if fits else None)


def classifier_file(tr: Translator, side: str) -> str | None:
    """The file name (in the checkpoints folder) of the classifier that reads a side's digits, or None."""
    return CLASSIFIERS.get(tr.source(side) or "")


def to_tensor(img: Image.Image) -> Tensor:
    """A grey picture -> (1, 1, H, W) in [-1, 1]."""
    return from_uint8(torch.from_numpy(np.array(img.convert("L"))))[None, None]


@torch.no_grad()
def read_pictures(classifier, imgs: list[Image.Image]) -> list[int | None]:
    """What a digit classifier reads in each picture (None for each without a classifier)."""
    if classifier is None:
        return [None] * len(imgs)
    return [int(d) for d in classifier(torch.cat([to_tensor(i) for i in imgs])).argmax(1)]


@torch.no_grad()
def paint_strokes(sketcher, strokes: Tensor, classifier=None) -> tuple[list[Image.Image], Tensor | None]:
    """A Pix2Pix sketcher's pictures of a batch of strokes ((N, 1, H, W) in [-1, 1], dark lines on
    white) and, with a classifier, what it reads in each."""
    outs = [sketcher.translate(to_uint8(s)[0].numpy())[0] for s in strokes]
    if classifier is None:
        return outs, None
    return outs, classifier(torch.cat([to_tensor(o) for o in outs])).argmax(1)
