"""A person trains a GAN on their own pictures from the browser: upload a zip, start, watch, resume."""
import io
import re
import zipfile

import numpy as np
import pytest
from e2e_helpers import assert_no_exception, settle, shot
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout


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


def upload_train_stop_resume(page, tmp_path) -> str:
    page.goto(page.base + "/training")
    settle(page)
    page.get_by_text("Start a new training run").wait_for()
    settle(page)
    try:  # the form is open when there are no runs yet
        page.get_by_text("My pictures (.zip)").wait_for(state="visible", timeout=15_000)
    except PlaywrightTimeout:
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
    steps.fill("100000")
    steps.press("Enter")
    settle(page)
    shot(page, "train_form_upload")

    page.get_by_role("button", name="Start training").click()
    settle(page)
    assert "run=" in page.url  # the run has a link
    run_id = page.url.split("run=")[1].split("&")[0]
    page.get_by_text("steps/s").wait_for(timeout=120_000)  # running, with a rate and an ETA
    # the runs table follows the run as the panel does (it said 'starting 0 / 100,000' while the panel moved on);
    # its cells are hidden text under a canvas, so they are looked for attached rather than visible
    table = page.get_by_test_id("stDataFrame")
    table.get_by_text("running", exact=True).wait_for(state="attached", timeout=30_000)
    table.get_by_text(re.compile(r"^[1-9][\d,]* / 100,000$")).wait_for(state="attached", timeout=30_000)
    shot(page, "train_running")
    page.get_by_role("button", name="Stop").click()
    # the status line, not the runs table (its cells are hidden text under a canvas)
    page.get_by_text("stopped", exact=False).filter(visible=True).first.wait_for(timeout=120_000)
    assert_no_exception(page)

    # train on from the last checkpoint, a few steps past where it stopped
    until = page.get_by_role("spinbutton", name="Train until step")
    assert page.get_by_text("Train until step", exact=True).is_visible()  # a label above the box, not a bare number
    progress = page.get_by_text(re.compile(r"step [\d,]+ of 100,000")).first.inner_text()
    stopped_at = int(re.search(r"step ([\d,]+) of", progress).group(1).replace(",", ""))
    assert stopped_at > 0
    until.fill(str(stopped_at + 3))
    until.press("Enter")
    settle(page)
    page.get_by_role("button", name="Resume").click()
    page.get_by_text(f"step {stopped_at + 3:,} of {stopped_at + 3:,}").wait_for(timeout=120_000)
    page.get_by_test_id("stImage").last.wait_for()
    assert_no_exception(page)
    shot(page, "train_resumed")

    # the run in the Gallery: its samples for seed 5, and its bundle
    page.goto(page.base + f"/gallery?gal_src=run:{run_id}&gal_seed=5")
    settle(page)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download PNG").click()
    dl.value.save_as(tmp_path / "here.png")
    page.get_by_role("tab", name="Share").click()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Export run (.zip)").click()
    dl.value.save_as(tmp_path / "bundle.zip")
    shot(page, "gallery_share")
    return run_id


@pytest.fixture
def teammate_reads_our_runs(monkeypatch, tmp_path_factory):
    """The teammate's server lets recipes read the first server's runs folder (where the uploaded zip
    is), as servers sharing storage would: a bundle's recipe may name only folders its server allows."""
    monkeypatch.setenv("GAN_STUDIO_DATA_ROOTS", str(tmp_path_factory.getbasetemp()))


def test_upload_train_stop_resume_export_import(page, browser, teammate_reads_our_runs, fresh_server, tmp_path):
    run_id = upload_train_stop_resume(page, tmp_path)
    # a teammate with another runs folder imports the bundle and draws the same samples
    other = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True).new_page()
    other.set_default_timeout(60_000)
    other.goto(fresh_server + "/gallery")
    settle(other)
    other.get_by_role("tab", name="Share").click()
    other.locator("input[type=file]").set_input_files(str(tmp_path / "bundle.zip"))
    other.get_by_text(f"Imported as run {run_id}").wait_for()
    other.goto(fresh_server + f"/gallery?gal_src=run:{run_id}&gal_seed=5")
    settle(other)
    with other.expect_download() as dl:
        other.get_by_role("button", name="Download PNG").click()
    dl.value.save_as(tmp_path / "there.png")
    assert (tmp_path / "here.png").read_bytes() == (tmp_path / "there.png").read_bytes()
    shot(other, "gallery_imported")

    # a bundle with a pickle in it is refused with a sentence
    evil = tmp_path / "evil_bundle.zip"
    with zipfile.ZipFile(tmp_path / "bundle.zip") as src, zipfile.ZipFile(evil, "w") as dst:
        for m in src.infolist():
            dst.writestr(m, src.read(m))
        dst.writestr("checkpoints/model.pkl", b"\x80\x04K\x01.")
    other.get_by_role("tab", name="Share").click()
    other.locator("input[type=file]").set_input_files(str(evil))
    other.get_by_text("does not hold").wait_for()
    assert_no_exception(other)
    other.context.close()

    # without sign-in anyone is the owner: share the run, then delete it after the confirmation
    page.goto(page.base + f"/training?run={run_id}")
    settle(page)
    page.get_by_text("Shared with the team").click()
    settle(page)
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("button", name="Delete for good").click()
    settle(page)
    page.wait_for_function("() => !location.search.includes('run=')")
    assert page.get_by_text(run_id).count() == 0
    assert_no_exception(page)


def test_cyclegan_offers_two_uploads_and_previews_them(page, tmp_path):
    """CycleGAN (unpaired) in the model choice: two uploaders, one per domain, each checked and previewed."""
    page.goto(page.base + "/training")
    settle(page)
    page.get_by_text("Start a new training run").wait_for()
    try:  # the form is open when there are no runs yet
        page.get_by_text("CycleGAN (unpaired)").wait_for(state="visible", timeout=15_000)
    except PlaywrightTimeout:
        page.get_by_text("Start a new training run").click()
    page.get_by_text("CycleGAN (unpaired)").click()
    settle(page)
    page.get_by_text("MNIST digits ↔ UCI digits").wait_for()  # a built-in pair first: nothing to upload
    page.get_by_text("My two collections (a .zip each)").click()
    settle(page)
    page.get_by_text("Domain A (zip)").wait_for()
    page.get_by_text("Domain B (zip)").wait_for()
    uploaders = page.get_by_test_id("stFileUploader")
    assert uploaders.count() == 2
    uploads = [uploaders.nth(i).locator("input[type=file]") for i in range(2)]
    uploads[0].set_input_files(str(picture_zip(tmp_path / "horses.zip", classes=("brown", "white"))))
    page.get_by_text("Domain A: 12 pictures ready").wait_for()
    empty = tmp_path / "zebras.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "no pictures here")
    uploads[1].set_input_files(str(empty))
    page.get_by_text("Domain B is empty").wait_for()
    assert_no_exception(page)
    shot(page, "train_cyclegan_empty_domain")
    uploads[1].set_input_files(str(picture_zip(tmp_path / "zebras_real.zip", classes=("z",), per_class=5,
                                               extra=False)))
    page.get_by_text("Domain B: 5 pictures ready").wait_for()
    assert page.get_by_test_id("stImage").count() == 2  # a preview of each domain
    page.get_by_role("button", name="Start training").wait_for()
    assert_no_exception(page)
    shot(page, "train_cyclegan_uploads")
