import pytest
import torch
from torch import nn

from gan_core.recipes import load_recipe
from gan_core.config import build_gan
from gan_core.nets import sample_noise
from gan_core.nets.dcgan import DCGANDiscriminator, DCGANGenerator, spatial_plan
from gan_core.nets.mlp import MLPDiscriminator, MLPGenerator


@pytest.mark.parametrize("size,base,n", [(16, 4, 2), (28, 7, 2), (32, 4, 3), (64, 4, 4)])
def test_spatial_plan(size, base, n):
    assert spatial_plan(size) == (base, n)


@pytest.mark.parametrize("size", [4, 7, 30, 48, 100])
def test_spatial_plan_rejects(size):
    with pytest.raises(ValueError, match="img_size"):
        spatial_plan(size)


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (64, 3), (64, 1)])
def test_shapes_and_range(size, channels):
    G = DCGANGenerator(nz=10, img_size=size, channels=channels, ngf=4)
    D = DCGANDiscriminator(img_size=size, channels=channels, ndf=4)
    x = G(torch.randn(3, 10))
    assert x.shape == (3, channels, size, size)
    assert x.abs().max() <= 1.0  # tanh output
    assert D(x).shape == (3,)


def test_canonical_64px_dcgan_layout():
    """ngf=64 at 64 px is the paper's generator: 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64x3."""
    G = DCGANGenerator(nz=100, img_size=64, channels=3, ngf=64)
    widths = [m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert widths == [512, 256, 128, 64, 3]
    D = DCGANDiscriminator(img_size=64, channels=3, ndf=64)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert all(c.stride == (2, 2) for c in convs[:-1])  # strided convolutions, no pooling
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in list(G.modules()) + list(D.modules()))
    first = list(D.features)[:2]
    assert isinstance(first[1], nn.LeakyReLU)  # no batch norm on D's input layer
    assert isinstance(list(G.net)[-1], nn.Tanh)


def test_weights_follow_dcgan_init():
    G = DCGANGenerator(nz=100, img_size=64, channels=3, ngf=64)
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert w.mean().abs() < 1e-3 and abs(w.std().item() - 0.02) < 1e-3


def test_conditional_label_changes_output():
    G = DCGANGenerator(nz=8, img_size=28, channels=1, ngf=4, n_classes=10).eval()
    z = torch.randn(2, 8)
    a, b = G(z, torch.tensor([0, 0])), G(z, torch.tensor([5, 5]))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="class-conditional"):
        G(z)
    D = DCGANDiscriminator(img_size=28, channels=1, ndf=4, n_classes=10).eval()
    x = torch.randn(2, 1, 28, 28)
    assert not torch.allclose(D(x, torch.tensor([0, 0])), D(x, torch.tensor([5, 5])))


@pytest.mark.parametrize("norm", ["batch", "layer", "spectral", "none"])
def test_discriminator_norms(norm):
    D = DCGANDiscriminator(img_size=32, channels=3, ndf=4, norm=norm, n_classes=3)
    out = D(torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 0]))
    assert out.shape == (4,)
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    assert has_bn == (norm == "batch")


def test_mlp_nets():
    G = MLPGenerator(nz=3, out_dim=2, depth=3, width=16, activation="tanh")
    D = MLPDiscriminator(in_dim=2, depth=1, width=8, activation="leaky_relu")
    assert G(torch.randn(5, 3)).shape == (5, 2)
    assert D(torch.randn(5, 2)).shape == (5,)
    assert sum(isinstance(m, nn.Linear) for m in G.modules()) == 4
    with pytest.raises(ValueError, match="activation"):
        MLPGenerator(activation="swish9")


def test_packing_discriminator_scores_consecutive_samples_together():
    """PacGAN: D with pack m is one MLP on m samples side by side, one score per pack."""
    D = MLPDiscriminator(in_dim=2, depth=2, width=8, pack=3)
    x = torch.randn(6, 2)
    out = D(x)
    assert out.shape == (2,)
    assert torch.allclose(out, D.net(torch.stack([x[:3].flatten(), x[3:].flatten()])).squeeze(-1))
    assert D.net[0].in_features == 6
    with pytest.raises(ValueError, match="packs of 3"):
        D(torch.randn(5, 2))
    with pytest.raises(ValueError, match="multiple"):
        load_recipe(None, ["model.arch=mlp", "data.name=toy", "model.pack=3", "train.batch_size=64"])


def test_build_gan_from_config(tiny_dcgan_cfg):
    G, D = build_gan(tiny_dcgan_cfg("model.n_classes=10").model)
    assert isinstance(G, DCGANGenerator) and G.n_classes == 10 and D.n_classes == 10


def test_noise():
    g = torch.Generator().manual_seed(0)
    u = sample_noise(1000, 4, "uniform", generator=g)
    assert u.min() >= -1 and u.max() <= 1 and u.shape == (1000, 4)
    n = sample_noise(1000, 4, "normal", generator=torch.Generator().manual_seed(0))
    assert torch.equal(n, sample_noise(1000, 4, "normal", generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError):
        sample_noise(1, 1, "cauchy")


def test_infogan_code_is_read_from_the_noise_and_enters_one_hot():
    G = DCGANGenerator(nz=8, img_size=28, channels=1, ngf=4, n_codes=4).eval()
    z = torch.randn(20_000, 8, generator=torch.Generator().manual_seed(0))
    code = G.code(z)
    assert torch.equal(code, z[:, :4].argmax(1))
    share = torch.bincount(code, minlength=4).float() / len(z)
    assert torch.allclose(share, torch.full((4,), 0.25), atol=0.015)  # c ~ Cat(4), uniform
    z = z[:3]
    expected = G.net(torch.cat([z, nn.functional.one_hot(G.code(z), 4).float()], 1)[:, :, None, None])
    assert torch.allclose(G(z), expected)
    D = DCGANDiscriminator(img_size=28, channels=1, ndf=4, n_codes=4)
    x = torch.randn(5, 1, 28, 28)
    logit, q = D(x, with_code=True)
    assert logit.shape == (5,) and q.shape == (5, 4) and torch.allclose(D(x), logit)
    with pytest.raises(ValueError, match="no code head"):
        DCGANDiscriminator(img_size=28, channels=1, ndf=4)(x, with_code=True)


@pytest.mark.parametrize("overrides, message", [
    (["model.n_codes=10", "model.n_classes=10"], "unconditional"),
    (["model.n_codes=1"], "n_codes must be"),
    (["model.nz=8", "model.n_codes=9"], "n_codes must be"),
])
def test_infogan_code_settings_are_checked(overrides, message):
    from gan_core.config import ConfigError
    with pytest.raises(ConfigError, match=message):
        load_recipe(None, overrides)
