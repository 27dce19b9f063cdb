"""The Gallery in Chromium on the shipped models: samples, an interpolation GIF, the memorisation check."""
from e2e_helpers import assert_no_exception, settle, shot
from PIL import Image


def test_gallery_main_path(page, tmp_path):
    page.goto(page.base + "/gallery?gal_src=ckpt:mnist_cgan&gal_seed=3")
    settle(page)
    page.get_by_text("Seed 3: the same seed").wait_for()
    # one row per class: the slider counts per class and says what is drawn (it said 36 and drew 30)
    page.get_by_text("Samples per class").wait_for()
    page.get_by_text("10 rows × 3 = 30 samples").wait_for()
    page.get_by_text("Trained for 6,000 steps on").wait_for()  # the model's card, in words
    shot(page, "gallery_samples_cgan")

    page.get_by_role("tab", name="Interpolation").click()
    page.get_by_text("along the sphere").wait_for()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download GIF").click()
    dl.value.save_as(tmp_path / "walk.gif")
    gif = Image.open(tmp_path / "walk.gif")
    assert gif.format == "GIF" and gif.n_frames == 2 * 12 - 2  # there and back
    shot(page, "gallery_interpolation")

    page.get_by_role("tab", name="Memorisation check").click()
    page.get_by_text("median distance to the nearest training image").wait_for(timeout=120_000)
    shot(page, "gallery_memorisation")

    page.get_by_role("tab", name="Side by side").click()
    page.get_by_test_id("stDataFrame").last.wait_for()  # the two models' figures, one row each, in words
    page.get_by_test_id("stDataFrame").last.get_by_text("99.3%").wait_for(state="attached")
    assert_no_exception(page)
    shot(page, "gallery_side_by_side")


def test_gallery_in_chinese(page):
    page.goto(page.base + "/gallery?lang=zh")
    settle(page)
    page.get_by_role("heading", name="作品库").wait_for()
    page.get_by_role("tab", name="记忆检查").wait_for()
    assert_no_exception(page)
    shot(page, "gallery_zh")
