"""The Anomaly detection page in Chromium at 1280 px: it opens on the digit detector, scores sample
pictures in one click, takes uploads of many kinds (reconstruction, heat map and mask), moves the
threshold, downloads the scores, shows the whole confusion matrix; and a texture experiment in Chinese."""
import csv
import io

import numpy as np
from PIL import Image

from e2e_helpers import assert_no_exception, settle, shot
from gan_core.data.images import mnist5k


def pictures(folder):
    """A zero and a seven from the test digits in several formats, plus files that are not pictures."""
    test = mnist5k("test")
    zero = test.images[test.labels == 0][0, 0].numpy()
    seven = test.images[test.labels == 7][0, 0].numpy()
    files = {}
    Image.fromarray(zero).save(folder / "zero.png")
    Image.fromarray(seven).resize((56, 56)).convert("RGB").save(folder / "seven_big.jpg", quality=95)
    rgba = Image.fromarray(zero).convert("RGBA")
    rgba.putalpha(255)
    rgba.save(folder / "zero_rgba.png")
    Image.fromarray(seven.astype(np.uint16) * 257).save(folder / "seven_16bit.png")   # I;16
    (folder / "letter.png").write_text("this is a letter, not a picture")
    (folder / "empty.png").write_bytes(b"")
    for name in ("zero.png", "seven_big.jpg", "zero_rgba.png", "seven_16bit.png", "letter.png", "empty.png"):
        files[name] = folder / name
    return files


def download_scores(page) -> list[dict]:
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download scores (CSV)").first.click()
    return list(csv.DictReader(io.StringIO(dl.value.path().read_text())))


FITS = """el => [el, ...el.querySelectorAll('*')].every(e => e.scrollWidth <= e.clientWidth + 1)"""


def test_anomaly_samples_uploads_threshold_and_csv(page, tmp_path):
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(page.base + "/anomaly")
    settle(page)
    picker = page.locator(".st-key-a_detector__en input")
    assert picker.input_value().startswith("anomaly_mnist_0 · excellent")      # the strong one by default
    page.get_by_text("Further down the list: anomaly_gravel").wait_for()
    shot(page, "anomaly_default")

    page.get_by_role("button", name="Try 6 sample pictures").click()          # one click scores them
    page.get_by_text("reconstruction G(z*)").nth(5).wait_for()
    rows = download_scores(page)
    normal = [float(r["score"]) for r in rows if r["truly_anomalous"] == "0"]
    odd = [float(r["score"]) for r in rows if r["truly_anomalous"] == "1"]
    assert len(normal) == len(odd) == 3 and min(odd) > max(normal)           # every other digit above every zero
    assert page.get_by_text("✓ right").count() == 6
    assert_no_exception(page)
    shot(page, "anomaly_samples")

    files = pictures(tmp_path)                                                # uploads take the samples' place
    page.locator("input[type=file]").set_input_files([str(p) for p in files.values()])
    page.get_by_text("letter.png: not an image").wait_for()
    settle(page)
    page.get_by_text("picture(s) scored in").wait_for()
    page.get_by_text("empty.png: the file is empty.").wait_for()
    page.get_by_text("seven_big.jpg: 56×56").wait_for()                       # resized, and said so
    page.get_by_text("reconstruction G(z*)").nth(3).wait_for()               # four pictures scored
    assert page.get_by_text("reconstruction G(z*)").count() == 4
    verdicts = page.locator("strong").filter(has_text="anomalous").count()
    assert verdicts >= 2                                                      # the two sevens at least
    assert_no_exception(page)
    shot(page, "anomaly_uploads")

    rows = download_scores(page)
    assert [r["image"] for r in rows] == ["zero.png", "seven_big.jpg", "zero_rgba.png", "seven_16bit.png"]
    scores = {r["image"]: float(r["score"]) for r in rows}
    assert scores["seven_big.jpg"] > scores["zero.png"] and scores["seven_16bit.png"] > scores["zero_rgba.png"]

    # a manual threshold above every score calls everything normal
    page.get_by_text("Set by hand").click()
    page.get_by_text("Flag pictures whose score is at least").wait_for()
    handle = page.locator("[data-testid=stSlider]").filter(
        has_text="Flag pictures whose score is at least").get_by_role("slider")
    handle.focus()
    handle.press("End")                                  # 10x the automatic threshold
    settle(page)
    assert max(scores.values()) < 10 * 0.334
    page.wait_for_function("() => ![...document.querySelectorAll('strong')].some(e => e.innerText === 'anomalous')")
    page.get_by_role("tab", name="Built-in test set").click()
    matrix = page.locator(".st-key-a_cm")
    matrix.get_by_text("called anomalous").wait_for()
    assert matrix.evaluate(FITS)                                              # no horizontal scrolling in it
    box, header = matrix.bounding_box(), matrix.get_by_text("called anomalous").bounding_box()
    assert box["x"] <= header["x"] and header["x"] + header["width"] <= box["x"] + box["width"] + 1
    assert_no_exception(page)
    shot(page, "anomaly_test_set")


def test_anomaly_texture_in_chinese(page):
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(page.base + "/anomaly?lang=zh&a_detector=anomaly_brick")
    settle(page)
    page.get_by_role("heading", name="异常检测").wait_for()
    page.get_by_text("这是一个实验").wait_for()                                # marked as the experiment it is
    page.get_by_role("button", name="试试 6 张示例图片").click()
    page.get_by_text("重建 G(z*)").nth(5).wait_for()
    page.get_by_role("tab", name="内置测试集").click()
    page.get_by_text("像素级 AUROC").wait_for()
    assert page.locator(".st-key-a_cm").evaluate(FITS)
    assert_no_exception(page)
    shot(page, "anomaly_zh_texture")
