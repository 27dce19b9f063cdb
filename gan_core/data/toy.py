"""Toy distributions for the 1D and 2D GAN experiments.

ring8 and grid25 follow the PacGAN / Unrolled-GAN benchmark: 8 Gaussians of
std 0.02 on a circle of radius 2, and 25 Gaussians of std 0.05 on the grid
{-4, -2, 0, 2, 4}^2. Their `modes` and `std` feed the mode metrics.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np
import torch
from torch import Tensor

from .images import DataError

Sampler = Callable[[int, torch.Generator], Tensor]


@dataclass(frozen=True)
class ToyDistribution:
    name: str
    dim: int
    sampler: Sampler
    modes: Tensor | None = None  # (K, dim) centres of a Gaussian mixture, if it is one
    std: float | None = None     # per-mode standard deviation
    weights: Tensor | None = None

    preview_n: ClassVar[int] = 2500  # points in a training run's sample cloud

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        g = generator if generator is not None else torch.Generator().manual_seed(0)
        return self.sampler(n, g)

    def write_preview(self, x: Tensor, stem: Path, model) -> Path:
        """A training run's samples: the point cloud as .npy (the pages draw it)."""
        path = stem.with_suffix(".npy")
        np.save(path, x.numpy())
        return path


def _mixture(modes: Tensor, std: float, weights: Tensor | None = None) -> Sampler:
    def sample(n: int, g: torch.Generator) -> Tensor:
        if weights is None:
            idx = torch.randint(len(modes), (n,), generator=g)
        else:
            idx = torch.multinomial(weights, n, replacement=True, generator=g)
        return modes[idx] + std * torch.randn(n, modes.shape[1], generator=g)
    return sample


def gaussian_mixture(name: str, modes: Tensor, std: float, weights: Tensor | None = None) -> ToyDistribution:
    modes = modes.float()
    if weights is not None:
        weights = weights.float() / weights.sum()
    return ToyDistribution(name, modes.shape[1], _mixture(modes, std, weights), modes, std, weights)


def ring(k: int = 8, radius: float = 2.0, std: float = 0.02) -> ToyDistribution:
    angles = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
    modes = torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], 1)
    return gaussian_mixture(f"ring{k}", modes, std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> ToyDistribution:
    axis = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    modes = torch.cartesian_prod(axis, axis)
    return gaussian_mixture(f"grid{side * side}", modes, std)


def _swissroll(n: int, g: torch.Generator) -> Tensor:
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g))
    pts = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / 5.0  # scaled into about [-3, 3]
    return pts + 0.05 * torch.randn(n, 2, generator=g)


def _moons(n: int, g: torch.Generator) -> Tensor:
    upper = torch.rand(n, generator=g) < 0.5
    t = math.pi * torch.rand(n, generator=g)
    x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
    y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
    pts = torch.stack([x - 0.5, y - 0.25], 1) * 2.0
    return pts + 0.05 * torch.randn(n, 2, generator=g)


def _line(n: int, g: torch.Generator) -> Tensor:
    t = torch.rand(n, generator=g) * 4 - 2
    return torch.stack([t, 0.5 * t], 1) + 0.02 * torch.randn(n, 2, generator=g)


def points_distribution(points: Tensor, std: float = 0.02, name: str = "points") -> ToyDistribution:
    """An empirical distribution: a data point drawn uniformly, plus N(0, std^2) jitter."""
    pts = torch.as_tensor(points, dtype=torch.float32)
    if pts.ndim != 2 or len(pts) == 0:
        raise ValueError("points must be a non-empty (N, dim) array")

    def sample(n: int, g: torch.Generator) -> Tensor:
        return pts[torch.randint(len(pts), (n,), generator=g)] + std * torch.randn(n, pts.shape[1], generator=g)
    return ToyDistribution(name, pts.shape[1], sample)


