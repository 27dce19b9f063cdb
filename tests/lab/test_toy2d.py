"""The toy lab trains exactly what the Trainer trains, only faster, and stays honest about it."""
import time

import numpy as np
import pytest
import torch

from gan_core.recipes import load_recipe
from gan_core.data.images import DataError
from gan_core.data.toy import get_toy, points_from_csv, points_from_drawing, standardize
from gan_core.lab import one_thread
from gan_core.lab.live import LiveLab
from gan_core.lab.toy2d import LabSpec, ModelSpec, ToyLab, toy_recipe
from gan_core.losses import LOSSES
from gan_core.train import Trainer

BASE = ["model.arch=mlp", "data.name=toy", "model.g_width=16", "model.d_width=16", "train.batch_size=32"]
VARIANTS = [
    [],
    ["train.loss=minimax", "train.optimizer=sgd", "train.momentum=0.9", "train.lr_d=0.01", "train.lr_g=0.01"],
    ["train.loss=wgan", "train.clip_value=0.05", "train.optimizer=rmsprop", "train.k_d=3", "train.lr_d=5e-4"],
    ["train.loss=wgan-gp", "train.k_d=2", "model.activation=tanh"],
    ["train.loss=lsgan", "model.activation=gelu", "train.instance_noise.sigma=0.3"],
    ["train.loss=hinge", "model.activation=silu", "model.g_depth=3"],
    ["model.activation=elu", "model.nz=5", "model.noise=uniform"],
    ["model.activation=leaky_relu", "train.instance_noise.sigma=0.2", "train.instance_noise.anneal=exponential"],
    ["train.ema_decay=0.9"],
    ["train.lr_decay=linear", "train.steps=8", "train.lr_g=3e-3", "train.lr_d=3e-3"],
    ["model.pack=4", "train.loss=hinge"],
    ["model.pack=2", "train.loss=wgan-gp", "train.k_d=2"],
    # the classic comparison's critics in one stack: a penalty on one row of two, RMSProp beside Adam
    ["train.loss=wgan-gp", "train.k_d=3", "train.betas=[0.0, 0.9]"],
    ["train.loss=wgan-gp", "model.activation=leaky_relu", "model.d_depth=1"],
]


@pytest.fixture(autouse=True)
def _one_thread():
    """As the app trains the lab: on a busy 2-core machine, two torch threads made these tiny
    steps ~40x slower (the side-by-side test: 9.7 s, 0.2 s on one thread)."""
    with one_thread():
        yield


def _linear_weights(module):
    return [m.weight.detach().T for m in module.modules() if isinstance(m, torch.nn.Linear)]


def test_side_by_side_equals_the_trainer_alone():
    """Eight configurations in one lab (stacked where shapes agree, k_d differing within a stack)
    end with the weights the Trainer reaches for each one on its own."""
    data = get_toy("ring8")
    cfgs = [load_recipe(None, BASE + v) for v in VARIANTS]
    lab = ToyLab(cfgs, data)
    lab.train(6)
    assert len(lab.groups) < len(cfgs)  # some configurations really share a stack
    grp, _ = lab._locate(VARIANTS.index(["train.loss=wgan", "train.clip_value=0.05", "train.optimizer=rmsprop",
                                         "train.k_d=3", "train.lr_d=5e-4"]))
    assert [loss.name for loss in grp.losses] == ["wgan", "wgan-gp"]  # penalty on one row of the stack
    mixed = ToyLab([load_recipe(None, BASE), load_recipe(None, BASE + ["train.k_d=3"])], data)
    assert len(mixed.groups) == 2
    for i, cfg in enumerate(cfgs):
        tr = Trainer(cfg, "cpu", data=data)
        for _ in range(6):
            tr.train_step()
        grp, m = lab._locate(i)
        for net, module in ((grp.G, tr.G), (grp.D, tr.D)):
            for W, ref in zip(net.W, _linear_weights(module)):
                assert torch.allclose(W[m], ref, atol=1e-5), (VARIANTS[i], float((W[m] - ref).abs().max()))
        z = torch.randn(50, cfg.model.nz, generator=torch.Generator().manual_seed(5))
        if cfg.model.noise == "normal":  # samples come from the same (EMA) generator as the Trainer's
            assert torch.allclose(lab.sample(50, seed=5)[i], tr.sample(z), atol=1e-5)


