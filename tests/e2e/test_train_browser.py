"""A person trains a GAN on their own pictures from the browser: upload a zip, start, watch, resume."""
import io
import zipfile

import numpy as np
from PIL import Image

from e2e_helpers import assert_no_exception, settle, shot


def picture_zip(path, classes=("circles", "squares"), per_class=6, extra=True):
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as zf:
        for c in classes:
            for i in range(per_class):
                buf = io.BytesIO()
                Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(buf, "PNG")
                zf.writestr(f"{c}/{i}.png", buf.getvalue())
        if extra:
            zf.writestr("notes.txt", "not a picture")
    return path


def test_upload_train_watch_and_resume(page, tmp_path):
    page.goto(page.base + "/training")
    settle(page)
    page.get_by_text("Start a new training run").wait_for()
    settle(page)
    if not page.get_by_role("button", name="Start training").is_visible():  # folded: runs exist
        page.get_by_text("Start a new training run").click()
    page.get_by_text("My pictures (.zip)").click()
    settle(page)

    # a zip that tries to write outside its folder is refused with a sentence, not a trace
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../etc/evil.png", b"x")
    page.locator("input[type=file]").set_input_files(str(evil))
    page.get_by_text("escape the archive").wait_for()
    assert_no_exception(page)
    shot(page, "train_zip_refused")

    page.locator("input[type=file]").set_input_files(str(picture_zip(tmp_path / "mine.zip")))
    page.get_by_text("12 pictures ready").wait_for()
    page.get_by_text("notes.txt").wait_for()  # the skipped file is named
    steps = page.get_by_label("Generator steps")
    steps.fill("8")
    steps.press("Enter")
    settle(page)
    shot(page, "train_form_upload")

    page.get_by_role("button", name="Start training").click()
    settle(page)
    assert "run=" in page.url  # the run has a link
    page.get_by_text("finished", exact=False).first.wait_for(timeout=120_000)
    page.get_by_text("step 8 of 8").wait_for(timeout=30_000)
    page.get_by_test_id("stImage").last.wait_for()
    assert_no_exception(page)
    shot(page, "train_finished")

    # train on from the last checkpoint
    until = page.get_by_label("Train until step")
    until.fill("12")
    until.press("Enter")
    settle(page)
    page.get_by_role("button", name="Resume").click()
    page.get_by_text("step 12 of 12").wait_for(timeout=120_000)
    assert_no_exception(page)
    shot(page, "train_resumed")
