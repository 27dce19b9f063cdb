"""Pictures for the Toy Lab: the 2D view of one configuration (a raster), curves over training (plotly)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from .plots import COLORS


# Live views are rasters, not plotly figures: building and validating a plotly figure costs about
# 100 ms per panel here, a numpy/PIL picture under 10 ms, which is what keeps training watchable.

LOW, MID, HIGH = np.array([202, 0, 32]), np.array([247, 247, 247]), np.array([5, 113, 176])


def _diverging(v: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] -> RGB: red (fake side) through white to blue (real side)."""
    v = np.clip(np.nan_to_num(v, nan=0.0), -1, 1)[..., None]  # a diverged D (NaN) shows as neutral
    return np.where(v < 0, MID + (MID - LOW) * v, MID + (HIGH - MID) * v).astype(np.uint8)


def heat_colors(values: np.ndarray, probability: bool) -> np.ndarray:
    """D(x) in [0, 1] is centred on 1/2; an unbounded critic on its median, scaled by its spread."""
    if probability:
        return _diverging(2 * values - 1)
    centred = values - np.median(values)
    return _diverging(centred / max(float(np.abs(centred).max()), 1e-12))


def render_view(extent: float, size: int = 360, real: np.ndarray | None = None, fake: np.ndarray | None = None,
                color: str = COLORS[0], heat: np.ndarray | None = None, probability: bool = True,
                manifold: np.ndarray | None = None, push: tuple[np.ndarray, np.ndarray] | None = None,
                title: str = "") -> Image.Image:
    """One configuration's picture: D as a background, G's grid, real and fake points, the push on fakes.
    `heat` is a (rows = y from -extent up, columns = x) grid."""
    if heat is not None:
        base = Image.fromarray(heat_colors(heat[::-1], probability)).resize((size, size), Image.BILINEAR)
        img = Image.blend(Image.new("RGB", (size, size), "white"), base, 0.6)
    else:
        img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img, "RGBA")

    def px(p: np.ndarray) -> np.ndarray:
        """Pixel coordinates, clipped near the canvas: PIL walks a line pixel by pixel, so a point a
        diverging G threw to 1e7 would otherwise take seconds to draw."""
        q = np.stack([(p[:, 0] + extent) / (2 * extent) * size, (extent - p[:, 1]) / (2 * extent) * size], 1)
        return np.clip(q, -size, 2 * size)

    rgb = _rgb(color)
    if manifold is not None:
        for line in manifold:
            if np.isfinite(line).all():
                draw.line([tuple(q) for q in px(line)], fill=(*rgb, 90), width=1)
    arr = np.asarray(img).copy()
    for cloud, fill in ((real, (110, 110, 110)), (fake, rgb)):
        if cloud is None:
            continue
        q = np.round(px(cloud[np.isfinite(cloud).all(1)])).astype(int)
        for dx in (0, 1):
            for dy in (0, 1):
                x, y = q[:, 0] + dx, q[:, 1] + dy
                ok = (x >= 0) & (x < size) & (y >= 0) & (y < size)
                arr[y[ok], x[ok]] = fill
    img = Image.fromarray(arr)
    draw = ImageDraw.Draw(img, "RGBA")
    if push is not None:
        points, direction = push
        finite = np.isfinite(points).all(1) & np.isfinite(direction).all(1)
        points, direction = points[finite], direction[finite]
        norm = np.linalg.norm(direction, axis=1, keepdims=True) if len(points) else np.ones((1, 1))
        scale = 0.12 * extent / max(float(np.percentile(norm, 90)), 1e-12)
        a, b = px(points), px(points + np.clip(direction * scale, -extent, extent))
        for (x0, y0), (x1, y1) in zip(a, b):
            draw.line([(x0, y0), (x1, y1)], fill=(0, 0, 0, 150), width=1)
    draw.rectangle([0, 0, size - 1, size - 1], outline=(190, 190, 190))
    if title:
        draw.text((6, 4), title, fill=(0, 0, 0))
    return img


def snapshot_png(panels: list[Image.Image]) -> bytes:
    """Rendered views side by side as one PNG."""
    if not panels:
        raise ValueError("no views to save yet")
    w, h = sum(p.width for p in panels), max(p.height for p in panels)
    out = Image.new("RGB", (w, h), "white")
    x = 0
    for p in panels:
        out.paste(p, (x, 0))
        x += p.width
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue()


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
