import math

import pytest
import torch

from gan_core.data.toy import TOY, get_toy, points_distribution


def test_ring8_matches_the_benchmark():
    d = get_toy("ring8")
    assert d.modes.shape == (8, 2) and d.std == 0.02
    assert torch.allclose(d.modes.norm(dim=1), torch.full((8,), 2.0))
    x = d.sample(8000, torch.Generator().manual_seed(0))
    nearest = torch.cdist(x, d.modes).argmin(1)
    assert torch.bincount(nearest, minlength=8).min() > 800  # every mode is used, about equally
    resid = x - d.modes[nearest]
    assert resid.std().item() == pytest.approx(0.02, rel=0.05)


def test_grid25():
    d = get_toy("grid25")
    assert d.modes.shape == (25, 2) and d.std == 0.05
    assert sorted(set(d.modes[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


@pytest.mark.parametrize("name", sorted(TOY))
def test_every_toy_samples_reproducibly(name):
    d = get_toy(name)
    a = d.sample(100, torch.Generator().manual_seed(3))
    b = d.sample(100, torch.Generator().manual_seed(3))
    assert a.shape == (100, d.dim) and torch.equal(a, b) and torch.isfinite(a).all()


def test_mixture1d_weights():
    d = get_toy("mixture1d")
    x = d.sample(10000, torch.Generator().manual_seed(0))
    assert (x > 0).float().mean().item() == pytest.approx(0.5, abs=0.02)


def test_points_distribution_and_errors():
    d = points_distribution(torch.tensor([[0.0, 0.0], [1.0, 1.0]]), std=0.0)
    x = d.sample(50, torch.Generator().manual_seed(0))
    assert set(map(tuple, x.tolist())) <= {(0.0, 0.0), (1.0, 1.0)}
    with pytest.raises(ValueError):
        points_distribution(torch.empty(0, 2))
    with pytest.raises(ValueError, match="choose one of"):
        get_toy("spiral9")
    assert math.isclose(get_toy("gauss1d").modes.item(), 1.0)
