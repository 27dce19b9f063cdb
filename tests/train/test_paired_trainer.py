"""Pix2Pix and SRGAN on the one training loop: the losses each step adds, the two SRGAN stages,
run folders, resume."""
import math

import pytest
import torch

from gan_core.checkpoint import CheckpointError, read_card
from gan_core.config import ConfigError
from gan_core.recipes import load_recipe
from gan_core.runs import RunDir
from gan_core.train.callbacks import standard_callbacks
from gan_core.train.paired import PairedTrainer
from gan_core.train import make_trainer


def test_recipes_pick_the_paired_trainer(tiny_pix2pix_cfg, tiny_sr_cfg, tiny_dcgan_cfg):
    assert isinstance(make_trainer(tiny_pix2pix_cfg(), "cpu"), PairedTrainer)
    assert isinstance(make_trainer(tiny_sr_cfg(), "cpu"), PairedTrainer)
    assert not isinstance(make_trainer(tiny_dcgan_cfg(), "cpu"), PairedTrainer)


def test_pix2pix_step_reports_the_adversarial_and_l1_terms(tiny_pix2pix_cfg):
    tr = make_trainer(tiny_pix2pix_cfg(), "cpu")
    stats = tr.train_step()
    assert {"loss_d", "loss_g", "pixel", "adv", "d_real", "d_fake"} <= set(stats)
    # G's loss is adv_weight * adv + lambda * L1, lambda = 100
    assert stats["loss_g"] == pytest.approx(stats["adv"] + 100 * stats["pixel"], rel=1e-5)


def test_pix2pix_d_sees_pairs_and_the_conditions_are_the_drawings(tiny_pix2pix_cfg):
    tr = make_trainer(tiny_pix2pix_cfg(), "cpu")
    x, y = tr.real_pairs(torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 1, 32, 32)
    assert set(torch.unique(x).tolist()) <= {-1.0, 1.0}            # drawings: black lines on white
    assert tr.D.model[0].in_channels == 2                          # (x, y) stacked on channels


def test_super_resolution_trains_in_bf16_where_the_cpu_has_it(tiny_sr_cfg, tiny_pix2pix_cfg, monkeypatch):
    from gan_core import devices
    for flags, native in (({"avx512_bf16"}, True), ({"avx2"}, False)):
        monkeypatch.setattr(devices, "cpu_flags", lambda flags=flags: flags)
        assert make_trainer(tiny_sr_cfg(), "cpu").amp is native
        assert not make_trainer(tiny_sr_cfg("train.amp=false"), "cpu").amp
        assert not make_trainer(tiny_pix2pix_cfg(), "cpu").amp  # not measured under bf16: float32
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx512_bf16"})
    tr = make_trainer(tiny_sr_cfg(), "cpu")
    before = [p.detach().clone() for p in tr.G.parameters()]
    stats = tr.train_step()
    assert math.isfinite(stats["psnr"]) and tr.weights_finite()
    assert all(p.dtype == torch.float32 for p in tr.G.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(before, tr.G.parameters()))


def test_pretraining_stage_has_no_discriminator_step(tiny_sr_cfg):
    tr = make_trainer(tiny_sr_cfg(), "cpu")
    before = [p.clone() for p in tr.D.parameters()]
    stats = tr.train_step()
    assert "loss_d" not in stats and "adv" not in stats and stats["psnr"] > 0
    assert stats["loss_g"] == pytest.approx(stats["pixel"])
    assert all(torch.equal(a, b) for a, b in zip(before, tr.D.parameters()))


def test_sr_inputs_are_the_targets_shrunk_by_bicubic(tiny_sr_cfg):
    tr = make_trainer(tiny_sr_cfg(), "cpu")
    x, y = tr.real_pairs(torch.Generator().manual_seed(0))
    assert x.shape == (2, 3, 8, 8) and y.shape == (2, 3, 16, 16)
    torch.testing.assert_close(x.mean(), y.mean(), atol=0.02, rtol=0)


def test_srgan_stage_starts_from_the_srresnet_and_adds_the_vgg_term(tiny_sr_cfg, tmp_path):
    first = make_trainer(tiny_sr_cfg(), "cpu")
    first.fit()
    first.export(tmp_path / "stage1")
    second = make_trainer(tiny_sr_cfg("train.adv_weight=0.001", "train.perceptual_weight=0.01",
                                      f"train.init_g={tmp_path / 'stage1.safetensors'}"), "cpu")
    for a, b in zip(first.G.state_dict().values(), second.G.state_dict().values()):
        torch.testing.assert_close(a, b)
    stats = second.train_step()
    assert {"adv", "perceptual", "loss_d"} <= set(stats)
    assert stats["loss_g"] == pytest.approx(stats["pixel"] + 0.01 * stats["perceptual"] + 0.001 * stats["adv"],
                                            rel=1e-4)
    second.export(tmp_path / "stage2")
    card = read_card(tmp_path / "stage2")
    assert card["task"] == "superres" and "VGG19" in card["perceptual"]


def test_init_g_of_another_architecture_is_refused(tiny_sr_cfg, tiny_pix2pix_cfg, tmp_path):
    tr = make_trainer(tiny_pix2pix_cfg(), "cpu")
    tr.export(tmp_path / "p2p")
    with pytest.raises(CheckpointError, match="pix2pix"):
        make_trainer(tiny_sr_cfg(f"train.init_g={tmp_path / 'p2p.safetensors'}"), "cpu")


def test_a_run_writes_sample_sheets_and_resumes(tiny_pix2pix_cfg, tmp_path):
    cfg = tiny_pix2pix_cfg("train.steps=4")
    run = RunDir.create("p2p", path=tmp_path / "run")
    tr = make_trainer(cfg, "cpu", callbacks=standard_callbacks(run, progress=False))
    tr.stop_requested = False
    tr.fit(2)
    sheets = sorted(run.samples.glob("*.png"))
    assert [p.stem for p in sheets] == ["step_0000000", "step_0000002"]
    from PIL import Image
    assert Image.open(sheets[-1]).size[0] == 3 * 32 + 4 * 2        # input | output | target
    again = make_trainer(cfg, "cpu")
    again.load_state(sorted(run.checkpoints.glob("step_*.safetensors"))[-1])
    assert again.step == 2
    for a, b in zip(tr.G.state_dict().values(), again.G.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_recipe_errors_name_the_problem():
    with pytest.raises(ConfigError, match="multiple of 2\\*\\*depth"):
        load_recipe(None, ["model.arch=pix2pix", "model.img_size=48", "data.name=mnist5k"])
    with pytest.raises(ConfigError, match="learns from pictures"):
        load_recipe(None, ["model.arch=pix2pix", "data.name=toy"])
    with pytest.raises(ConfigError, match="makes its low-resolution inputs itself"):
        load_recipe(None, ["model.arch=srresnet", "data.name=paired", "data.path=x"])
    with pytest.raises(ConfigError, match="is for model.arch pix2pix or srresnet"):
        load_recipe(None, ["data.name=photos"])
    with pytest.raises(ConfigError, match="multiple of model.scale"):
        load_recipe(None, ["model.arch=srresnet", "model.img_size=30", "data.name=photos"])
