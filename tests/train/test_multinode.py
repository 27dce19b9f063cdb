"""Several machines, played on one: two torchrun "nodes" on localhost (c10d rendezvous, gloo, one process
each) train a recipe to the same checkpoints, tensor for tensor, as one torchrun with two processes.

Both commands come from gan_core.launch (what `python -m gan_core launch` prints). The two nodes share
nothing but the rendezvous: each runs in a folder of its own with its own copy of the recipe and a
relative --run-dir, so the run folder lands in the folder of whichever node got rank 0, and the other
node must never need it (a new run on machines without shared storage)."""
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import torch

from gan_core.checkpoint import read_checkpoint
from gan_core.launch import LaunchSpec, command, train_args
from gan_core.recipes import dump_recipe, load_recipe

ROOT = Path(__file__).resolve().parents[2]
# tests/conftest.py's tiny DCGAN (batch norm and Adam included: two processes of half a batch each
# is the same computation whichever launcher started them), a checkpoint every 2 of 4 steps
TINY = ["name=multinode", "model.img_size=28", "model.channels=1", "model.nz=8", "model.ngf=4", "model.ndf=4",
        "train.batch_size=8", "train.steps=4", "train.log_every=1", "train.sample_every=1000",
        "train.checkpoint_every=2", "train.n_samples=4"]
TIMEOUT_S = 300  # a loaded 2-core machine: each process imports torch and the pipelines (~5 s of CPU)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    # a session of its own, so a hung rendezvous is ended with the workers torchrun started
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=log.open("w"), text=True,
                            start_new_session=True)


def finish(procs: dict[str, subprocess.Popen], logs: Path) -> dict[str, str]:
    """Every process's stdout once all have ended (each killed with its workers after TIMEOUT_S)."""
    out, end = {}, time.monotonic() + TIMEOUT_S
    try:
        for name, proc in procs.items():
            out[name] = proc.communicate(timeout=max(1.0, end - time.monotonic()))[0]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    for name, proc in procs.items():
        assert proc.returncode == 0, (name, (logs / f"{name}.log").read_text()[-3000:])
    return out


def tensors(run: Path) -> dict[int, dict[str, torch.Tensor]]:
    """{step: every tensor of that training-state checkpoint (G, D, EMA, optimisers)}, verified on read."""
    return {int(p.stem.split("_")[1]): read_checkpoint(p)[0] for p in sorted((run / "checkpoints").glob("step_*.json"))}


@pytest.mark.team  # three torchruns: make test-team
def test_two_nodes_train_what_one_node_with_two_processes_trains(tmp_path):
    recipe = dump_recipe(load_recipe(None, TINY))
    nodes = [tmp_path / "node_a", tmp_path / "node_b"]
    for node in nodes:
        node.mkdir()
        (node / "recipe.yaml").write_text(recipe)
    (tmp_path / "one.yaml").write_text(recipe)

    spread = LaunchSpec.of(nodes=2, nproc_per_node=1, rdzv_endpoint=f"127.0.0.1:{free_port()}",
                           rdzv_id="multinode-test")
    each = command(spread, train_args("recipe.yaml", device="cpu", run_dir="run", quiet=True))
    assert "--nnodes=2" in each and "--rdzv_backend=c10d" in each and "--standalone" not in each
    one = command(LaunchSpec.of(nproc_per_node=2),
                  train_args(tmp_path / "one.yaml", device="cpu", run_dir=tmp_path / "one", quiet=True))
    assert "--standalone" in one and "--nproc_per_node=2" in one

    started = time.monotonic()
    # all three at once: the nodes wait on each other at the rendezvous, the single node runs meanwhile
    procs = {"node_a": start(each, nodes[0], tmp_path / "node_a.log"),
             "node_b": start(each, nodes[1], tmp_path / "node_b.log"),
             "one": start(one, tmp_path, tmp_path / "one.log")}
    out = finish(procs, tmp_path)
    print(f"three torchruns, 2 + 2 processes: {time.monotonic() - started:.1f} s")

    # rank 0 alone reports and writes: one result line, one run folder, on the node that got rank 0
    results = [json.loads(line) for name in ("node_a", "node_b") for line in out[name].splitlines()
               if line.startswith("{")]
    assert len(results) == 1 and results[0]["state"] == "finished" and results[0]["step"] == 4, out
    written = [node for node in nodes if (node / "run").exists()]
    assert len(written) == 1, "exactly one node writes the run folder"
    assert sorted(p.name for p in written[0].iterdir()) == ["recipe.yaml", "run"]  # the other rank wrote nothing
    spread_run = written[0] / "run"
    assert json.loads((spread_run / "status.json").read_text())["state"] == "finished"

    got, want = tensors(spread_run), tensors(tmp_path / "one")
    assert sorted(got) == sorted(want) == [2, 4]
    for step in (2, 4):
        assert sorted(got[step]) == sorted(want[step])
        for key, value in want[step].items():
            # gloo sums the two processes' gradients in the same order whichever launcher started them
            assert torch.equal(got[step][key], value), (step, key, float((got[step][key] - value).abs().max()))
    moved = [k for k in want[4] if k.startswith("G.") and want[4][k].is_floating_point()
             and not torch.equal(want[2][k], want[4][k])]
    assert moved, "training changed G between steps 2 and 4 (so equal checkpoints are not trivially equal)"

    def losses(run: Path) -> list[dict]:
        return [{k: v for k, v in json.loads(line).items() if k.startswith(("loss", "d_"))}
                for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert losses(spread_run) == losses(tmp_path / "one") and len(losses(spread_run)) == 4


@pytest.mark.team  # two torchruns: make test-team
def test_machines_with_different_recipes_all_stop_with_a_message(tmp_path):
    """Each machine reads its own copy of the recipe; one that differs stops every process at once,
    before any run folder is made (not a silently different model, nor a hang at a collective)."""
    nodes = [tmp_path / "node_a", tmp_path / "node_b"]
    for node, steps in zip(nodes, (4, 6)):
        node.mkdir()
        (node / "recipe.yaml").write_text(dump_recipe(load_recipe(None, [*TINY, f"train.steps={steps}"])))
    spread = LaunchSpec.of(nodes=2, nproc_per_node=1, rdzv_endpoint=f"127.0.0.1:{free_port()}", rdzv_id="differ")
    each = command(spread, train_args("recipe.yaml", device="cpu", run_dir="run", quiet=True))
    procs = {name: start(each, node, tmp_path / f"{name}.log") for name, node in zip(("node_a", "node_b"), nodes)}
    with pytest.raises(AssertionError):
        finish(procs, tmp_path)  # asserts every exit code is 0
    for name, node in zip(("node_a", "node_b"), nodes):
        assert procs[name].returncode != 0
        assert "given different recipes" in (tmp_path / f"{name}.log").read_text()
        assert not (node / "run").exists()
