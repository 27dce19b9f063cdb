"""Latent interpolation and the memorisation check, on values that can be worked out by hand."""
import math

import pytest
import torch

from gan_core.sampling import nearest_images, slerp, with_code


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


def test_with_code_sets_the_code_by_a_swap():
    z = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    codes = torch.arange(500) % 4
    out = with_code(z, codes, 4)
    assert torch.equal(out[:, :4].argmax(1), codes)
    assert torch.equal(out[:, 4:], z[:, 4:])  # the rest of z is untouched
    assert torch.equal(out[:, :4].sort(1).values, z[:, :4].sort(1).values)  # a permutation of the first K
    same = z[:, :4].argmax(1) == codes
    assert torch.equal(out[same], z[same])  # a z that drew the code already is left as it is


def test_sampling_by_code(tmp_path, tiny_dcgan_cfg):
    from gan_core.sampling import load_generator
    from gan_core.train import Trainer
    tr = Trainer(tiny_dcgan_cfg("model.n_codes=4", "train.steps=1"), "cpu")
    tr.fit()
    gen = load_generator(tr.export(tmp_path / "info"))
    assert gen.n_codes == 4 and gen.n_classes == 0
    a, b = gen.sample(3, seed=1, codes=2), gen.sample(3, seed=1, codes=3)
    assert a.shape == (3, 1, 28, 28) and not torch.allclose(a, b)
    z = gen.noise(3, 1)
    assert torch.allclose(a, gen(with_code(z, torch.full((3,), 2), 4)))
    with pytest.raises(ValueError, match="code must be in 0..3"):
        gen.sample(2, codes=4)
