"""Image-restoration metrics as super-resolution papers report them: PSNR and SSIM on the luma
(Y of ITU-R BT.601 YCbCr, as MATLAB's rgb2ycbcr), with `border` pixels cropped from each side
(the scale factor, by convention), on 8-bit pictures.

    PSNR = 10 log10(255^2 / MSE)
    SSIM: Wang et al. 2004 with an 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03
"""
from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def luma(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) or (H, W) -> float64 Y in [16, 235]:  Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255."""
    a = np.asarray(rgb, dtype=np.float64)
    if a.ndim == 2:
        return a
    return 16.0 + (65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]) / 255.0


def _pair(a: np.ndarray, b: np.ndarray, border: int) -> tuple[np.ndarray, np.ndarray]:
    if a.shape != b.shape:
        raise ValueError(f"pictures differ in size: {a.shape} vs {b.shape}")
    ya, yb = luma(a), luma(b)
    if border:
        if min(ya.shape) <= 2 * border:
            raise ValueError(f"a {ya.shape[1]}x{ya.shape[0]} picture is too small to crop {border} pixels per side")
        ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    return ya, yb


def psnr_y(a: np.ndarray, b: np.ndarray, border: int = 0) -> float:
    """PSNR in dB of the luma of two uint8 pictures; inf when they are equal."""
    ya, yb = _pair(a, b, border)
    mse = float(np.mean((ya - yb) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def gradient_ratio(out: np.ndarray, ref: np.ndarray, border: int = 0) -> float:
    """Mean gradient magnitude of `out`'s luma over `ref`'s: 1 is as much edge and texture contrast as the
    original, below 1 smoother (bicubic, MSE-trained models), above 1 over-sharpened. PSNR rewards
    smoothness; this says what a GAN's texture buys."""
    ya, yb = _pair(out, ref, border)
    grad = lambda y: np.hypot(*np.gradient(y)).mean()  # noqa: E731
    return float(grad(ya) / max(grad(yb), 1e-12))


def ssim_y(a: np.ndarray, b: np.ndarray, border: int = 0) -> float:
    """SSIM of the luma of two uint8 pictures (1 when equal)."""
    ya, yb = _pair(a, b, border)
    return float(structural_similarity(ya, yb, data_range=255.0, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))
