"""Image helpers for display and download."""
from __future__ import annotations

import io

from PIL import Image


def enlarge(img: Image.Image, width: int = 600) -> Image.Image:
    """Integer nearest-neighbour enlargement to about `width`, so small pixels stay crisp on screen."""
    factor = max(1, round(width / max(img.width, 1)))
    return img if factor == 1 else img.resize((img.width * factor, img.height * factor), Image.NEAREST)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
