"""The one command builder (gan_core.launch): its flags as torchrun itself reads them, shell quoting,
the launch spec's validation, the checks against a recipe, `python -m gan_core launch` and the SLURM
script (shipped, and run through bash with stand-ins for srun and scontrol)."""
import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from torch.distributed.elastic.rendezvous.utils import parse_rendezvous_endpoint
from torch.distributed.run import get_args_parser

from gan_core import jobs
from gan_core.cli import main
from gan_core.launch import (
    LaunchError,
    LaunchSpec,
    check,
    command,
    default_rdzv_id,
    sbatch_script,
    shell,
    split_endpoint,
    train_args,
)
from gan_core.recipes import load_recipe
from gan_core.runs import RunDir

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_SBATCH = ROOT / "scripts" / "slurm_train.sbatch"
# the arguments that made the shipped script (its "Made by" line says the same)
SBATCH_ARGS = ["launch", "configs/mnist_dcgan.yaml", "--nodes", "2", "--nproc-per-node", "4", "--device", "cuda",
               "--slurm"]


def torchrun_reads(argv: list[str]):
    """What torchrun's own parser makes of a command from `command` (after `python -m torch.distributed.run`)."""
    assert argv[1:3] == ["-m", "torch.distributed.run"]
    return get_args_parser().parse_args(argv[3:])


def test_one_process_needs_no_torchrun():
    assert command(LaunchSpec(), ["train", "r.yaml"], python="py") == ["py", "-m", "gan_core", "train", "r.yaml"]


def test_one_machine_several_processes_is_standalone():
    argv = command(LaunchSpec(nproc_per_node=4), train_args("r.yaml", device="cuda"), python="py")
    assert argv == ["py", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4", "-m", "gan_core",
                    "train", "r.yaml", "--device", "cuda"]
    args = torchrun_reads(argv)
    assert args.standalone and args.nproc_per_node == "4" and args.module
    assert args.training_script == "gan_core" and args.training_script_args == ["train", "r.yaml", "--device", "cuda"]


def test_several_machines_meet_at_a_c10d_rendezvous():
    spec = LaunchSpec.of(nodes=3, nproc_per_node=8, rdzv_endpoint="node1.cluster:29400", rdzv_id="run-7")
    argv = command(spec, train_args("configs/mnist_dcgan.yaml", overrides=["train.steps=10"], device="cuda",
                                    run_dir="/shared/runs/r", out="/shared/out/g"), python="python")
    assert argv[3:8] == ["--nnodes=3", "--nproc_per_node=8", "--rdzv_backend=c10d",
                         "--rdzv_endpoint=node1.cluster:29400", "--rdzv_id=run-7"]
    assert not any(a.startswith(("--node_rank", "--node-rank", "--standalone", "--master")) for a in argv)
    args = torchrun_reads(argv)
    assert (args.nnodes, args.nproc_per_node, args.rdzv_backend, args.rdzv_endpoint, args.rdzv_id) == \
        ("3", "8", "c10d", "node1.cluster:29400", "run-7")
    assert args.training_script_args == ["train", "configs/mnist_dcgan.yaml", "--set", "train.steps=10", "--device",
                                         "cuda", "--run-dir", "/shared/runs/r", "--out", "/shared/out/g"]
    assert spec.world_size == 24


def test_jobs_use_the_same_builder(tmp_path):
    run = RunDir(tmp_path / "run")
    assert jobs.command(run, {"device": "cpu", "nproc": 1}) == \
        [sys.executable, "-m", "gan_core", "train", "--resume", str(run.path.resolve()), "--device", "cpu", "--quiet"]
    assert jobs.command(run, {"device": "cuda", "nproc": 2}) == \
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "gan_core",
         "train", "--resume", str(run.path.resolve()), "--device", "cuda", "--quiet"]
    assert jobs.command(run, {}) == command(LaunchSpec(), train_args(resume=run.path.resolve(), quiet=True))


def test_the_shell_line_keeps_every_argument_whole():
    argv = command(LaunchSpec.of(nodes=2, rdzv_endpoint="h:1"),
                   train_args("my recipes/it's a GAN.yaml", overrides=["name=a b"], run_dir="/x/$HOME"))
    line = shell(argv)
    assert shlex.split(line) == argv
    assert "'/x/$HOME'" in line  # no expansion by the shell that runs it


