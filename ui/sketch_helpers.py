"""Pictures for the Sketch to image page: random examples and the canvas laid over its background.
No page code (and no streamlit) here."""
from __future__ import annotations

import numpy as np
from PIL import Image

from gan_core.data.images import mnist5k, resize_images
from gan_core.data.pairs import TRAIN_PHOTOS, drawing_of

CANVAS = 256  # the canvas side in screen pixels, for every model


def is_digit_model(card: dict) -> bool:
    """Digit models learned whole small pictures (MNIST); photo models learned crops of photos."""
    return (card.get("data") or {}).get("name") == "mnist5k"


def working_size(sketcher) -> int:
    """The side drawings are translated at: a digit model's own training size (the canvas is
    scaled down to it), else the canvas size rounded to what the U-Net accepts."""
    return sketcher.work_size() if is_digit_model(sketcher.card) else sketcher.work_size(CANVAS)


def example_digit(seed: int, size: int, method: str, sigma: float) -> tuple[np.ndarray, np.ndarray, int]:
    """A held-out MNIST-5k test digit at `size`: (picture uint8 (s, s), its drawing, its label)."""
    test = mnist5k("test")
    i = int(np.random.default_rng(seed).integers(len(test)))
    picture = resize_images(test.images[i:i + 1], size, 1)[0]
    return picture[0].numpy(), drawing_of(picture, method, sigma)[0].numpy(), int(test.labels[i])


def _photo(name: str) -> np.ndarray:
    import skimage.data
    arr = getattr(skimage.data, name)()
    arr = arr[0] if isinstance(arr, tuple) else arr           # the stereo pair: its left picture
    return np.ascontiguousarray(arr[..., :3])


def example_photo(seed: int, size: int) -> tuple[Image.Image, str]:
    """A random size x size crop of one of scikit-image's colour photos (the ones the photo model
    learned from), at full or half size: (crop, photo name)."""
    rng = np.random.default_rng(seed)
    name = TRAIN_PHOTOS[int(rng.integers(len(TRAIN_PHOTOS)))]
    img = Image.fromarray(_photo(name))
    scale = float(rng.choice([1.0, 0.5]))
    if scale != 1.0 and min(img.size) * scale >= size:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    elif min(img.size) < size:
        img = img.resize((max(size, round(img.width * size / min(img.size))),
                          max(size, round(img.height * size / min(img.size)))), Image.Resampling.LANCZOS)
    left = int(rng.integers(img.width - size + 1))
    top = int(rng.integers(img.height - size + 1))
    return img.crop((left, top, left + size, top + size)), name


def background_picture(drawing: np.ndarray, side: int = CANVAS) -> Image.Image:
    """A drawing at the working size, enlarged (nearest neighbour) to the canvas, as an RGB picture."""
    img = Image.fromarray(drawing).convert("RGB")
    return img if img.size == (side, side) else img.resize((side, side), Image.Resampling.NEAREST)


def canvas_picture(strokes: np.ndarray | None, background: np.ndarray | None, side: int = CANVAS) -> Image.Image:
    """What the canvas shows, as one grey picture: the strokes (RGBA, from the canvas; white ones
    erase) over the background drawing (or over white)."""
    base = background_picture(background, side) if background is not None else Image.new("RGB", (side, side),
                                                                                            "white")
    if strokes is not None and strokes.ndim == 3 and strokes.shape[-1] == 4 and strokes[..., 3].any():
        layer = Image.fromarray(np.ascontiguousarray(strokes, dtype=np.uint8), "RGBA")
        if layer.size != base.size:
            layer = layer.resize(base.size, Image.Resampling.BILINEAR)
        base = Image.alpha_composite(base.convert("RGBA"), layer).convert("RGB")
    return base.convert("L")


def has_lines(drawing: np.ndarray) -> bool:
    return bool((np.asarray(drawing) < 128).any())
