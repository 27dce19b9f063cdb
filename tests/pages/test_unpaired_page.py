"""The Unpaired translation page in AppTest, on tiny CycleGANs made here (the shipped ones are
measured by their cards, not by these tests): a held-out example through the cycle and the identity,
rows of digits read by the classifiers with and without the cycle loss, the strokes model beside
Pix2Pix, uploads good and bad, both directions, official generators imported (both ways, one way,
and files that are not CycleGAN generators), and no or broken models.
Drawing on the canvas and the page in a browser: tests/e2e/test_unpaired_browser.py."""
import io
import json
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from apptest_helpers import open_page
from gan_core.nets.cyclegan import ResnetGenerator
from public_layouts import official_unet_state

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "checkpoints"
MODELS = ["cyclegan_digits", "cyclegan_digits_nocycle", "cyclegan_strokes"]
# what `eval --update-card` writes, with figures made up for the page to show
METRICS = {"cyclegan_digits": {"test_a": 500, "test_b": 300, "a2b_preserved": 0.8712, "b2a_preserved": 0.9011,
                               "classifier_b_on_real": 0.9933, "classifier_a_on_real": 0.996,
                               "cycle_error_a": 0.0412, "cycle_error_b": 0.0523},
           "cyclegan_digits_nocycle": {"test_a": 500, "test_b": 300, "a2b_preserved": 0.1134,
                                       "b2a_preserved": 0.0967, "classifier_b_on_real": 0.9933,
                                       "classifier_a_on_real": 0.996, "cycle_error_a": 0.3810,
                                       "cycle_error_b": 0.4022},
           "cyclegan_strokes": {"test_a": 500, "test_b": 500, "a2b_preserved": 0.6123,
                                "classifier_b_on_real": 0.996, "cycle_error_a": 0.0311}}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A checkpoints folder with a tiny CycleGAN trained 4 steps (as tests/conftest.py's tiny_cyclegan:
    16 px, ngf 4, 1 block), MNIST <-> UCI digits, and two more made from it by their cards alone (the
    weights, and so their check, stay the same; a ResNet generator takes any size): the same sides
    trained without the cycle loss, and strokes -> MNIST digits at 32 px. Beside them the shipped
    classifiers and pix2pix_digits (linked, not copied)."""
    from gan_core.recipes import load_recipe
    from gan_core.train import make_trainer

    folder = tmp_path_factory.mktemp("checkpoints")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a net this small gains nothing from two, and loses a lot on a busy machine
    trainer = make_trainer(load_recipe(None, [
        "name=cyclegan_digits", "model.arch=cyclegan", "model.img_size=16", "model.channels_a=1",
        "model.channels_b=1", "model.ngf=4", "model.ndf=4", "model.n_blocks=1", "model.n_layers=2",
        "data.name=unpaired", "data.a.name=mnist5k", "data.b.name=uci_digits", "data.flip=false", "train.loss=lsgan",
        "train.batch_size=4", "train.steps=4", "train.pool_size=3", "train.log_every=100",
        "train.checkpoint_every=100", "train.n_samples=2"]), "cpu")
    try:
        trainer.fit()
    finally:
        torch.set_num_threads(threads)
    trained = trainer.export(folder / "cyclegan_digits")
    card = json.loads(trained.with_suffix(".json").read_text())
    cards = {"cyclegan_digits": card,
             "cyclegan_digits_nocycle": {**card, "train": {**card["train"], "cycle_weight": 0.0}},
             "cyclegan_strokes": {**card, "model": {**card["model"], "img_size": 32},
                                  "data": {**card["data"], "a": {**card["data"]["a"], "name": "mnist5k_strokes"},
                                           "b": {**card["data"]["b"], "name": "mnist5k"}}}}
    for name, c in cards.items():
        if name != "cyclegan_digits":
            shutil.copy(trained, folder / f"{name}.safetensors")
        (folder / f"{name}.json").write_text(json.dumps({**c, "name": name, "weights_file": f"{name}.safetensors",
                                                         "metrics": METRICS[name]}))
    for name in ("mnist_classifier", "uci_digits_classifier", "pix2pix_digits"):
        for ext in (".json", ".safetensors"):
            (folder / f"{name}{ext}").symlink_to(SHIPPED / f"{name}{ext}")
    return folder


@pytest.fixture
def page(checkpoints, monkeypatch):
    """open(lang, **query): the page on the tiny models."""
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(checkpoints))
    return lambda lang="en", **query: open_page("views/unpaired.py", lang, **query)


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def pth(state) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def official_generator(in_nc=3, out_nc=3) -> dict:
    """An official ResnetGenerator's state dict: ours has the official layer names."""
    torch.manual_seed(0)
    return ResnetGenerator(in_nc, out_nc, ngf=4, n_blocks=2).state_dict()


