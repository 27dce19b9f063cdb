"""How a training run is launched: one process, several on one machine, or several machines. The one
place that builds the command line a training process runs (background jobs, the CLI's `launch`,
the Train page's "Several machines" and the SLURM script all call `command`).

    one process         python -m gan_core train ...
    one machine, N      python -m torch.distributed.run --standalone --nproc_per_node=N -m gan_core train ...
    M machines x N      python -m torch.distributed.run --nnodes=M --nproc_per_node=N --rdzv_backend=c10d
                            --rdzv_endpoint=HOST:PORT --rdzv_id=ID -m gan_core train ...

On several machines the command is the same on every one. torchrun's c10d rendezvous runs its store
on the machine whose name or address is HOST (the others connect to it) and numbers the machines
itself, in the order of their host names: `--node_rank` is ignored with c10d (torchrun warns), so it
is not given, and which machine's processes get ranks 0..N-1 is not known in advance.

What each machine needs: the project and its environment, and the recipe at the path the command
names (a shipped recipe under configs/ is already in every checkout). The run folder is written by
rank 0 alone (`cmd_train` broadcasts its path; the other ranks never open it for a new run), so a
new run also works with nothing shared, landing on whichever machine got rank 0. Resuming loads the
last checkpoint in every process, so the run folder must then be on storage every machine shares:
point $GAN_STUDIO_RUNS (or --run-dir) there. Collectives are NCCL when the processes train on CUDA
and gloo on the CPU (`gan_core.train.ddp.setup` decides from --device).
"""
from __future__ import annotations

import ipaddress
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .config import AnomalyRecipe, ClassifierRecipe, ConfigError

DEFAULT_PORT = 29500  # torchrun's own default for --master_port; any free TCP port on the host will do
# a host name (RFC 1123 labels; '_' allowed, as some clusters use it) or a dotted IPv4 address
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
                   r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$")
_RDZV_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# several processes each take the GPU of their LOCAL_RANK (ddp.setup), so a device index means nothing
MULTI_DEVICES = ("auto", "cpu", "cuda")


class LaunchError(ConfigError):
    """A launch spec (machines, processes, rendezvous) or a recipe/device that cannot be launched so;
    the message says what to change. A ConfigError, so the CLI and pages show it as one line."""


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """(host, port) of 'host:port', '1.2.3.4:port' or '[v6 address]:port' (the address without its
    brackets, as torchrun reads it); ValueError saying what is wrong."""
    host, sep, port = endpoint.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"{endpoint!r} is not HOST:PORT (for example node1:{DEFAULT_PORT} or 10.0.0.1:{DEFAULT_PORT})")
    if host.startswith("["):
        try:
            host = str(ipaddress.IPv6Address(host.removeprefix("[").removesuffix("]")))
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address in brackets") from None
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets: [{host}]:{port}")
    elif not _HOST.match(host):
        raise ValueError(f"{host!r} is not a host name or IPv4 address")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"the port {port!r} must be a number from 1 to 65535")
    return host, int(port)


