"""The Super-resolution page in AppTest: the first view (a detailed part of the example upscaled by
bicubic and the model with the best measured gain without a click, shared by every visitor), the other
models on request with SRGAN's learned grid measured and explained, results kept while the zoom and the
before/after slider move, the self-ensemble, the simulate table (PSNR / SSIM / time, and the shipped
SRResNet beating bicubic), uploads of odd pictures and bad files, the output-size limit, the model card
in words, and imported weights (a good RRDBNet, a pickle payload, the wrong architecture); plus the
picture helpers behind the zoomed crops and the before/after split."""
import io
import math
import re
import shutil
import os
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
from PIL import Image

import gan_core.apps.superres as superres
from apptest_helpers import open_page
from gan_core.checkpoint import list_checkpoints
from gan_core.config import SR_ARCHS
from gan_core.nets.rrdb import RRDBNet
from ui.superres_view import before_after, centre_crop, zoom_box, zoomed

CHECKPOINTS = Path(os.environ.get("GAN_STUDIO_CHECKPOINTS") or Path(__file__).resolve().parents[2] / "checkpoints")
SR = {c["name"]: c for _, c in list_checkpoints(CHECKPOINTS, kinds=("gan",))
      if (c.get("model") or {}).get("arch") in SR_ARCHS}
X4 = sorted(n for n, c in SR.items() if c["model"]["scale"] == 4)
X2 = sorted(n for n, c in SR.items() if c["model"]["scale"] == 2)
KIND = {"srresnet": "SRResNet", "rrdb": "RRDB (ESRGAN)"}
SHIPPED = {"sr_srresnet_x4", "sr_srgan_x4", "sr_srresnet_x2"}


def test_the_shipped_super_resolution_models_are_there():
    """They are part of the product (`make checkpoints` makes them): the tests below need them."""
    assert SHIPPED <= set(SR), f"missing in {CHECKPOINTS}: {sorted(SHIPPED - set(SR))}; run `make checkpoints`"


def label(name: str) -> str:
    card = SR[name]
    kind = "SRGAN" if (card.get("train") or {}).get("adv_weight", 0) > 0 else KIND[card["model"]["arch"]]
    return f"{name} · {kind}"


def shown(at) -> list[str]:
    """Who made each whole picture on the Side by side tab: the captions' names, in order."""
    return [i.captions[0].split(":")[0] for i in at.image if re.search(r": \d+×\d+(,| in)", i.captions[0])]


def results(at) -> dict:
    return at.session_state["sr_results"]["out"]


def png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def upload(at, name: str, data: bytes, mime: str = "image/png"):
    if at.radio(key="sr_source__en").value != "upload":
        at.radio(key="sr_source__en").set_value("upload").run()
    next(f for f in at.file_uploader if f.label == "Upload a picture").set_value((name, data, mime)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sharpness(img: Image.Image) -> float:
    """Mean absolute difference between neighbouring pixels (grey): what blur takes away."""
    a = np.asarray(img.convert("L"), np.float32)
    return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())


@pytest.fixture
def upscales(monkeypatch):
    """Counts the pictures the page upscales (every method goes through upscale_image)."""
    calls = []
    real = superres.upscale_image

    def counted(img, model, scale, *args, **kwargs):
        calls.append(img.size)
        return real(img, model, scale, *args, **kwargs)
    monkeypatch.setattr(superres, "upscale_image", counted)
    return calls


# ---------------------------------------------------------------- the first view, side by side

def test_a_second_visitor_sees_the_first_view_without_computing_it(upscales):
    st.cache_data.clear()                                           # no earlier visitor (the first test to open it)
    first = open_page("views/superres.py")
    assert sorted(upscales) == [(192, 192)] * 2                       # bicubic, then SRResNet, once each
    second = open_page("views/superres.py", sr_example="china")
    assert len(upscales) == 2                                         # nothing computed for the second visitor
    assert shown(second) == shown(first) == ["Input", "Bicubic", label("sr_srresnet_x4")]
    for (a, _), (b, _) in zip(results(first).values(), results(second).values()):
        assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("lang,example", [("en", "china"), ("zh", "flower")])