def captions(at) -> list[str]:
    return [c for i in at.image for c in i.captions]


def texts(at) -> list[str]:
    return [c.value for c in at.caption]


def picker(at):
    return next(s for s in at.selectbox if s.key.startswith("ug_model__"))


def direction(at):
    return next(r for r in at.radio if r.key.startswith("ug_dir__"))


def source(at):
    return next(r for r in at.radio if r.key.startswith("ug_source__"))


def cycle_picture(at, prefix: str = "G_XY(x)") -> str | None:
    """The address of the cycle picture whose caption starts with `prefix`."""
    return next((i.value[0] for i in at.image if any(c.startswith(prefix) for c in i.captions)), None)


def uploader(at, part: str):
    return next(u for u in at.get("file_uploader") if u.key.startswith(part))


def rates(at) -> list[dict]:
    assert len(at.dataframe) == 2   # the rates, then the model card's figures (at the foot of the page)
    return at.dataframe[0].value.to_dict("records")


def test_a_digits_example_goes_round_the_cycle_and_keeps_or_loses_its_class(page):
    at = page()
    assert at.title[0].value == "Unpaired translation"
    assert picker(at).options == MODELS and picker(at).value == "cyclegan_digits"
    assert direction(at).options == ["A → B: MNIST digits → UCI digits", "B → A: UCI digits → MNIST digits"]
    assert any("Between MNIST digits and UCI digits (at 16×16)" in c and "cycle loss (weight 10)" in c
               for c in texts(at))
    # the cycle: x, G_XY(x), G_YX(G_XY(x)) and its error; the identity on a held-out UCI digit
    shown = captions(at)
    assert any(re.fullmatch(r"A held-out \d from MNIST digits \(never trained on\)", c) for c in shown)
    assert {"x: what the model sees (MNIST digits, 16×16)", "G_XY(x): as UCI digits (16×16)",
            "G_YX(G_XY(x)): back as MNIST digits", "G_XY(y): should still be y"} <= set(shown)
    assert any(re.fullmatch(r"Reconstruction error \|G_YX\(G_XY\(x\)\) − x\|₁ = 0\.\d{3} .*", c) for c in texts(at))
    assert any(re.fullmatch(r"Identity error .* = 0\.\d{3}\. In training the cycle loss weighed 10 and the "
                            r"identity term 5\.", c) for c in texts(at))
    assert any(re.fullmatch(r"y: a held-out \d from UCI digits", c) for c in shown)
    assert "ug_download" in [b.key for b in at.get("download_button")]
    # the row: 8 held-out inputs, each model's translations with the classifier's reading
    labels = [c for c in shown if re.fullmatch(r"a \d", c)]
    reads = [c for c in shown if re.fullmatch(r"read \d [✓✗]", c)]
    assert len(labels) == 8 and len(reads) == 16                   # with and without the cycle loss
    assert "**cyclegan_digits_nocycle** · without the cycle loss" in [m.value for m in at.markdown]
    assert any(re.fullmatch(r"cyclegan_digits: \d of 8 kept · cyclegan_digits_nocycle: \d of 8 kept", c)
               for c in texts(at))
    assert rates(at) == [
        {"Model": "cyclegan_digits", "Trained": "unpaired, cycle loss 10", "MNIST digits → UCI digits: class kept": "87%",
         "UCI digits → MNIST digits: class kept": "90%", "Cycle error (MNIST digits)": "0.041"},
        {"Model": "cyclegan_digits_nocycle", "Trained": "unpaired, no cycle loss",
         "MNIST digits → UCI digits: class kept": "11%", "UCI digits → MNIST digits: class kept": "10%",
         "Cycle error (MNIST digits)": "0.381"}]
    assert "The classifier reads 99% of real UCI digits correctly" in " ".join(texts(at))

    example, row = cycle_picture(at, "x:"), labels
    at.button(key="ug_example").click().run()                       # another held-out example
    assert not at.exception
    same = np.random.default_rng(at.session_state["ug_seed"]).integers(500) == np.random.default_rng(0).integers(500)
    assert (cycle_picture(at, "x:") == example) == same
    at.button(key="ug_new_draw").click().run()                      # another row of digits
    assert not at.exception
    assert [c for c in captions(at) if re.fullmatch(r"a \d", c)] != row   # 8 labels alike: about 1 in 10**8

    at.selectbox(key="ug_model__en").set_value("cyclegan_digits_nocycle").run()   # the ablation, chosen itself
    assert not at.exception
    assert any("Trained without the cycle loss (weight 0)" in c for c in texts(at))
    assert [r["Model"] for r in rates(at)] == ["cyclegan_digits", "cyclegan_digits_nocycle"]


