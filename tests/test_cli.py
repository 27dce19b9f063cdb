"""The command line as a person uses it: exit codes, files written, one-line errors."""
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_core.cli import main

ROOT = Path(__file__).resolve().parent.parent

TINY = ["--set", "model.img_size=28", "--set", "model.channels=1", "--set", "model.ngf=4", "--set", "model.ndf=4",
        "--set", "model.nz=8", "--set", "train.batch_size=8", "--set", "train.steps=3", "--set",
        "train.sample_every=3", "--set", "train.checkpoint_every=3", "--set", "train.log_every=1", "--quiet"]


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "gan_core", "--help"], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout
    for cmd in ("train", "sample", "info", "eval"):
        assert cmd in out
    for cmd in ("train", "sample", "info", "eval"):
        sub = subprocess.run([sys.executable, "-m", "gan_core", cmd, "--help"], capture_output=True, text=True,
                             cwd=ROOT)
        assert sub.returncode == 0 and "usage:" in sub.stdout


def test_train_sample_resume(capsys, tmp_path):
    run_dir = tmp_path / "run"
    code, out, _ = run_cli(capsys, "train", ROOT / "configs/mnist_cgan.yaml", *TINY, "--run-dir", run_dir,
                           "--out", tmp_path / "model", "--device", "cpu")
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["state"] == "finished" and result["step"] == 3
    assert (tmp_path / "model.safetensors").exists() and (run_dir / "samples" / "step_0000003.png").exists()

    code, out, _ = run_cli(capsys, "sample", tmp_path / "model.safetensors", "--label", 7, "--n", 16,
                           "--out", tmp_path / "g.png", "--npy", tmp_path / "g.npy")
    assert code == 0
    assert Image.open(tmp_path / "g.png").size == (4 * 30 + 2, 4 * 30 + 2)  # 4x4 grid of 28 px, 2 px padding
    x = np.load(tmp_path / "g.npy")
    assert x.shape == (16, 1, 28, 28) and x.min() >= -1 and x.max() <= 1

    # resume with more steps continues from step 3
    code, out, err = run_cli(capsys, "train", "--resume", run_dir, "--set", "train.steps=5", "--quiet")
    assert code == 0 and "resuming" in err and json.loads(out.strip().splitlines()[-1])["step"] == 5
    assert [m["step"] for m in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())][-2:] == [4, 5]

    code, out, _ = run_cli(capsys, "info", tmp_path / "model.safetensors")
    assert code == 0 and "mnist_cgan (gan), step 3" in out


