"""Pictures for the Super-resolution page: centre crops, the zoom box, enlarged crops, the
before/after composite. Plain PIL, no Streamlit, so they are easy to test."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

Box = tuple[int, int, int, int]  # left, top, right, bottom (PIL's crop box)


def from_tensor(x) -> Image.Image:
    """uint8 (3, H, W) tensor -> RGB PIL image."""
    return Image.fromarray(np.ascontiguousarray(x.permute(1, 2, 0).numpy()))


def centre_crop(img: Image.Image, side: int) -> Image.Image:
    """The middle side x side of `img` (each side at most the picture's); 0 keeps the whole picture."""
    if not side:
        return img
    w, h = min(side, img.width), min(side, img.height)
    left, top = (img.width - w) // 2, (img.height - h) // 2
    return img.crop((left, top, left + w, top + h))


def output_size(size: tuple[int, int], scale: int) -> tuple[int, int]:
    return size[0] * scale, size[1] * scale


def zoom_box(size: tuple[int, int], cx: float, cy: float, side: int) -> Box:
    """A square of `side` pixels (at most the picture's shorter side) of a picture of `size`, centred
    at (cx, cy) percent of its width and height and pushed inside the picture."""
    w, h = size
    side = max(1, min(side, w, h))
    left = int(round(cx / 100 * w - side / 2))
    top = int(round(cy / 100 * h - side / 2))
    left, top = min(max(left, 0), w - side), min(max(top, 0), h - side)
    return left, top, left + side, top + side


def scaled(box: Box, factor: int) -> Box:
    return tuple(v * factor for v in box)  # type: ignore[return-value]


def zoomed(img: Image.Image, box: Box, factor: int) -> Image.Image:
    """`box` of `img` enlarged `factor` times with nearest-neighbour: every pixel a crisp square."""
    crop = img.crop(box)
    factor = max(1, int(factor))
    return crop.resize((crop.width * factor, crop.height * factor), Image.Resampling.NEAREST)


def _ink(img: Image.Image, rgb: tuple[int, int, int]):
    if img.mode == "L":
        return int(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])
    return (*rgb, 255) if img.mode == "RGBA" else rgb


def outlined(img: Image.Image, box: Box, max_width: int = 720, enlarge: int = 1) -> Image.Image:
    """A copy of `img` for display with `box` drawn on it: enlarged `enlarge` times with nearest-neighbour
    while that stays within `max_width`, or shrunk to `max_width` wide if it is wider."""
    if enlarge > 1 and img.width * enlarge <= max_width:
        factor = float(enlarge)
        out = img.resize((img.width * enlarge, img.height * enlarge), Image.Resampling.NEAREST)
    else:
        factor = min(1.0, max_width / img.width)
        out = img.resize((max(1, round(img.width * factor)), max(1, round(img.height * factor))),
                         Image.Resampling.LANCZOS) if factor < 1 else img.copy()
    b = [round(v * factor) for v in box]
    b[2], b[3] = max(b[2] - 1, b[0]), max(b[3] - 1, b[1])
    line = max(1, round(min(out.size) / 150))
    draw = ImageDraw.Draw(out)
    draw.rectangle(b, outline=_ink(out, (0, 0, 0)), width=line + 2)
    draw.rectangle(b, outline=_ink(out, (255, 210, 0)), width=line)
    return out


def before_after(new: Image.Image, old: Image.Image, fraction: float, max_width: int = 1400) -> Image.Image:
    """`new` left of a vertical divider at `fraction` (0..1) of the width, `old` right of it; shrunk
    to at most `max_width` wide for display. The divider is a white line with dark edges."""
    if new.size != old.size or new.mode != old.mode:
        raise ValueError(f"cannot compare a {new.size} {new.mode} picture with a {old.size} {old.mode} one")
    fraction = min(max(fraction, 0.0), 1.0)
    out = old.copy()
    split = round(fraction * new.width)
    if split:
        out.paste(new.crop((0, 0, split, new.height)), (0, 0))
    if out.width > max_width:
        out = out.resize((max_width, max(1, round(out.height * max_width / out.width))), Image.Resampling.LANCZOS)
    x = min(round(fraction * out.width), out.width - 1)
    half = max(1, round(out.width / 400))
    draw = ImageDraw.Draw(out)
    draw.rectangle([x - half - 1, 0, x + half + 1, out.height], fill=_ink(out, (40, 40, 40)))
    draw.rectangle([x - half, 0, x + half, out.height], fill=_ink(out, (255, 255, 255)))
    return out


def png_bytes(img: Image.Image) -> bytes:
    """PNG keeps what the picture has: alpha for RGBA, one channel for grey."""
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
