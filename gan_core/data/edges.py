"""Edge drawings made from pictures, so anyone can train "edges -> my pictures" (Pix2Pix).

Two extractors, both ending in 1-pixel black lines on white (what a pen sketch looks like):
- 'canny':    Canny edges of the grey picture (Gaussian sigma, hysteresis thresholds as quantiles
              of the gradient magnitude, so they adapt to each picture's contrast);
- 'skeleton': the medial axis of the foreground (bright strokes on dark, e.g. MNIST) - the
              single line a person draws for a digit.
Then thinned to 1 px and specks of fewer than `min_size` pixels removed. A drawn sketch goes
through `sketch_lines` (dark strokes -> thinned lines) so strokes of any brush width look like
the training edges.
"""
from __future__ import annotations

import numpy as np
from skimage.feature import canny
from skimage.morphology import remove_small_objects, skeletonize

EDGE_METHODS = ("canny", "skeleton")


def _finish(lines: np.ndarray, min_size: int) -> np.ndarray:
    lines = skeletonize(lines)
    if min_size > 1:
        lines = remove_small_objects(lines, max_size=min_size - 1, connectivity=2)
    return np.where(lines, 0, 255).astype(np.uint8)


def edges_of(grey: np.ndarray, method: str = "canny", sigma: float = 2.0, min_size: int = 8) -> np.ndarray:
    """uint8 (H, W) picture -> uint8 (H, W) drawing: 0 on the lines, 255 elsewhere."""
    g = np.asarray(grey, dtype=np.float32) / 255.0
    if g.ndim != 2:
        raise ValueError(f"edges_of expects one grey channel (H, W), got shape {g.shape}")
    if method == "canny":
        lines = canny(g, sigma=sigma, low_threshold=0.7, high_threshold=0.9, use_quantiles=True)
    elif method == "skeleton":
        lines = g > 0.5
    else:
        raise ValueError(f"unknown edge method {method!r}; choose {', '.join(EDGE_METHODS)}")
    return _finish(lines, min_size)


def sketch_lines(drawing: np.ndarray, min_size: int = 1) -> np.ndarray:
    """A drawn or uploaded sketch (dark strokes on light, uint8 (H, W)) -> the same 1-px lines as
    `edges_of` makes, whatever the pen width."""
    return _finish(np.asarray(drawing) < 128, min_size)


def edges_batch(images: np.ndarray, method: str, sigma: float = 2.0, min_size: int = 8) -> np.ndarray:
    """uint8 (N, H, W) -> uint8 (N, H, W) drawings."""
    return np.stack([edges_of(im, method, sigma, min_size) for im in images])