def test_the_other_direction_and_chinese(page):
    at = page("zh", ug_dir="b2a")
    assert at.title[0].value == "非配对图像转换"
    assert direction(at).value == "b2a" and direction(at).options[1] == "B → A：UCI 数字 → MNIST 数字"
    shown = captions(at)
    assert "x：模型看到的输入（UCI 数字，16×16）" in shown and "G_XY(x)：变成MNIST 数字（16×16）" in shown
    assert any(re.fullmatch(r"y：MNIST 数字中一个未参与训练的 \d", c) for c in shown)
    assert len([c for c in shown if re.fullmatch(r"识别为 \d [✓✗]", c)]) == 16
    assert rates(at)[0]["UCI 数字 → MNIST 数字：类别保留率"] == "90%"
    direction(at).set_value("a2b").run()
    assert not at.exception and "G_XY(x)：变成UCI 数字（16×16）" in captions(at)


def test_uploads_and_bad_files(page):
    at = page()
    source(at).set_value("upload").run()
    assert "One digit, dark on light or light on dark" in " ".join(texts(at))
    seven = Image.new("L", (120, 160), 255)                          # a dark 7 on paper
    ImageDraw.Draw(seven).line([(20, 30), (100, 30), (50, 140)], fill=0, width=12)
    at.file_uploader(key="ug_upload").set_value(("seven.png", png(seven), "image/png")).run()
    assert not at.exception and not at.error
    assert "Your picture, seven.png" in captions(at)
    translated = cycle_picture(at)
    assert translated and "x: what the model sees (MNIST digits, 16×16)" in captions(at)
    for name, data, message in (("letter.png", b"a letter, not a picture", "letter.png: not an image"),
                                ("dot.png", png(Image.new("RGB", (1, 1))), "dot.png: 1x1 pixels is too small"),
                                ("empty.png", b"", "empty.png: the file is empty.")):
        at.file_uploader(key="ug_upload").set_value((name, data, "image/png")).run()
        assert not at.exception
        assert len(at.error) == 1 and at.error[0].value.startswith(message), at.error[0].value
        assert cycle_picture(at) is None and "Choose a picture on the left." in [i.value for i in at.info]
    source(at).set_value("draw").run()                               # the canvas: nothing drawn yet
    assert not at.exception and "Draw a digit on the canvas." in [i.value for i in at.info]