def test_the_example_opens_on_a_detail_already_upscaled_by_bicubic_and_srresnet(lang, example, upscales):
    at = open_page("views/superres.py", lang, sr_example=example)  # no click
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == {"en": "Super-resolution", "zh": "超分辨率"}[lang]
    picker = at.selectbox(key=f"sr_model__{lang}")
    assert picker.options == [label(n) for n in X4] and picker.value == "sr_srresnet_x4"  # the best gain
    look = " ".join(m.value for m in at.markdown)
    if lang == "en":
        assert shown(at) == ["Input", "Bicubic", label("sr_srresnet_x4")]
        assert "Look at the roof: bicubic blurs the rows of tiles" in look
    else:
        assert [i.captions[0].split("：")[0] for i in at.image][:3] == ["输入", "双三次插值", label("sr_srresnet_x4")]
        assert "看卷曲花瓣的边缘" in look
    assert len(upscales) == {"china": 0, "flower": 2}[example]      # china: the test above made it for everyone
    out = results(at)
    assert len(out) == 2 and all(img.size == (768, 768) and img.mode == "RGB" for img, _ in out.values())
    (bicubic, _), (model, seconds) = out.values()
    assert seconds > 0
    # where the view zooms (the roof's tiles, the petals' rims): the model's result is sharper than bicubic's
    zoom = {"china": (84, 69), "flower": (82, 107)}[example]
    assert any(f"({zoom[0]}, {zoom[1]})" in c.value and "24×24" in c.value for c in at.caption)
    spot = tuple(4 * v for v in (*zoom, zoom[0] + 24, zoom[1] + 24))
    assert np.abs(np.asarray(model, np.int16) - np.asarray(bicubic, np.int16)).mean() > 1.0
    assert sharpness(model.crop(spot)) > 1.3 * sharpness(bicubic.crop(spot))
    caption = next(c.value for c in at.caption if "→" in c.value)
    assert "192×192" in caption and "768×768" in caption
    assert not any(b.key == "sr_run" for b in at.button)            # nothing to press
    assert {b.key for b in at.download_button} == {"sr_download"}


def test_srgan_joins_on_request_and_its_learned_grid_is_explained():
    at = open_page("views/superres.py")
    assert not any("faint grid" in c.value for c in at.caption)     # SRResNet: no pattern worth a note
    at.toggle(key="sr_others").set_value(True).run()                # "Also compare with sr_srgan_x4 · SRGAN"
    assert not at.exception and not at.error
    assert shown(at) == ["Input", "Bicubic", label("sr_srresnet_x4"), label("sr_srgan_x4")]
    note = next(c.value for c in at.caption if "faint grid" in c.value)
    level, ensembled = (float(v) for v in re.findall(r"(\d+\.\d) levels", note))
    assert 3 < level < 6 and ensembled < 1.5                        # measured: 4.5 and 0.8
    assert "repeats every 4 pixels" in note and "not made by this page's tiling" in note
    srgan = np.asarray(results(at)[next(k for k in results(at) if "srgan" in str(k))][0], np.float32)
    srresnet = np.asarray(results(at)[next(k for k in results(at) if "srresnet" in str(k))][0], np.float32)
    assert np.abs(srgan - srresnet).mean() > 0.5                    # SRGAN is not SRResNet


def test_the_model_card_is_in_words_without_paths():
    at = open_page("views/superres.py", sr_model="sr_srgan_x4")
    shown_text = " ".join([m.value for m in at.markdown] + [c.value for c in at.caption])
    assert "fine-tuned adversarially" in shown_text and "Trained for 600 steps" in shown_text
    assert "VGG19 network with random weights, because the ImageNet weights were not installed" in shown_text
    assert not re.search(r"/root|\.cache|vgg19-|torch cache", shown_text)  # the card's raw message: a folder
    assert at.expander[0].label.startswith("Model card")           # the figures, recipe and raw card behind it


def test_moving_the_zoom_and_the_split_does_not_run_the_models_again(upscales):
    at = open_page("views/superres.py")
    made = len(upscales)                                            # 0 or 2: earlier tests' results are shared
    before = {k: id(img) for k, (img, _) in results(at).items()}
    at.slider(key="sr_cx_china").set_value(0).run()
    at.slider(key="sr_cy_china").set_value(100).run()
    assert "24×24 from (0, 168)" in next(c.value for c in at.caption if c.value.startswith("The same region"))
    at.slider(key="sr_split").set_value(30).run()
    at.toggle(key="sr_split_zoom").set_value(True).run()
    assert not at.exception
    split = [i for i in at.image if i.captions[0].startswith("Left of the line")]
    assert len(split) == 1 and split[0].captions[0].endswith("(30%): sr_srresnet_x4. Right (70%): bicubic.")
    assert {k: id(img) for k, (img, _) in results(at).items()} == before
    assert len(upscales) == made                                    # nothing since the page opened


