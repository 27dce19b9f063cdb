"""MuseGAN's generators and critics: shapes, the latent layout, which voice depends on what."""
import pytest
import torch
from torch import nn

from gan_core.nets.musegan import (DESIGNS, Expand, JammingCritic, MuseGANGenerator, RollCritic, binarize,
                                   latent_parts, track_parts)


@pytest.mark.parametrize("design,parts", [("composer", 2), ("jamming", 8), ("hybrid", 10)])
def test_shapes_and_latent_layout(design, parts):
    G = MuseGANGenerator(design, z_dim=4, width=8).eval()
    assert G.nz == 4 * parts == 4 * len(latent_parts(design, 4))
    x = G(torch.randn(3, G.nz))
    assert x.shape == (3, 4, 64, 48) and x.abs().max() <= 1


@pytest.mark.parametrize("design", ["jamming", "hybrid"])
def test_a_voice_s_private_latents_move_that_voice_alone(design):
    torch.manual_seed(0)
    G = MuseGANGenerator(design, z_dim=4, width=8).eval()   # eval: batch norm uses running statistics
    z = torch.randn(1, G.nz)
    z2 = z.clone()
    for name in track_parts(design, 2):
        i = G.parts.index(name)
        z2[:, 4 * i:4 * (i + 1)] = torch.randn(1, 4)
    a, b = G(z), G(z2)
    changed = [(a[0, k] - b[0, k]).abs().max().item() > 1e-6 for k in range(4)]
    assert changed == [False, False, True, False]
    assert track_parts("composer", 2) == []


def test_shared_latents_move_every_voice_of_the_hybrid():
    torch.manual_seed(0)
    G = MuseGANGenerator("hybrid", z_dim=4, width=32).eval()
    z = torch.randn(1, G.nz)
    z2 = z.clone()
    z2[:, :4] += 1.0                                      # the shared, time-independent z
    diff = (G(z) - G(z2)).abs().amax(dim=(0, 2, 3))
    assert (diff > 1e-6).all()


def test_expand_is_a_transposed_convolution_with_kernel_equal_to_stride():
    torch.manual_seed(0)
    for axis, kernel in ((1, (2, 1)), (2, (1, 12))):
        factor = max(kernel)
        ours = Expand(6, 5, factor, axis)
        conv = nn.ConvTranspose2d(6, 5, kernel, stride=kernel)
        with torch.no_grad():  # ConvTranspose2d weight (in, out, kh, kw); our Linear (factor*out, in)
            w = conv.weight.reshape(6, 5, factor).permute(2, 1, 0).reshape(factor * 5, 6)
            ours.linear.weight.copy_(w)
            ours.linear.bias.copy_(conv.bias.repeat(factor))
        x = torch.randn(2, 6, 4, 3)                                  # (N, C, T, O)
        expected = conv(x)
        got = ours(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)        # channels-last in and out
        assert torch.allclose(got, expected, atol=1e-6)


def test_critics_score_each_sample_and_jamming_critics_see_one_voice_each():
    x = torch.randn(5, 4, 64, 48, requires_grad=True)
    assert RollCritic(width=8)(x).shape == (5,)
    jam = JammingCritic(width=8)
    score = jam(x)
    assert score.shape == (5,)
    grad, = torch.autograd.grad(jam.critics[1](x[:, 1:2]).sum(), x)
    assert grad[:, 1].abs().sum() > 0 and grad[:, [0, 2, 3]].abs().sum() == 0
    # the sum of the four critics is the jamming score
    parts = sum(c(x[:, i:i + 1]) for i, c in enumerate(jam.critics))
    assert torch.allclose(parts, score)


def test_a_critic_sample_does_not_depend_on_the_rest_of_the_batch():
    torch.manual_seed(0)
    D = RollCritic(width=8)
    x = torch.randn(4, 4, 64, 48)
    assert torch.allclose(D(x)[:1], D(x[:1]), atol=1e-5)   # no batch statistics: the gradient penalty is exact


def test_binarize_voice_keeps_one_pitch_per_voice_and_step():
    x = torch.full((1, 4, 64, 48), -1.0)
    x[0, 0, 0, [3, 7]] = torch.tensor([0.2, 0.6])      # two candidates: the stronger wins
    x[0, 1, 5, 10] = -0.1                              # strongest but below 0: silent
    x[0, 1, 5, 11] = -0.2
    v = binarize(x, "voice")
    assert v[0, 0, 0].nonzero().flatten().tolist() == [7]
    assert v[0, 1, 5].sum() == 0 and v.sum() == 1
    assert binarize(x, "threshold").sum() == 2
    with pytest.raises(ValueError, match="voice or threshold"):
        binarize(x, "round")
    assert set(DESIGNS) == {"composer", "jamming", "hybrid"}