@pytest.mark.parametrize("pack", [1, 4])
def test_losses_match_the_trainer_step_by_step(pack):
    data = get_toy("grid25")
    cfg = load_recipe(None, BASE + ["train.loss=wgan-gp", "train.k_d=2", f"model.pack={pack}"])
    lab, tr = ToyLab([cfg], data), Trainer(cfg, "cpu", data=data)
    for _ in range(3):
        lab.train(1)
        stats = tr.train_step()
        rec = lab.history[0][-1]
        for k in ("loss_d", "loss_g", "gp", "d_real", "d_fake"):
            assert rec[k] == pytest.approx(stats[k], rel=1e-4, abs=1e-6), k


def test_partial_steps():
    lab = ToyLab([load_recipe(None, BASE)], get_toy("ring8"))
    g0 = lab.groups[0].G.params.clone()
    d0 = lab.groups[0].D.params.clone()
    lab.train(1, "d")
    assert torch.equal(lab.groups[0].G.params, g0) and not torch.equal(lab.groups[0].D.params, d0)
    assert lab.step == 0
    d1 = lab.groups[0].D.params.clone()
    lab.train(1, "d")  # a second D-only press draws a new batch: another update
    assert not torch.equal(lab.groups[0].D.params, d1)
    lab.train(1, "g")
    assert lab.step == 1 and not torch.equal(lab.groups[0].G.params, g0)
    assert lab.updates == 3  # what a view compares to know the weights changed: every press counts
    with pytest.raises(ValueError, match="what must be"):
        lab.train(1, "x")


def test_clipping_and_views():
    cfg = load_recipe(None, BASE + ["train.loss=wgan", "train.clip_value=0.02", "train.optimizer=rmsprop"])
    lab = ToyLab([cfg], get_toy("ring8"))
    lab.train(5)
    assert lab.groups[0].D.params.abs().max() <= 0.02 + 1e-7
    x = lab.sample(100)[0]
    assert x.shape == (100, 2)
    grid = torch.cartesian_prod(torch.linspace(-3, 3, 7), torch.linspace(-3, 3, 7))
    assert lab.discriminator(grid)[0].shape == (49,)
    assert lab.manifold(lines=5, points=9)[0].shape == (10, 9, 2)
    points, direction = lab.push(20)[0]
    assert points.shape == direction.shape == (20, 2) and torch.isfinite(direction).all()


def test_exploding_learning_rate_is_reported_not_raised():
    cfgs = [load_recipe(None, BASE + ["train.lr_d=1e9", "train.lr_g=1e9", "train.optimizer=sgd",
                                      "train.loss=lsgan"]), load_recipe(None, BASE)]
    lab = ToyLab(cfgs, get_toy("ring8"))
    lab.train(30)
    assert lab.diverged[0] is not None and "NaN or infinite" in lab.diverged[0]
    assert lab.diverged[1] is None and torch.isfinite(lab.sample(10)[1]).all()  # the other one trains on


