"""CycleGAN's networks: shapes, official key names, shape inference, the one-picture PatchGAN."""
from __future__ import annotations

import pytest
import torch

from gan_core.config import CycleGANConfig
from gan_core.nets.cyclegan import ResnetGenerator, from_official, official_shape
from gan_core.nets.patchgan import PatchDiscriminator


@pytest.mark.parametrize("size", [16, 32, 36])
def test_resnet_generator_keeps_the_size_and_range(size):
    G = ResnetGenerator(1, 3, ngf=4, n_blocks=2)
    y = G(torch.randn(2, 1, size, size))
    assert y.shape == (2, 3, size, size)
    assert y.abs().max() <= 1


def test_official_key_names_and_shape_inference():
    """The official ResnetGenerator's keys (model.1 = first conv, blocks from model.10, last conv at
    model.{17 + n_blocks}) are this net's own, and the shape reads back off them."""
    G = ResnetGenerator(3, 1, ngf=8, n_blocks=3)
    state = G.state_dict()
    assert {"model.1.weight", "model.4.weight", "model.7.weight", "model.10.conv_block.1.weight",
            "model.12.conv_block.5.weight", "model.13.weight", "model.16.weight", "model.20.weight"} <= set(state)
    assert official_shape(state) == {"in_channels": 3, "ngf": 8, "out_channels": 1, "n_blocks": 3, "dropout": False}
    with_dropout = ResnetGenerator(3, 3, ngf=4, n_blocks=2, dropout=True).state_dict()
    assert "model.10.conv_block.6.weight" in with_dropout
    assert official_shape(with_dropout)["dropout"] is True


def test_official_shape_refuses_other_generators():
    from gan_core.nets.unet import UNetGenerator
    with pytest.raises(ValueError, match="7x7"):
        official_shape({"model.model.0.weight": torch.zeros(4, 3, 4, 4)})
    with pytest.raises(ValueError):
        official_shape(UNetGenerator(3, 3, 5, 4).state_dict())


def test_old_instance_norm_statistics_are_dropped():
    state = {"model.1.weight": torch.zeros(1), "model.2.running_mean": torch.zeros(4),
             "model.2.running_var": torch.ones(4)}
    assert set(from_official(state)) == {"model.1.weight"}


def test_patchgan_judges_one_picture_with_instance_norm():
    D = PatchDiscriminator(1, ndf=4, n_layers=2, norm="instance")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    x = torch.randn(3, 1, 32, 32)
    out = D(x)
    assert out.shape == (3, 1, 6, 6)
    # instance norm keeps samples apart: a picture's score does not depend on its batch
    assert torch.allclose(D(x[:1]), out[:1], atol=1e-5)
    with pytest.raises(ValueError, match="norm"):
        PatchDiscriminator(1, norm="group")


def test_build_gives_both_directions_or_one():
    G, D = CycleGANConfig(img_size=32, channels_a=1, channels_b=3, ngf=4, ndf=4, n_blocks=1).build()
    out = G(torch.randn(2, 1, 32, 32), torch.randn(2, 3, 32, 32), identity=False)
    assert out["fake_b"].shape == (2, 3, 32, 32) and out["rec_a"].shape == (2, 1, 32, 32)
    assert out["fake_a"].shape == (2, 1, 32, 32) and out["rec_b"].shape == (2, 3, 32, 32)
    assert set(G(torch.randn(1, 1, 32, 32), torch.randn(1, 3, 32, 32), identity=False)) == {
        "fake_b", "rec_a", "fake_a", "rec_b"}
    same, _ = CycleGANConfig(img_size=16, channels_a=3, channels_b=3, ngf=4, n_blocks=1).build()
    out = same(torch.randn(1, 3, 16, 16), torch.randn(1, 3, 16, 16))
    assert out["idt_a"].shape == out["idt_b"].shape == (1, 3, 16, 16)
    ra, fa, rb, fb = D(torch.randn(2, 1, 32, 32), torch.randn(2, 1, 32, 32), torch.randn(2, 3, 32, 32),
                       torch.randn(2, 3, 32, 32))
    assert ra.shape == fa.shape == rb.shape == fb.shape == (2, 1, 2, 2)
    one_way, _ = CycleGANConfig(generators="a2b", ngf=4, n_blocks=1).build()
    assert one_way.ba is None
    with pytest.raises(ValueError, match="not available"):
        one_way.direction("b2a")


def test_img_size_must_be_a_multiple_of_4():
    with pytest.raises(ValueError, match="multiple of 4"):
        CycleGANConfig(img_size=30)
