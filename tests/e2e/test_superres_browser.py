"""The Super-resolution page in Chromium: the first view made without a click (the temple roof by bicubic
and SRResNet, then SRGAN on request with its grid explained), the before/after slider, the simulate
table, small pictures of many kinds uploaded and upscaled (PNG, JPEG, WebP, 16-bit, RGBA with its alpha
kept in the download, EXIF-rotated and upright) with the self-ensemble, bad files as plain messages, and
a switch to Chinese that keeps the results."""
import io
import os
import re
import struct
import time
import zlib

import numpy as np
import skimage.data
from PIL import Image

from e2e_helpers import ROOT, assert_no_exception, settle, shot
from gan_core.checkpoint import list_checkpoints
from gan_core.config import SR_ARCHS

CHECKPOINTS = os.environ.get("GAN_STUDIO_CHECKPOINTS") or ROOT / "checkpoints"
N_X4 = sum(1 for _, c in list_checkpoints(CHECKPOINTS, kinds=("gan",))
           if (c.get("model") or {}).get("arch") in SR_ARCHS and c["model"]["scale"] == 4)


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


def pictures(folder) -> dict[str, tuple]:
    """name -> (path, input size as the page should see it): small, of every kind, made here."""
    cat = Image.fromarray(skimage.data.chelsea())
    files = {}

    def keep(name, img, size, **kw):
        img.save(folder / name, **kw)
        files[name] = (folder / name, size)
    keep("cat.png", cat.resize((48, 32)), (48, 32))
    keep("cat.jpg", cat.resize((40, 32)), (40, 32), quality=90)
    keep("coffee.webp", Image.fromarray(skimage.data.coffee()).resize((56, 36)), (56, 36), quality=90)
    grey = np.asarray(cat.convert("L").resize((48, 40)), np.uint16) * 257
    keep("cat_16bit.png", Image.fromarray(grey), (48, 40))                                      # I;16
    rgba = cat.resize((44, 36)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((44, 36)))                                  # see-through at the top
    keep("cat_rgba.png", rgba, (44, 36))
    exif = Image.Exif()
    exif[0x0112] = 6                                                                            # shown turned 90°
    keep("rotated.jpg", Image.fromarray(skimage.data.astronaut()).resize((52, 32)), (32, 52), exif=exif)
    return files


