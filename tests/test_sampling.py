"""Latent interpolation and the memorisation check, on values that can be worked out by hand."""
import math

import torch

from gan_core.sampling import nearest_images, slerp


def test_slerp_follows_the_great_circle():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    t = torch.tensor([0.0, 1 / 3, 0.5, 1.0])
    path = slerp(a.expand(4, -1), b.expand(4, -1), t)
    assert torch.allclose(path[0], a[0]) and torch.allclose(path[-1], b[0])
    assert torch.allclose(path.norm(dim=1), torch.ones(4))  # stays on the unit circle (a line would not)
    angles = torch.atan2(path[:, 1], path[:, 0])
    assert torch.allclose(angles, t * math.pi / 2, atol=1e-6)  # constant angular speed


def test_slerp_of_parallel_vectors_is_a_line():
    a = torch.tensor([[1.0, 2.0]])
    mid = slerp(a, 3 * a, 0.5)
    assert torch.isfinite(mid).all() and torch.allclose(mid, 2 * a)


def test_nearest_images_finds_the_copy():
    g = torch.Generator().manual_seed(0)
    pool = torch.rand(50, 1, 8, 8, generator=g) * 2 - 1
    queries = torch.stack([pool[17], pool[3] + 0.01])
    d, i = nearest_images(queries, pool, k=3)
    assert i[:, 0].tolist() == [17, 3]
    assert d[0, 0].item() == 0.0 and abs(d[1, 0].item() - 0.01 * 8) < 1e-4  # L2 over 64 pixels
    assert (d[:, 1:] >= d[:, :1]).all()