class LaunchSpec(BaseModel):
    """Where a training run's processes run: `nodes` machines with `nproc_per_node` processes each,
    meeting at the c10d rendezvous `rdzv_endpoint` (HOST:PORT on one of the machines) under `rdzv_id`
    (the same on every machine; two jobs sharing an endpoint need different ids). One machine needs
    no endpoint (torchrun --standalone runs its own rendezvous)."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    nodes: int = Field(1, ge=1, le=4096, description="machines")
    nproc_per_node: int = Field(1, ge=1, le=1024, description="training processes on each machine (GPUs)")
    rdzv_endpoint: str | None = Field(None, description="HOST:PORT of the rendezvous, on one of the machines")
    rdzv_id: str = Field("gan-studio", description="the job's name at the rendezvous")

    @field_validator("rdzv_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        split_endpoint(value)
        return value.strip()

    @field_validator("rdzv_id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _RDZV_ID.match(value):
            raise ValueError(f"{value!r}: letters, digits, '.', '_' and '-' only (up to 64), starting with a "
                             "letter or digit")
        return value

    @model_validator(mode="after")
    def _several_need_an_endpoint(self) -> LaunchSpec:
        if self.nodes > 1 and self.rdzv_endpoint is None:
            raise ValueError(f"{self.nodes} machines need a rendezvous endpoint: HOST:PORT of one of them "
                             f"(for example node1:{DEFAULT_PORT})")
        return self

    @classmethod
    def of(cls, **fields) -> LaunchSpec:
        """The validated spec, or a LaunchError naming every bad field (for the CLI and pages)."""
        try:
            return cls(**fields)
        except ValidationError as e:
            lines = []
            for err in e.errors():
                where = ".".join(str(p) for p in err["loc"])
                msg = err["msg"].removeprefix("Value error, ")
                lines.append(f"{where}: {msg}" if where else msg)
            raise LaunchError("; ".join(lines)) from None

    @property
    def world_size(self) -> int:
        return self.nodes * self.nproc_per_node

    @property
    def standalone(self) -> bool:
        """One machine without an endpoint: torchrun's own local rendezvous (--standalone)."""
        return self.nodes == 1 and self.rdzv_endpoint is None

    def torchrun_flags(self) -> list[str]:
        """torchrun's options for this spec (empty for one process: no torchrun at all)."""
        if self.world_size == 1 and self.standalone:
            return []
        if self.standalone:
            return ["--standalone", f"--nproc_per_node={self.nproc_per_node}"]
        return [f"--nnodes={self.nodes}", f"--nproc_per_node={self.nproc_per_node}", "--rdzv_backend=c10d",
                f"--rdzv_endpoint={self.rdzv_endpoint}", f"--rdzv_id={self.rdzv_id}"]


def command(spec: LaunchSpec, args: Sequence[str], python: str = sys.executable) -> list[str]:
    """The argv that runs `python -m gan_core ARGS` as this spec says: alone for one process, else
    under torchrun (`python -m torch.distributed.run`, the same program as the `torchrun` script, but
    certain to be this interpreter's). On several machines it is the same argv on every machine."""
    flags = spec.torchrun_flags()
    if not flags:
        return [python, "-m", "gan_core", *args]
    return [python, "-m", "torch.distributed.run", *flags, "-m", "gan_core", *args]


def shell(argv: Sequence[str], verbatim: Mapping[str, str] | None = None) -> str:
    """`argv` as one line to paste into a shell (shlex.join: paths with spaces or quotes stay one
    word). An item found in `verbatim` is written as the shell text given there instead, unquoted,
    so a script can let the shell fill it in (`--rdzv_id="${SLURM_JOB_ID}"`)."""
    verbatim = verbatim or {}
    return " ".join(verbatim[a] if a in verbatim else shlex.quote(a) for a in argv)


def train_args(recipe: str | Path | None = None, *, overrides: Sequence[str] = (), device: str = "auto",
               resume: str | Path | None = None, run_dir: str | Path | None = None, out: str | Path | None = None,
               quiet: bool = False) -> list[str]:
    """The arguments of `python -m gan_core train` (what follows `gan_core`): the recipe, its --set
    overrides, --resume, --device, --run-dir, --out and --quiet, each only when given."""
    args = ["train", *([str(recipe)] if recipe is not None else [])]
    for kv in overrides:
        args += ["--set", kv]
    if resume is not None:
        args += ["--resume", str(resume)]
    args += ["--device", device]
    if run_dir is not None:
        args += ["--run-dir", str(run_dir)]
    if out is not None:
        args += ["--out", str(out)]
    return args + (["--quiet"] if quiet else [])


def check(spec: LaunchSpec, cfg=None, device: str = "auto") -> None:
    """Refuse, before any machine starts, what would only fail once all of them had: a device index
    or MPS for several processes, a classifier or anomaly recipe (they train in one process; under
    torchrun every process would train its own and write --out), a batch the processes cannot share
    evenly (each takes batch/world rows)."""
    if spec.world_size == 1:
        return
    if device not in MULTI_DEVICES:
        raise LaunchError(f"--device {device}: with {spec.world_size} processes use one of "
                          f"{', '.join(MULTI_DEVICES)} (each process takes the GPU of its local rank)")
    if cfg is None:
        return
    if isinstance(cfg, (ClassifierRecipe, AnomalyRecipe)):
        raise LaunchError(f"{cfg.name}: classifier and anomaly recipes train in one process; only GAN recipes "
                          "train across processes and machines")
    batch = cfg.train.batch_size
    if batch % spec.world_size:
        raise LaunchError(f"train.batch_size {batch} cannot be shared by {spec.world_size} processes "
                          f"({spec.nodes} x {spec.nproc_per_node}): make it a multiple of {spec.world_size}")


