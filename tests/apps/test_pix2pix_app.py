"""Sketch to image: drawings, photos, variations, and importing the official weights."""
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.apps.pix2pix import import_official_pix2pix, load_sketcher
from gan_core.checkpoint import CheckpointError
from gan_core.train import make_trainer
from public_layouts import official_unet_state


@pytest.fixture
def sketcher(tiny_pix2pix_cfg, tmp_path):
    tr = make_trainer(tiny_pix2pix_cfg("model.img_size=64", "model.dropout=true"), "cpu")
    return load_sketcher(tr.export(tmp_path / "p2p"))


def test_a_sketch_is_padded_square_resized_and_thinned(sketcher):
    img = Image.new("RGBA", (200, 100), (0, 0, 0, 0))                 # transparent canvas
    arr = np.asarray(img).copy()
    arr[45:55, 20:180] = (0, 0, 0, 255)                                  # a 10-px black stroke
    d = sketcher.drawing(Image.fromarray(arr))
    assert d.shape == (64, 64) and set(np.unique(d)) == {0, 255}
    rows = np.flatnonzero((d == 0).any(1))
    assert rows.max() - rows.min() <= 1                                  # one thin line, in the middle
    assert 30 <= rows.mean() <= 34


def test_translate_returns_a_picture_and_the_time(sketcher):
    out, seconds = sketcher.translate(np.full((64, 64), 255, np.uint8))
    assert out.size == (64, 64) and out.mode == "L" and seconds > 0
    big, _ = sketcher.translate(sketcher.drawing(Image.new("L", (300, 300), 255), size=128))
    assert big.size == (128, 128)                                        # any multiple of 2**depth


def test_variations_differ_by_seed_and_repeat_per_seed(sketcher):
    assert sketcher.has_dropout
    d = sketcher.drawing(Image.new("L", (64, 64), 255))
    a, _ = sketcher.translate(d, variation=1)
    b, _ = sketcher.translate(d, variation=1)
    c, _ = sketcher.translate(d, variation=2)
    plain1, _ = sketcher.translate(d)
    plain2, _ = sketcher.translate(d)
    assert np.array_equal(np.asarray(a), np.asarray(b)) and not np.array_equal(np.asarray(a), np.asarray(c))
    assert np.array_equal(np.asarray(plain1), np.asarray(plain2))        # the shared model stays in eval mode
    assert not any(m.training for m in sketcher.net.G.modules())


def test_photo_edges_use_the_models_method(sketcher):
    photo = Image.new("RGB", (64, 64), "white")
    photo.paste((0, 0, 0), (16, 8, 48, 56))                              # a dark digit-ish bar on white
    d = sketcher.edges(photo)
    assert sketcher.data.edges == "skeleton"
    cols = np.flatnonzero((d == 0).any(0))
    assert len(cols) and 28 <= cols.mean() <= 36                         # its centre line, not the page


def test_a_depth_5_model_has_no_dropout(tiny_pix2pix_cfg, tmp_path):
    sk = load_sketcher(make_trainer(tiny_pix2pix_cfg(), "cpu").export(tmp_path / "d5"))
    assert not sk.has_dropout
    d = np.full((32, 32), 255, np.uint8)
    assert np.array_equal(np.asarray(sk.translate(d, variation=3)[0]), np.asarray(sk.translate(d)[0]))


def test_a_music_or_sr_checkpoint_is_not_a_sketcher(tiny_sr_cfg, tmp_path):
    path = make_trainer(tiny_sr_cfg(), "cpu").export(tmp_path / "sr")
    with pytest.raises(CheckpointError, match="not a Pix2Pix"):
        load_sketcher(path)


def test_official_weights_import_and_translate_like_the_original(tmp_path):
    state = official_unet_state(3, 3, 6, 4)
    del state["model.model.1.model.2.num_batches_tracked"]              # as saved by PyTorch < 0.4.1
    torch.save(state, tmp_path / "latest_net_G.pth")
    path = import_official_pix2pix(tmp_path / "latest_net_G.pth", tmp_path / "imported")
    sk = load_sketcher(path)
    assert sk.model.img_size == 64 and sk.model.ngf == 4 and sk.model.in_channels == 3 and sk.has_dropout
    torch.testing.assert_close(sk.net.G.down[0][0].weight, state["model.model.0.weight"])
    torch.testing.assert_close(sk.net.G.up[5][1].bias, state["model.model.3.bias"])
    out, _ = sk.translate(np.full((64, 64), 255, np.uint8))
    assert out.size == (64, 64) and out.mode == "RGB"


def test_a_pickle_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"model.model.0.weight": Payload()}, f)
    with pytest.raises(CheckpointError, match="refused"):
        import_official_pix2pix(tmp_path / "evil.pth", tmp_path / "out")
    assert not marker.exists()


def test_weights_of_another_architecture_are_named(tmp_path):
    torch.save({"conv_first.weight": torch.zeros(8, 3, 3, 3)}, tmp_path / "esrgan.pth")
    with pytest.raises(CheckpointError, match="(?s)not an official pix2pix U-Net.*conv_first.weight"):
        import_official_pix2pix(tmp_path / "esrgan.pth", tmp_path / "out")
    state = official_unet_state(3, 3, 6, 4)
    state["model.model.1.model.1.weight"] = torch.zeros(9, 4, 4, 4)     # a misshapen layer
    torch.save(state, tmp_path / "bent.pth")
    with pytest.raises(CheckpointError, match="(?s)shape mismatches.*down.1.1.weight"):
        import_official_pix2pix(tmp_path / "bent.pth", tmp_path / "out")