def test_unknown_key_in_yaml(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {arch: dcgan, img_size: 28}\ntrain: {stepz: 3}\n")
    code, _, err = run_cli(capsys, "train", bad)
    assert code == 2 and "unknown key 'train.stepz'" in err and "allowed keys in 'train'" in err


def test_checkpoint_of_another_architecture(capsys, tmp_path):
    from gan_core.checkpoint import module_tensors, save_checkpoint
    from gan_core.nets.dcgan import DCGANGenerator
    G = DCGANGenerator(nz=8, img_size=28, channels=1, ngf=4)
    card = {"kind": "gan", "name": "x", "model": {"arch": "dcgan", "nz": 8, "img_size": 32, "channels": 1,
                                                   "ngf": 4, "ndf": 4}}
    save_checkpoint(tmp_path / "x", module_tensors(G, "G"), card)
    code, _, err = run_cli(capsys, "sample", tmp_path / "x.safetensors", "--out", tmp_path / "o.png")
    assert code == 2 and "do not fit this architecture" in err and "shape mismatches" in err


def test_truncated_safetensors(capsys, tmp_path):
    from gan_core.checkpoint import module_tensors, save_checkpoint
    from gan_core.nets.dcgan import DCGANGenerator
    save_checkpoint(tmp_path / "x", module_tensors(DCGANGenerator(8, 28, 1, 4), "G"),
                    {"kind": "gan", "model": {"arch": "dcgan", "nz": 8, "img_size": 28, "channels": 1, "ngf": 4}})
    blob = (tmp_path / "x.safetensors").read_bytes()
    (tmp_path / "x.safetensors").write_bytes(blob[:100])
    code, _, err = run_cli(capsys, "sample", tmp_path / "x.safetensors", "--out", tmp_path / "o.png")
    assert code == 2 and err.startswith("error: x.safetensors:") and "partly written" in err


def test_non_image_in_an_image_zip(capsys, tmp_path):
    with zipfile.ZipFile(tmp_path / "pics.zip", "w") as z:
        for i in range(3):
            img = tmp_path / f"{i}.png"
            Image.new("RGB", (20, 20), "red").save(img)
            z.write(img, f"{i}.png")
        z.writestr("virus.png", b"MZ\x90\x00 this is an executable")
    code, _, err = run_cli(capsys, "train", ROOT / "configs/mnist_dcgan.yaml", *TINY, "--set", "data.name=folder",
                           "--set", f"data.path={tmp_path / 'pics.zip'}", "--run-dir", tmp_path / "r")
    assert code == 2 and "virus.png: not an image" in err


def test_sample_argument_errors(capsys, tmp_path):
    code, _, _ = run_cli(capsys, "train", ROOT / "configs/mnist_dcgan_plain.yaml", *TINY, "--run-dir", tmp_path / "r",
                         "--out", tmp_path / "plain")
    assert code == 0
    code, _, err = run_cli(capsys, "sample", tmp_path / "plain.safetensors", "--label", 3, "--out", tmp_path / "x.png")
    assert code == 2 and "not class-conditional" in err
    code, _, err = run_cli(capsys, "sample", ROOT / "checkpoints/mnist_dcgan.safetensors", "--label", 10,
                           "--out", tmp_path / "x.png")  # its groups are 0..9
    assert code == 2 and "label must be in 0..9" in err
    code, _, err = run_cli(capsys, "sample", "nowhere.safetensors", "--out", "/tmp/x.png")
    assert code == 2 and "model card not found" in err
    code, _, err = run_cli(capsys, "train", "--resume", "/nonexistent/run")
    assert code == 2 and "not a run folder" in err


def test_bad_device(capsys):
    code, _, err = run_cli(capsys, "train", ROOT / "configs/mnist_dcgan.yaml", "--device", "tpu")
    assert code == 2 and "unknown device 'tpu'" in err


def test_toy_writes_samples_and_metrics(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "toy", "--dataset", "grid25", "--loss", "hinge", "--steps", 20, "--samples", 300,
                           "--set", "model.g_width=16", "--set", "model.d_width=16", "--out", tmp_path / "s.npy",
                           "--json")
    assert code == 0
    report = json.loads(out)
    assert report["steps"] == 20 and report["n_modes"] == 25 and 0 <= report["hq"] <= 1 and report["w1"] > 0
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (300, 2) and np.isfinite(x).all()
    code, _, err = run_cli(capsys, "toy", "--loss", "wgan_gp", "--steps", 1)
    assert code == 2 and "unknown loss 'wgan_gp'" in err
    code, _, err = run_cli(capsys, "toy", "--steps", 30, "--set", "train.lr_d=1e9", "--set", "train.lr_g=1e9",
                           "--set", "train.optimizer=sgd", "--set", "train.loss=lsgan", "--quiet")
    assert code == 2 and "NaN or infinite" in err


def test_bench_rejects_unknown_areas(capsys):
    code, _, err = run_cli(capsys, "bench", "everything")
    assert code == 2 and "unknown benchmark area 'everything'" in err


def test_bench_serve_names_an_unknown_action(capsys):
    code, _, err = run_cli(capsys, "bench", "serve", "--actions", "generate,upscale")
    assert code == 2 and "no action 'upscale'" in err and "superres_whole" in err
    code, _, err = run_cli(capsys, "bench", "toy", "--actions", "generate")
    assert code == 2 and "bench toy takes no --actions" in err


def test_bench_dcgan_names_a_device_it_cannot_measure(capsys):
    code, _, err = run_cli(capsys, "bench", "dcgan", "--device", "tpu")
    assert code == 2 and "cpu or cuda, not 'tpu'" in err
    if not __import__("torch").cuda.is_available():
        code, _, err = run_cli(capsys, "bench", "dcgan", "--device", "cuda")
        assert code == 2 and "no CUDA device here" in err


def test_bench_toy_speed_rows_are_consistent():
    """Each row's fraction is its own GFLOP/s over the same run's sgemm (on one thread, then on all)."""
    import torch
    from gan_core.bench import bench_toy_speed
    rows = list(bench_toy_speed(quick=True))
    speed = [r for r in rows if r["bench"] == "toy-speed"]
    assert [(r["models"], r["batch"]) for r in speed] == [(1, 256), (4, 256), (1, 512)] * 2
    assert [r["threads"] for r in speed] == [1] * 3 + [torch.get_num_threads()] * 3
    for r in speed:
        assert r["lab_gflops"] > 0
        assert r["lab_fraction_of_sgemm"] == pytest.approx(r["lab_gflops"] / r["sgemm_gflops"], abs=2e-3)
    assert speed[0]["speedup"] == pytest.approx(speed[0]["autograd_ms_per_step"] / speed[0]["lab_ms_per_step"], abs=0.02)
    # four configurations side by side: each advances at the lab's rate, against the default model alone
    comp = {r["case"]: r for r in rows if r["bench"] == "toy-comparison"}
    assert set(comp) == {"classic", "4x-default"} and comp["4x-default"]["flop_ratio"] == 4.0
    for r in comp.values():
        assert r["ratio"] == pytest.approx(r["steps_per_s_per_model"] / r["single_steps_per_s"], rel=0.01)


def test_bench_toy_names_an_unknown_loss(capsys):
    code, _, err = run_cli(capsys, "bench", "toy", "--losses", "nonsaturating,wgan_gp")
    assert code == 2 and "unknown loss 'wgan_gp'" in err and "wgan-gp" in err
