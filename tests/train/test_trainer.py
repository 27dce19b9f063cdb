import json

import numpy as np
import pytest
import torch

from gan_core.runs import RunDir
from gan_core.checkpoint import latest_checkpoint
from gan_core.errors import TrainingDiverged
from gan_core import jobs
from gan_core.train import Trainer
from gan_core.train.callbacks import standard_callbacks


def _weights(module):
    return [t.clone() for t in module.state_dict().values()]


def _same(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def _adam_steps(opt):
    return {int(s["step"]) for s in opt.state_dict()["state"].values()}


def test_algorithm1_takes_k_d_steps_per_g_step(tiny_dcgan_cfg):
    tr = Trainer(tiny_dcgan_cfg("train.k_d=3", "train.steps=2"), device="cpu")
    tr.fit()
    assert tr.step == 2
    assert _adam_steps(tr.opt_D) == {6} and _adam_steps(tr.opt_G) == {2}


def test_training_is_deterministic(tiny_dcgan_cfg):
    a, b = Trainer(tiny_dcgan_cfg(), "cpu"), Trainer(tiny_dcgan_cfg(), "cpu")
    a.fit(), b.fit()
    assert _same(_weights(a.G), _weights(b.G)) and _same(_weights(a.D), _weights(b.D))
    c = Trainer(tiny_dcgan_cfg("train.seed=1"), "cpu")
    c.fit()
    assert not _same(_weights(a.G), _weights(c.G))


@pytest.mark.parametrize("extra", [(), ("model.n_classes=10", "train.ema_decay=0.9"),
                                   ("train.loss=wgan-gp", "model.d_norm=layer", "train.optimizer=rmsprop"),
                                   ("train.lr_decay=linear",), ("train.r1_gamma=10", "model.d_norm=none"),
                                   ("model.n_codes=4", "train.diffaugment=[color,translation,cutout]")])
def test_resume_continues_exactly(tiny_dcgan_cfg, tmp_path, extra):
    """4 steps in one go == 2 steps, checkpoint, a fresh process-like Trainer, 2 more steps."""
    straight = Trainer(tiny_dcgan_cfg(*extra), "cpu")
    straight.fit()

    first = Trainer(tiny_dcgan_cfg(*extra), "cpu")
    first.fit(2)
    first.save_state(tmp_path / "step_0000002")
    second = Trainer(tiny_dcgan_cfg(*extra), "cpu")
    second.load_state(tmp_path / "step_0000002.safetensors")
    assert second.step == 2
    second.fit()
    assert second.step == 4
    assert _same(_weights(straight.G), _weights(second.G))
    assert _same(_weights(straight.D), _weights(second.D))
    if straight.G_ema is not None:
        assert _same(_weights(straight.G_ema), _weights(second.G_ema))


def test_r1_enters_d_loss_as_half_gamma(tiny_dcgan_cfg):
    """With R1 the step reports R1 = E|grad_x D(x)|^2 > 0, and D's update differs from gamma = 0 alone."""
    from gan_core.config import ConfigError
    from gan_core.recipes import load_recipe
    plain = Trainer(tiny_dcgan_cfg("model.d_norm=none", "train.steps=1"), "cpu")
    r1 = Trainer(tiny_dcgan_cfg("model.d_norm=none", "train.steps=1", "train.r1_gamma=10"), "cpu")
    assert _same(_weights(plain.D), _weights(r1.D))
    stats, plain_stats = r1.train_step(), plain.train_step()
    assert stats["r1"] > 0 and np.isfinite(stats["r1"]) and "r1" not in plain_stats
    assert not _same(_weights(plain.D), _weights(r1.D))
    with pytest.raises((ConfigError, ValueError), match="r1_gamma"):
        load_recipe(None, ["train.r1_gamma=10"])  # DCGAN's default D has batch norm


def test_resume_refuses_another_model(tiny_dcgan_cfg, tmp_path):
    from gan_core.checkpoint import CheckpointError
    tr = Trainer(tiny_dcgan_cfg(), "cpu")
    tr.save_state(tmp_path / "s")
    other = Trainer(tiny_dcgan_cfg("model.ngf=8"), "cpu")
    with pytest.raises(CheckpointError, match="another model config"):
        other.load_state(tmp_path / "s")


def test_weight_clipping(tiny_toy_cfg):
    tr = Trainer(tiny_toy_cfg("train.loss=wgan", "train.clip_value=0.01", "train.optimizer=rmsprop",
                              "train.lr_d=0.01"), "cpu")
    tr.fit()
    assert max(p.abs().max().item() for p in tr.D.parameters()) <= 0.01 + 1e-7
    assert max(p.abs().max().item() for p in tr.G.parameters()) > 0.01  # only the critic is clipped


def test_instance_noise_schedules(tiny_toy_cfg):
    lin = Trainer(tiny_toy_cfg("train.instance_noise.sigma=0.5", "train.steps=100"), "cpu")
    exp = Trainer(tiny_toy_cfg("train.instance_noise.sigma=0.5", "train.instance_noise.anneal=exponential",
                               "train.steps=100"), "cpu")
    got = []
    for step in (0, 50, 100, 200):
        lin.step = exp.step = step
        got.append((lin.instance_noise_sigma(), exp.instance_noise_sigma()))
    assert got[0] == (0.5, 0.5)
    assert got[1][0] == pytest.approx(0.25) and got[1][1] == pytest.approx(0.05)  # 0.5 * 0.01^0.5
    assert got[2][0] == 0.0 and got[2][1] == pytest.approx(0.005)
    assert got[3] == got[2]  # stays annealed after the horizon


def test_linear_learning_rate_decay(tiny_toy_cfg):
    """lr_t = lr * max(0, 1 - t/T), set before each step; the default keeps lr constant."""
    tr = Trainer(tiny_toy_cfg("train.lr_decay=linear", "train.steps=4", "train.lr_g=1e-3", "train.lr_d=2e-3"), "cpu")
    seen = []
    for _ in range(4):
        tr.train_step()
        seen.append((tr.opt_G.param_groups[0]["lr"], tr.opt_D.param_groups[0]["lr"]))
    assert seen == [pytest.approx((1e-3 * f, 2e-3 * f)) for f in (1.0, 0.75, 0.5, 0.25)]
    assert tr.cfg.train.lr_scale(4) == 0.0 == tr.cfg.train.lr_scale(9)
    flat = Trainer(tiny_toy_cfg("train.steps=4"), "cpu")
    flat.fit()
    assert flat.opt_G.param_groups[0]["lr"] == flat.cfg.train.lr_g


def test_cpu_speed_settings_follow_the_hardware(tiny_dcgan_cfg, tiny_toy_cfg, monkeypatch):
    """DCGANs train channels_last, under bf16 autocast only where the CPU has native bf16;
    MLPs stay float32 whatever the CPU (a toy mode is 0.02 wide, finer than bf16 near 2)."""
    from gan_core import devices
    for flags, native in (({"avx512f", "avx512_bf16"}, True), ({"amx_bf16"}, True), ({"avx2", "avx512f"}, False)):
        monkeypatch.setattr(devices, "cpu_flags", lambda flags=flags: flags)
        assert devices.native_bf16(torch.device("cpu")) is native
        tr = Trainer(tiny_dcgan_cfg(), "cpu")
        assert tr.channels_last and tr.amp is native
        assert tr.G.net[0].weight.is_contiguous(memory_format=torch.channels_last)
        assert not Trainer(tiny_dcgan_cfg("train.amp=false"), "cpu").amp
        toy = Trainer(tiny_toy_cfg(), "cpu")
        assert not toy.amp and not toy.channels_last
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx512_bf16"})
    tr = Trainer(tiny_dcgan_cfg(), "cpu")
    tr.fit(2)  # a bf16 step on this CPU gives finite float32 weights and float32 samples
    assert tr.weights_finite() and all(p.dtype == torch.float32 for p in tr.G.parameters())
    assert tr.sample(torch.randn(3, tr.cfg.model.nz)).dtype == torch.float32


def test_infogan_q_learns_to_read_the_code(tiny_dcgan_cfg):
    """lambda * CE(Q(G(z)), c) starts near log K (Q guesses) and falls as G and Q agree on the code;
    with train.info_weight=0 nothing teaches Q or G the code and it stays near log K."""
    import math
    infos = {}
    for weight in (1.0, 0.0):
        tr = Trainer(tiny_dcgan_cfg("model.n_codes=4", f"train.info_weight={weight}", "train.steps=60",
                                    "train.batch_size=32", "train.lr_g=1e-3", "train.lr_d=1e-3"), "cpu")
        infos[weight] = [tr.train_step()["info"] for _ in range(60)]
    assert abs(infos[1.0][0] - math.log(4)) < 0.3
    assert sum(infos[1.0][-10:]) / 10 < 0.25 * math.log(4)
    assert sum(infos[0.0][-10:]) / 10 > 0.8 * math.log(4)


def test_infogan_code_loss_reaches_g_in_its_step(tiny_dcgan_cfg):
    """G's step adds lambda * CE(Q(G(z)), c): G's gradient differs between lambda = 0 and 1, and the
    logged loss_g stays the adversarial part alone (comparable with runs without a code)."""
    grads, stats = {}, {}
    for weight in (0.0, 1.0):
        tr = Trainer(tiny_dcgan_cfg("model.n_codes=4", f"train.info_weight={weight}"), "cpu")
        stats[weight] = tr.g_step(tr.rng(0))
        grads[weight] = [p.grad.clone() for p in tr.G.parameters()]
    assert stats[0.0]["loss_g"] == stats[1.0]["loss_g"] and stats[0.0]["info_g"] == stats[1.0]["info_g"]
    assert any(not torch.allclose(a, b) for a, b in zip(grads[0.0], grads[1.0]))


def test_weight_clipping_spares_the_code_head(tiny_dcgan_cfg):
    tr = Trainer(tiny_dcgan_cfg("model.n_codes=4", "model.d_norm=none", "train.loss=wgan", "train.clip_value=0.001",
                                "train.optimizer=rmsprop", "train.steps=3"), "cpu")
    tr.fit()
    head = torch.cat([p.flatten() for n, p in tr.D.named_parameters() if n.startswith("q_head.")])
    rest = torch.cat([p.flatten() for n, p in tr.D.named_parameters() if not n.startswith("q_head.")])
    assert float(rest.detach().abs().max()) <= float(torch.tensor(0.001)) < float(head.detach().abs().max())


def test_ema_tracks_generator(tiny_dcgan_cfg):
    tr = Trainer(tiny_dcgan_cfg("train.ema_decay=0.0"), "cpu")
    tr.fit(1)
    assert _same(_weights(tr.G), _weights(tr.G_ema))  # decay 0 copies G
    tr2 = Trainer(tiny_dcgan_cfg("train.ema_decay=0.5"), "cpu")
    before = [p.clone() for p in tr2.G.parameters()]
    tr2.fit(1)
    for pe, p, p0 in zip(tr2.G_ema.parameters(), tr2.G.parameters(), before):
        assert torch.allclose(pe, 0.5 * p0 + 0.5 * p)


def test_run_folder_is_complete(tiny_dcgan_cfg, tmp_path):
    run = RunDir.create("tiny", path=tmp_path / "run")
    tr = Trainer(tiny_dcgan_cfg("model.n_classes=10"), "cpu", callbacks=standard_callbacks(run, progress=False))
    assert tr.fit() == "finished"
    status = run.status()
    assert status["state"] == "finished" and status["step"] == 4
    metrics = run.read_metrics()
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    assert {"loss_d", "loss_g", "d_real", "d_fake", "it_s"} <= set(metrics[0])
    assert sorted(p.name for p in run.samples.glob("*.png")) == [
        "step_0000000.png", "step_0000002.png", "step_0000004.png"]
    # two newest checkpoints kept, both valid
    assert sorted(p.name for p in run.checkpoints.glob("*.json")) == ["step_0000002.json", "step_0000004.json"]
    assert latest_checkpoint(run.checkpoints).name == "step_0000004.safetensors"
    assert "finished" in (run.path / "log.txt").read_text()


def test_metrics_are_tracked_during_training(tiny_dcgan_cfg, tmp_path):
    from gan_core.recipes import dump_recipe
    run = RunDir.create("tracked", path=tmp_path / "run")
    cfg = tiny_dcgan_cfg("train.eval_every=2", "train.steps=3")
    run.write_config(dump_recipe(cfg))
    Trainer(cfg, "cpu", callbacks=standard_callbacks(run, progress=False)).fit()
    tracked = [r for r in run.read_metrics() if "fd" in r]
    assert [r["step"] for r in tracked] == [2, 3]  # every 2 steps, and at the end
    for r in tracked:
        assert r["fd"] > 0 and 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 and r["kid"] > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(run.path / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("metrics/fd")] == [2, 3]
    assert [e.step for e in events.Scalars("train/loss_d")] == [1, 2, 3]
    assert [e.step for e in events.Images("samples")] == [2]  # sample_every=2 in the tiny recipe
    from gan_core.runs import describe
    assert describe(run)["best"] == json.dumps({"fd": min(r["fd"] for r in tracked),
                                                "kid": min(r["kid"] for r in tracked),
                                                "precision": max(r["precision"] for r in tracked),
                                                "recall": max(r["recall"] for r in tracked)})


def test_toy_run_writes_point_clouds(tiny_toy_cfg, tmp_path):
    run = RunDir.create("toy", path=tmp_path / "run")
    Trainer(tiny_toy_cfg("train.sample_every=5"), "cpu", callbacks=standard_callbacks(run, progress=False)).fit()
    pts = np.load(run.samples / "step_0000005.npy")
    assert pts.shape == (2500, 2) and np.isfinite(pts).all()


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tiny_dcgan_cfg, tmp_path):
    """Two good steps, then the learning rate is set to 1e9 on resume: training must stop with an
    explanation, and the step-2 checkpoint must stay the newest, loadable and finite."""
    run = RunDir.create("nan", path=tmp_path / "run")
    good_cfg = tiny_dcgan_cfg("train.steps=2", "train.checkpoint_every=1", "train.optimizer=sgd")
    Trainer(good_cfg, "cpu", callbacks=standard_callbacks(run, progress=False)).fit()
    bad_cfg = tiny_dcgan_cfg("train.steps=50", "train.checkpoint_every=1", "train.optimizer=sgd",
                             "train.lr_d=1e9", "train.lr_g=1e9", "train.loss=lsgan")
    tr = Trainer(bad_cfg, "cpu", callbacks=standard_callbacks(run, progress=False))
    tr.load_state(latest_checkpoint(run.checkpoints))
    assert tr.opt_D.param_groups[0]["lr"] == 1e9  # the new recipe's rate applies on resume
    with pytest.raises(TrainingDiverged, match="NaN or infinite"):
        tr.fit()
    status = run.status()
    assert status["state"] == "failed" and "Lower the learning rates" in status["message"]
    last = latest_checkpoint(run.checkpoints)
    assert last.name == "step_0000002.safetensors"
    good = Trainer(good_cfg, "cpu")
    good.load_state(last)
    assert good.weights_finite() and good.step == 2


