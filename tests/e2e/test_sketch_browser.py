"""The Sketch to image page in Chromium: it opens on the digit model; draw with the mouse and see the
result follow, load pictures of many kinds (as a sketch and as a photo; long names wrap between
words), bad files as plain messages, variations, the photo experiment, and the page in Chinese."""
import io
import struct
import zlib

import numpy as np
import skimage.data
import torch
from PIL import Image, ImageDraw

from e2e_helpers import assert_no_exception, settle, shot
from public_layouts import official_unet_state

RESULT_SRC = """() => { const box = [...document.querySelectorAll('[data-testid="stImage"]')]
                            .find(e => /Result of|的结果/.test(e.innerText));
                        return box ? box.querySelector('img').src : null; }"""


# Whether every word of an element's text sits on one line (a narrow caption once broke
# "hubble_deep_field" as "hubble_deep_fiel d"); words end at spaces and zero-width spaces.
WORDS_WHOLE = r"""el => { const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT); let node;
    while ((node = walk.nextNode())) { const words = /[^\s\u200b]+/g; let m;
      while ((m = words.exec(node.data))) { const r = document.createRange();
        r.setStart(node, m.index); r.setEnd(node, m.index + m[0].length);
        if (new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1) return false; } }
    return true; }"""


def problems(page):
    """Message boxes other than the photo model's standing note that it is an experiment."""
    return page.locator('[data-testid="stAlert"]').filter(has_not_text="An experiment.")


def result_src(page):
    return page.evaluate(RESULT_SRC)


def new_result(page, old) -> str:
    """Wait until the result picture differs from `old` (None: until there is one); its address."""
    page.wait_for_function(f"(old) => {{ const s = ({RESULT_SRC})(); return s && s !== old; }}", arg=old)
    settle(page)
    return result_src(page)


def stroke(page, points) -> None:
    """A pen stroke through `points`, in canvas pixels."""
    box = page.locator(".dc-container").first.bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x0 + x, y0 + y, steps=4)
    page.mouse.up()


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


