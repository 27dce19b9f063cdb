"""`bench serve`: the app under load. A real `streamlit run` on a free local port, one training job
running, and N browser sessions (headless Chromium through Playwright) going round Generate,
Super-resolution and the Toy Lab for a few minutes. Reported: errors (an exception box, or an action
that did not finish within 5 minutes), slow actions (over 2 minutes), p50/p95 seconds per action,
and the server's peak resident memory.

Only loopback is used, and every loop is bounded by the run's deadline. Needs the dev requirements
(Playwright) and Debian's chromium (or $CHROMIUM)."""
from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np

from . import jobs
from .paths import CONFIGS, REPO
from .recipes import load_recipe
from .runs import RunDir

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
IDLE = """() => { const w = document.querySelector('[data-testid="stStatusWidget"]');
                  return !!document.querySelector('[data-testid="stApp"]') && (!w || !w.innerText.match(/Running|Stop/)); }"""
ACTION_TIMEOUT_MS = 300_000  # an action that does not finish in 5 minutes is an error
SLOW_S = 120.0  # one that takes over 2 minutes is counted as slow


def timed_captions(n: int) -> str:
    """JS predicate: at least n results captioned with their time ("...: 768×768 in 1.3 s")."""
    return f"""() => [...document.querySelectorAll('[data-testid="stImageCaption"]')]
                      .filter(e => / in \\d/.test(e.innerText)).length >= {n}"""


def chromium_path(bench: str) -> str:
    """Debian's chromium, or $CHROMIUM; a clear message where there is none."""
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        raise ValueError(f"bench {bench} drives Chromium: apt-get install chromium (or set $CHROMIUM)")
    return chromium


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _peak_rss_gb(pid: int) -> float | None:
    """VmHWM, the high-water mark of a process's resident memory (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _start_server(runs: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "GAN_STUDIO_RUNS": str(runs)}
    proc = subprocess.Popen([sys.executable, "-m", "ui.serve", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"],
                            cwd=REPO, env=env, stdout=open(runs / "server.log", "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the app did not start: {(runs / 'server.log').read_text()[-1500:]}")


async def _settle(page) -> None:
    await page.wait_for_function(IDLE, timeout=ACTION_TIMEOUT_MS)


async def _generate(page, base: str, rng: random.Random) -> None:
    await page.goto(f"{base}/generate?gen_seed={rng.randrange(10_000)}")
    await page.get_by_test_id("stImage").first.wait_for(timeout=ACTION_TIMEOUT_MS)
    await _settle(page)


async def _superres_first_view(page, base: str) -> None:
    """Open Super-resolution until its first view is shown: a detail of the example, bicubic then the
    best model, by itself (cached for every visitor once computed)."""
    await page.goto(f"{base}/superres")
    await page.wait_for_function(timed_captions(2), timeout=ACTION_TIMEOUT_MS)
    await _settle(page)


async def _superres(page, base: str, rng: random.Random) -> None:
    # What a visitor gets: the first view, then SRGAN beside it (cached too).
    await _superres_first_view(page, base)
    await page.locator(".st-key-sr_others label").first.click(timeout=ACTION_TIMEOUT_MS)
    await page.wait_for_function(timed_captions(3), timeout=ACTION_TIMEOUT_MS)
    await _settle(page)


async def _superres_whole(page, base: str, rng: random.Random) -> None:
    # The heavier path: the whole example x4 behind the button, computed for this visitor alone (only
    # the first view is shared), so 8 of them at once queue for the server's turns.
    await _superres_first_view(page, base)
    await page.locator(".st-key-sr_crop_example__en").click(timeout=ACTION_TIMEOUT_MS)
    await page.get_by_role("option", name="The whole picture").click(timeout=ACTION_TIMEOUT_MS)
    await page.locator(".st-key-sr_run button").click(timeout=ACTION_TIMEOUT_MS)
    await page.wait_for_function(timed_captions(2), timeout=ACTION_TIMEOUT_MS)
    await _settle(page)


async def _toy_lab(page, base: str, rng: random.Random) -> None:
    await page.goto(f"{base}/toy_lab")
    await page.get_by_test_id("stImage").first.wait_for(timeout=ACTION_TIMEOUT_MS)
    await _settle(page)


ACTIONS = {"generate": _generate, "superres": _superres, "superres_whole": _superres_whole, "toy_lab": _toy_lab}
DEFAULT_ACTIONS = ("generate", "superres", "toy_lab")


async def _session(browser, base: str, seed: int, until: float, times: dict, errors: dict) -> None:
    """One visitor going round the actions named in `times` (at random) until the deadline."""
    from playwright.async_api import Error as PlaywrightError
    rng = random.Random(seed)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        while time.time() < until:
            name = rng.choice(list(times))
            start = time.perf_counter()
            try:
                await ACTIONS[name](page, base, rng)
                boxes = page.locator('[data-testid="stException"]')
                failed = await boxes.first.inner_text() if await boxes.count() else None
            except PlaywrightError as e:
                failed = str(e).splitlines()[0]
            if failed:
                errors[name].append(failed[:300])
            else:
                times[name].append(time.perf_counter() - start)
    finally:
        await context.close()


async def _drive(chromium: str, base: str, sessions: int, seconds: float, actions) -> tuple[dict, dict]:
    from playwright.async_api import async_playwright  # a dev requirement, needed by this bench only
    times = {name: [] for name in actions}
    errors = {name: [] for name in actions}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        until = time.time() + seconds
        await asyncio.gather(*(_session(browser, base, seed, until, times, errors) for seed in range(sessions)))
        await browser.close()
    return times, errors


def bench_serve(quick: bool = False, sessions: int = 8, seconds: float = 300.0,
                actions: list[str] | tuple[str, ...] = DEFAULT_ACTIONS) -> Iterator[dict]:
    """N sessions for `seconds` (--quick: 2 sessions for 60 s) going round `actions` (--actions, of
    ACTIONS) while a DCGAN trains in the background."""
    if quick:
        sessions, seconds = 2, 60.0
    unknown = sorted(set(actions) - set(ACTIONS))
    if unknown:
        raise ValueError(f"bench serve has no action {unknown[0]!r}; choose among: {', '.join(ACTIONS)}")
    chromium = chromium_path("serve")
    with tempfile.TemporaryDirectory(prefix="gan_studio_serve_") as tmp:
        runs = Path(tmp)
        job = jobs.submit(load_recipe(CONFIGS / "mnist_dcgan.yaml", {"name": "soak", "train.steps": 1_000_000}),
                          root=runs)
        server, base = _start_server(runs)
        try:
            times, errors = asyncio.run(_drive(chromium, base, sessions, seconds, actions))
            peak = _peak_rss_gb(server.pid)
        finally:
            server.terminate()
            server.wait(30)
            jobs.stop(job)
        trained = RunDir(job.path).status().get("step", 0)
    for name in actions:
        done = np.array(times[name])
        yield {"bench": "serve", "action": name, "done": len(done), "errors": len(errors[name]),
               "error_kinds": dict(Counter(errors[name]).most_common(3)), "slow": int((done > SLOW_S).sum()),
               "p50_s": round(float(np.percentile(done, 50)), 2) if len(done) else None,
               "p95_s": round(float(np.percentile(done, 95)), 2) if len(done) else None}
    yield {"bench": "serve", "sessions": sessions, "seconds": seconds,
           "errors": sum(len(e) for e in errors.values()), "actions": sum(len(t) for t in times.values()),
           "server_peak_rss_gb": None if peak is None else round(peak, 2), "training_steps_meanwhile": trained}
