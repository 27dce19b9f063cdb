"""The CycleGAN app: translating pictures of any size, the cycle view, held-out readings, official weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.apps.cyclegan import (
    evaluate_translator,
    import_official_cyclegan,
    load_translator,
    readings,
)
from gan_core.checkpoint import CheckpointError
from gan_core.nets.cyclegan import ResnetGenerator


def test_digits_inputs_are_prepared_as_their_side_looks(tiny_cyclegan):
    tr = load_translator(tiny_cyclegan)
    paper = Image.new("L", (60, 40), 255)  # a dark digit on white paper, not square
    paper.paste(0, (25, 5, 32, 35))
    mnist = tr.prepare(paper, "a")
    assert mnist.shape == (1, 1, 16, 16)
    assert mnist.mean() < 0  # inverted: light on dark like MNIST
    ink = (mnist[0, 0] > 0).nonzero()
    assert ink[:, 0].min() >= 1 and ink[:, 0].max() <= 14  # the stroke's box fitted inside a margin
    uci = tr.prepare(paper, "b")[0, 0]  # UCI's look: the ink's box fills the 8x8 cells, in a dark margin
    assert uci.shape == (16, 16)
    assert (uci[:2] == -1).all() and (uci[-2:] == -1).all() and (uci[:, :2] == -1).all()
    assert uci[2:14, 2:14].max() == 1  # the stroke, now filling its cells


def test_cycle_and_identity_views(tiny_cyclegan):
    tr = load_translator(tiny_cyclegan)
    img = Image.fromarray((np.random.default_rng(0).random((30, 30)) * 255).astype("uint8"))
    c = tr.cycle(img, "b2a")
    assert c.x.size == c.y.size == c.rec.size == (16, 16)
    x = np.asarray(c.x, float) / 255
    assert c.error == pytest.approx(np.abs(np.asarray(c.rec, float) / 255 - x).mean(), abs=0.01)
    y, mapped, err = tr.identity(img, "a2b")
    assert y.size == mapped.size and 0 <= err <= 1


def test_readings_of_held_out_digits(tiny_cyclegan):
    tr = load_translator(tiny_cyclegan)
    r = readings(tr, "a2b", n=6, seed=3)
    assert r.inputs.shape == r.outputs.shape == (6, 1, 16, 16)
    assert r.read.shape == r.labels.shape == (6,)
    assert r.preserved == pytest.approx(float((r.read == r.labels).float().mean()), abs=1e-4)
    assert torch.equal(readings(tr, "a2b", n=6, seed=3).labels, r.labels)  # a seed draws the same digits
    m = evaluate_translator(tr)
    assert m["test_a"] == 500 and m["test_b"] == 300
    assert 0 <= m["a2b_preserved"] <= 1 and m["classifier_b_on_real"] > 0.9  # the UCI classifier's ceiling


def _official(tmp_path, name, in_c=3, out_c=3, blocks=2, ngf=4, seed=0):
    torch.manual_seed(seed)
    net = ResnetGenerator(in_c, out_c, ngf=ngf, n_blocks=blocks).eval()
    state = net.state_dict()
    # what PyTorch < 0.4 saved for instance norm layers, and the official code deletes on load
    state["model.2.running_mean"] = torch.zeros(ngf)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return net, path


def test_import_official_generators_both_ways(tmp_path):
    g_a, pa = _official(tmp_path, "horse2zebra/latest_net_G_A.pth", seed=1)
    g_b, pb = _official(tmp_path, "horse2zebra/latest_net_G_B.pth", seed=2)
    out = import_official_cyclegan(pa, tmp_path / "h2z", g_b=pb)
    tr = load_translator(out)
    assert tr.directions == ("a2b", "b2a")
    assert (tr.side_name("a"), tr.side_name("b")) == ("horse", "zebra")
    x = torch.rand(1, 3, 20, 28) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(tr.run(x, "a2b"), g_a(x))
        torch.testing.assert_close(tr.run(x, "b2a"), g_b(x))
    # photos: shorter side to `size`, any side length (padded to a multiple of 4 inside)
    photo = Image.new("RGB", (90, 50), (200, 120, 40))
    assert tr.translate(photo, "a2b", size=30).size == (54, 30)
    tiled = tr.translate(Image.new("RGB", (300, 100), (10, 200, 40)), "b2a", size=100, tile=128, overlap=16)
    assert tiled.size == (300, 100) and tiled.mode == "RGB"


def test_a_one_way_import_has_no_cycle(tmp_path):
    _, p = _official(tmp_path, "style_monet_pretrained/latest_net_G.pth")
    tr = load_translator(import_official_cyclegan(p, tmp_path / "monet"))
    assert tr.directions == ("a2b",) and tr.model.generators == "a2b"
    c = tr.cycle(Image.new("RGB", (40, 40)), "a2b", size=32)
    assert c.rec is None and c.error is None


def test_wrong_weights_are_refused_with_a_reason(tmp_path):
    from gan_core.nets.unet import UNetGenerator
    torch.save(UNetGenerator(3, 3, 5, 4).state_dict(), tmp_path / "pix2pix.pth")
    with pytest.raises(CheckpointError, match="not an official CycleGAN ResNet generator"):
        import_official_cyclegan(tmp_path / "pix2pix.pth", tmp_path / "x")
    _, pa = _official(tmp_path, "a.pth", blocks=2)
    _, pb = _official(tmp_path, "b.pth", blocks=3)
    with pytest.raises(CheckpointError, match="does not fit"):
        import_official_cyclegan(pa, tmp_path / "x", g_b=pb)
    (tmp_path / "evil.pth").write_bytes(b"\x80\x04cos\nsystem\n.")
    with pytest.raises(CheckpointError, match="refused"):
        import_official_cyclegan(tmp_path / "evil.pth", tmp_path / "x")


def test_a_pix2pix_checkpoint_is_not_a_translator(shipped):
    with pytest.raises(CheckpointError, match="not a CycleGAN"):
        load_translator(shipped("pix2pix_digits"))
