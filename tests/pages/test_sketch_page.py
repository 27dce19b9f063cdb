"""The Sketch to image page in AppTest: it opens on the digit model with the photo model after it as
an experiment, random examples with their timing, variations (and their absence), uploaded sketches
and bad pictures, imported official weights (good, pickled, of another network), and broken or
missing checkpoints.
Drawing on the canvas itself is covered by tests/e2e/test_sketch_browser.py."""
import io
import json
import os
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from apptest_helpers import open_page
from public_layouts import official_unet_state
from ui.imports import import_name
from ui.sketch_helpers import canvas_picture, photo_title, short_name

CHECKPOINTS = Path(os.environ.get("GAN_STUDIO_CHECKPOINTS") or Path(__file__).resolve().parents[2] / "checkpoints")
MODELS = ["pix2pix_digits", "pix2pix_photos"]


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def pth(state) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def result(at):
    """(address of the result picture, the timing caption), or (None, None) without a result."""
    pics = [i for i in at.image if any(c.startswith("Result of") or c.endswith("的结果") for c in i.captions)]
    timing = [c.value for c in at.caption if "ms from" in c.value or "毫秒" in c.value]
    return (pics[0].value[0] if pics else None), (timing[0] if timing else None)


def picker(at):
    """The model picker (its widget is keyed by language)."""
    return next(s for s in at.selectbox if s.key.startswith("sk_model__"))


def listed(at) -> list[str]:
    """The model names in the picker, in its order (its labels add each model's measured quality)."""
    return [o.split(" · ")[0] for o in picker(at).options]


def weights_uploader(at):
    """The .pth uploader (a fresh one after each import, so the upload is not kept in memory)."""
    return next(u for u in at.get("file_uploader") if u.key.startswith("sk_pth_"))


def captions(at) -> list[str]:
    """The captions of pictures and the captions under thumbnails (written beside them, column-wide)."""
    return [c for i in at.image for c in i.captions] + [c.value for c in at.caption]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_opens_on_the_digit_model_with_a_drawing_painted(lang):
    at = open_page("views/sketch.py", lang)
    assert listed(at) == MODELS and picker(at).value == "pix2pix_digits"        # the model that works, first
    digits, photos = picker(at).options
    assert {"en": "pix2pix_digits · 97% of its digits recognised",
            "zh": "pix2pix_digits · 97% 的数字可被认出"}[lang] == digits         # the card's 0.97
    assert photos.startswith({"en": "pix2pix_photos · experiment, PSNR 10.6 dB, below a plain grey picture's 11.3",
                              "zh": "pix2pix_photos · 实验，PSNR 10.6 dB，低于纯灰色图片的 11.3"}[lang])
    assert at.title[0].value == {"en": "Sketch to image", "zh": "草图生成图像"}[lang]
    about = {"en": "Edges to digits: draw a digit as one pen stroke", "zh": "从笔画到数字：用一笔画出一个数字"}[lang]
    assert any(m.value.startswith(about) for m in at.markdown)                  # the card's description
    assert any({"en": "Further down the list: pix2pix_photos", "zh": "列表下方还有：pix2pix_photos"}[lang] in c.value
               for c in at.caption) and not at.warning
    painted = {"en": r"Painted in \d+ ms from a 32×32 drawing\.", "zh": r"用 \d+ 毫秒由 32×32 的线稿生成。"}[lang]
    src, timing = result(at)       # a first visit opens on a held-out digit, already painted
    assert src and re.fullmatch(painted, timing) and not at.info and not at.error
    at.button(key="sk_example").click().run()
    assert not at.exception
    src, timing = result(at)
    assert src and re.fullmatch(painted, timing)
    at.button(key="sk_blank").click().run()     # a blank canvas stays blank: the first example came only once
    assert at.info[0].value == {"en": "Draw on the canvas, or load a random example or a picture.",
                                "zh": "在画布上画画，或载入随机示例或图片。"}[lang]
    assert result(at) == (None, None)
    at.run()
    assert result(at) == (None, None)


def test_the_photo_model_says_what_it_can_and_cannot_do():
    at = open_page("views/sketch.py", sk_model="pix2pix_photos")
    m = json.loads((CHECKPOINTS / "pix2pix_photos.json").read_text())["metrics"]
    note = at.warning[0].value
    assert note.startswith("An experiment.") and "cannot paint a house" in note
    assert f"PSNR {m['psnr_y']:.1f} dB" in note and f"{m['grey_psnr_y']:.1f} dB of a plain grey picture" in note
    assert note.endswith("choose pix2pix_digits.")
    assert not at.toggle(key="sk_vary").disabled                              # the photo model has dropout


