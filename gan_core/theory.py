"""Closed forms from the GAN paper, for distributions given as probabilities (or densities
on a shared grid, with cell width dx).

    D*(x)  = p_data(x) / (p_data(x) + p_g(x))                               (Proposition 1)
    V(G,D) = E_p_data[log D(x)] + E_p_g[log(1 - D(x))]
    C(G)   = V(G, D*) = -log 4 + 2 JS(p_data || p_g)                          (Theorem 1)
    JS(p||q) = 1/2 KL(p||m) + 1/2 KL(q||m),  m = (p + q)/2
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.signal import find_peaks


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


def parallel_lines(theta: float) -> dict[str, float]:
    """Divergences between P0 = (0, Z) and P_theta = (theta, Z), Z ~ U[0, 1] (WGAN paper, Example 1).

    For theta != 0 the supports are disjoint: JS = log 2, KL(P0||P_theta) = KL(P_theta||P0) = inf,
    TV = 1, while W1 = |theta| shrinks smoothly to 0. At theta = 0 all are 0.
    """
    if theta == 0:
        return {"js": 0.0, "kl_pq": 0.0, "kl_qp": 0.0, "tv": 0.0, "w1": 0.0}
    return {"js": float(np.log(2.0)), "kl_pq": float("inf"), "kl_qp": float("inf"), "tv": 1.0, "w1": abs(theta)}


def gaussian_pdf(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


def mixture_pdf(x: np.ndarray, means, stds, weights=None) -> np.ndarray:
    """Density of a 1D Gaussian mixture on the points x."""
    weights = np.full(len(means), 1 / len(means)) if weights is None else np.asarray(weights, float)
    return sum(w * gaussian_pdf(x, m, s) for w, m, s in zip(weights / weights.sum(), means, stds))


def divergence_to_gaussian(x: np.ndarray, p: np.ndarray, divergence: str, mean: float, std: float) -> float:
    """KL(p||q), KL(q||p) or JS(p||q) for q = N(mean, std^2), on the grid x; inf where it does not
    exist numerically (q underflowing to 0 where p has mass)."""
    dx = float(x[1] - x[0])
    q = gaussian_pdf(x, mean, std)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if divergence == "kl_pq":
            value = kl_divergence(p, q, dx)
        elif divergence == "kl_qp":
            value = kl_divergence(q, p, dx)
        elif divergence == "js":
            value = js_divergence(p, q, dx)
        else:
            raise ValueError("divergence must be 'kl_pq', 'kl_qp' or 'js'")
    return value if np.isfinite(value) else float("inf")


def fit_gaussian(x: np.ndarray, p: np.ndarray, divergence: str) -> tuple[float, float, float]:
    """(mean, std, divergence) of the Gaussian q minimising a divergence to the density p on grid x.

    'kl_pq' = KL(p||q) is mode covering (q spreads over every mode of p; its optimum matches p's
    mean and variance); 'kl_qp' = KL(q||p) is mode seeking (q sits on one mode); 'js' lies between.
    These can have two local minima (on one mode, or across all), so Nelder-Mead in (mean, log std)
    starts from p's moments and from each local maximum of p, and the best end point is kept.
    """

    x, p = np.asarray(x, float), np.asarray(p, float)
    mass = p.sum()
    centre = float((x * p).sum() / mass)
    spread = float(np.sqrt(((x - centre) ** 2 * p).sum() / mass))
    starts = [(centre, spread)]
    peaks, props = find_peaks(p, width=1)
    dx = float(x[1] - x[0])
    starts += [(float(x[i]), max(w * dx / 2.355, dx)) for i, w in zip(peaks, props["widths"])]  # FWHM -> std
    best = None
    for mean, std in starts:
        # 1e6 stands in for inf: Nelder-Mead compares differences of values
        res = minimize(lambda v: min(divergence_to_gaussian(x, p, divergence, v[0], float(np.exp(v[1]))), 1e6),
                       [mean, np.log(std)], method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-12,
                                                                             "maxiter": 2000})
        if best is None or res.fun < best.fun:
            best = res
    return float(best.x[0]), float(np.exp(best.x[1])), float(best.fun)