def test_the_self_ensemble_reruns_the_model_but_not_bicubic():
    at = upload(open_page("views/superres.py"), "cat.png", png(Image.fromarray(skimage_cat()).resize((40, 28))))
    at.button(key="sr_run").click().run()
    plain = dict(results(at))
    at.toggle(key="sr_ensemble").set_value(True).run()
    assert at.button(key="sr_run").proto.label == "Upscale ×4 (1 methods)"  # the model's ensembled result only
    at.button(key="sr_run").click().run()
    assert not at.exception and not at.error
    assert shown(at) == ["Input", "Bicubic", label("sr_srresnet_x4") + " · self-ensemble"]
    out = results(at)
    assert len(out) == 3                                            # bicubic once, the model plain and ensembled
    bicubic = next(k for k in out if k[1] == "bicubic")
    assert out[bicubic][0] is plain[bicubic][0]                     # bicubic was not run again
    model = next(k for k in plain if k != bicubic)
    ensembled = np.asarray(out[model[:-1] + (True,)][0], np.int16)
    assert 0 < np.abs(ensembled - np.asarray(plain[model][0], np.int16)).mean() < 8
    at.toggle(key="sr_ensemble").set_value(False).run()
    assert not any(b.key == "sr_run" for b in at.button)            # back to the plain results, kept


def skimage_cat() -> np.ndarray:
    import skimage.data
    return skimage.data.chelsea()


def test_x2_offers_the_x2_models_only():
    at = open_page("views/superres.py")
    at.radio(key="sr_scale").set_value(2).run()                     # the first view at x2: made at once too
    assert not at.exception and not at.error
    assert len(at.selectbox(key="sr_model__en").options) == len(X2)
    assert shown(at) == ["Input", "Bicubic", label("sr_srresnet_x2")]
    assert sorted(img.size for k, (img, _) in results(at).items() if k[0] == 2) == [(384, 384)] * 2


def test_the_whole_example_waits_for_the_button_with_a_progress_bar():
    at = open_page("views/superres.py")
    at.selectbox(key="sr_crop_example__en").set_value(0).run()     # 640x427 -> 2560x1708: too big to start unasked
    assert at.button(key="sr_run").proto.label == "Upscale ×4 (2 methods)"
    assert "Press the button above to make the 2560×1708 results." in [i.value for i in at.info]
    assert shown(at) == ["Input"]


# ---------------------------------------------------------------- simulate

def measure(at):
    at.button(key="sr_sim_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return next(d.value for d in at.dataframe if "PSNR (dB)" in d.value.columns)


def test_simulate_measures_every_method_against_the_original():
    at = open_page("views/superres.py", sr_example="china")
    at.toggle(key="sr_others").set_value(True).run()
    table = measure(at)
    assert list(table["Method"]) == ["Bicubic", label("sr_srresnet_x4"), label("sr_srgan_x4")]
    assert all(math.isfinite(v) and 15 < v < 50 for v in table["PSNR (dB)"])
    assert all(0 < v <= 1 for v in table["SSIM"]) and all(v >= 0 for v in table["Time (s)"])
    assert table["vs bicubic (dB)"].iloc[0] == 0
    # +0.39 dB on the roof: tiles under a pixel wide once shrunk are gone for every method (the whole china
    # gives +0.36 dB, its sky more); the flower's heart gives +1.28 dB
    assert table["vs bicubic (dB)"].iloc[1] > 0.2
    assert any(c.value.startswith("Original 192×192, shrunk to 48×48") for c in at.caption)
    assert len([i for i in at.image if i.captions and "PSNR" in i.captions[0]]) == 1 + len(X4)


def test_the_shipped_srresnet_beats_bicubic_on_the_held_out_china():
    at = open_page("views/superres.py", sr_example="china")
    at.selectbox(key="sr_crop_example__en").set_value(0).run()     # the whole picture: 640x427 -> 160x106
    table = measure(at).set_index("Method")
    assert table.loc[label("sr_srresnet_x4"), "PSNR (dB)"] > table.loc["Bicubic", "PSNR (dB)"] + 0.1
    assert table.loc[label("sr_srresnet_x4"), "SSIM"] > table.loc["Bicubic", "SSIM"]


# ---------------------------------------------------------------- uploads

def test_odd_pictures_work_and_bad_files_are_messages():
    at = open_page("views/superres.py")
    upload(at, "notes.png", b"this is a letter, not a picture")
    assert "notes.png: not an image" in at.error[0].value and not at.tabs
    upload(at, "dot.png", png(Image.new("RGB", (1, 1))))
    assert "1x1 pixels is too small" in at.error[0].value
    rgb = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    upload(at, "cut.jpg", png(Image.fromarray(rgb), "JPEG")[:300], "image/jpeg")
    assert "damaged or truncated" in at.error[0].value

    grey16 = Image.fromarray((np.arange(48 * 32, dtype=np.uint16).reshape(32, 48) * 40))
    upload(at, "grey16.png", png(grey16))
    assert any("48×32 pixels (L)" in c.value for c in at.caption)
    at.button(key="sr_run").click().run()
    assert all(img.mode == "L" and img.size == (192, 128) for img, _ in results(at).values())

    rgba = Image.fromarray(rgb).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((48, 32)))
    upload(at, "glass.png", png(rgba))
    at.button(key="sr_run").click().run()
    assert not at.exception and not at.error
    out = list(results(at).values())
    assert all(img.mode == "RGBA" and img.size == (192, 128) for img, _ in out)
    alpha = np.asarray(out[-1][0].getchannel("A"))
    assert alpha[0].mean() < 40 and alpha[-1].mean() > 215       # the gradient survives, top to bottom
    assert any("transparency" in c.value for c in at.caption)