def test_flops_per_step_counts_the_matmuls():
    small = ["model.arch=mlp", "data.name=toy", "model.g_width=8", "model.d_width=8", "model.g_depth=1",
             "model.d_depth=1", "train.batch_size=10"]
    lab = ToyLab([load_recipe(None, small)], get_toy("ring8"))
    # G: 2->8->2 = 32 MACs/row, D: 2->8->1 = 24 MACs/row; first layers 16 each
    fG, fD, f1G, f1D = 2 * 10 * 32, 2 * 10 * 24, 2 * 10 * 16, 2 * 10 * 16
    assert lab.flops_per_step() == (fG + 6 * fD - 2 * f1D) + (3 * fG - f1G + 2 * fD)
    packed = ToyLab([load_recipe(None, [*small, "model.pack=2"])], get_toy("ring8"))
    # D: 4->8->1 = 40 MACs on each of 5 packed rows, its first layer 32
    fD, f1D = 2 * 5 * 40, 2 * 5 * 32
    assert packed.flops_per_step() == (fG + 6 * fD - 2 * f1D) + (3 * fG - f1G + 2 * fD)
    # WGAN-GP, k = 2, beside a model without a penalty: 4F(D) - 2FL(D) more per D step for one of
    # the two rows (D's last layer 8 -> 1: FL = 2 * 10 * 8)
    pair = ToyLab([load_recipe(None, [*small, f"train.loss={loss}", "train.k_d=2"]) for loss in ("wgan", "wgan-gp")],
                  get_toy("ring8"))
    fD, f1D, fLD = 2 * 10 * 24, 2 * 10 * 16, 2 * 10 * 8
    assert pair.flops_per_step() == 2 * (2 * (fG + 6 * fD - 2 * f1D) + (4 * fD - 2 * fLD)) + 2 * (3 * fG - f1G + 2 * fD)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_default_recipes(loss):
    cfg = toy_recipe("grid25", loss, seed=4)
    assert cfg.train.loss == loss and cfg.train.seed == 4 and cfg.data.toy == "grid25"
    assert (cfg.train.clip_value is not None) == (loss == "wgan")
    with pytest.raises(ValueError, match="unknown loss"):
        toy_recipe("ring8", "wgan_gp")


def test_lab_spec_round_trips_through_a_link():
    spec = LabSpec(data="grid25", seed=3, batch=128,
                   models=[ModelSpec.default("wgan-gp"),
                           ModelSpec.default("minimax").model_copy(update={"lr_d": 1e-3, "pack": 4})])
    link = spec.to_url()
    assert len(link) < 200 and LabSpec.from_url(link) == spec
    cfgs = LabSpec.from_url(link).configs()
    assert [c.train.loss for c in cfgs] == ["wgan-gp", "minimax"] and cfgs[1].train.lr_d == 1e-3
    assert [c.model.pack for c in cfgs] == [1, 4]
    assert cfgs[0].train.k_d == 5 and cfgs[0].train.batch_size == 128
    import base64
    too_wide = base64.urlsafe_b64encode(b'{"models":[{"loss":"hinge","g_width":9999}]}').decode()
    unknown_loss = base64.urlsafe_b64encode(b'{"models":[{"loss":"wgan_gp"}]}').decode()
    for bad in ("%%%", "eyJhIjoxfQ", too_wide, unknown_loss):
        with pytest.raises(ValueError, match="link"):
            LabSpec.from_url(bad)


def test_points_from_csv():
    pts, notes = points_from_csv(b"x,y\n1,2\n3,4\nfoo,bar\n5,nan\n6,7,8\n")
    assert pts.tolist() == [[1, 2], [3, 4], [6, 7]] and notes == {"skipped": 2, "truncated": 0}  # the header is not counted
    pts, _ = points_from_csv(b"1;2\n3;4\n")
    assert pts.tolist() == [[1, 2], [3, 4]]
    pts, notes = points_from_csv(b"\n".join(b"%d,%d" % (i, i) for i in range(50)), max_rows=10)
    assert len(pts) == 10 and notes["truncated"] == 1
    for bad, reason in ((b"a,b\nc,d\n", "two numeric columns"), (b"1\n2\n3\n", "two numeric columns"),
                        (b"\xff\xfe\x00", "not text"), (b"1,2\n", "at least 2 points"),
                        (b'"x,y\n' + b"1,2\n" * 100_000, "unmatched quote")):
        with pytest.raises(DataError, match=reason):
            points_from_csv(bad)


