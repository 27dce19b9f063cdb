"""Toy Lab in Chromium: play and watch it update, draw data on the canvas, upload a CSV, follow a link."""
import re

from e2e_helpers import assert_no_exception, settle, shot


def step_number(page) -> int:
    text = page.get_by_text(re.compile(r"^(Step|第) \d+")).first.inner_text()
    return int(re.search(r"\d+", text).group())


# Counts the distinct "Step N" headings the page shows during `ms` milliseconds: each one is a
# new picture (a frame trains at least one step). Watched in the page, so polling misses none.
COUNT_STEPS = """ms => new Promise(resolve => {
  const seen = new Set();
  const read = () => document.querySelectorAll('[data-testid="stMarkdownContainer"]').forEach(el => {
    const m = el.textContent.match(/^(?:Step|第) ?(\\d+)/); if (m) seen.add(m[1]); });
  const watch = new MutationObserver(read);
  watch.observe(document.body, {subtree: true, childList: true, characterData: true});
  setTimeout(() => { watch.disconnect(); resolve(seen.size); }, ms);
})"""


def play_and_count(page) -> int:
    """Pictures shown in 5 s of playing (after the first second, which builds the lab); pauses again."""
    page.locator(".st-key-tl_play button").click()
    page.wait_for_timeout(1000)
    updates = page.evaluate(COUNT_STEPS, 5000)
    page.locator(".st-key-tl_play button").click()  # pause
    settle(page)
    return updates


def test_classic_comparison_plays_live(page):
    page.goto(page.base + "/toy_lab")
    settle(page)
    page.get_by_test_id("stImage").first.wait_for()
    updates = play_and_count(page)
    print(f"default configuration: {updates} pictures in 5 s of playing")
    assert updates >= 5 and step_number(page) > 0  # it trains and redraws while playing

    page.get_by_role("button", name="Classic comparison").click()
    settle(page)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stImage\"]').length === 4")
    updates = play_and_count(page)
    print(f"classic comparison (4 configurations): {updates} pictures in 5 s of playing")
    assert updates >= 5
    assert_no_exception(page)
    assert "lab=" in page.url
    shot(page, "toylab_classic_en")

    # the link reproduces the experiment in a new browser
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    other.goto(page.url)
    settle(other)
    other.get_by_text("Configuration 4").wait_for()
    for i, loss in enumerate(["minimax", "nonsaturating", "wgan", "wgan-gp"]):
        assert other.locator(f".st-key-tl{i}_loss input").input_value() == loss
    other.context.close()


def test_draw_the_data_on_the_canvas(page):
    page.goto(page.base + "/toy_lab?lang=zh")
    settle(page)
    page.locator(".st-key-tl_data__zh [data-testid=stSelectbox]").click()
    page.get_by_role("option", name="自己画").click()
    settle(page)
    page.get_by_text("画布是空的").wait_for()
    canvas = page.locator(".st-key-tl_canvas canvas").last  # a v2 component: in the page, no iframe
    canvas.wait_for()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 60)
    page.mouse.down()
    for k in range(30):  # a diagonal stroke, then a horizontal one
        page.mouse.move(box["x"] + 60 + 5 * k, box["y"] + 60 + 5 * k)
    page.mouse.up()
    page.mouse.move(box["x"] + 40, box["y"] + 230)
    page.mouse.down()
    page.mouse.move(box["x"] + 240, box["y"] + 230, steps=20)
    page.mouse.up()
    settle(page)
    page.get_by_text("画布是空的").wait_for(state="detached")
    page.locator(".st-key-tl_step button").click()
    settle(page)
    assert step_number(page) == 1
    assert_no_exception(page)
    shot(page, "toylab_drawn_zh")


def test_upload_csv_points(page, tmp_path):
    good = tmp_path / "points.csv"
    good.write_text("x,y\n" + "\n".join(f"{i % 10},{i // 10}" for i in range(200)) + "\nhello,world\n3,nan\n")
    bad = tmp_path / "one_column.csv"
    bad.write_text("x\n1\n2\n3\n")
    page.goto(page.base + "/toy_lab")
    settle(page)
    page.locator(".st-key-tl_data__en [data-testid=stSelectbox]").click()
    page.get_by_role("option", name="Upload a CSV of points").click()
    settle(page)
    page.locator("input[type=file]").set_input_files(str(bad))
    settle(page)
    page.get_by_text("This CSV cannot be used").wait_for()
    assert "two numeric columns" in page.get_by_text("This CSV cannot be used").inner_text()
    page.locator("input[type=file]").set_input_files(str(good))
    settle(page)
    page.get_by_text("2 rows without two finite numbers").wait_for()
    page.get_by_text("200 points, centred and scaled").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()  # the lab was built on the points: its curves are drawn
    assert_no_exception(page)
    shot(page, "toylab_csv_en")