def test_stop_file_stops_gracefully(tiny_dcgan_cfg, tmp_path):
    run = RunDir.create("stop", path=tmp_path / "run")
    (run.path / "STOP").touch()
    tr = Trainer(tiny_dcgan_cfg("train.steps=100"), "cpu", callbacks=standard_callbacks(run, progress=False))
    assert tr.fit(should_stop=jobs.RunningJob(run).stop_requested) == "stopped"
    assert tr.step == 1 and run.status()["state"] == "stopped"
    assert latest_checkpoint(run.checkpoints).name == "step_0000001.safetensors"
    assert not (run.path / "STOP").exists()


def test_conditional_model_needs_labels(tiny_dcgan_cfg, tmp_path):
    from PIL import Image
    from gan_core.data.images import DataError
    for i in range(3):
        Image.new("L", (12, 12), i * 50).save(tmp_path / f"{i}.png")
    with pytest.raises(DataError, match="has no labels"):
        Trainer(tiny_dcgan_cfg("model.n_classes=10", "data.name=folder", f"data.path={tmp_path}"), "cpu")


def test_metrics_jsonl_survives_a_torn_line(tmp_path):
    run = RunDir.create("x", path=tmp_path / "r")
    run.append_metrics({"step": 1})
    with open(run.path / "metrics.jsonl", "a") as f:
        f.write('{"step": 2, "lo')  # killed mid-write
    assert run.read_metrics() == [{"step": 1}]
    assert json.loads((run.path / "metrics.jsonl").read_text().splitlines()[0]) == {"step": 1}