def test_standardize_and_drawing():
    x = torch.tensor([[10.0, 100.0], [12.0, 100.0], [14.0, 104.0]])
    s = standardize(x)
    assert torch.allclose(s.mean(0), torch.zeros(2), atol=1e-5) and s.std(0).max() == pytest.approx(1.0)
    epoch = torch.tensor([[1.7e9, 0.0], [1.7e9 + 1, 1.0], [1.7e9 + 2, 0.0]], dtype=torch.float64)
    assert standardize(epoch)[:, 0].tolist() == pytest.approx([-1, 0, 1], abs=1e-6)  # float32 would round to 128 s
    with pytest.raises(DataError, match="too large"):
        standardize(torch.tensor([[1e300, 0.0], [-1e300, 1.0]], dtype=torch.float64))
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    assert len(points_from_drawing(rgba)) == 0
    rgba[0, 9, 3] = 255  # top-right pixel
    p = points_from_drawing(rgba)
    assert p.shape == (1, 2) and p[0, 0] > 3.5 and p[0, 1] > 3.5
    on_white = np.full((10, 10, 4), 255, dtype=np.uint8)  # an opaque white background is not ink
    assert len(points_from_drawing(on_white)) == 0
    on_white[9, 0, :3] = 0  # a black bottom-left pixel
    p = points_from_drawing(on_white)
    assert p.shape == (1, 2) and p[0, 0] < -3.5 and p[0, 1] < -3.5


# ---------------------------------------------------------------- training in the background (gan_core.lab.live)

def _wait(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_background_training_is_the_same_training():
    """Steps taken by the thread, with frozen copies read meanwhile, give the weights of the same
    number of steps taken in the foreground; a copy keeps the weights it was taken with."""
    cfgs = [load_recipe(None, BASE + v) for v in ([], VARIANTS[2], VARIANTS[12])]
    live = LiveLab(ToyLab(cfgs, get_toy("ring8")))
    early = live.snapshot()
    live.play()
    _wait(lambda: live.lab.step >= 8)
    seen = live.snapshot()
    assert seen.is_copy and seen.step >= 1 and seen.sample(5)[0].shape == (5, 2)  # drawn while it trains
    live.pause()
    assert not live.running and live.stopped is None
    steps = live.lab.step
    time.sleep(0.05)
    assert live.lab.step == steps  # paused means paused
    ref = ToyLab(cfgs, get_toy("ring8"))
    ref.train(steps)
    for grp, g_ref in zip(live.lab.groups, ref.groups):
        assert torch.equal(grp.G.params, g_ref.G.params) and torch.equal(grp.D.params, g_ref.D.params)
    assert early.step == 0 and not torch.equal(early.groups[0].G.params, ref.groups[0].G.params)
    with pytest.raises(RuntimeError, match="frozen copy"):
        early.train(1)


def test_background_training_stops_by_itself():
    """Unwatched it stops (and resumes on play); it stops at the end of the learning-rate schedule;
    an error is kept for the page; a rate limit is kept."""
    lab = ToyLab([load_recipe(None, BASE + ["train.lr_decay=linear", "train.steps=5"])], get_toy("ring8"))
    live = LiveLab(lab, idle_s=0.0)
    live.play()
    _wait(lambda: not live.running)
    assert live.stopped == "idle" and lab.step < 5
    live.idle_s = 60
    live.play()
    _wait(lambda: not live.running)
    assert live.stopped == "finished" and lab.step == 5 and lab.finished()
    live.play()  # nothing left to train: not started
    assert not live.running and live.stopped == "finished"

    slow = LiveLab(ToyLab([load_recipe(None, BASE)], get_toy("ring8")))
    slow.play(max_rate=20)
    start = time.perf_counter()
    time.sleep(0.3)
    steps, elapsed = slow.lab.step, time.perf_counter() - start
    slow.pause()
    assert 1 <= steps <= 20 * elapsed + 2  # one step, then 20 a second at most (a tiny net does 1,000+)

    broken = LiveLab(ToyLab([load_recipe(None, BASE)], get_toy("ring8")))
    broken.lab.train = lambda *a: 1 / 0
    broken.play()
    _wait(lambda: not broken.running)
    assert broken.stopped == "error" and isinstance(broken.error, ZeroDivisionError)