def test_a_result_over_the_limit_points_to_the_command_line():
    at = open_page("views/superres.py")
    upload(at, "huge.png", png(Image.new("L", (2100, 2000))))      # x4: 8400x8000 = 67 MP
    assert "over this page's limit of 64 MP" in at.error[0].value
    cli = next(c.value for c in at.code if "gan_core superres" in c.value)
    assert cli.startswith("python -m gan_core superres ") and cli.endswith(" IN.png --scale 4 --out OUT.png")
    assert not any(b.key == "sr_run" for b in at.button)
    at.radio(key="sr_scale").set_value(2).run()                   # x2: 4200x4000 = 16.8 MP is fine
    assert not at.error and any(b.key == "sr_run" for b in at.button)


def test_without_models_bicubic_still_works(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path))
    at = open_page("views/superres.py")
    assert "No ×4 super-resolution models" in at.warning[0].value
    assert shown(at) == ["Input", "Bicubic"] and len(results(at)) == 1
    assert not any(b.key == "sr_run" for b in at.button) and not at.toggle  # no model: no others, no ensemble


def test_a_model_card_without_its_weights_is_a_message(tmp_path, monkeypatch):
    shutil.copy(CHECKPOINTS / "sr_srresnet_x4.json", tmp_path / "sr_srresnet_x4.json")  # the card, not the weights
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path))
    at = open_page("views/superres.py")                             # the first view tries it once, on its own
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("This checkpoint cannot be used:")
    assert shown(at) == ["Input", "Bicubic"]                          # bicubic's result is still there
    at.slider(key="sr_cx_china").set_value(10).run()                  # not tried again at every rerun
    assert len(at.error) == 1 and shown(at) == ["Input", "Bicubic"]


# ---------------------------------------------------------------- your own weights

class Payload:
    """What a malicious .pth does: ask the unpickler to call a function."""

    def __reduce__(self):
        return (print, ("this must never run",))


