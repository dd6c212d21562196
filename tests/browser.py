"""Debian's Chromium as tests and benches drive it through Playwright (one set of flags),
and what the member view's browser tests share: logging in, waiting, finding buttons."""

from __future__ import annotations

import re
import time

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# What a page open may take on a busy test machine (a server start, a kernel start).
BROWSER_WAIT_MS = 150_000


def launch_chromium(playwright):
    """A headless Chromium browser from a started `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def log_in(browser, hub, name: str, password: str, *, landed: bool = True, **options):
    """A fresh browser context (downloads allowed; Playwright's context `options`) logged
    in through the hub's login form; returns its page, once the member view is on screen
    unless `landed` is False."""
    context = browser.new_context(accept_downloads=True, **options)
    context.set_default_timeout(BROWSER_WAIT_MS)
    page = context.new_page()
    page.goto(hub.url + "hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    if landed:
        page.wait_for_selector("nav.ts-nav")  # the member's server is up
    return page


def button(scope, name: str):
    """The button labelled exactly `name` inside `scope` (an ipywidgets button's name
    starts with its icon's glyph, hence the leading non-word characters)."""
    return scope.get_by_role("button", name=re.compile(rf"^\W*{re.escape(name)}$"))


def wait_for(condition, what: str, timeout: float = 120) -> None:
    """Until `condition()` is true (a condition, never a duration, decides)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not reached: {what}"
        time.sleep(0.25)