def _steps(folder) -> list[int]:
    return [int(p.stem.split("_")[1]) for p in sorted(folder.glob("step_*.json"))]


def test_retention_counts_only_checkpoints_that_verify(tiny_dcgan_cfg, tmp_path):
    cfg = tiny_dcgan_cfg("train.steps=4", "train.checkpoint_every=2")
    run = RunDir.create("keep", path=tmp_path / "run")
    Trainer(cfg, "cpu", callbacks=standard_callbacks(run, progress=False)).fit()
    assert _steps(run.checkpoints) == [2, 4]
    # a later run's step 6 and 8 got damaged (a half-written card, weights edited on the share)
    for step in (6, 8):
        (run.checkpoints / f"step_{step:07d}.safetensors").write_bytes(b"rubbish")
        (run.checkpoints / f"step_{step:07d}.json").write_text("{not json")
    (run.checkpoints / ".step_0000010.json.abcd.tmp").write_text("cut off")
    tr = Trainer(tiny_dcgan_cfg("train.steps=6", "train.checkpoint_every=2"), "cpu",
                 callbacks=standard_callbacks(run, progress=False))
    tr.load_state(latest_checkpoint(run.checkpoints))
    assert tr.step == 4  # the damaged newer ones were skipped
    tr.fit()
    # step 6 was damaged: moved aside and saved again, not skipped; the damaged 8 is not counted,
    # so the good 4 and 6 stay
    assert _steps(run.checkpoints) == [4, 6]
    assert sorted(p.name.split(".")[0] for p in (run.checkpoints / "damaged").iterdir()) == [
        "step_0000006", "step_0000006", "step_0000008", "step_0000008"]
    assert not list(run.checkpoints.glob(".*.tmp"))
    assert "moved to checkpoints/damaged/" in (run.path / "log.txt").read_text()


def test_a_resumed_run_never_repeats_or_rewinds_a_metrics_step(tiny_dcgan_cfg, tmp_path):
    run = RunDir.create("metrics", path=tmp_path / "run")
    Trainer(tiny_dcgan_cfg("train.steps=5", "train.checkpoint_every=2"), "cpu",
            callbacks=standard_callbacks(run, progress=False)).fit()
    (run.checkpoints / "step_0000005.json").unlink()  # killed before its last checkpoint: resumes at 4
    tr = Trainer(tiny_dcgan_cfg("train.steps=7", "train.checkpoint_every=2"), "cpu",
                 callbacks=standard_callbacks(run, progress=False))
    tr.load_state(latest_checkpoint(run.checkpoints))
    tr.fit()
    steps = [r["step"] for r in run.read_metrics()]
    assert steps == sorted(set(steps)) == list(range(1, 8))