def pth(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def upload_weights(at, name: str, data: bytes):
    next(f for f in at.file_uploader if f.label == "Weights (.pth)").set_value(
        (name, data, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_bad_weights_are_refused_with_a_message():
    at = open_page("views/superres.py")
    upload_weights(at, "evil.pth", pth({"conv_first.weight": Payload()}))
    assert at.error[0].value.startswith("These weights cannot be used: evil.pth: refused, not a plain tensor")
    upload_weights(at, "classifier.pth", pth({"fc.weight": torch.zeros(10, 4), "fc.bias": torch.zeros(10)}))
    assert "expected Real-ESRGAN/ESRGAN RRDBNet keys" in at.error[0].value
    upload_weights(at, "empty.pth", b"")
    assert "empty.pth" in at.error[0].value


def test_imported_weights_join_the_picker_for_this_session_only():
    torch.manual_seed(0)
    net = RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4)
    before = sorted(p.name for p in CHECKPOINTS.glob("*"))
    at = open_page("views/superres.py")
    upload_weights(at, "tiny_esrgan.pth", pth({"params_ema": net.state_dict()}))
    assert "Imported as **tiny_esrgan**" in at.success[0].value
    picker = at.selectbox(key="sr_model__en")
    assert "tiny_esrgan · RRDB (ESRGAN) (yours, this session)" in picker.options
    assert picker.value == "sr_srresnet_x4"                         # an import without figures is not the default
    picker.set_value("tiny_esrgan").run()                           # upscaled at once, like the shipped ones
    assert any("Imported from tiny_esrgan.pth" in c.value for c in at.caption)
    assert not at.exception and not at.error
    assert shown(at) == ["Input", "Bicubic", "tiny_esrgan · RRDB (ESRGAN)"]
    assert len(results(at)) == 3                                    # SRResNet's first view is kept beside it
    assert at.download_button(key="sr_download").proto.label.startswith("Download tiny_esrgan (768×768")
    folder = Path(at.session_state["sr_tmp"].name)
    assert (folder / "tiny_esrgan.safetensors").exists() and not (folder / "tiny_esrgan.pth").exists()
    assert sorted(p.name for p in CHECKPOINTS.glob("*")) == before  # nothing written to the shared folder
    assert "python -m gan_core import esrgan RealESRGAN_x4plus.pth --out checkpoints/realesrgan_x4" in \
        [c.value for c in at.code]


def test_imported_x2_weights_take_pictures_of_odd_sizes():
    """RRDBNet x2 pixel-unshuffles its input: the page pads odd tiles and crops the result back."""
    at = open_page("views/superres.py")
    upload_weights(at, "tiny_x2.pth", pth(RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=4).state_dict()))
    rgb = np.random.default_rng(1).integers(0, 256, (33, 47, 3), dtype=np.uint8)
    upload(at, "odd.png", png(Image.fromarray(rgb)))
    at.radio(key="sr_scale").set_value(2).run()
    assert "tiny_x2 · RRDB (ESRGAN) (yours, this session)" in at.selectbox(key="sr_model__en").options
    at.toggle(key="sr_others").set_value(True).run()                # beside the shipped x2 model
    assert at.button(key="sr_run").proto.label == "Upscale ×2 (3 methods)"
    at.button(key="sr_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert shown(at) == ["Input", "Bicubic", label("sr_srresnet_x2"), "tiny_x2 · RRDB (ESRGAN)"]
    assert sorted(img.size for img, _ in results(at).values()) == [(94, 66)] * (2 + len(X2))


# ---------------------------------------------------------------- picture helpers

def test_zoom_box_stays_inside_and_crops_line_up():
    assert zoom_box((96, 64), 50, 50, 24) == (36, 20, 60, 44)
    assert zoom_box((96, 64), 0, 100, 24) == (0, 40, 24, 64)
    assert zoom_box((10, 8), 50, 50, 24) == (1, 0, 9, 8)          # never larger than the picture
    img = Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4))
    big = zoomed(img, (1, 1, 3, 3), 5)
    assert big.size == (10, 10) and np.array_equal(np.asarray(big)[::5, ::5], np.asarray(img)[1:3, 1:3])
    assert centre_crop(Image.new("RGB", (100, 40)), 32).size == (32, 32)
    assert centre_crop(Image.new("RGB", (100, 20)), 32).size == (32, 20)


def test_before_after_puts_the_new_picture_left_of_the_divider():
    new, old = Image.new("RGB", (200, 50), (255, 0, 0)), Image.new("RGB", (200, 50), (0, 0, 255))
    a = np.asarray(before_after(new, old, 0.3))
    assert (a[:, :55] == [255, 0, 0]).all() and (a[:, 65:] == [0, 0, 255]).all()
    assert (a[:, 60] == [255, 255, 255]).all()                     # the divider at 30%
    rgba = before_after(new.convert("RGBA"), old.convert("RGBA"), 1.0)
    assert rgba.mode == "RGBA" and np.asarray(rgba)[0, 0].tolist() == [255, 0, 0, 255]
    small = before_after(Image.new("L", (3000, 100)), Image.new("L", (3000, 100)), 0.5, max_width=1000)
    assert small.size == (1000, 33) and small.mode == "L"
