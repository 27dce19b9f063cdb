"""The prepared GPU check (gan_core/gpu_check.py), run here in its CPU form: every architecture trains,
its losses are finite and its checkpoint round-trips to the CPU bit for bit; DDP runs in 2 gloo
processes; a failing check is recorded and the others still run."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gan_core import gpu_check

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check") / "figures.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
           "GAN_STUDIO_RUNS": str(out.parent / "runs")}
    proc = subprocess.run([sys.executable, "-m", "gan_core.gpu_check", "--out", str(out), "--device", "cpu",
                           "--quick"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    return proc, json.loads(out.read_text())


def _rows(report):
    return {row["name"]: row for row in report["checks"]}


def test_the_cpu_run_passes_and_says_it_had_no_gpu(quick_report):
    proc, report = quick_report
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert report["ok"] is True and report["gpu"] is False and report["device"] == "cpu"
    assert "no CUDA GPU" in report["note"] and "no CUDA GPU here" in proc.stdout
    assert "figures in" in proc.stdout


@pytest.mark.parametrize("arch", gpu_check.ARCHS)
def test_every_architecture_trains_and_round_trips(quick_report, arch):
    row = _rows(quick_report[1])[f"train:{arch}"]
    assert row["ok"] is True, row["error"]
    figures = row["figures"]
    losses = figures["losses"]
    assert "loss_g" in losses and all(math.isfinite(v) for v in losses.values())
    assert figures["steps"] == 2 and figures["device"] == "cpu"
    assert figures["roundtrip"]["bitwise_equal"] is True and figures["roundtrip"]["max_abs"] == 0.0
    if arch == "anomaly":  # the detector: GAN, encoder, thresholds; its scores on the device vs the CPU
        assert figures["thresholds"] and all(math.isfinite(t) for t in figures["thresholds"].values())
        assert figures["device_vs_cpu"]["max_relative"] <= figures["device_vs_cpu"]["tolerance_max_relative"]
    else:
        assert figures["device_vs_cpu"]["mean_abs"] <= figures["device_vs_cpu"]["tolerance_mean_abs"]
    # what the trainer turns on for this family is what ran (bf16 autocast: CPUs with native bf16 only)
    assert figures["channels_last"] == (arch in ("dcgan", "cgan", "anomaly", "cyclegan"))
    assert figures["g_weights_channels_last"] == figures["channels_last"]


def test_the_other_checks(quick_report):
    rows = _rows(quick_report[1])
    assert rows["import:rrdb"]["ok"] is True and rows["import:rrdb"]["figures"]["output"] == "256x192"
    ddp = rows["ddp"]
    assert ddp["ok"] is True, ddp["error"]
    assert ddp["figures"]["backend"] == "gloo" and ddp["figures"]["processes"] == 2
    assert ddp["figures"]["state"] == "finished" and ddp["figures"]["logged_steps"] == 6
    assert rows["sr:x4-1024"]["ok"] is True and rows["sr:x4-1024"]["figures"]["output"] == "256x256"
    search = rows["anomaly:search"]
    assert search["ok"] is True and search["figures"]["digits"] == 20
    assert 0.0 <= search["figures"]["anogan"]["auroc"] <= 1.0
    bench = rows["bench:dcgan"]  # too slow for --quick on a CPU
    assert bench["ok"] is None and "--quick" in bench["skipped"]
    assert [r["name"] for r in quick_report[1]["checks"]] == [name for name, _, _ in
                                                            gpu_check.all_checks(gpu_check.Plan(torch.device("cpu"),
                                                                                                True, Path(".")))]


def test_a_failing_check_is_recorded_and_the_rest_still_run(tmp_path, monkeypatch):
    def broken():
        raise RuntimeError("CUDA error: an illegal memory access")

    def below_target():
        raise gpu_check.CheckFailed("took 2 s; target < 1 s", {"seconds": 2.0})
    monkeypatch.setattr(gpu_check, "all_checks", lambda plan: [
        ("first", broken, None), ("second", lambda: {"x": 1}, None), ("third", below_target, None),
        ("fourth", lambda: {}, "not here")])
    out = tmp_path / "figures.json"
    assert gpu_check.main(["--out", str(out), "--device", "cpu"]) == 1
    report = json.loads(out.read_text())
    first, second, third, fourth = report["checks"]
    assert first["ok"] is False and first["error"] == "RuntimeError: CUDA error: an illegal memory access"
    assert "Traceback" in first["traceback"]
    assert second["ok"] is True and second["figures"] == {"x": 1}
    assert third["ok"] is False and third["figures"] == {"seconds": 2.0} and "target" in third["error"]
    assert fourth["ok"] is None and fourth["skipped"] == "not here"
    assert report["ok"] is False


def test_bad_arguments_are_one_line(tmp_path, capsys):
    assert gpu_check.main(["--out", str(tmp_path / "x.json"), "--only", "train:nope"]) == 2
    assert "unknown check(s) train:nope" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert gpu_check.main(["--out", str(tmp_path / "x.json"), "--device", "cuda"]) == 2
        assert "no CUDA GPU is available" in capsys.readouterr().err


def test_the_check_runs_without_pot():
    """A lent GPU machine receives at most 64 MiB: POT's 32 MB wheel stays behind, so nothing the
    check imports may need it (the app imports it up front, in ui/preload.py and the Toy Lab)."""
    code = ("import sys; import gan_core.gpu_check, gan_core.commands, gan_core.bench, gan_core.lab.toy2d; "
            "sys.exit('ot' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}).returncode == 0
