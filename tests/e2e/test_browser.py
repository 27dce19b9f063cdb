"""A person in a browser: open every page, use Generate, switch language, follow a shared link."""
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from e2e_helpers import assert_no_exception, settle, shot

ROOT = Path(__file__).resolve().parents[2]
PAGE_URLS = {"home": "/", "generate": "/generate"}


@pytest.mark.parametrize("name,path", PAGE_URLS.items())
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_opens(page, name, path, lang):
    page.goto(page.base + path + f"?lang={lang}")
    settle(page)
    page.wait_for_selector("h1")
    assert_no_exception(page)
    page.get_by_test_id("stImage").first.wait_for()
    heading = page.locator("h2, h3").first.inner_text() if name == "home" else page.locator("h1").first.inner_text()
    assert bool(re.search(r"[\u4e00-\u9fff]", heading)) == (lang == "zh"), heading
    shot(page, f"{name}_{lang}")


def test_generate_main_path(page, tmp_path):
    page.goto(page.base + "/generate")
    settle(page)
    page.get_by_test_id("stImage").first.wait_for()

    # pick digit 7 from the class list
    page.get_by_test_id("stSelectbox").filter(has_text="Class").click()
    page.get_by_role("option", name="Class 7").click()
    settle(page)
    assert "gen_label=7" in page.url  # the choice lives in the link, so it can be shared

    caption = page.get_by_test_id("stImageCaption").first
    before = caption.inner_text()
    assert before.startswith("40 images, seed 0")
    page.get_by_role("button", name="New seed").click()
    settle(page)
    page.wait_for_function("(b) => !document.querySelector('[data-testid=\"stImageCaption\"]').innerText.startsWith(b)",
                           arg="40 images, seed 0,")
    assert_no_exception(page)

    with page.expect_download() as dl:
        page.get_by_test_id("stDownloadButton").get_by_role("button").click()
    saved = tmp_path / "grid.png"
    dl.value.save_as(saved)
    img = Image.open(saved)
    assert img.format == "PNG" and img.width > 100 and img.height > 100

    page.get_by_text("Model card (").click()
    page.get_by_text("Made by").wait_for()
    shot(page, "generate_class7")


def test_switch_language_in_the_sidebar(page):
    """Switching language keeps what the person chose (here: seed 42, digit 3)."""
    page.goto(page.base + "/generate?gen_seed=42&gen_label=3")
    settle(page)
    page.get_by_test_id("stImageCaption").first.wait_for()
    page.get_by_test_id("stSidebar").get_by_text("简体中文").click()
    settle(page)
    page.get_by_role("heading", name="生成").wait_for()
    caption = page.get_by_test_id("stImageCaption").first
    caption.wait_for()
    assert "种子 42" in caption.inner_text()
    assert "lang=zh" in page.url and "gen_label=3" in page.url
    assert_no_exception(page)
    shot(page, "generate_zh_switched")


def test_shared_link_reproduces_the_grid(page, browser):
    link = page.base + "/generate?gen_model=mnist_cgan&gen_label=3&gen_seed=42&gen_n=9"
    page.goto(link)
    settle(page)
    cap = page.get_by_test_id("stImageCaption").first
    cap.wait_for()
    assert cap.inner_text().startswith("9 images, seed 42")
    first = page.get_by_test_id("stImage").locator("img").first.screenshot()
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    other.goto(link)
    settle(other)
    other.get_by_test_id("stImageCaption").first.wait_for()
    second = other.get_by_test_id("stImage").locator("img").first.screenshot()
    a, b = Image.open(io.BytesIO(first)), Image.open(io.BytesIO(second))
    assert a.size == b.size and a.tobytes() == b.tobytes()
    other.context.close()


def test_a_deep_link_to_a_fresh_server_gets_the_whole_app(browser, fresh_server):
    """The first request a server ever sees is a shared link to a page, in Chinese: it must run
    inside app.py (menu by sections, language switch), not as a bare file."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(fresh_server + "/generate?lang=zh&gen_seed=5")
    settle(page)
    page.get_by_role("heading", name="生成").wait_for(timeout=60_000)
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_text("应用", exact=True).wait_for()  # a section header of app.py's menu
    assert nav.get_by_text("应用", exact=True).count() == 1
    switch = page.get_by_test_id("stSidebar").get_by_text("简体中文")  # the language switch, drawn by app.py
    switch.wait_for()
    assert switch.count() == 1
    page.context.close()


def test_language_survives_a_page_switch(page):
    page.goto(page.base + "/?lang=zh")
    settle(page)
    page.get_by_role("heading", name="GAN 博弈").wait_for()
    page.get_by_test_id("stSidebarNav").get_by_text("生成", exact=True).click()
    settle(page)
    page.get_by_role("heading", name="生成").wait_for()
    assert "lang=zh" in page.url


def test_nothing_is_fetched_from_another_host(page):
    """The studio works offline: every request of a visit (the page icon included) goes to the app itself."""
    elsewhere = []
    own = page.base.split("//", 1)[1]
    page.on("request", lambda r: None if r.url.startswith(("data:", "blob:")) or r.url.split("/")[2] == own
            else elsewhere.append(r.url))
    for path in ("/", "/generate", "/divergences"):
        page.goto(page.base + path)
        settle(page)
        page.wait_for_selector("h1")
    icon = page.locator("link[rel='shortcut icon']").get_attribute("href")
    assert icon and "gstatic" not in icon and icon.startswith(("/", page.base)), icon
    assert elsewhere == []
