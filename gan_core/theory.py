"""Closed forms from the GAN paper, for distributions given as probabilities (or densities
on a shared grid, with cell width dx).

    D*(x)  = p_data(x) / (p_data(x) + p_g(x))                               (Proposition 1)
    V(G,D) = E_p_data[log D(x)] + E_p_g[log(1 - D(x))]
    C(G)   = V(G, D*) = -log 4 + 2 JS(p_data || p_g)                          (Theorem 1)
    JS(p||q) = 1/2 KL(p||m) + 1/2 KL(q||m),  m = (p + q)/2
"""
from __future__ import annotations

import numpy as np


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """D*(x) = p_data / (p_data + p_g); 1/2 where both are zero (D* is arbitrary off the supports)."""
    p, q = np.asarray(p_data, float), np.asarray(p_g, float)
    total = p + q
    return np.divide(p, total, out=np.full_like(total, 0.5), where=total > 0)


def kl_divergence(p: np.ndarray, q: np.ndarray, dx: float = 1.0) -> float:
    """KL(p||q) = sum p log(p/q) dx; infinite when p puts mass where q has none."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    support = p > 0
    if np.any(q[support] == 0):
        return float("inf")
    return float(np.sum(p[support] * np.log(p[support] / q[support])) * dx)


def js_divergence(p: np.ndarray, q: np.ndarray, dx: float = 1.0) -> float:
    """JS(p||q) in nats: 0 for p = q, log 2 for disjoint supports."""
    m = 0.5 * (np.asarray(p, float) + np.asarray(q, float))
    return 0.5 * kl_divergence(p, m, dx) + 0.5 * kl_divergence(q, m, dx)


def value(p_data: np.ndarray, p_g: np.ndarray, d: np.ndarray, dx: float = 1.0) -> float:
    """V(G, D) = E_p_data[log D] + E_p_g[log(1 - D)], with 0 log 0 = 0."""
    p, q, d = (np.asarray(a, float) for a in (p_data, p_g, d))
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 * log 0 is masked out below
        real = np.where(p > 0, p * np.log(d), 0.0)
        fake = np.where(q > 0, q * np.log1p(-d), 0.0)
    return float((real.sum() + fake.sum()) * dx)


def virtual_training_criterion(p_data: np.ndarray, p_g: np.ndarray, dx: float = 1.0) -> float:
    """C(G) = max_D V(G, D) = -log 4 + 2 JS(p_data || p_g)."""
    return -np.log(4.0) + 2.0 * js_divergence(p_data, p_g, dx)