def default_rdzv_id(name: str) -> str:
    """A rendezvous id from a recipe's name (the same text on every machine that prints it)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:64]
    return slug if _RDZV_ID.match(slug) else "gan-studio"


def sbatch_script(spec: LaunchSpec, recipe: str | Path, args: Sequence[str], *, device: str = "auto",
                  made_by: str = "", job_name: str | None = None, python: str = "python") -> str:
    """A SLURM batch script that trains `recipe` on `spec.nodes` machines of an allocation: one torchrun
    per machine (srun, one task per node), all meeting at the allocation's first machine on the port
    of spec.rdzv_endpoint (the host written there is not used), under the job's id. `args` are
    train's arguments with `recipe` among them; in the script the recipe is its first argument
    (default `recipe`) and any further arguments are appended (`sbatch SCRIPT other.yaml --set
    train.steps=100`). The machine count follows `sbatch --nodes`; processes per machine stay
    spec.nproc_per_node (with --gpus-per-node for CUDA)."""
    port = split_endpoint(spec.rdzv_endpoint)[1] if spec.rdzv_endpoint else DEFAULT_PORT
    # the command with a stand-in host: the items that name the host, the id and the machine count are
    # then written as shell text that SLURM fills in (validated already: model_copy does not re-check)
    spec = spec.model_copy(update={"rdzv_endpoint": f"localhost:{port}"})
    argv = command(spec, args, python=python)
    filled = {f"--nnodes={spec.nodes}": '--nnodes="${SLURM_NNODES}"',
              f"--rdzv_endpoint={spec.rdzv_endpoint}": f'--rdzv_endpoint="${{head_node}}:{port}"',
              f"--rdzv_id={spec.rdzv_id}": '--rdzv_id="${SLURM_JOB_ID}"',
              str(recipe): '"${RECIPE}"'}
    gpus = device.startswith("cuda")
    n = spec.nproc_per_node
    processes = f"{n} training process{'es' if n > 1 else ''}{' (one per GPU)' if gpus else ''}"
    # three lines: torchrun and the size | the rendezvous | -m gan_core train ...
    rdzv, train = argv.index("--rdzv_backend=c10d"), argv.index("gan_core") - 1
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name or 'gan-' + default_rdzv_id(Path(recipe).stem)}",
        f"#SBATCH --nodes={spec.nodes}",
        "#SBATCH --ntasks-per-node=1",
        *([f"#SBATCH --gpus-per-node={n}"] if gpus else []),
        "#SBATCH --output=slurm-%x-%j.out",
        "#",
        "# GAN Studio: one training run on several machines (docs/guide.md, Training on several machines).",
        *([f"# Made by: {made_by}"] if made_by else []),
        "# Submit it from the GAN Studio folder, on storage every machine shares:",
        "#     sbatch THIS_SCRIPT [RECIPE] [train options, e.g. --set train.steps=5000]",
        f"# srun starts one torchrun per machine, and each torchrun starts {processes}.",
        "# The first machine of the allocation hosts the rendezvous. The process of rank 0 writes the",
        "# run folder under $GAN_STUDIO_RUNS (runs/ here if unset): keep it on the shared storage too.",
        "set -euo pipefail",
        f"RECIPE=${{1:-{shlex.quote(str(recipe))}}}",
        # sed reads every name: `head -n 1` would close the pipe early, and under pipefail scontrol's
        # SIGPIPE would end the script (exit 141)
        'head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)',
        "if [ -f .venv/bin/activate ]; then source .venv/bin/activate; fi",
        "srun --ntasks-per-node=1 --kill-on-bad-exit=1 \\",
        f"    {shell(argv[:rdzv], filled)} \\",
        f"        {shell(argv[rdzv:train], filled)} \\",
        f'    {shell(argv[train:], filled)} "${{@:2}}"',
        ""]
    return "\n".join(lines)