def test_random_examples_of_both_models():
    at = open_page("views/sketch.py", sk_model="pix2pix_digits")
    assert picker(at).value == "pix2pix_digits"
    assert at.toggle(key="sk_vary").disabled and at.toggle(key="sk_vary").value is False
    assert "This model has no dropout, so a drawing has exactly one result." in [c.value for c in at.caption]
    assert any(re.search(r"On 500 held-out drawings, \d+% of its digits are recognised; for comparison, the "
                         r"classifier that reads them gets \d+% of real held-out digits right", c.value)
               for c in at.caption)                                          # the card's figures
    at.button(key="sk_example").click().run()
    src, timing = result(at)
    assert src and re.fullmatch(r"Painted in \d+ ms from a 32×32 drawing\.", timing)
    assert "What the model sees (32×32)" in captions(at)
    assert any(re.fullmatch(r"The real digit \(a \d, held out\)", c) for c in captions(at))
    assert "sk_download" in [b.key for b in at.get("download_button")]
    first = src
    for _ in range(3):                                   # another example, another drawing (almost surely)
        at.button(key="sk_example").click().run()
        if result(at)[0] != first:
            break
    assert result(at)[0] != first

    picker(at).set_value("pix2pix_photos").run()
    assert result(at) == (None, None)                    # a digit drawing does not carry over
    at.button(key="sk_example").click().run()
    assert not at.exception
    assert re.fullmatch(r"Painted in \d+ ms from a 256×256 drawing\.", result(at)[1])
    # the photo's name in words ("hubble deep field"): a narrow caption wraps between them
    assert any(re.fullmatch(r"The real photo \(crop of “[a-z]+( [a-z]+)*”\)", c) for c in captions(at))


def test_variations_repeat_per_seed_and_differ_between_seeds():
    at = open_page("views/sketch.py", sk_model="pix2pix_photos")
    at.button(key="sk_example").click().run()
    plain = result(at)[0]
    at.toggle(key="sk_vary").set_value(True).run()
    seed0, timing = result(at)
    assert timing.endswith("Variation 0.") and seed0 != plain
    at.number_input(key="sk_seed").set_value(1).run()
    seed1 = result(at)[0]
    at.number_input(key="sk_seed").set_value(0).run()
    assert seed1 != seed0 and result(at)[0] == seed0
    at.button(key="sk_new_var").click().run()
    assert not at.exception and at.number_input(key="sk_seed").value != 0


def test_uploaded_sketches_and_bad_pictures():
    at = open_page("views/sketch.py", sk_model="pix2pix_photos")
    sketch = Image.new("RGBA", (200, 150), (0, 0, 0, 0))                      # black lines on transparent
    ImageDraw.Draw(sketch).ellipse((30, 20, 170, 130), outline=(0, 0, 0, 255), width=4)
    at.file_uploader(key="sk_upload").set_value(("circle.png", png(sketch), "image/png")).run()
    assert not at.exception and not at.error
    src, timing = result(at)
    assert src and timing.startswith("Painted in")
    assert "What the model sees (256×256)" in captions(at)
    for name, data, message in (("letter.png", b"a letter, not a picture", "letter.png: not an image"),
                                ("dot.png", png(Image.new("RGB", (1, 1))), "dot.png: 1x1 pixels is too small"),
                                ("empty.png", b"", "empty.png: the file is empty.")):
        at.file_uploader(key="sk_upload").set_value((name, data, "image/png")).run()
        assert not at.exception
        assert len(at.error) == 1 and at.error[0].value.startswith(message), at.error[0].value
        assert result(at)[0] == src                      # the drawing loaded before stays
    at.radio(key="sk_upload_kind__en").set_value("photo").run()                   # a good photo after them
    photo = Image.new("RGB", (300, 200), (40, 60, 160))
    ImageDraw.Draw(photo).ellipse((60, 30, 220, 170), fill=(200, 40, 30))
    at.file_uploader(key="sk_upload").set_value(("glow.png", png(photo), "image/png")).run()
    assert not at.error and "Your photo, glow.png" in captions(at)