def bad_files(folder) -> dict[str, str]:
    """name -> the message the page shows for it."""
    (folder / "letter.png").write_text("this is a letter, not a picture")
    buf = io.BytesIO()
    Image.fromarray(skimage.data.chelsea()).resize((48, 32)).save(buf, format="JPEG", quality=95)
    (folder / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    Image.new("RGB", (1, 1), "black").save(folder / "dot.png")
    (folder / "bomb.png").write_bytes(bomb_png(20_000, 20_000))
    return {"letter.png": "letter.png: not an image", "dot.png": "dot.png: 1x1 pixels is too small",
            "truncated.jpg": "truncated.jpg: the file is damaged or truncated", "bomb.png": "decompression bomb"}


def upload(page, path) -> None:
    page.locator(".st-key-sr_file input[type=file]").set_input_files(str(path))
    settle(page)


def upscale(page, size: tuple[int, int]) -> None:
    """Press Upscale and wait for the results, each 4x the input."""
    w, h = size
    page.get_by_text(f"Input: {w}×{h} pixels").wait_for()
    page.locator(".st-key-sr_run button").click()
    page.get_by_test_id("stImageCaption").filter(has_text=f"{4 * w}×{4 * h} in").first.wait_for()
    settle(page)


def test_first_view_srgan_split_measure_uploads_and_chinese(page, tmp_path):
    start = time.perf_counter()
    page.goto(page.base + "/superres")
    page.get_by_role("heading", name="Super-resolution").wait_for()
    # the first view needs no click: bicubic, then the best-measured model, on the temple roof
    page.get_by_test_id("stImageCaption").filter(has_text="Bicubic: 768×768 in").wait_for()
    page.get_by_test_id("stImageCaption").filter(has_text="sr_srresnet_x4 · SRResNet: 768×768 in").wait_for()
    print(f"first view on screen after {time.perf_counter() - start:.1f} s")   # -s shows it; not asserted: shared CPUs
    settle(page)
    assert page.locator(".st-key-sr_run").count() == 0                  # nothing to press
    page.get_by_text("Look at the roof").wait_for()
    assert_no_exception(page)
    shot(page, "superres_first_view")

    if N_X4 > 1:  # SRGAN on request: made at once, with its learned grid measured and explained
        page.locator(".st-key-sr_others").get_by_text("Also compare with").click()
        page.get_by_test_id("stImageCaption").filter(has_text="sr_srgan_x4 · SRGAN: 768×768 in").wait_for()
        settle(page)
        page.get_by_text(re.compile(r"sr_srgan_x4 adds a faint grid .* \d\.\d levels")).wait_for()
        assert_no_exception(page)
        shot(page, "superres_srgan")

    page.get_by_role("tab", name="Before / after").click()
    caption = page.get_by_test_id("stImageCaption").filter(has_text="Left of the line")
    caption.filter(has_text="(50%)").wait_for()
    thumb = page.locator(".st-key-sr_split").get_by_role("slider")
    thumb.focus()
    for _ in range(20):
        thumb.press("ArrowLeft")
    settle(page)
    caption.filter(has_text="(30%)").wait_for()
    assert "(30%): sr_srresnet_x4. Right (70%): bicubic" in caption.inner_text()
    shot(page, "superres_split")
    assert_no_exception(page)

    page.get_by_role("tab", name="Measure (simulate)").click()
    page.locator(".st-key-sr_sim_run button").click()
    page.get_by_text("Original 192×192, shrunk to 48×48").wait_for()
    settle(page)
    assert page.get_by_test_id("stDataFrame").count() >= 1
    captions = page.get_by_test_id("stImageCaption").filter(has_text=re.compile(r"PSNR \d+\.\d\d dB, SSIM 0\.\d+"))
    assert captions.count() == 1 + N_X4                                   # bicubic and the models, measured
    assert_no_exception(page)
    shot(page, "superres_measure")

    # uploads wait for the button (and only the chosen model joins bicubic)
    page.get_by_role("tab", name="Side by side").click()
    page.locator(".st-key-sr_source__en").get_by_text("Upload").click()
    settle(page)
    page.get_by_text("Drop a PNG, JPEG, WebP").wait_for()
    files = pictures(tmp_path)
    for name, (path, size) in files.items():
        upload(page, path)
        upscale(page, size)
        assert_no_exception(page)
        results = page.get_by_test_id("stImageCaption").filter(has_text=f"{4 * size[0]}×{4 * size[1]} in")
        assert results.count() == 1 + N_X4, name                       # bicubic and each x4 model (others on)
        if name == "cat_16bit.png":
            page.get_by_text("pixels (L) → output ×4").wait_for()      # 16-bit grey read as 8-bit grey
        if name == "cat_rgba.png":
            page.get_by_text("The PNG keeps the picture's transparency").wait_for()
            shot(page, "superres_compare_rgba")
            with page.expect_download() as dl:
                page.locator(".st-key-sr_download button").click()
            got = Image.open(dl.value.path())
            assert got.mode == "RGBA" and got.size == (176, 144)
            alpha = np.asarray(got.getchannel("A"))
            assert alpha[:4].mean() < 30 and alpha[-4:].mean() > 225    # transparent at the top, opaque below
    page.get_by_text("Input: 32×52 pixels (RGB) → output ×4: 128×208 pixels").wait_for()  # EXIF: upright, taller

    if N_X4:  # the self-ensemble runs each model again (eight passes), not bicubic; off again, nothing reruns
        page.locator(".st-key-sr_ensemble").get_by_text("Self-ensemble").click()
        settle(page)
        page.locator(".st-key-sr_run button").click()
        ensembled = page.get_by_test_id("stImageCaption").filter(has_text="· self-ensemble: 128×208 in")
        ensembled.first.wait_for()
        settle(page)
        assert ensembled.count() == N_X4
        assert_no_exception(page)
        page.locator(".st-key-sr_ensemble").get_by_text("Self-ensemble").click()
        settle(page)
        assert page.locator(".st-key-sr_run").count() == 0

    for name, message in bad_files(tmp_path).items():
        upload(page, tmp_path / name)
        page.get_by_test_id("stAlertContentError").filter(has_text=message).wait_for()
        assert_no_exception(page)
        assert page.locator(".st-key-sr_run").count() == 0               # nothing to upscale
    shot(page, "superres_bad_bomb")

    # Chinese, back on the example: the title and tabs change; the first view's results stay
    page.locator(".st-key-sr_source__en").get_by_text("Example").click()
    settle(page)
    page.get_by_test_id("stSidebar").get_by_text("简体中文").click()
    settle(page)
    page.get_by_role("heading", name="超分辨率").wait_for()
    page.get_by_role("tab", name="并排比较").click()
    page.get_by_test_id("stImageCaption").filter(has_text="768×768，用时").first.wait_for()
    assert page.locator(".st-key-sr_run").count() == 0
    assert_no_exception(page)
    shot(page, "superres_zh")