@pytest.mark.parametrize("fields, message", [
    ({"nodes": 0}, "nodes: Input should be greater than or equal to 1"),
    ({"nproc_per_node": 0}, "nproc_per_node: Input should be greater than or equal to 1"),
    ({"nodes": 2}, "2 machines need a rendezvous endpoint"),
    ({"nodes": 2, "rdzv_endpoint": "node1"}, "'node1' is not HOST:PORT"),
    ({"nodes": 2, "rdzv_endpoint": "node1:0"}, "the port '0' must be a number from 1 to 65535"),
    ({"nodes": 2, "rdzv_endpoint": "node1:65536"}, "the port '65536'"),
    ({"nodes": 2, "rdzv_endpoint": "node1:http"}, "the port 'http'"),
    ({"nodes": 2, "rdzv_endpoint": "no de:29500"}, "'no de' is not a host name"),
    ({"nodes": 2, "rdzv_endpoint": "-x:29500"}, "'-x' is not a host name"),
    ({"nodes": 2, "rdzv_endpoint": "fe80::1:29500"}, "in brackets: [fe80::1]:29500"),
    ({"nodes": 2, "rdzv_endpoint": "[fe80::zz]:29500"}, "not an IPv6 address"),
    ({"rdzv_id": "a b"}, "rdzv_id: 'a b': letters, digits"),
    ({"nodes": 2, "rdzv_endpoint": "h:1", "gpus": 2}, "gpus: Extra inputs are not permitted"),
])
def test_a_bad_spec_says_what_is_wrong(fields, message):
    with pytest.raises(LaunchError) as e:
        LaunchSpec.of(**fields)
    assert message in str(e.value)


@pytest.mark.parametrize("endpoint", ["node1:29500", "10.0.0.7:1", "gpu-03.cluster.example:65535", "[::1]:29400",
                                      "127.0.0.1:29500"])
def test_endpoints_are_read_as_torchrun_reads_them(endpoint):
    assert split_endpoint(endpoint) == parse_rendezvous_endpoint(endpoint, default_port=1)
    assert LaunchSpec.of(nodes=2, rdzv_endpoint=f" {endpoint} ").rdzv_endpoint == endpoint


def test_check_refuses_what_would_fail_on_every_machine(tiny_dcgan_cfg):
    spec = LaunchSpec.of(nodes=2, nproc_per_node=2, rdzv_endpoint="h:29500")
    check(spec, tiny_dcgan_cfg(), "cuda")  # batch 8 over 4 processes
    with pytest.raises(LaunchError, match="batch_size 8 cannot be shared by 6 processes"):
        check(LaunchSpec.of(nodes=2, nproc_per_node=3, rdzv_endpoint="h:29500"), tiny_dcgan_cfg(), "cpu")
    with pytest.raises(LaunchError, match="--device cuda:1: with 4 processes"):
        check(spec, tiny_dcgan_cfg(), "cuda:1")
    with pytest.raises(LaunchError, match="only GAN recipes"):
        check(spec, load_recipe(ROOT / "configs" / "mnist_classifier.yaml"), "cpu")
    check(LaunchSpec(), tiny_dcgan_cfg("train.batch_size=7"), "cuda:1")  # one process: anything goes


def test_rdzv_id_from_a_name():
    assert default_rdzv_id("mnist_dcgan") == "mnist_dcgan"
    assert default_rdzv_id("my GAN (v2)") == "my-GAN-v2"
    assert default_rdzv_id("猫") == "gan-studio"


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_cli_prints_the_command_for_each_machine(capsys):
    code, out, _ = run_cli(capsys, "launch", "configs/mnist_dcgan.yaml", "--nodes", "2", "--nproc-per-node", "4",
                           "--rdzv-endpoint", "10.0.0.1:29500", "--device", "cuda", "--set", "train.steps=100")
    assert code == 0
    lines = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert len(lines) == 2 and lines[0] == lines[1]  # c10d: the same command on both machines
    assert shlex.split(lines[0]) == command(
        LaunchSpec.of(nodes=2, nproc_per_node=4, rdzv_endpoint="10.0.0.1:29500", rdzv_id="mnist_dcgan"),
        train_args("configs/mnist_dcgan.yaml", overrides=["train.steps=100"], device="cuda"), python="python")
    assert "# machine 1 of 2 (10.0.0.1, the rendezvous)" in out and "# machine 2 of 2" in out
    assert "batch 64 = 8 rows each" in out