def test_the_strokes_model_beside_pix2pix(page):
    at = page(ug_model="cyclegan_strokes")
    assert "Between strokes and MNIST digits (at 32×32)" in " ".join(texts(at))
    assert at.subheader[-1].value == "What pairs buy you"
    assert "**pix2pix_digits** · paired (Pix2Pix)" in [m.value for m in at.markdown]
    assert "**Your picture**, through both" in [m.value for m in at.markdown]          # the example, both ways
    assert {"the strokes", "pix2pix_digits: read", "cyclegan_strokes: read"} <= {
        re.sub(r" \d$", "", c) for c in captions(at)}
    assert len([c for c in captions(at) if re.fullmatch(r"read \d [✓✗]", c)]) == 16    # Pix2Pix and CycleGAN
    recognised = json.loads((SHIPPED / "pix2pix_digits.json").read_text())["metrics"]["recognised"]
    assert rates(at) == [
        {"Model": "pix2pix_digits", "Trained": "on pairs (stroke, its digit)",
         "strokes → MNIST digits: class kept": f"{100 * recognised:.0f}%", "Cycle error (strokes)": "—"},
        {"Model": "cyclegan_strokes", "Trained": "unpaired, cycle loss 10", "strokes → MNIST digits: class kept": "61%",
         "Cycle error (strokes)": "0.031"}]
    assert "a drawing" in source(at).options
    direction(at).set_value("b2a").run()                             # digits -> strokes: nothing reads strokes
    assert not at.exception and at.subheader[-1].value == "Does a 3 stay a 3?"
    assert "No classifier reads strokes, so the translations are shown without readings." in texts(at)
    assert not [c for c in captions(at) if c.startswith("read ")]


