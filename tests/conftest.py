"""Shared fixtures: tiny recipes and an isolated runs/cache folder per test session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "checkpoints"

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _isolated_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))


@pytest.fixture
def tiny_dcgan_cfg():
    """A 16-px DCGAN small enough to train a few steps in a fraction of a second."""
    from gan_core.recipes import load_recipe

    def make(*overrides: str):
        return load_recipe(None, [
            "name=tiny", "model.img_size=28", "model.channels=1", "model.nz=8", "model.ngf=4", "model.ndf=4",
            "train.batch_size=8", "train.steps=4", "train.log_every=1", "train.sample_every=2",
            "train.checkpoint_every=2", "train.n_samples=4", *overrides])
    return make


@pytest.fixture
def tiny_toy_cfg():
    from gan_core.recipes import load_recipe

    def make(*overrides: str):
        return load_recipe(None, [
            "name=toy", "model.arch=mlp", "model.g_width=16", "model.d_width=16", "data.name=toy",
            "data.toy=ring8", "train.batch_size=32", "train.steps=5", "train.log_every=1", *overrides])
    return make


@pytest.fixture
def shipped():
    """Path of a shipped checkpoint; a missing one fails the test (they are part of the product)."""
    def path(name: str) -> Path:
        p = CHECKPOINTS / f"{name}.safetensors"
        if not p.exists():
            pytest.fail(f"shipped checkpoint {p} is missing; run `make checkpoints`")
        return p
    return path


@pytest.fixture(scope="session")
def few_chorales():
    """Training windows of the first 12 chorales of music21's corpus (a small cache of its own)."""
    from gan_core.data.music import chorale_dataset
    return chorale_dataset("train", max_chorales=12)


@pytest.fixture
def tiny_music_cfg():
    from gan_core.recipes import load_recipe

    def make(*overrides: str):
        return load_recipe(None, [
            "name=tiny_music", "model.arch=musegan", "model.z_dim=4", "model.g_width=8", "model.d_width=8",
            "data.name=bach_chorales", "train.loss=wgan-gp", "train.k_d=2", "train.batch_size=4",
            "train.steps=2", "train.log_every=1", "train.sample_every=2", "train.checkpoint_every=2",
            *overrides])
    return make


@pytest.fixture
def tiny_pix2pix_cfg():
    """A 32-px edges -> digits Pix2Pix (U-Net depth 5, ngf 4)."""
    from gan_core.recipes import load_recipe

    def make(*overrides: str):
        return load_recipe(None, [
            "name=tiny_pix2pix", "model.arch=pix2pix", "model.img_size=32", "model.in_channels=1",
            "model.channels=1", "model.ngf=4", "model.ndf=4", "model.n_layers=2", "data.name=mnist5k",
            "data.edges=skeleton", "data.flip=false", "train.batch_size=4", "train.steps=2", "train.log_every=1",
            "train.sample_every=2", "train.checkpoint_every=2", "train.n_samples=4", *overrides])
    return make


@pytest.fixture
def tiny_sr_cfg():
    """A x2 SRResNet with one residual block of 4 channels, on 16-px crops of the photos."""
    from gan_core.recipes import load_recipe

    def make(*overrides: str):
        return load_recipe(None, [
            "name=tiny_sr", "model.arch=srresnet", "model.scale=2", "model.width=4", "model.n_blocks=1",
            "model.ndf=4", "model.img_size=16", "model.outer_kernel=3", "data.name=photos",
            "data.photo_scales=[0.5]", "train.batch_size=2", "train.steps=2", "train.pixel_loss=mse",
            "train.pixel_weight=1", "train.adv_weight=0", "train.log_every=1", "train.sample_every=2",
            "train.checkpoint_every=2", "train.n_samples=2", *overrides])
    return make


@pytest.fixture
def tiny_cyclegan_cfg():
    """A 16-px MNIST <-> UCI digits CycleGAN (ngf 4, 1 block): a step takes a few milliseconds."""
    from gan_core.recipes import load_recipe

    def make(*overrides: str):
        return load_recipe(None, [
            "name=tiny_cycle", "model.arch=cyclegan", "model.img_size=16", "model.channels_a=1",
            "model.channels_b=1", "model.ngf=4", "model.ndf=4", "model.n_blocks=1", "model.n_layers=2",
            "data.name=unpaired", "data.a.name=mnist5k", "data.b.name=uci_digits", "data.flip=false",
            "train.loss=lsgan", "train.batch_size=4", "train.steps=4", "train.pool_size=3", "train.log_every=1",
            "train.sample_every=2", "train.checkpoint_every=2", "train.n_samples=2",
            # CPU bf16 is ~10x slower than float32 on nets this small
            "train.amp=false", *overrides])
    return make


@pytest.fixture
def tiny_cyclegan(tmp_path, tiny_cyclegan_cfg):
    """A trained-for-4-steps tiny digits CycleGAN exported as a checkpoint (its path)."""
    from gan_core.train import make_trainer
    trainer = make_trainer(tiny_cyclegan_cfg(), "cpu")
    trainer.fit()
    return trainer.export(tmp_path / "tiny_cycle")
