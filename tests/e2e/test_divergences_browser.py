"""A teacher in a browser on /divergences: move θ with the keyboard, train the smallest experiment live."""
import re

from e2e_helpers import assert_no_exception, settle, shot


def metric(page, n: int) -> str:
    return page.get_by_test_id("stMetricValue").nth(n).inner_text().strip()


def press(page, key: str, button: str, times: int = 1) -> None:
    """Move a slider by keyboard: focus its thumb, press, let the rerun finish."""
    thumb = page.locator(f".st-key-{key} input[type='range']")
    thumb.focus()
    for _ in range(times):
        thumb.press(button)
    settle(page)


def open_divergences(page, query: str = "") -> None:
    page.goto(page.base + "/divergences" + query)
    settle(page)
    page.get_by_test_id("stMetricValue").first.wait_for()


def train_smallest(page, done_text: str) -> None:
    press(page, "div_grid", "ArrowLeft")          # 9 -> 5 values of θ
    press(page, "div_steps", "ArrowLeft", times=3)  # 300 -> 200 -> 100 -> 50 steps
    page.locator(".st-key-div_start button").click()
    page.get_by_text(done_text).wait_for(timeout=120_000)
    settle(page)
    # the run's last update redraws the page once more; old charts fade out when it is done
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 5")


def test_move_theta_and_train(page):
    open_divergences(page)
    assert page.get_by_test_id("stSidebarNav").get_by_text("Learn", exact=True).count() == 1  # app.py's menu
    # all five metrics drawn (on a loaded machine the first run can still be filling them in)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stMetricValue\"]').length >= 5 && "
                           "document.querySelectorAll('[data-testid=\"stMetricValue\"]')[0].innerText.trim() === '0.693'",
                           timeout=30_000)
    assert [metric(page, i) for i in range(5)] == ["0.693", "∞", "∞", "1.000", "0.500"]

    press(page, "div_theta", "ArrowRight")  # one step of 0.05
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stMetricValue\"]')[4]"
                           ".innerText.trim() === '0.550'")
    assert "div_theta=0.55" in page.url  # the link reproduces the view
    press(page, "div_theta", "Home")  # θ = -1
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stMetricValue\"]')[4]"
                           ".innerText.trim() === '1.000'")
    assert metric(page, 0) == "0.693"

    train_smallest(page, "Trained 50 steps of D and of the critic for 5 values of θ")
    assert_no_exception(page)
    assert page.locator(".st-key-div_start button").inner_text().strip().endswith("Train again")
    assert page.get_by_text(re.compile(r"At θ = -1\.00")).count() == 1
    shot(page, "divergences_en")


def test_chinese_with_a_shared_link(page):
    open_divergences(page, "?lang=zh&div_theta=-0.3")
    assert page.locator("h1").first.inner_text().strip() == "散度"
    assert metric(page, 4) == "0.300" and metric(page, 0) == "0.693"
    train_smallest(page, "已为 5 个 θ 值各训练 D 和评论家 50 步")
    assert_no_exception(page)
    shot(page, "divergences_zh")
