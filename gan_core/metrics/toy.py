"""Metrics for 2D toy GANs.

Mode metrics follow the PacGAN protocol (Lin et al. 2018) for ring8 and grid25:
draw 2,500 samples; a sample is *high quality* if it lies within 3 standard
deviations of its nearest mode; a mode is *captured* if it is the nearest mode of
at least one high-quality sample.

W1 is the exact earth mover's distance between two equal-size point clouds (POT's
network simplex), JS and KL are estimated from histograms on a shared grid.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .. import theory


def mode_metrics(samples: Tensor | np.ndarray, modes: Tensor | np.ndarray, std: float) -> dict[str, float]:
    """{'modes': captured count, 'hq': share of high-quality samples, 'n_modes': K, 'per_mode': counts}."""
    x = torch.as_tensor(np.asarray(samples), dtype=torch.float64)
    m = torch.as_tensor(np.asarray(modes), dtype=torch.float64)
    dist = torch.cdist(x, m)
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist <= 3 * std
    counts = torch.bincount(nearest[hq], minlength=len(m))
    return {"modes": int((counts > 0).sum()), "n_modes": len(m), "hq": float(hq.double().mean()),
            "per_mode": counts.tolist()}


def wasserstein1(a: Tensor | np.ndarray, b: Tensor | np.ndarray, max_points: int = 2500, seed: int = 0) -> float:
    """Exact W1 (Euclidean ground cost) between the empirical measures of a and b.

    Clouds larger than max_points are subsampled to keep the O(n^3) solver interactive.
    """
    rng = np.random.default_rng(seed)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) > max_points:
        a = a[rng.choice(len(a), max_points, replace=False)]
    if len(b) > max_points:
        b = b[rng.choice(len(b), max_points, replace=False)]
    import ot  # here, not at the top: a GPU check ships without POT (32 MB); the app imports it up
               # front in ui/preload.py and views/toy_lab.py, before any worker thread computes W1
    cost = ot.dist(a, b, metric="euclidean")
    return float(ot.emd2(np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b)), cost, numItermax=10_000_000))


def histogram2d(x: np.ndarray, extent: float, bins: int, smoothing: float = 1e-3) -> np.ndarray:
    """A probability mass function on a bins x bins grid over [-extent, extent]^2, with a little
    mass everywhere so that KL between two estimates stays finite."""
    h, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=bins, range=[[-extent, extent], [-extent, extent]])
    h = h + smoothing * h.sum() / h.size
    return h / h.sum()


def grid_divergences(real: np.ndarray, fake: np.ndarray, extent: float = 5.0, bins: int = 50) -> dict[str, float]:
    """JS(p||q), KL(p||q) and KL(q||p) of histogram estimates (p = real, q = fake), in nats."""
    p = histogram2d(np.asarray(real, float), extent, bins)
    q = histogram2d(np.asarray(fake, float), extent, bins)
    return {"js": theory.js_divergence(p, q), "kl_pq": theory.kl_divergence(p, q),
            "kl_qp": theory.kl_divergence(q, p)}


def toy_report(fake: Tensor | np.ndarray, data, n_real: int = 2500, seed: int = 0,
               w1_points: int = 1000) -> dict[str, float]:
    """Every toy metric for a generated cloud against a ToyDistribution: PacGAN modes and HQ share
    (mixtures only), exact W1 on `w1_points` points of each, and grid JS/KL."""
    fake = np.asarray(fake, dtype=np.float64)
    report: dict[str, float] = {}
    if not np.isfinite(fake).all():
        return {"finite": 0.0}
    real = data.sample(n_real, torch.Generator().manual_seed(10_000 + seed)).numpy().astype(np.float64)
    if data.modes is not None and data.dim == 2:
        m = mode_metrics(fake, data.modes, data.std)
        report.update({"modes": m["modes"], "n_modes": m["n_modes"], "hq": m["hq"]})
    report["w1"] = wasserstein1(real, fake, max_points=w1_points, seed=seed)
    if data.dim == 2:
        extent = float(max(np.abs(real).max(), 1.0)) * 1.25
        report.update(grid_divergences(real, fake, extent=extent))
    return report