TOY: dict[str, Callable[[], ToyDistribution]] = {
    "ring8": ring,
    "grid25": grid,
    "swissroll": lambda: ToyDistribution("swissroll", 2, _swissroll),
    "moons": lambda: ToyDistribution("moons", 2, _moons),
    "line": lambda: ToyDistribution("line", 2, _line),
    "gauss1d": lambda: gaussian_mixture("gauss1d", torch.tensor([[1.0]]), 0.5),
    "mixture1d": lambda: gaussian_mixture("mixture1d", torch.tensor([[-2.0], [2.0]]), 0.4, torch.tensor([0.5, 0.5])),
}


def get_toy(name: str) -> ToyDistribution:
    try:
        return TOY[name]()
    except KeyError:
        raise ValueError(f"unknown toy dataset {name!r}; choose one of: {', '.join(TOY)}") from None


MAX_POINTS = 200_000


def standardize(points: Tensor, radius: float = 2.0) -> Tensor:
    """Centre the cloud and scale it so its larger standard deviation is radius / 2: user data of
    any units lands where the toy nets and plots expect it (about [-4, 4]^2).

    Computed in float64, so large offsets (epoch seconds, coordinates in metres) keep their detail;
    returned as float32. Raises DataError for values too large to centre."""
    x = points.double()
    centred = x - x.mean(0)
    scale = centred.std(0).max().clamp_min(1e-12)
    out = centred / scale * (radius / 2)
    if not (torch.isfinite(out).all() and torch.isfinite(scale)):
        raise DataError("the coordinates are too large to use (beyond about 1e150)")
    return out.float()


def points_from_csv(data: bytes, max_rows: int = MAX_POINTS) -> tuple[Tensor, dict[str, int]]:
    """The first two numeric columns of a CSV (comma, semicolon, tab or spaces; header optional)
    as (N, 2) points, with counts of what was left out: {'skipped': rows without two finite
    numbers, 'truncated': 1 if rows past max_rows were ignored}. Raises DataError otherwise."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("the file is not text (UTF-8); save the points as a .csv file") from None
    lines = io.StringIO(text)
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t ")
    except csv.Error:
        dialect = csv.excel
    rows, skipped, too_many = [], 0, False
    try:
        for row in csv.reader(lines, dialect):
            cells = [c.strip() for c in row if c.strip() != ""]
            if not cells:
                continue
            numbers = []
            for c in cells:
                try:
                    numbers.append(float(c))
                except ValueError:
                    numbers.append(None)
            values = [v for v in numbers if v is not None]
            if not values and not rows and not skipped:
                continue  # a header row is expected, not a row left out
            if len(values) < 2 or any(v != v or v in (float("inf"), float("-inf")) for v in values[:2]):
                skipped += 1  # text, a missing value or a lone number
                continue
            if len(rows) == max_rows:
                too_many = True
                break
            rows.append(values[:2])
    except csv.Error as e:  # e.g. an unmatched quote that swallows the rest of the file into one field
        raise DataError(f"the file is not a readable CSV ({e}); look for an unmatched quote") from None
    if not rows:
        raise DataError("no rows with two numbers were found: the CSV needs two numeric columns, x and y "
                        "(a header row is fine)")
    if len(rows) < 2:
        raise DataError("at least 2 points are needed")
    return torch.tensor(rows, dtype=torch.float64), {"skipped": skipped, "truncated": int(too_many)}


def points_from_drawing(rgba, n_max: int = 20_000, extent: float = 4.0) -> Tensor:
    """Pixels painted on a canvas (an (H, W, 4) RGBA array of dark strokes) as points in
    [-extent, extent]^2, y pointing up. Empty if nothing was drawn.

    A pixel is ink when it is visible (alpha > 0) and dark (mean RGB < 128): the canvas may hand
    back its white background as opaque pixels too."""
    a = np.asarray(rgba)
    ys, xs = np.nonzero((a[..., 3] > 0) & (a[..., :3].mean(-1) < 128))
    if len(xs) == 0:
        return torch.empty(0, 2)
    if len(xs) > n_max:
        keep = np.random.default_rng(0).choice(len(xs), n_max, replace=False)
        xs, ys = xs[keep], ys[keep]
    h, w = a.shape[:2]
    px = (xs + 0.5) / w * 2 * extent - extent
    py = extent - (ys + 0.5) / h * 2 * extent
    return torch.tensor(np.stack([px, py], 1), dtype=torch.float32)
