"""Hostile page titles and Markdown run no script in the member view or the public view (issue 9).

ONE real hub for the module (our configuration, node proxy, members' servers, the public
view); Debian's Chromium through Playwright opens the pages as a pupil and as the public,
and listens for what a payload would do: a dialog, or `window.__xss` set.
"""

from __future__ import annotations

import time

import nbformat
import pytest
import requests
from browser import BROWSER_WAIT_MS
from hubproc import HubWorld, isolated_hub

pytestmark = [pytest.mark.hub, pytest.mark.timeout(900)]

# Each payload would set window.__xss or open a dialog if it ran.
HOSTILE_TITLE = ('Plan <img src=x onerror="window.__xss=1;alert(1)"> '
                 '<script>window.__xss=2</script> [go](javascript:alert(3))')
# A Markdown cell as it might reach the volume (a teacher's paste, an old notebook): the
# second wall, the member view's sanitizer, must stop it.
HOSTILE_MARKDOWN = (
    "Teacher note\n\n"
    '<img src=x onerror="window.__xss=4;alert(4)">\n\n'
    "<script>window.__xss=5;alert(5)</script>\n\n"
    '<details open ontoggle="window.__xss=6;alert(6)"><summary>More</summary>x</details>\n\n'
    "[click](javascript:window.__xss=7)\n\n"
    '<a href="javascript:window.__xss=8">also</a> <b>bold stays</b>\n'
)


class World(HubWorld):
    """The module's hub: a teacher's public space with a published page, hostile inside."""

    def __init__(self, hub):
        super().__init__(hub)
        tag = self.tag
        self.teacher_name = f"xssta{tag}"
        teacher = self.add_teacher(self.teacher_name, "Tim Teacher")
        self.slug = f"xss-{tag}"
        self.call("POST", "spaces", teacher, json={"slug": self.slug, "title": "River"})
        page = self.call("POST", f"spaces/{self.slug}/pages", teacher,
                         json={"section": "activities", "title": "Week one"})
        self.call("POST", f"pages/{page['id']}/apps", teacher, json={"kind": "blog"})
        self.page = self.call("PATCH", f"pages/{page['id']}", teacher,
                              json={"title": HOSTILE_TITLE, "published": True})
        self.call("PATCH", f"spaces/{self.slug}", teacher, json={"public": True})
        path = hub.data_dir / "spaces" / self.slug / "activities" / f"{page['slug']}.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells.insert(1, nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN))
        nbformat.write(nb, path)
        # The published copy follows the next change of the page: one more rename.
        self.page = self.call("PATCH", f"pages/{page['id']}", teacher,
                              json={"title": HOSTILE_TITLE + " "})
        [self.pupil] = self.call("POST", f"spaces/{self.slug}/pupils", teacher,
                                 json={"names": ["Ana Lopez"]})["items"]


@pytest.fixture(scope="module")
def world():
    with isolated_hub("twinspace-xss-", missing=pytest.skip) as hub:
        yield World(hub)


def watched_page(browser):
    """A new page whose dialogs are recorded (and dismissed, so nothing blocks)."""
    context = browser.new_context()
    context.set_default_timeout(BROWSER_WAIT_MS)
    page = context.new_page()
    dialogs: list[str] = []

    def record(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return page, dialogs


def assert_nothing_ran(page, dialogs: list[str]) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined", page.evaluate("window.__xss")
    assert dialogs == []
    # A click on what looked like links runs nothing either.
    for link in page.locator("a:text-is('click'), a:text-is('also')").all():
        link.click(timeout=5000, no_wait_after=True)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []


def wait_for_public_view(hub, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{hub.url}services/public/", timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"no public view\n{hub.log[-3000:]}"
        time.sleep(0.5)


def test_hostile_titles_and_markdown_run_nothing(world, browser):
    # The member view: a pupil opens the page (Voila renders the notebook's Markdown).
    page, dialogs = watched_page(browser)
    page.goto(world.hub.url + "hub/login")
    page.fill("#username_input", world.pupil["name"])
    page.fill("#password_input", world.pupil["password"])
    page.click("#login_submit")
    page.wait_for_selector("nav.ts-nav")
    page.goto(f"{world.hub.url}user/{world.pupil['name']}/twinspace/page/{world.page['id']}")
    # The title is shown as typed, as text; the navigation (a widget: the kernel ran) too.
    page.wait_for_selector("h1:has-text('onerror=\"window.__xss=1')")
    page.wait_for_selector("nav.ts-nav .ts-pages")
    page.wait_for_selector(".twinspace-blog")
    page.wait_for_selector("text=Teacher note")
    assert page.locator("b:has-text('bold stays')").count() == 1  # harmless HTML is kept
    assert page.locator("script:has-text('__xss')").count() == 0
    assert page.locator("[onerror], [ontoggle]").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert_nothing_ran(page, dialogs)
    # The same page shown in place by the view's shell (Home, then Back): the kernel
    # sanitizes the Markdown itself; nothing runs there either.
    page.locator("nav.ts-nav .ts-sections a", has_text="Home").click()
    page.wait_for_selector(".ts-shell-content .twinspace-members")
    page.go_back()
    page.wait_for_selector(".ts-shell-content h1:has-text('onerror=\"window.__xss=1')")
    page.wait_for_selector(".ts-shell-content >> text=Teacher note")
    assert page.locator(".ts-shell-content b:has-text('bold stays')").count() == 1
    assert page.locator("[onerror], [ontoggle]").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert_nothing_ran(page, dialogs)
    page.context.close()

    # The public view: anyone reads the published page.
    wait_for_public_view(world.hub)
    page, dialogs = watched_page(browser)
    page.goto(f"{world.hub.url}services/public/view?page={world.page['id']}")
    page.wait_for_selector("h1:has-text('onerror=\"window.__xss=1')")
    page.wait_for_selector("text=Teacher note")
    page.wait_for_selector(".twinspace-public-nav")
    assert page.locator("[onerror], [ontoggle]").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert_nothing_ran(page, dialogs)
    page.context.close()