def pictures(folder):
    """Sketches and photos in several formats and modes, and files that are not usable pictures."""
    sketch = Image.new("L", (200, 150), 255)
    ImageDraw.Draw(sketch).ellipse((30, 20, 170, 130), outline=0, width=4)
    sketch.save(folder / "circle.png")
    lines = np.full((160, 160), 65535, np.uint16)
    lines[40:44, 20:140] = 0
    lines[20:140, 78:82] = 0
    Image.fromarray(lines).save(folder / "cross_16bit.png")                        # I;16
    rgba = Image.new("RGBA", (180, 180), (0, 0, 0, 0))                             # black lines on transparent
    ImageDraw.Draw(rgba).rectangle((30, 30, 150, 150), outline=(0, 0, 0, 255), width=5)
    rgba.save(folder / "square_rgba.png")
    cat = Image.fromarray(skimage.data.chelsea())
    cat.resize((300, 200)).save(folder / "cat.jpg", quality=90)
    # a long word, as long as a caption gets before it is shortened
    Image.fromarray(skimage.data.coffee()).resize((240, 180)).save(folder / "immunohistochemistry.png")
    exif = Image.Exif()
    exif[0x0112] = 6                                                               # display rotated 90°
    Image.fromarray(skimage.data.astronaut()).resize((300, 200)).save(folder / "rotated.jpg", exif=exif)
    (folder / "letter.png").write_text("this is a letter, not a picture")
    whole = (folder / "cat.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    Image.new("RGB", (1, 1), "black").save(folder / "dot.png")
    (folder / "bomb.png").write_bytes(bomb_png(20_000, 20_000))
    return folder


def upload(page, path) -> None:
    page.locator(".st-key-sk_upload input[type=file]").set_input_files(str(path))


def test_draw_upload_and_bad_files(page, tmp_path):
    page.goto(page.base + "/sketch?sk_model=pix2pix_photos")
    settle(page)
    page.wait_for_function(RESULT_SRC)                      # a first visit opens on an example, painted
    settle(page)
    page.locator(".st-key-sk_blank button").click()         # then a blank canvas to draw on
    settle(page)
    page.get_by_text("Draw on the canvas, or load").wait_for()
    assert result_src(page) is None

    stroke(page, [(40, 200), (120, 60), (200, 200)])
    first = new_result(page, None)
    page.get_by_text("Painted in").wait_for()
    stroke(page, [(30, 120), (220, 130)])
    drawn = new_result(page, first)                        # the result follows the drawing
    page.locator(".st-key-sk_mode__en").get_by_text("Straight line").click()
    settle(page)
    stroke(page, [(20, 20), (240, 240)])
    drawn = new_result(page, drawn)
    assert_no_exception(page)
    shot(page, "sketch_drawn")
    page.locator(".st-key-sk_tool__en").get_by_text("Eraser").click()
    settle(page)
    stroke(page, [(0, 128), (256, 128)])                   # a white line across everything
    drawn = new_result(page, drawn)

    files = pictures(tmp_path)
    last = drawn
    for name in ("circle.png", "cross_16bit.png", "square_rgba.png"):          # as sketches
        upload(page, files / name)
        last = new_result(page, last)
        assert problems(page).count() == 0, name
    page.locator(".st-key-sk_upload_kind__en").get_by_text("a photo").click()     # the same file as a photo
    last = new_result(page, last)
    for name in ("cat.jpg", "immunohistochemistry.png", "rotated.jpg"):
        upload(page, files / name)
        last = new_result(page, last)
        page.get_by_text(f"Your photo, {name}").wait_for()
        caption = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Your photo").last
        assert caption.evaluate(WORDS_WHOLE), name                               # broken only between words
        assert problems(page).count() == 0, name
    # the innermost column with the caption holds the thumbnail
    thumb = page.locator('[data-testid="stColumn"]').filter(has_text="Your photo").last.locator("img")
    w, h = thumb.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert h > w                                           # the EXIF rotation was applied: 200 wide, 300 high
    long_name = files / "a_rather_long_holiday_photo_2024-07.jpg"
    long_name.write_bytes((files / "cat.jpg").read_bytes())
    upload(page, long_name)
    last = new_result(page, last)
    caption = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Your photo, a_").last
    assert "…" in caption.inner_text() and caption.evaluate(WORDS_WHOLE)   # shortened, broken only between words
    assert_no_exception(page)
    shot(page, "sketch_photo")

    for name, message in (("letter.png", "letter.png: not an image"),
                          ("truncated.jpg", "truncated.jpg: the file is damaged or truncated"),
                          ("dot.png", "dot.png: 1x1 pixels is too small"),
                          ("bomb.png", "bomb.png: the image is too large (possibly a decompression bomb)")):
        upload(page, files / name)
        page.locator('[data-testid="stAlert"]').filter(has_text=message).wait_for()
        assert_no_exception(page)
    assert result_src(page) == last                        # a bad file leaves the picture as it was
    shot(page, "sketch_bad_file")

    page.locator(".st-key-sk_vary").get_by_text("Variations").click()      # dropout on: another picture
    varied = new_result(page, last)
    page.get_by_text("Variation 0.").wait_for()
    page.get_by_role("button", name="Another variation").click()
    new_result(page, varied)
    assert_no_exception(page)


def test_own_weights_join_the_picker(page, tmp_path):
    torch.save({"conv_first.weight": torch.zeros(8, 3, 3, 3)}, tmp_path / "esrgan.pth")
    torch.save(official_unet_state(3, 3, 6, 4), tmp_path / "latest_net_G.pth")
    page.goto(page.base + "/sketch")
    settle(page)
    page.get_by_text("Use your own weights").click()
    weights = page.locator("[class*='st-key-sk_pth_'] input[type=file]")
    weights.set_input_files(str(tmp_path / "esrgan.pth"))
    page.locator('[data-testid="stAlert"]').filter(has_text="not an official pix2pix U-Net").wait_for()
    settle(page)   # the refused upload's uploader gives way to a fresh one
    weights.set_input_files(str(tmp_path / "latest_net_G.pth"))
    page.get_by_text("Imported as latest_net_G").wait_for()
    settle(page)
    picker = page.locator("[data-testid=stSelectbox] input").first
    assert picker.input_value() == "latest_net_G (yours, this session)"       # what the browser shows
    page.get_by_role("button", name="Random example").click()
    new_result(page, None)
    assert picker.input_value() == "latest_net_G (yours, this session)"       # and keeps showing
    assert "sk_model=latest_net_G" in page.url
    assert_no_exception(page)
    shot(page, "sketch_own_weights")


def test_the_digit_model_by_default_the_photo_experiment_and_chinese(page):
    page.goto(page.base + "/sketch")
    settle(page)
    assert page.locator(".st-key-sk_model__en input").input_value().startswith("pix2pix_digits · ")
    page.get_by_text("This model has no dropout").wait_for()
    assert page.locator(".st-key-sk_vary input").is_disabled()
    stroke(page, [(90, 60), (170, 60), (110, 210)])                             # a 7
    new_result(page, None)
    page.get_by_text("from a 32×32 drawing").wait_for()
    size = page.locator('[data-testid="stImage"]').filter(has_text="Result of").locator("img").evaluate(
        "i => [i.naturalWidth, i.width]")
    assert size == [256, 256]                              # 32 px enlarged 8x, pixels kept sharp
    page.get_by_role("button", name="Random example").click()
    page.get_by_text("The real digit").wait_for()
    assert_no_exception(page)
    shot(page, "sketch_digits")
    assert page.locator('[data-testid="stCaptionContainer"]').filter(has_text="The real digit").last.evaluate(WORDS_WHOLE)
    page.get_by_role("button", name="Blank canvas").click()
    page.get_by_text("Draw on the canvas, or load").wait_for()
    assert result_src(page) is None

    page.goto(page.base + "/sketch?sk_model=pix2pix_photos")
    settle(page)
    page.get_by_text("An experiment. It learned colour and texture habits").wait_for()
    page.get_by_role("button", name="Random example").click()
    new_result(page, None)
    photo = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="The real photo").last
    assert "_" not in photo.inner_text() and photo.evaluate(WORDS_WHOLE)     # "hubble deep field", whole words
    shot(page, "sketch_photo_experiment")

    page.goto(page.base + "/sketch?lang=zh&sk_model=pix2pix_photos")
    settle(page)
    page.get_by_role("heading", name="草图生成图像").wait_for()
    page.get_by_text("这是一个实验").wait_for()
    page.get_by_role("button", name="随机示例").click()
    new_result(page, None)
    page.get_by_text("真实照片（“").wait_for()
    page.get_by_text("毫秒").wait_for()
    assert_no_exception(page)
    shot(page, "sketch_zh")