def test_official_generators_are_imported_for_this_session(page, tmp_path):
    at = page()
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    def import_files(ga, gb=None, name=""):
        uploader(at, "ug_ga_").set_value((ga[0], ga[1], "application/octet-stream")).run()
        if gb is not None:
            uploader(at, "ug_gb_").set_value((gb[0], gb[1], "application/octet-stream")).run()
        at.text_input(key="ug_own_name").set_value(name).run()
        at.button(key="ug_import").click().run()
        assert not at.exception

    for ga, message in (
            (("evil.pth", pickle.dumps({"w": Payload()}, protocol=2)), "evil.pth: refused"),
            (("random.pth", bytes(range(256)) * 4), "random.pth: refused"),
            (("latest_net_G.pth", pth(official_unet_state(3, 3, 6, 4))), "not an official CycleGAN ResNet generator"),
            (("empty.pth", b""), "empty.pth: the file is empty")):
        import_files(ga)
        assert len(at.error) == 1 and message in at.error[0].value, at.error[0].value
        assert at.error[0].value.startswith("These weights cannot be used:")
    assert not marker.exists() and picker(at).options == MODELS
    g_b = official_generator()
    g_b["model.1.weight"] = torch.zeros(4, 1, 7, 7)                  # G_B for one-channel pictures
    import_files(("latest_net_G_A.pth", pth(official_generator())), ("latest_net_G_B.pth", pth(g_b)))
    assert "does not fit latest_net_G_A.pth" in at.error[0].value

    import_files(("latest_net_G_A.pth", pth(official_generator())),
                 ("latest_net_G_B.pth", pth(official_generator())), name="horse2zebra")
    assert not at.error and at.success[0].value == "Imported as horse2zebra; it is now the chosen model."
    folder = Path(at.session_state["ug_tmp"].name)
    assert (folder / "horse2zebra.json").exists() and not list(folder.glob("upload/*/*"))
    assert uploader(at, "ug_ga_").value is None                      # the uploads are not kept
    assert picker(at).value == "horse2zebra" and picker(at).options[-1] == "horse2zebra (yours, this session)"
    assert direction(at).options == ["A → B: horse → zebra", "B → A: zebra → horse"]
    assert "imported from latest_net_G_A.pth, latest_net_G_B.pth" in " ".join(texts(at))

    # a photo model runs when asked: the example photo, then an upload, tiled above 512 pixels
    source(at).set_value("example").run()
    assert cycle_picture(at) is None and at.button(key="ug_run")
    at.button(key="ug_run").click().run()
    assert not at.exception and not at.error
    assert "x: what the model sees (horse, 256×256)" in captions(at)      # the astronaut, 512×512
    assert any(re.fullmatch(r"Reconstruction error .* = 0\.\d{3} .*", c) for c in texts(at))
    assert "Upload a picture from the zebra side to see what G_XY does with it." in texts(at)
    wide = Image.new("RGB", (900, 600), (60, 120, 40))
    ImageDraw.Draw(wide).ellipse((200, 100, 700, 500), fill=(200, 180, 90))
    source(at).set_value("upload").run()
    at.file_uploader(key="ug_upload").set_value(("field.png", png(wide), "image/png")).run()
    at.selectbox(key="ug_size__en").set_value(512).run()
    at.button(key="ug_run").click().run()
    assert not at.exception and not at.error
    assert "G_XY(x): as zebra (768×512)" in captions(at)              # in two tiles, each way
    at.file_uploader(key="ug_id_upload").set_value(("zebra.png", png(wide.resize((300, 200))), "image/png")).run()
    assert cycle_picture(at) is not None                              # kept: only the identity is new
    at.button(key="ug_run").click().run()
    assert "G_XY(y): should still be y" in captions(at)
    assert any(re.fullmatch(r"Identity error .* = 0\.\d{3}\.", c) for c in texts(at))   # no training figures

    # one way: latest_net_G.pth of a *_pretrained folder
    import_files(("latest_net_G.pth", pth(official_generator())), name="monet2photo")
    assert picker(at).value == "monet2photo" and direction(at).options == ["A → B: monet → photo"]
    assert any("One way only" in c for c in texts(at))
    at.button(key="ug_run").click().run()
    assert not at.exception
    assert "A one-way model: no G_YX brings it back to monet." in [i.value for i in at.info]
    assert not list(SHIPPED.glob("horse2zebra*")) and not list(SHIPPED.glob("monet2photo*"))
    assert any("python -m gan_core import cyclegan latest_net_G_A.pth" in c.value for c in at.code)


def test_no_models_or_a_broken_one_are_messages(checkpoints, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path))
    at = open_page("views/unpaired.py")
    assert "No CycleGAN models found" in at.warning[0].value and "configs/cyclegan_digits.yaml" in at.warning[0].value
    assert uploader(at, "ug_ga_")                                     # official weights can still come
    for ext in (".json", ".safetensors"):
        shutil.copy(checkpoints / f"cyclegan_digits{ext}", tmp_path / f"cyclegan_digits{ext}")
    weights = tmp_path / "cyclegan_digits.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])                 # a truncated download
    at = open_page("views/unpaired.py")
    assert len(at.error) == 1 and "cannot be used" in at.error[0].value


def test_the_shipped_digits_model_is_measured_beside_resampling_alone(shipped):
    """The page opens on cyclegan_digits and its table sets the card's rates beside the same digits
    merely resampled into the other side's layout (no network)."""
    card = json.loads(shipped("cyclegan_digits").with_suffix(".json").read_text())["metrics"]
    at = open_page("views/unpaired.py")
    rows = {r["Model"]: r for df in at.dataframe for r in df.value.to_dict("records") if "Model" in r}
    assert set(rows) >= {"cyclegan_digits", "resampled only"}
    kept = "MNIST digits → UCI digits: class kept"
    assert rows["cyclegan_digits"][kept] == f"{100 * card['a2b_preserved']:.0f}%"
    assert rows["resampled only"][kept] == f"{100 * card['a2b_resampled']:.0f}%"
