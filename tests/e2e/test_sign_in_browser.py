"""A team server in the browser: with an [auth] section in its secrets, a visitor who has not signed
in sees a short explanation and Log in, and no page; Log in says why it cannot work when the server
lacks Authlib (a sentence, not a traceback). Signing in itself needs an OpenID provider: the pages'
owner rules are tested in AppTest with the identity set (tests/pages/test_sign_in.py)."""
import importlib.util

from e2e_helpers import assert_no_exception, settle, shot


def test_a_team_server_shows_only_the_login(browser, team_server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(team_server + "/training")
    settle(page)
    page.get_by_text("needs to know who you are").wait_for()
    page.get_by_role("button", name="Log in").wait_for()
    assert page.get_by_text("Start a new training run").count() == 0  # no page, and no menu to one
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    shot(page, "sign_in_gate")
    if importlib.util.find_spec("authlib") is None:
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("Signing in is not working on this server").wait_for()
    assert_no_exception(page)
    page.close()
