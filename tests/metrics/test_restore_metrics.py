"""PSNR and SSIM on the luma, as super-resolution papers measure them."""
import numpy as np
import pytest

from gan_core.metrics.restore import luma, psnr_y, ssim_y


def test_luma_of_white_black_and_grey():
    px = np.array([[[255, 255, 255], [0, 0, 0], [128, 128, 128]]], np.uint8)
    y = luma(px)[0]
    assert y[0] == pytest.approx(235.0, abs=1e-6) and y[1] == pytest.approx(16.0)
    assert y[2] == pytest.approx(16 + 219 * 128 / 255, abs=1e-6)


def test_psnr_of_a_known_error():
    a = np.full((20, 20), 100, np.uint8)
    b = a.copy()
    b[::2] += 10                                   # half the pixels off by 10: MSE 50
    assert psnr_y(a, b) == pytest.approx(10 * np.log10(255 ** 2 / 50))
    assert psnr_y(a, a) == float("inf")


def test_the_border_is_left_out():
    a = np.full((20, 20, 3), 90, np.uint8)
    b = a.copy()
    b[:4] = 0                                      # damage only in a 4-pixel border
    assert psnr_y(a, b, border=4) == float("inf") and psnr_y(a, b) < 30


def test_ssim_is_one_for_equal_pictures_and_falls_with_noise():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    mild, strong = (np.clip(a + rng.normal(0, s, a.shape), 0, 255).astype(np.uint8) for s in (10, 60))
    assert ssim_y(a, a) == pytest.approx(1.0)
    assert 1.0 > ssim_y(a, mild) > ssim_y(a, strong)


def test_sizes_must_match_and_fit_the_border():
    with pytest.raises(ValueError, match="differ in size"):
        psnr_y(np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8))
    with pytest.raises(ValueError, match="too small"):
        psnr_y(np.zeros((6, 6), np.uint8), np.zeros((6, 6), np.uint8), border=4)


def test_gradient_ratio_is_one_for_the_original_and_falls_when_blurred():
    from scipy.ndimage import gaussian_filter

    from gan_core.metrics.restore import gradient_ratio
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (40, 40), dtype=np.uint8)
    blurred = gaussian_filter(a.astype(float), 1.5).astype(np.uint8)
    assert gradient_ratio(a, a) == pytest.approx(1.0)
    assert gradient_ratio(blurred, a) < 0.5 < 1.5 < gradient_ratio(a, blurred)
