"""Pictures for the Sketch to image page: random examples and the canvas laid over its background;
which models work and which are experiments (from their cards' figures); names short enough for a
thumbnail's caption. No page code (and no streamlit) here."""
from __future__ import annotations

import numpy as np
from PIL import Image

from gan_core.data.images import mnist5k, resize_images
from gan_core.data.pairs import TRAIN_PHOTOS, drawing_of

CANVAS = 256  # the canvas side in screen pixels, for every model


def is_experiment(card: dict) -> bool:
    """Measured, and not yet useful: a photo model whose paintings of held-out photos are further from
    the real photo than a plain grey picture is (PSNR at most the grey one's), or a digit model whose
    drawings a classifier reads as the digit drawn less often than not."""
    m = card.get("metrics") or {}
    if isinstance(m.get("psnr_y"), (int, float)) and isinstance(m.get("grey_psnr_y"), (int, float)):
        return m["psnr_y"] <= m["grey_psnr_y"]
    if isinstance(m.get("recognised"), (int, float)):
        return m["recognised"] < 0.5
    return False


def is_measured(card: dict) -> bool:
    m = card.get("metrics") or {}
    return "recognised" in m or ("psnr_y" in m and "grey_psnr_y" in m)


def ranked(cards: dict[str, dict]) -> list[str]:
    """Names: the measured models that work, then those nobody measured (imports), then the experiments;
    the order found is kept within each."""
    return sorted(cards, key=lambda n: 2 if is_experiment(cards[n]) else (0 if is_measured(cards[n]) else 1))


def photo_title(name: str) -> str:
    """"hubble_deep_field" -> "hubble deep field": a caption as narrow as a thumbnail wraps between
    words, where an underscored name was broken mid-word ("hubble_deep_fiel d")."""
    return name.replace("_", " ")


def short_name(name: str, limit: int = 24) -> str:
    """A file name for a thumbnail's caption: cut in the middle ("IMG_2024…4312.jpg") when longer than
    `limit`, keeping its end (the extension and the last digits say most), and breakable after "_"
    and "-" (a zero-width space), so a narrow caption wraps there instead of mid-word."""
    if len(name) > limit:
        tail = limit // 2
        name = f"{name[:limit - tail - 1]}…{name[-tail:]}"
    return name.replace("_", "_\u200b").replace("-", "-\u200b")


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
