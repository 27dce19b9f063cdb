"""Data-parallel training with 2 gloo processes on the CPU: the same weights as one process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from gan_core.recipes import dump_recipe, load_recipe
from gan_core.train import Trainer

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ["name=ddp", "model.arch=mlp", "data.name=toy", "data.toy=ring8", "model.g_width=16", "model.d_width=16",
          "train.batch_size=32", "train.steps=4", "train.log_every=1", "train.loss=wgan-gp", "train.k_d=2",
          "train.instance_noise.sigma=0.1", "train.ema_decay=0.9",
          # SGD: an update linear in the gradient, so float summation order stays at 1e-7 (Adam's
          # g/sqrt(v) would magnify it where gradients are near zero)
          "train.optimizer=sgd", "train.lr_g=0.05", "train.lr_d=0.05"]


def _weights(tr: Trainer) -> dict[str, torch.Tensor]:
    out = {f"G.{k}": v.detach().clone() for k, v in tr.G.state_dict().items()}
    out.update({f"D.{k}": v.detach().clone() for k, v in tr.D.state_dict().items()})
    out.update({f"E.{k}": v.detach().clone() for k, v in tr.G_ema.state_dict().items()})
    return out


def _worker(rank: int, store: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        tr = Trainer(load_recipe(None, RECIPE), "cpu")
        assert tr.world.size == 2 and len(range(32)[tr.rows]) == 16
        tr.fit()
        save_file(_weights(tr), f"{out}/rank{rank}.safetensors")
    finally:
        dist.destroy_process_group()


def test_two_processes_reach_the_weights_of_one(tmp_path):
    mp.start_processes(_worker, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=2, start_method="spawn")
    r0, r1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # DDP keeps the processes in lockstep
    alone = Trainer(load_recipe(None, RECIPE), "cpu")
    alone.fit()
    ref = _weights(alone)
    for k, v in ref.items():  # half a batch each, gradient penalty included == the whole batch in one
        assert torch.allclose(r0[k], v, atol=1e-6), (k, float((r0[k] - v).abs().max()))


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
