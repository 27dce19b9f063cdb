"""python -m gan_core cyclegan / import cyclegan / eval on CycleGAN checkpoints, and their errors."""
import json

import torch
from PIL import Image

from gan_core.cli import main
from gan_core.nets.cyclegan import ResnetGenerator


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_translate_one_picture_and_a_folder_of_them(capsys, tmp_path, tiny_cyclegan):
    Image.new("L", (40, 30), 255).save(tmp_path / "one.png")
    Image.new("RGB", (20, 20), (0, 0, 0)).save(tmp_path / "two.jpg")
    code, out, _ = run_cli(capsys, "cyclegan", tiny_cyclegan, tmp_path / "one.png", "--out", tmp_path / "o.png",
                           "--json")
    assert code == 0
    done = json.loads(out)
    assert done["direction"] == "a2b" and done["from"] == "MNIST-5k digits" and done["to"] == "UCI digits"
    assert Image.open(tmp_path / "o.png").size == (16, 16)
    code, out, _ = run_cli(capsys, "cyclegan", tiny_cyclegan, tmp_path / "one.png", tmp_path / "two.jpg",
                           "--direction", "b2a", "--out", tmp_path / "many")
    assert code == 0 and sorted(p.name for p in (tmp_path / "many").iterdir()) == ["one_b2a.png", "two_b2a.png"]


def test_bad_inputs_are_one_line_of_error(capsys, tmp_path, tiny_cyclegan, shipped):
    (tmp_path / "bad.png").write_text("hello")
    code, _, err = run_cli(capsys, "cyclegan", tiny_cyclegan, tmp_path / "bad.png", "--out", tmp_path / "o.png")
    assert code == 2 and "not an image" in err and not (tmp_path / "o.png").exists()
    Image.new("L", (8, 8)).save(tmp_path / "ok.png")
    code, _, err = run_cli(capsys, "cyclegan", shipped("pix2pix_digits"), tmp_path / "ok.png", "--out",
                           tmp_path / "o.png")
    assert code == 2 and "not a CycleGAN" in err


def test_import_official_weights_then_translate_one_way(capsys, tmp_path):
    torch.save(ResnetGenerator(3, 3, ngf=4, n_blocks=2).state_dict(), tmp_path / "latest_net_G.pth")
    code, out, _ = run_cli(capsys, "import", "cyclegan", tmp_path / "latest_net_G.pth", "--out", tmp_path / "m")
    assert code == 0 and json.loads(out)["kind"] == "cyclegan"
    Image.new("RGB", (64, 48), (90, 30, 200)).save(tmp_path / "photo.png")
    code, _, err = run_cli(capsys, "cyclegan", tmp_path / "m.safetensors", tmp_path / "photo.png",
                           "--direction", "b2a", "--out", tmp_path / "o.png")
    assert code == 2 and "only translates A -> B" in err
    code, out, _ = run_cli(capsys, "cyclegan", tmp_path / "m.safetensors", tmp_path / "photo.png", "--size", "32",
                           "--out", tmp_path / "o.png")
    assert code == 0 and Image.open(tmp_path / "o.png").size == (43, 32)
    code, _, err = run_cli(capsys, "import", "pix2pix", tmp_path / "latest_net_G.pth", "--g-b", "x.pth", "--out",
                           tmp_path / "n")
    assert code == 2 and "--g-b is for cyclegan" in err


def test_eval_measures_a_digits_model_and_says_why_not_a_photo_one(capsys, tmp_path, tiny_cyclegan):
    code, out, _ = run_cli(capsys, "eval", tiny_cyclegan)
    assert code == 0
    metrics = json.loads(out)
    assert {"a2b_preserved", "b2a_preserved", "cycle_error_a", "classifier_a_on_real"} <= set(metrics)
    torch.save(ResnetGenerator(3, 3, ngf=4, n_blocks=1).state_dict(), tmp_path / "g.pth")
    run_cli(capsys, "import", "cyclegan", tmp_path / "g.pth", "--out", tmp_path / "m")
    code, _, err = run_cli(capsys, "eval", tmp_path / "m.safetensors")
    assert code == 2 and "digits models" in err
