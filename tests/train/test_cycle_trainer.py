"""CycleGAN on the one loop: the loss terms, the image pool, gradients to both generators, resume."""
from __future__ import annotations

import pytest
import torch

from gan_core.losses import cycle_loss, identity_loss
from gan_core.runs import RunDir
from gan_core.train import CycleTrainer, make_trainer
from gan_core.train.callbacks import standard_callbacks
from gan_core.train.cycle import ImagePool


def test_cycle_and_identity_terms_by_hand():
    x = torch.tensor([[0.0, 1.0], [-1.0, 0.5]])
    rec = torch.tensor([[0.5, 1.0], [-0.5, -0.5]])
    assert cycle_loss(x, rec).item() == pytest.approx((0.5 + 0 + 0.5 + 1.0) / 4)
    assert identity_loss(x, x).item() == 0
    assert identity_loss(x, -x).item() == pytest.approx((0 + 2 + 2 + 1) / 4)


def test_pool_fills_then_swaps_half_the_time():
    pool = ImagePool(4)
    g = torch.Generator().manual_seed(0)
    first = torch.arange(4.0).reshape(4, 1)
    assert torch.equal(pool.query(first, g), first)  # filling: returned as they came
    assert pool.count == 4
    swapped, seen = 0, set(range(4))
    for step in range(200):
        new = 100.0 + 4 * step + torch.arange(4.0).reshape(4, 1)  # every picture unique
        out = pool.query(new, g)
        for i, v in enumerate(out[:, 0].tolist()):
            if v != new[i, 0]:
                assert v in seen  # a picture that went into the pool before it
                swapped += 1
            seen.add(new[i, 0].item())
    assert 0.45 < swapped / 800 < 0.55
    assert len(pool.state()) == 4
    assert torch.equal(ImagePool(0).query(first, g), first)


def test_the_pool_survives_a_save_and_load():
    pool = ImagePool(3)
    g = torch.Generator().manual_seed(1)
    pool.query(torch.randn(2, 1, 4, 4), g)
    other = ImagePool(3)
    other.load(pool.state())
    assert other.count == 2 and torch.equal(other.state(), pool.state())


def test_a_step_trains_both_generators_and_both_discriminators(tiny_cyclegan_cfg):
    tr = make_trainer(tiny_cyclegan_cfg(), "cpu")
    assert isinstance(tr, CycleTrainer)
    before = {k: v.clone() for k, v in {**tr.G.state_dict(), **tr.D.state_dict()}.items()}
    g = tr.rng(0)
    tr.d_step(g)
    for name, p in tr.D.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    stats = {k: float(v) for k, v in tr.g_step(g).items()}
    for name, p in tr.G.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for prefix in ("ab.", "ba."):
        assert any(not torch.equal(before[k], v) for k, v in tr.G.state_dict().items() if k.startswith(prefix))
    for prefix in ("a.", "b."):
        assert any(not torch.equal(before[k], v) for k, v in tr.D.state_dict().items() if k.startswith(prefix))
    assert {"loss_g", "adv_a2b", "adv_b2a", "cycle", "identity"} <= set(stats)
    # L_G = adv + adv + lambda_cyc * cycle + lambda_id * identity, lambda_id = 0.5 * 10
    assert stats["loss_g"] == pytest.approx(stats["adv_a2b"] + stats["adv_b2a"] + 10 * stats["cycle"]
                                            + 5 * stats["identity"], rel=1e-5)


def test_the_b_cycle_may_be_weighted_apart(tiny_cyclegan_cfg):
    """lambda_A = 10 on A -> B -> A and G_YX's identity; lambda_B = 1 on B -> A -> B and G_XY's identity."""
    tr = make_trainer(tiny_cyclegan_cfg("train.cycle_weight_b=1"), "cpu")
    s = tr.train_step()
    assert s["loss_g"] == pytest.approx(s["adv_a2b"] + s["adv_b2a"] + 10 * s["cycle_a"] + 1 * s["cycle_b"]
                                        + 0.5 * (10 * s["identity_a"] + 1 * s["identity_b"]), rel=1e-5)


def test_without_the_cycle_there_is_no_identity_term_either(tiny_cyclegan_cfg):
    tr = make_trainer(tiny_cyclegan_cfg("train.cycle_weight=0"), "cpu")
    stats = tr.train_step()
    assert "identity" not in stats
    assert stats["loss_g"] == pytest.approx(stats["adv_a2b"] + stats["adv_b2a"], rel=1e-5)


def test_learning_rate_is_constant_then_falls_linearly(tiny_cyclegan_cfg):
    t = tiny_cyclegan_cfg("train.steps=100", "train.lr_decay=linear", "train.lr_decay_start=50").train
    assert [t.lr_scale(s) for s in (0, 49, 50, 75, 100)] == [1.0, 1.0, 1.0, 0.5, 0.0]


@pytest.mark.parametrize("loss", ["wgan-gp", "hinge", "nonsaturating"])
def test_other_losses_of_the_family_train(tiny_cyclegan_cfg, loss):
    stats = make_trainer(tiny_cyclegan_cfg(f"train.loss={loss}"), "cpu").train_step()
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.values())
    assert ("gp" in stats) == (loss == "wgan-gp")


def test_resume_continues_exactly_pools_included(tiny_cyclegan_cfg, tmp_path):
    cfg = tiny_cyclegan_cfg("train.steps=6", "train.checkpoint_every=3", "train.ema_decay=0.9")
    straight = make_trainer(cfg, "cpu")
    straight.fit()
    run = RunDir.create("cycle", path=tmp_path / "run")
    first = make_trainer(cfg, "cpu", callbacks=standard_callbacks(run, progress=False))
    first.fit(3)
    assert first.pools["a"].count == 3  # the pool is full (size 3) after three steps of 4 pictures
    again = make_trainer(cfg, "cpu")
    again.load_state(run.latest_checkpoint())
    assert again.step == 3 and torch.equal(again.pools["b"].state(), first.pools["b"].state())
    again.fit()
    for (name, a), b in zip(straight.G.state_dict().items(), again.G.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    for a, b in zip(straight.G_ema.state_dict().values(), again.G_ema.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_sample_sheets_show_both_directions_and_the_export_is_a_translator(tiny_cyclegan_cfg, tmp_path):
    from PIL import Image
    from gan_core.apps.cyclegan import load_translator
    run = RunDir.create("cycle", path=tmp_path / "run")
    tr = make_trainer(tiny_cyclegan_cfg(), "cpu", callbacks=standard_callbacks(run, progress=False))
    tr.fit()
    sheet = Image.open(sorted(run.samples.glob("*.png"))[-1])
    assert sheet.size == (6 * 16 + 7 * 2, 2 * 16 + 3 * 2)  # a | G(a) | F(G(a)) | b | F(b) | G(F(b)), 2 rows
    path = tr.export(tmp_path / "cycle")
    t = load_translator(path)
    assert t.card["task"] == "cyclegan" and t.directions == ("a2b", "b2a")
    x = torch.rand(1, 1, 16, 16) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(t.run(x, "a2b"), tr.G.ab.eval()(x))
