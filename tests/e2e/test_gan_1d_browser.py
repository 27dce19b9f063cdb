"""GAN in 1D in a browser: play and pause Algorithm 1, step through Figure 1's four phases."""
import re

from e2e_helpers import assert_no_exception, settle, shot
from ui.i18n import LANGUAGES, catalog


def g_steps(page) -> int:
    """The G-steps counter (the fourth metric above the figure)."""
    return int(page.get_by_test_id("stMetricValue").nth(3).inner_text())


def button(page, key: str):
    # a button with help text is drawn twice (one copy hidden); click the visible one
    return page.locator(f".st-key-{key} button:visible")


def open_page(page, lang: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 2000})  # the whole figure in the screenshots
    # Reach the page through the menu, then pick another language in the sidebar, as people do
    # (test_browser.py covers deep links on a fresh server).
    page.goto(page.base + "/")
    settle(page)
    page.get_by_test_id("stSidebarNav").get_by_text(catalog("en")["nav.gan_1d"]).click()
    page.get_by_role("heading", name=catalog("en")["gan_1d.title"]).wait_for()
    if lang != "en":
        settle(page)
        page.get_by_test_id("stSidebar").get_by_text(LANGUAGES[lang], exact=True).click()
        page.get_by_role("heading", name=catalog(lang)["gan_1d.title"]).wait_for()
    page.get_by_test_id("stPlotlyChart").nth(1).wait_for()
    settle(page)


def screenshot(page, name: str) -> None:
    page.mouse.move(0, 0)  # no tooltip over the figure
    shot(page, name)


def next_phase(page, phase: str, lang: str) -> None:
    """Press the stepper; it runs the operation, shows the phase's caption and offers the next one."""
    cat = catalog(lang)
    button(page, "gan_1d_next_phase").click()
    page.locator("strong", has_text=f"({phase})").first.wait_for()
    follows = (cat["gan_1d.phase_start"] if phase == "d"
               else cat["gan_1d.phase_next"].format(phase="abcd"["abc".index(phase) + 1]))
    button(page, "gan_1d_next_phase").filter(has_text=follows).wait_for()
    assert_no_exception(page)


def test_play_pause_and_the_four_phases(page):
    open_page(page, "en")
    assert_no_exception(page)
    assert g_steps(page) == 0

    button(page, "gan_1d_play").click()
    page.wait_for_function(
        "() => Number(document.querySelectorAll('[data-testid=\"stMetricValue\"]')[3].innerText) >= 20",
        timeout=30_000)
    button(page, "gan_1d_play").click()  # pause
    button(page, "gan_1d_play").filter(has_text="Play").wait_for()
    settle(page)
    paused_at = g_steps(page)
    page.wait_for_timeout(1500)  # several ticks of the live view, had it kept running
    assert g_steps(page) == paused_at > 0
    assert_no_exception(page)

    button(page, "gan_1d_reset").click()  # the phases below start from the seed's weights
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stMetricValue\"]')[3].innerText === '0'")
    for phase in "abcd":
        next_phase(page, phase, "en")
        if phase in "bc":
            screenshot(page, f"gan_1d_en_phase_{phase}")
    page.get_by_text(re.compile(r"C\(G\) = −1\.3\d\d, close to −log 4")).wait_for()
    screenshot(page, "gan_1d_en_phase_d")


def test_in_chinese(page):
    open_page(page, "zh")
    cat = catalog("zh")
    assert_no_exception(page)
    assert button(page, "gan_1d_alg1").inner_text().strip() == cat["gan_1d.alg1_step"]
    button(page, "gan_1d_alg1").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stMetricValue\"]')[3].innerText === '1'")
    next_phase(page, "a", "zh")
    next_phase(page, "b", "zh")
    assert page.get_by_text(cat["gan_1d.plot_pg"]).count() >= 1  # the figure's legend is translated too
    screenshot(page, "gan_1d_zh_phase_b")
