"""Browser tests: `streamlit run` on a free port, driven by Playwright in Debian's Chromium.

Chromium is found at $CHROMIUM or /usr/bin/chromium. Without it the tests are skipped with the
reason, except under CI (CI=true), where a missing browser is a failure. Screenshots go to
test-results/screenshots/.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _chromium()
    if path is None:
        reason = "Chromium not found (apt-get install chromium); browser tests need it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " and CI=true requires them to run")
        pytest.skip(reason)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log_dir: Path, *options: str) -> tuple[subprocess.Popen, str]:
    """The app as `make run` serves it (ui.serve: `streamlit run app.py` with the heavy imports done
    before the port opens), its runs under log_dir, and any more command-line `options`."""
    port = _free_port()
    log = open(log_dir / "streamlit.log", "w")
    env = {**os.environ, "GAN_STUDIO_RUNS": str(log_dir / "runs")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.serve", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", *options],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"streamlit did not start: {Path(log.name).read_text()[-2000:]}")
        time.sleep(0.5)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def server(chromium_path, tmp_path_factory):
    proc, url = start_server(tmp_path_factory.mktemp("server"))
    yield url
    stop_server(proc)


@pytest.fixture
def fresh_server(chromium_path, tmp_path):
    """A server no browser has visited yet (for what happens on the very first request)."""
    proc, url = start_server(tmp_path)
    yield url
    stop_server(proc)


@pytest.fixture
def team_server(chromium_path, tmp_path):
    """A server with sign-in configured (an [auth] section in its secrets file; the provider is never
    reached), that no browser has signed in to."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n'
                       'cookie_secret = "only-for-this-test-0123456789abcdef"\n'
                       'client_id = "gan-studio"\nclient_secret = "only-for-this-test"\n'
                       'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n')
    proc, url = start_server(tmp_path, "--secrets.files", str(secrets))
    yield url
    stop_server(proc)


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.base = server
    yield pg
    context.close()