def test_cli_one_machine(capsys):
    code, out, _ = run_cli(capsys, "launch", "configs/mnist_dcgan.yaml", "--nproc-per-node", "2")
    assert code == 0 and out.splitlines()[-1] == ("python -m torch.distributed.run --standalone --nproc_per_node=2 "
                                                  "-m gan_core train configs/mnist_dcgan.yaml --device auto")


@pytest.mark.parametrize("args, message", [
    (["--nodes", "2"], "error: 2 machines need a rendezvous endpoint"),
    (["--nodes", "2", "--rdzv-endpoint", "h:99999"], "the port '99999'"),
    (["--nodes", "2", "--nproc-per-node", "3", "--rdzv-endpoint", "h:1"], "batch_size 64 cannot be shared by 6"),
    (["--nproc-per-node", "2", "--device", "mps"], "--device mps: with 2 processes"),
    (["--set", "train.steps=-1"], "train.steps"),
])
def test_cli_bad_input_is_one_line_and_exit_2(capsys, args, message):
    code, out, err = run_cli(capsys, "launch", "configs/mnist_dcgan.yaml", *args)
    assert code == 2 and out == "" and message in err and err.startswith("error: ")


def test_cli_usage_errors_exit_2_without_a_traceback():
    proc = subprocess.run([sys.executable, "-m", "gan_core", "launch", "configs/mnist_dcgan.yaml", "--nodes", "two"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2 and "invalid int value: 'two'" in proc.stderr and "Traceback" not in proc.stderr


def test_the_shipped_slurm_script_is_what_launch_prints(capsys):
    code, out, _ = run_cli(capsys, *SBATCH_ARGS)
    assert code == 0
    assert SHIPPED_SBATCH.read_text() == out, \
        f"regenerate it: python -m gan_core {' '.join(SBATCH_ARGS)} > scripts/slurm_train.sbatch"
    assert "# Made by: python -m gan_core " + " ".join(SBATCH_ARGS) in out
    assert subprocess.run(["bash", "-n", str(SHIPPED_SBATCH)], check=False).returncode == 0


def fake_slurm(tmp_path: Path) -> dict[str, str]:
    """srun and scontrol stand-ins on PATH: scontrol names two machines, srun writes the command it was
    given (as JSON) instead of running it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text('#!/bin/bash\nprintf "gpu-a17\\ngpu-a18\\n"\n')
    (bin_dir / "srun").write_text(f'#!/bin/bash\nexec {shlex.quote(sys.executable)} -c '
                                  '"import json, sys; print(json.dumps(sys.argv[1:]))" "$@"\n')
    for tool in ("scontrol", "srun"):
        (bin_dir / tool).chmod((bin_dir / tool).stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SLURM_JOB_NODELIST": "gpu-a[17-18]",
            "SLURM_NNODES": "2", "SLURM_JOB_ID": "4242"}


@pytest.mark.parametrize("extra", [[], ["my recipes/cats.yaml", "--set", "train.steps=5000"]])
def test_the_slurm_script_gives_torchrun_the_allocation(tmp_path, extra):
    proc = subprocess.run(["bash", str(SHIPPED_SBATCH), *extra], capture_output=True, text=True, cwd=tmp_path,
                          env=fake_slurm(tmp_path), check=False)
    assert proc.returncode == 0, proc.stderr
    srun = json.loads(proc.stdout)
    assert srun[:2] == ["--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    args = torchrun_reads(srun[2:])
    assert (args.nnodes, args.nproc_per_node, args.rdzv_backend, args.rdzv_endpoint, args.rdzv_id) == \
        ("2", "4", "c10d", "gpu-a17:29500", "4242")
    recipe, *rest = extra or ["configs/mnist_dcgan.yaml"]
    assert args.training_script == "gan_core" and args.training_script_args == ["train", recipe, "--device", "cuda",
                                                                                *rest]


def test_a_slurm_script_for_the_cpu_asks_for_no_gpus():
    spec = LaunchSpec.of(nodes=4, nproc_per_node=2, rdzv_endpoint="x:29600")
    text = sbatch_script(spec, "r.yaml", train_args("r.yaml", device="cpu"), device="cpu")
    assert "#SBATCH --nodes=4" in text and "--gpus-per-node" not in text
    assert '--rdzv_endpoint="${head_node}:29600"' in text and "x:29600" not in text
