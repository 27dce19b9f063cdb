"""`bench pages`: what a newcomer waits for. A real `streamlit run` on a free local port, then each
page in headless Chromium as a new visitor: the first visit (a fresh browser session, until the
page's default result is on screen), a repeated visit (reload), and the page's main action (the
click a newcomer makes first, until its result is on screen). One row per page, in seconds.

Pages are visited in menu order, and the first one right after the server reports healthy, so
"first visit" includes whatever the server still has to load. Requests to any host other than
the app's own are counted: the studio must work offline. Needs the dev requirements (Playwright)
and Debian's chromium (or $CHROMIUM)."""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlparse

from .serve_bench import CHROMIUM_ARGS, IDLE, _start_server, chromium_path, timed_captions

TIMEOUT_MS = 300_000  # an action (super-resolution of a whole picture) may take minutes on a busy CPU
VISIT_TIMEOUT_MS = 90_000


@dataclass(frozen=True)
class PageCheck:
    path: str                 # url path of the page
    ready: str                # CSS selector of the default result (what "the page is there" means)
    action: Callable | None = None   # the first click, and the wait for its result
    action_name: str = ""
    ready_js: str | None = None      # and this JS predicate, where the default result comes in steps


def _press(key: str, result: str, part: str = "button") -> Callable:
    """Press the `part` (a button, or a toggle's label) in `.st-key-{key}`, then wait until `result`
    (a JS predicate) holds and the script run is over."""
    def act(page) -> None:
        page.locator(f".st-key-{key} {part}").first.click()
        page.wait_for_timeout(200)  # the rerun starts
        page.wait_for_function(result, timeout=TIMEOUT_MS)
        page.wait_for_function(IDLE, timeout=TIMEOUT_MS)
    return act


def _count(selector: str, n: int) -> str:
    return f"() => document.querySelectorAll({selector!r}).length >= {n}"


PAGES = [
    PageCheck("", "h1"),
    PageCheck("divergences", ".js-plotly-plot", _press("div_start", _count(".js-plotly-plot", 5)),
              "train the discriminator"),
    PageCheck("gan_1d", ".js-plotly-plot", _press("gan_1d_next_phase", "() => true"), "next phase"),
    PageCheck("toy_lab", '[data-testid="stImage"], .js-plotly-plot'),
    PageCheck("training", "h1"),
    PageCheck("generate", '[data-testid="stImage"]',
              _press("gen_new_seed", "() => true"), "new seed"),
    PageCheck("sketch", '[data-testid="stImage"]',
              _press("sk_example", _count('[data-testid="stImage"]', 1)), "example drawing"),
    PageCheck("unpaired", '[data-testid="stImage"]'),
    # opens on a detail of the example, bicubic then the best model, by itself; the action adds SRGAN
    PageCheck("superres", '[data-testid="stImage"]', _press("sr_others", timed_captions(3), "label"),
              "also compare with SRGAN", ready_js=timed_captions(2)),
    PageCheck("anomaly", '[data-testid="stImage"], .js-plotly-plot, [data-testid="stButton"]',
              _press("a_samples_on", _count('[data-testid="stImage"]', 12)), "score the sample pictures"),
    PageCheck("music", "audio"),
    PageCheck("gallery", '[data-testid="stImage"]'),
]


def _visit(page, url: str, ready: str, ready_js: str | None = None) -> float:
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(ready, state="attached", timeout=VISIT_TIMEOUT_MS)
    if ready_js:
        page.wait_for_function(ready_js, timeout=VISIT_TIMEOUT_MS)
    page.wait_for_function(IDLE, timeout=VISIT_TIMEOUT_MS)
    return time.perf_counter() - start


def bench_pages(quick: bool = False, shots: str | None = None) -> Iterator[dict]:
    """Every page once as a new visitor (first visit, reload, main action). --quick skips the
    main actions."""
    from playwright.sync_api import Error as PlaywrightError, sync_playwright  # dev requirement
    chromium = chromium_path("pages")
    shot_dir = Path(shots) if shots else None
    if shot_dir:
        shot_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gan_studio_pages_") as tmp:
        t0 = time.perf_counter()
        server, base = _start_server(Path(tmp))
        started = time.perf_counter() - t0
        own = urlparse(base).netloc
        outside: list[str] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
                yield {"bench": "pages", "server_start_s": round(started, 2)}
                for check in PAGES:
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    page.on("request", lambda r: outside.append(r.url) if urlparse(r.url).netloc not in (own, "")
                            and not r.url.startswith(("data:", "blob:")) else None)
                    url = f"{base}/{check.path}"
                    row = {"bench": "pages", "page": check.path or "home"}
                    try:
                        row["first_visit_s"] = round(_visit(page, url, check.ready, check.ready_js), 2)
                        if shot_dir:
                            page.screenshot(path=str(shot_dir / f"{row['page']}.png"), full_page=True)
                        row["repeat_visit_s"] = round(_visit(page, url, check.ready, check.ready_js), 2)
                        if check.action and not quick:
                            start = time.perf_counter()
                            check.action(page)
                            row["action"] = check.action_name
                            row["action_s"] = round(time.perf_counter() - start, 2)
                            if shot_dir:
                                page.screenshot(path=str(shot_dir / f"{row['page']}_action.png"), full_page=True)
                        boxes = page.locator('[data-testid="stException"]')
                        if boxes.count():
                            row["error"] = boxes.first.inner_text()[:300]
                    except PlaywrightError as e:
                        row["error"] = str(e).splitlines()[0][:300]
                        if shot_dir:
                            page.screenshot(path=str(shot_dir / f"{row['page']}_error.png"), full_page=True)
                    context.close()
                    yield row
                browser.close()
        finally:
            server.terminate()
            server.wait(30)
    yield {"bench": "pages", "outside_requests": len(outside),
           "outside_hosts": sorted({urlparse(u).netloc for u in outside})}