def test_official_weights_are_imported_for_this_session_only(tmp_path):
    at = open_page("views/sketch.py")
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    evil = pickle.dumps({"w": Payload()}, protocol=2)
    weights_uploader(at).set_value(("evil.pth", evil, "application/octet-stream")).run()
    assert not at.exception and not marker.exists()                          # refused, never run
    assert len(at.error) == 1 and "These weights cannot be used: evil.pth: refused" in at.error[0].value
    assert listed(at) == MODELS

    weights_uploader(at).set_value(("esrgan.pth", pth({"conv_first.weight": torch.zeros(8, 3, 3, 3)}),
                                              "application/octet-stream")).run()
    assert "not an official pix2pix U-Net" in at.error[0].value and "conv_first.weight" in at.error[0].value
    state = official_unet_state(3, 3, 6, 4)
    state["model.model.1.model.1.weight"] = torch.zeros(9, 4, 4, 4)           # a misshapen layer
    weights_uploader(at).set_value(("bent.pth", pth(state), "application/octet-stream")).run()
    assert "shape mismatches" in at.error[0].value and "down.1.1.weight" in at.error[0].value

    weights_uploader(at).set_value(("latest_net_G.pth", pth(official_unet_state(3, 3, 6, 4)),
                                              "application/octet-stream")).run()
    assert not at.exception and not at.error
    assert at.success[0].value == "Imported as latest_net_G; it is now the chosen model."
    assert weights_uploader(at).value is None                                 # the upload is not kept
    session_folder = Path(at.session_state["sk_tmp"].name)
    assert (session_folder / "latest_net_G.json").exists() and CHECKPOINTS not in session_folder.parents
    # not measured: after the digit model, before the photo experiment
    assert picker(at).value == "latest_net_G" and picker(at).options[1] == "latest_net_G (yours, this session)"
    assert any("imported from latest_net_G.pth" in m.value for m in at.markdown)
    assert not at.toggle(key="sk_vary").disabled                              # official U-Nets have dropout
    at.button(key="sk_example").click().run()
    assert re.fullmatch(r"Painted in \d+ ms from a 256×256 drawing\.", result(at)[1])
    assert not list(CHECKPOINTS.glob("latest_net_G*"))                       # nothing written there
    assert any("python -m gan_core import pix2pix latest_net_G.pth" in c.value for c in at.code)


def test_no_models_or_a_broken_one_are_messages(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path))
    at = open_page("views/sketch.py")
    assert "configs/pix2pix_digits.yaml" in at.warning[0].value
    assert weights_uploader(at)                                               # own weights can still come
    for ext in (".json", ".safetensors"):
        shutil.copy(CHECKPOINTS / f"pix2pix_digits{ext}", tmp_path / f"pix2pix_digits{ext}")
    weights = tmp_path / "pix2pix_digits.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])                        # a truncated download
    at = open_page("views/sketch.py")
    assert len(at.error) == 1 and "cannot be used" in at.error[0].value


def test_the_canvas_is_laid_over_its_background():
    drawing = np.full((32, 32), 255, np.uint8)
    drawing[16, 4:28] = 0                                                     # a 1-pixel line at 32 px
    assert (np.asarray(canvas_picture(None, drawing))[128:136, 32:224] == 0).all()   # enlarged 8x, crisp
    strokes = np.zeros((512, 512, 4), np.uint8)                               # at twice the canvas size
    strokes[240:300, :, :] = 255                                              # an eraser band, opaque white
    strokes[:, 20:30] = (0, 0, 0, 255)                                        # a pen stroke
    pic = np.asarray(canvas_picture(strokes, drawing))
    assert pic.shape == (256, 256) and (pic[128:136, 32:224] == 255).all()     # the line is erased
    assert (pic[:, 11:14] == 0).all()                                         # the pen stroke is there
    assert import_name("my weights (1).pth", {"my_weights_1"}) == "my_weights_1_2"
    assert photo_title("hubble_deep_field") == "hubble deep field"
    assert short_name("cat.jpg") == "cat.jpg"
    long = short_name("a_rather_long_holiday_photo_2024-07.jpg").replace("\u200b", "")
    assert long == "a_rather_lo…_2024-07.jpg" and len(long) == 24             # its end kept
    assert short_name("my_cat.png") == "my_\u200bcat.png"                      # breakable after "_"
    assert import_name("../../etc/passwd.pth", set()) == "passwd"
