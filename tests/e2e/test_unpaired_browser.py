"""The Unpaired translation page in Chromium: official CycleGAN generators imported for the session
(tiny ones made here, with the official layer names), the example photo and an uploaded photo sent
round the cycle, a file that is no picture as a plain message; and a 7 drawn on the canvas for the
shipped cyclegan_strokes, beside pix2pix_digits."""
import re

import skimage.data
import torch
from PIL import Image

from e2e_helpers import assert_no_exception, settle, shot
from gan_core.nets.cyclegan import ResnetGenerator

CYCLE = '[data-testid="stImage"]'


def generator(path, seed: int) -> None:
    torch.manual_seed(seed)
    torch.save(ResnetGenerator(3, 3, ngf=4, n_blocks=2).state_dict(), path)


def caption(page, text: str):
    """The picture whose caption is `text`."""
    return page.locator(CYCLE).filter(has_text=text).first


def test_import_translate_an_example_and_an_upload(page, tmp_path):
    generator(tmp_path / "latest_net_G_A.pth", 0)
    generator(tmp_path / "latest_net_G_B.pth", 1)
    Image.fromarray(skimage.data.chelsea()).save(tmp_path / "cat.jpg", quality=90)     # 451×300
    (tmp_path / "letter.png").write_text("this is a letter, not a picture")

    page.goto(page.base + "/unpaired")
    settle(page)
    page.get_by_role("heading", name="Unpaired translation").wait_for()
    page.get_by_text("Use the official pretrained generators").click()
    page.locator("[class*='st-key-ug_ga_'] input[type=file]").set_input_files(str(tmp_path / "latest_net_G_A.pth"))
    settle(page)
    page.locator("[class*='st-key-ug_gb_'] input[type=file]").set_input_files(str(tmp_path / "latest_net_G_B.pth"))
    settle(page)
    page.locator(".st-key-ug_own_name input").fill("horse2zebra")
    page.locator(".st-key-ug_own_name input").press("Enter")
    settle(page)
    page.get_by_role("button", name="Import").click()
    settle(page)
    picker = page.locator(".st-key-ug_model__en input")
    picker.wait_for()
    assert picker.input_value() == "horse2zebra (yours, this session)"
    assert "ug_model=horse2zebra" in page.url
    page.get_by_text("A → B: horse → zebra").wait_for()
    assert_no_exception(page)

    # the example photo (the astronaut), round the cycle
    page.locator(".st-key-ug_source__en").get_by_text("an example").click()
    settle(page)
    page.get_by_role("button", name="Translate horse → zebra").click()
    caption(page, "G_XY(x): as zebra (256×256)").wait_for()
    caption(page, "G_YX(G_XY(x)): back as horse").wait_for()
    page.get_by_text(re.compile(r"^Reconstruction error \|G_YX\(G_XY\(x\)\) − x\|₁ = 0\.\d{3} ")).wait_for()
    assert_no_exception(page)

    # an upload: 451×300 becomes 385×256; a file that is no picture is a message
    page.locator(".st-key-ug_source__en").get_by_text("your picture").click()
    settle(page)
    uploader = page.locator(".st-key-ug_upload input[type=file]")
    uploader.set_input_files(str(tmp_path / "letter.png"))
    page.locator('[data-testid="stAlert"]').filter(has_text="letter.png: not an image").wait_for()
    assert_no_exception(page)
    uploader.set_input_files(str(tmp_path / "cat.jpg"))
    settle(page)
    page.get_by_role("button", name="Translate horse → zebra").click()
    caption(page, "G_XY(x): as zebra (385×256)").wait_for()
    caption(page, "Your picture, cat.jpg").wait_for()
    width = caption(page, "G_XY(x): as zebra").locator("img").evaluate("i => i.naturalWidth")
    assert width == 385
    assert page.locator('[data-testid="stAlert"]').filter(has_text="not an image").count() == 0
    assert_no_exception(page)
    page.mouse.move(0, 0)                                  # no picture toolbar from hovering in the shot
    shot(page, "unpaired_cycle")


def test_draw_strokes_for_the_shipped_strokes_model(page):
    """The canvas: a 7 drawn with the mouse goes round the cycle and through Pix2Pix beside it."""
    page.goto(page.base + "/unpaired?ug_model=cyclegan_strokes")
    settle(page)
    page.get_by_text("What pairs buy you").wait_for()
    page.locator(".st-key-ug_source__en").get_by_text("a drawing").click()
    settle(page)
    page.get_by_text("Draw a digit on the canvas.").wait_for()
    box = page.locator(".dc-container").first.bounding_box()
    page.mouse.move(box["x"] + 90, box["y"] + 60)
    page.mouse.down()
    for x, y in ((170, 60), (110, 210)):
        page.mouse.move(box["x"] + x, box["y"] + y, steps=5)
    page.mouse.up()
    caption(page, "x: what the model sees (strokes, 32×32)").wait_for()
    page.get_by_text(re.compile(r"^Reconstruction error \|")).wait_for()
    caption(page, "pix2pix_digits: read").wait_for()
    caption(page, "cyclegan_strokes: read").wait_for()
    assert_no_exception(page)
    page.mouse.move(0, 0)
    shot(page, "unpaired_strokes")
