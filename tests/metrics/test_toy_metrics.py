import math

import numpy as np
import pytest
import torch

from gan_core.data.toy import get_toy
from gan_core.metrics.toy import grid_divergences, mode_metrics, wasserstein1


def test_real_data_captures_every_mode():
    for name, k in (("ring8", 8), ("grid25", 25)):
        d = get_toy(name)
        m = mode_metrics(d.sample(2500, torch.Generator().manual_seed(0)), d.modes, d.std)
        assert m["modes"] == k
        assert m["hq"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)  # P(|x - mu| <= 3 sigma) in 2D


def test_collapsed_generator():
    d = get_toy("ring8")
    collapsed = d.modes[0] + 0.01 * torch.randn(2500, 2, generator=torch.Generator().manual_seed(0))
    m = mode_metrics(collapsed, d.modes, d.std)
    assert m["modes"] == 1 and m["hq"] == 1.0 and m["per_mode"][0] == 2500
    far = torch.zeros(100, 2)  # the centre of the ring is 2 away from every mode: no quality
    assert mode_metrics(far, d.modes, d.std) == {"modes": 0, "n_modes": 8, "hq": 0.0, "per_mode": [0] * 8}


def test_wasserstein_of_a_shift_is_the_shift():
    a = np.random.default_rng(0).normal(size=(500, 2))
    assert wasserstein1(a, a + np.array([0.3, 0.4])) == pytest.approx(0.5, abs=1e-9)
    assert wasserstein1(a, a) == pytest.approx(0.0, abs=1e-12)


def test_grid_divergences():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(20000, 2))
    same = grid_divergences(p, rng.normal(size=(20000, 2)))
    apart = grid_divergences(p * 0.2 - 3, p * 0.2 + 3)
    assert same["js"] < 0.02
    assert apart["js"] == pytest.approx(math.log(2), rel=0.02)  # disjoint supports
    assert apart["kl_pq"] > 5 and math.isfinite(apart["kl_pq"])  # smoothing keeps the estimate finite
