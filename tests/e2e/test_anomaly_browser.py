"""The Anomaly detection page in Chromium: upload pictures of many kinds, see reconstruction,
heat map and mask, move the threshold, download the scores; and the page in Chinese."""
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


def test_anomaly_upload_threshold_and_csv(page, tmp_path):
    page.goto(page.base + "/anomaly?a_detector=anomaly_mnist_0")
    settle(page)
    page.get_by_text("Drop PNG, JPEG").wait_for()
    files = pictures(tmp_path)
    page.locator("input[type=file]").set_input_files([str(p) for p in files.values()])
    page.get_by_text("picture(s) scored in").wait_for()
    page.get_by_text("letter.png: not an image").wait_for()
    page.get_by_text("empty.png: the file is empty.").wait_for()
    page.get_by_text("seven_big.jpg: 56×56").wait_for()                       # resized, and said so
    page.get_by_text("reconstruction G(z*)").nth(3).wait_for()               # four pictures scored
    assert page.get_by_text("reconstruction G(z*)").count() == 4
    verdicts = page.locator("strong").filter(has_text="anomalous").count()
    assert verdicts >= 2                                                      # the two sevens at least
    assert_no_exception(page)
    shot(page, "anomaly_uploads")

    with page.expect_download() as dl:
        page.get_by_role("button", name="Download scores (CSV)").first.click()
    rows = list(csv.DictReader(io.StringIO(dl.value.path().read_text())))
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
    page.get_by_text("AUROC").first.wait_for()
    assert_no_exception(page)
    shot(page, "anomaly_test_set")


def test_anomaly_texture_in_chinese(page):
    page.goto(page.base + "/anomaly?lang=zh&a_detector=anomaly_brick")
    settle(page)
    page.get_by_role("heading", name="异常检测").wait_for()
    page.get_by_role("tab", name="内置测试集").click()
    page.get_by_text("像素级 AUROC").wait_for()
    assert_no_exception(page)
    shot(page, "anomaly_zh_texture")
