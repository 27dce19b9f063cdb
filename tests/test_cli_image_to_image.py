"""The image-to-image commands: pix2pix, superres, import, and their errors."""
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_core.cli import main
from public_layouts import public_rrdb_state

ROOT = Path(__file__).resolve().parent.parent

P2P = [ROOT / "configs" / "pix2pix_digits.yaml", "--set", "model.ngf=4", "--set", "model.ndf=4", "--set",
       "train.batch_size=4", "--set", "train.steps=2", "--quiet"]


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_train_then_translate_a_sketch_and_a_photo(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "train", *P2P, "--out", tmp_path / "p2p", "--run-dir", tmp_path / "run")
    assert code == 0
    sketch = Image.new("L", (100, 80), 255)
    sketch.paste(0, (45, 10, 50, 70))
    sketch.save(tmp_path / "sketch.png")
    code, out, _ = run_cli(capsys, "pix2pix", tmp_path / "p2p.safetensors", tmp_path / "sketch.png",
                           "--out", tmp_path / "out.png", "--edges-out", tmp_path / "lines.png")
    assert code == 0 and json.loads(out)["size"] == 32
    assert Image.open(tmp_path / "out.png").size == (32, 32)
    lines = np.asarray(Image.open(tmp_path / "lines.png"))
    assert lines.shape == (32, 32) and (lines == 0).sum() >= 10
    code, out, _ = run_cli(capsys, "pix2pix", tmp_path / "p2p.safetensors", tmp_path / "sketch.png", "--photo",
                           "--out", tmp_path / "out2.png")
    assert code == 0 and json.loads(out)["input"] == "photo edges"
    code, _, err = run_cli(capsys, "pix2pix", tmp_path / "p2p.safetensors", tmp_path / "sketch.png",
                           "--variation", "3", "--out", tmp_path / "out3.png")
    assert code == 2 and "no dropout" in err


def test_a_broken_sketch_is_one_line_of_error(capsys, tmp_path):
    run_cli(capsys, "train", *P2P, "--out", tmp_path / "p2p", "--run-dir", tmp_path / "run")
    (tmp_path / "bad.png").write_text("hello")
    code, _, err = run_cli(capsys, "pix2pix", tmp_path / "p2p.safetensors", tmp_path / "bad.png", "--out",
                           tmp_path / "o.png")
    assert code == 2 and "not an image" in err and not (tmp_path / "o.png").exists()


def test_superres_with_bicubic_and_an_imported_esrgan(capsys, tmp_path):
    rgba = Image.new("RGBA", (20, 12), (200, 100, 50, 255))
    rgba.save(tmp_path / "in.png")
    code, out, err = run_cli(capsys, "superres", "bicubic", tmp_path / "in.png", "--out", tmp_path / "o.png")
    assert code == 2 and "--scale" in err
    code, out, _ = run_cli(capsys, "superres", "bicubic", tmp_path / "in.png", "--scale", "2", "--quiet",
                           "--out", tmp_path / "o.png")
    assert code == 0 and json.loads(out)["output"] == [40, 24]
    assert Image.open(tmp_path / "o.png").mode == "RGBA"
    torch.save({"params_ema": public_rrdb_state()}, tmp_path / "RealESRGAN_x4plus.pth")
    code, out, _ = run_cli(capsys, "import", "esrgan", tmp_path / "RealESRGAN_x4plus.pth", "--out", tmp_path / "rr")
    assert code == 0
    code, _, err = run_cli(capsys, "superres", tmp_path / "rr.safetensors", tmp_path / "in.png", "--scale", "2",
                           "--out", tmp_path / "o4.png")
    assert code == 2 and "upscales 4x, not 2x" in err
    code, out, _ = run_cli(capsys, "superres", tmp_path / "rr.safetensors", tmp_path / "in.png", "--quiet",
                           "--out", tmp_path / "o4.png")
    assert code == 0 and Image.open(tmp_path / "o4.png").size == (80, 48)
    code, out, _ = run_cli(capsys, "superres", tmp_path / "rr.safetensors", tmp_path / "in.png", "--quiet",
                           "--ensemble", "--out", tmp_path / "o4e.png")
    assert code == 0 and json.loads(out)["self_ensemble"] is True
    assert Image.open(tmp_path / "o4e.png").size == (80, 48)


def test_import_refuses_the_wrong_kind_of_weights(capsys, tmp_path):
    torch.save(public_rrdb_state(), tmp_path / "x.pth")
    code, _, err = run_cli(capsys, "import", "pix2pix", tmp_path / "x.pth", "--out", tmp_path / "p")
    assert code == 2 and "not an official pix2pix" in err and not (tmp_path / "p.json").exists()
