"""U-Net, PatchGAN, SRResNet and RRDBNet: shapes, receptive fields, and the public weight layouts."""
import pytest
import torch
from torch import nn

from gan_core.nets.patchgan import PatchDiscriminator, receptive_field
from gan_core.nets.rrdb import RRDBNet, from_public_state_dict, infer_rrdb_shape
from gan_core.nets.srresnet import SRDiscriminator, SRResNet, bicubic
from gan_core.nets.unet import UNetGenerator, official_key_map
from public_layouts import official_unet_state, public_rrdb_state


@pytest.mark.parametrize("depth,size", [(5, 32), (6, 64), (8, 256)])
def test_unet_keeps_the_size_and_maps_to_tanh_range(depth, size):
    g = UNetGenerator(1, 3, depth, ngf=4).eval()
    y = g(torch.randn(2, 1, size, size))
    assert y.shape == (2, 3, size, size)
    assert y.abs().max() <= 1


def test_unet_refuses_sizes_that_do_not_halve_cleanly():
    with pytest.raises(ValueError, match="multiples of 32"):
        UNetGenerator(1, 1, 5, ngf=4)(torch.randn(1, 1, 48, 40))


def test_unet_has_the_papers_three_dropout_layers_at_256():
    drops = [m for m in UNetGenerator(3, 3, 8, ngf=4).modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 3 and all(d.p == 0.5 for d in drops)
    assert not [m for m in UNetGenerator(3, 3, 8, ngf=4, dropout=False).modules() if isinstance(m, nn.Dropout)]


def test_unet_decoder_layers_read_the_skip_and_the_layer_below():
    g = UNetGenerator(1, 1, 5, ngf=4)
    widths = [4, 8, 16, 32, 32]
    assert g.up[0][1].in_channels == widths[-1]                      # the innermost: no skip
    assert [g.up[j][1].in_channels for j in range(1, 5)] == [2 * w for w in reversed(widths[:-1])]


def test_official_unet_names_map_onto_ours_one_to_one():
    state = official_unet_state(3, 3, 8, 4)
    mapping = official_key_map(8)
    ours = UNetGenerator(3, 3, 8, ngf=4).state_dict()
    inverse = {o: m for m, o in mapping.items()}
    renamed = {}
    for k, v in state.items():
        module, _, leaf = k.rpartition(".")
        renamed[f"{inverse[module]}.{leaf}"] = v
    assert set(renamed) == set(ours)
    assert all(renamed[k].shape == ours[k].shape for k in ours)


@pytest.mark.parametrize("n_layers,rf", [(1, 16), (2, 34), (3, 70), (4, 142)])
def test_patchgan_receptive_field(n_layers, rf):
    assert receptive_field(n_layers) == rf


def test_patchgan_receptive_field_matches_the_network():
    # the gradient of one output logit reaches exactly a receptive_field-wide window of the input
    d = PatchDiscriminator(2, ndf=4, n_layers=2).eval()
    x = torch.zeros(1, 1, 96, 96, requires_grad=True)
    y = torch.zeros(1, 1, 96, 96)
    out = d(x, y)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    cols = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten()
    assert cols.max() - cols.min() + 1 <= receptive_field(2)


def test_patchgan_judges_a_grid_of_patches():
    out = PatchDiscriminator(1 + 3, ndf=8, n_layers=3)(torch.randn(2, 1, 256, 256), torch.randn(2, 3, 256, 256))
    assert out.shape == (2, 1, 30, 30)  # the paper's 70x70 PatchGAN on 256x256 pictures


@pytest.mark.parametrize("scale", [2, 4])
def test_srresnet_upscales_and_starts_from_bicubic(scale):
    g = SRResNet(scale, channels=8, n_blocks=2)
    x = torch.rand(1, 3, 12, 10)
    assert g(x).shape == (1, 3, 12 * scale, 10 * scale)
    for p in g.tail.parameters():  # with the correction zeroed, G(x) is exactly the bicubic upscale
        nn.init.zeros_(p)
    torch.testing.assert_close(g(x), bicubic(x, scale))


def test_sr_discriminator_takes_any_crop_size():
    d = SRDiscriminator(ndf=8)
    assert d(torch.rand(3, 3, 96, 96)).shape == (3, 1)
    assert d(torch.rand(1, 3, 40, 56)).shape == (1, 1)


@pytest.mark.parametrize("scale", [2, 4])
def test_rrdbnet_loads_public_names_and_upscales(scale):
    state = public_rrdb_state(scale=scale)
    shape = infer_rrdb_shape(state)
    assert shape == {"scale": scale, "num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_block": 2, "num_grow_ch": 4}
    net = RRDBNet(**shape)
    net.load_state_dict(state)  # strict: every public key is ours, and nothing is missing
    assert net(torch.rand(1, 3, 8, 8)).shape == (1, 3, 8 * scale, 8 * scale)


def test_rrdbnet_x2_takes_odd_sides():
    net = RRDBNet(**infer_rrdb_shape(public_rrdb_state(scale=2)))
    assert net(torch.rand(1, 3, 7, 9)).shape == (1, 3, 14, 18)


def test_original_esrgan_names_are_renamed():
    state = public_rrdb_state()
    old = {}
    for k, v in state.items():
        k = (k.replace("conv_body", "trunk_conv").replace("conv_up1", "upconv1").replace("conv_up2", "upconv2")
             .replace("conv_hr", "HRconv"))
        if k.startswith("body."):
            _, b, rdb, rest = k.split(".", 3)
            k = f"RRDB_trunk.{b}.RDB{rdb[-1]}.{rest}"
        old[k] = v
    assert set(from_public_state_dict(old)) == set(state)
