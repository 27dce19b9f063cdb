import pytest
import torch

from gan_core.config import ConfigError
from gan_core.recipes import load_recipe
from gan_core.train import Trainer
from gan_core.train.diffaug import color, cutout, diff_augment, translation


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_translation_moves_each_image_by_its_drawn_shift():
    x = torch.zeros(6, 2, 16, 16)
    x[:, :, 8, 5] = 1.0
    shifts = _gen()
    dy, dx = torch.randint(-2, 3, (6,), generator=shifts), torch.randint(-2, 3, (6,), generator=shifts)
    out = translation(x, 6, _gen(), slice(None))
    for i in range(6):
        assert torch.nonzero(out[i, 1]).tolist() == [[8 + int(dy[i]), 5 + int(dx[i])]]
    assert out.shape == x.shape and torch.equal(out[:, 0], out[:, 1])


def test_translation_pads_with_zeros():
    out = translation(torch.ones(32, 1, 8, 8), 32, _gen(), slice(None))
    # a shift of (dy, dx) leaves (8 - |dy|) * (8 - |dx|) ones; the rest is padding
    shifts = _gen()
    dy, dx = torch.randint(-1, 2, (32,), generator=shifts), torch.randint(-1, 2, (32,), generator=shifts)
    assert torch.equal(out.sum(dim=(1, 2, 3)), ((8 - dy.abs()) * (8 - dx.abs())).float())


def test_cutout_zeroes_a_half_size_square_clipped_to_the_image():
    x = torch.ones(64, 3, 16, 16, requires_grad=True)
    out = cutout(x, 64, _gen(1), slice(None))
    centres = _gen(1)  # an even hole: centres in [0, 17), as in the paper's code
    cy, cx = torch.randint(0, 17, (64,), generator=centres), torch.randint(0, 17, (64,), generator=centres)
    rows = (torch.minimum(cy + 4, torch.tensor(16)) - torch.clamp(cy - 4, min=0))
    cols = (torch.minimum(cx + 4, torch.tensor(16)) - torch.clamp(cx - 4, min=0))
    holes = (out == 0).all(dim=1).sum(dim=(1, 2))
    assert torch.equal(holes, rows * cols) and int(holes.max()) == 64
    out.sum().backward()  # the gradient is the mask: nothing flows from the hole
    assert torch.equal(x.grad, out.detach())


def test_color_is_brightness_then_contrast_on_one_channel():
    x = torch.rand(5, 1, 4, 4) * 2 - 1
    draws = _gen(2)
    b, s, c = (torch.rand(5, generator=draws).view(-1, 1, 1, 1) for _ in range(3))
    y = x + (b - 0.5)  # saturation leaves one channel as it is
    mean = y.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(color(x, 5, _gen(2), slice(None)), (y - mean) * (c + 0.5) + mean, atol=1e-6)


def test_color_saturation_scales_each_pixel_around_its_channel_mean():
    x = torch.rand(4, 3, 2, 2) * 2 - 1
    draws = _gen(5)
    b, s, c = (torch.rand(4, generator=draws).view(-1, 1, 1, 1) for _ in range(3))
    y = x + (b - 0.5)
    y = (y - y.mean(1, keepdim=True)) * (2 * s) + y.mean(1, keepdim=True)
    y = (y - y.mean((1, 2, 3), keepdim=True)) * (c + 0.5) + y.mean((1, 2, 3), keepdim=True)
    assert torch.allclose(color(x, 4, _gen(5), slice(None)), y, atol=1e-6)


def test_each_process_gets_its_rows_of_the_global_draw():
    x = torch.randn(8, 3, 16, 16)
    policy = ("color", "translation", "cutout")
    whole = diff_augment(x, policy, _gen(3))
    halves = [diff_augment(x[s], policy, _gen(3), n=8, rows=s) for s in (slice(0, 4), slice(4, 8))]
    assert torch.allclose(torch.cat(halves), whole, atol=1e-6)


def test_an_empty_policy_is_the_identity():
    x = torch.randn(4, 1, 8, 8)
    assert diff_augment(x, (), _gen()) is x


def test_trainer_shows_d_only_augmented_images(tiny_dcgan_cfg):
    """With cutout, every image D judges (real or fake, in D's and G's steps) has a zero square;
    MNIST pixels and tanh outputs are never exactly 0 over a whole 14x14 block otherwise."""
    seen = []
    for policy, expect in (("[cutout]", True), ("[]", False)):
        tr = Trainer(tiny_dcgan_cfg(f"train.diffaugment={policy}", "train.steps=2"), "cpu")
        seen.clear()
        tr.D.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().float()))
        tr.fit()
        assert len(seen) == 6  # real, fake (D's step), fake (G's step), two iterations
        zeros = torch.cat(seen).eq(0).all(dim=1).sum(dim=(1, 2))
        assert bool((zeros >= 7 * 7).all()) is expect  # clipped at a corner, the square keeps 7 x 7


def test_diffaugment_is_refused_outside_image_gans():
    with pytest.raises(ConfigError, match="diffaugment"):
        load_recipe(None, ["model.arch=mlp", "data.name=toy", "train.diffaugment=[translation]"])
    with pytest.raises(ConfigError, match="diffaugment"):
        load_recipe(None, ["train.diffaugment=[rotate]"])
