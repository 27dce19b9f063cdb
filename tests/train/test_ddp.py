"""Data-parallel training with 2 gloo processes on the CPU: the same weights as one process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from gan_core.recipes import dump_recipe, load_recipe
from gan_core.train import Trainer, make_trainer

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ["name=ddp", "model.arch=mlp", "data.name=toy", "data.toy=ring8", "model.g_width=16", "model.d_width=16",
          "train.batch_size=32", "train.steps=4", "train.log_every=1", "train.loss=wgan-gp", "train.k_d=2",
          "train.instance_noise.sigma=0.1", "train.ema_decay=0.9",
          # SGD: an update linear in the gradient, so float summation order stays at 1e-7 (Adam's
          # g/sqrt(v) would magnify it where gradients are near zero)
          "train.optimizer=sgd", "train.lr_g=0.05", "train.lr_d=0.05"]


# CycleGAN: instance norm is per picture and every term a batch mean, so half a batch each is the
# whole batch in one; without the pool (each process keeps its own history) the match is exact
CYCLE = ["name=ddp_cycle", "model.arch=cyclegan", "model.img_size=16", "model.channels_a=1", "model.channels_b=1",
         "model.ngf=4", "model.ndf=4", "model.n_blocks=1", "model.n_layers=2", "data.name=unpaired",
         "data.a.name=mnist5k", "data.b.name=uci_digits", "train.loss=lsgan", "train.batch_size=4",
         "train.steps=2", "train.pool_size=0", "train.ema_decay=0.9", "train.amp=false", "train.optimizer=sgd",
         "train.lr_g=0.05", "train.lr_d=0.05"]


def _weights(tr: Trainer) -> dict[str, torch.Tensor]:
    out = {f"G.{k}": v.detach().clone().contiguous() for k, v in tr.G.state_dict().items()}
    out.update({f"D.{k}": v.detach().clone().contiguous() for k, v in tr.D.state_dict().items()})
    out.update({f"E.{k}": v.detach().clone().contiguous() for k, v in tr.G_ema.state_dict().items()})
    return out


def _worker(rank: int, store: str, out: str, recipe: list[str] = RECIPE) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        cfg = load_recipe(None, recipe)
        tr = make_trainer(cfg, "cpu")
        assert tr.world.size == 2 and len(range(cfg.train.batch_size)[tr.rows]) == cfg.train.batch_size // 2
        tr.fit()
        save_file(_weights(tr), f"{out}/rank{rank}.safetensors")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("recipe", [RECIPE, CYCLE], ids=["mlp", "cyclegan"])
def test_two_processes_reach_the_weights_of_one(tmp_path, recipe):
    mp.start_processes(_worker, args=(str(tmp_path / "store"), str(tmp_path), recipe), nprocs=2,
                       start_method="spawn")
    r0, r1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # DDP keeps the processes in lockstep
    alone = make_trainer(load_recipe(None, recipe), "cpu")
    alone.fit()
    ref = _weights(alone)
    # The tiny instance-norm nets amplify float summation order: alone, 1 vs 2 threads already differ by
    # 6e-4 after two steps, while training on half the batch without the all-reduce is 0.37 away.
    atol = 1e-6 if recipe is RECIPE else 5e-3
    for k, v in ref.items():  # half a batch each, gradient penalty included == the whole batch in one
        assert torch.allclose(r0[k], v, atol=atol), (k, float((r0[k] - v).abs().max()))


def test_torchrun_writes_one_run_folder(tmp_path):
    recipe = tmp_path / "ddp.yaml"
    recipe.write_text(dump_recipe(load_recipe(None, RECIPE + ["train.steps=6", "train.checkpoint_every=3"])))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "gan_core", "train", str(recipe), "--run-dir", str(tmp_path / "run"), "--device",
                           "cpu", "--quiet"], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(results) == 1 and results[0]["state"] == "finished"  # rank 0 alone reports
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "finished" and status["step"] == 6
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]  # one writer
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("*.safetensors")) == \
        ["step_0000003.safetensors", "step_0000006.safetensors"]


def _grouped_worker(rank: int, store: str, out: str) -> None:
    from gan_core.data import ImageData
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        cfg = load_recipe(None, ["model.img_size=28", "model.nz=8", "model.ngf=4", "model.ndf=4", "model.n_classes=3",
                                 "data.clusters=3", "train.batch_size=8"])
        images = torch.randint(0, 256, (12, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        # as if each machine's t-SNE had grouped the same pictures differently
        labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2]) if rank == 0 else torch.arange(12) % 3
        tr = Trainer(cfg, "cpu", data=ImageData(images, labels, "same pictures", ["g1", "g2", "g3"]))
        save_file({"labels": tr.data.labels, "prior": tr.label_prior}, f"{out}/groups{rank}.safetensors")
    finally:
        dist.destroy_process_group()


def test_every_process_trains_on_rank_0s_groups(tmp_path):
    mp.start_processes(_grouped_worker, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=2, start_method="spawn")
    g0, g1 = load_file(tmp_path / "groups0.safetensors"), load_file(tmp_path / "groups1.safetensors")
    assert g1["labels"].tolist() == g0["labels"].tolist() == [0] * 6 + [1] * 3 + [2] * 3
    assert g1["prior"].tolist() == pytest.approx([0.5, 0.25, 0.25])
