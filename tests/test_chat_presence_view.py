"""In the browser: chat presence is an open chat page (F29), and button labels fit at 1280 px.

ONE real hub for the module (node proxy, real members' servers); Debian's Chromium through
Playwright shows a teacher's pages while a pupil calls the service as their kernel would.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import requests
from browser import log_in, wait_for
from hubproc import HubWorld, TwinSpaceHub, isolated_hub

from twinspace_kernel.i18n import translations

PASSWORD = HubWorld.PASSWORD
SUPERVISED = "This room is supervised: pupils can write only while a teacher is here."
# The apps whose buttons are checked, all on one page.
KINDS = ("forum", "blog", "wiki", "documents", "gallery", "calendar", "mailbox")

pytestmark = [pytest.mark.hub, pytest.mark.timeout(900)]


class World(HubWorld):
    """The module's hub with one space: its founder, a pupil, and a page of every app."""

    def __init__(self, hub: TwinSpaceHub):
        super().__init__(hub)
        self.slug = f"chat-{self.tag}"
        self.founder = f"founder{self.tag}"
        self.teacher = self.add_teacher(self.founder, "Fiona Founder")
        self.call("POST", "spaces", self.teacher, json={"slug": self.slug,
                                                        "title": "River project"})
        [self.pupil] = self.call("POST", f"spaces/{self.slug}/pupils", self.teacher,
                                 json={"names": ["Ana Lopez"]})["items"]
        hub.create_user(self.pupil["name"])  # their kernel's token is what the test uses
        page = self.call("POST", f"spaces/{self.slug}/pages", self.teacher,
                         json={"section": "activities", "title": "Everything"})
        self.page_id = page["id"]
        self.apps = {kind: self.call("POST", f"pages/{page['id']}/apps", self.teacher,
                                     json={"kind": kind, "title": kind.title()})["id"]
                     for kind in KINDS}
        # Something to open in each app whose detail view has buttons of its own.
        self.call("POST", f"apps/{self.apps['forum']}/threads", self.teacher,
                  json={"title": "Where does our river start?", "body": "Let us find out."})
        self.call("POST", f"apps/{self.apps['gallery']}/albums", self.teacher,
                  json={"title": "Spring walk"})
        self.call("POST", f"spaces/{self.slug}/events", self.teacher, json={
            "kind": "meeting", "title": "River walk", "all_day": True,
            "starts_at": dt.date.today().isoformat(), "ends_at": dt.date.today().isoformat(),
        })
        self.call("POST", "mail", self.headers(self.pupil["name"]), json={
            "space": self.slug, "to": [self.founder], "subject": "Our photos",
            "body": "They are in the gallery.",
        })


@pytest.fixture(scope="module")
def world():
    with isolated_hub("twinspace-chatview-", missing=pytest.skip) as hub:
        yield World(hub)


def browser_log_in(browser, world: World, name: str, password: str):
    """A fresh 1280x800 browser context logged in through the hub's form; returns its page."""
    return log_in(browser, world.hub, name, password, viewport={"width": 1280, "height": 800})


# --- supervised chat: presence is an open page -----------------------------------------------


def teachers_kernels(world: World) -> list[dict]:
    """The kernels running in the founder's server (one per open member-view page)."""
    token = world.hub.token_for(world.founder, [f"access:servers!user={world.founder}"])
    r = requests.get(f"{world.hub.url}user/{world.founder}/api/kernels", timeout=30,
                     headers={"Authorization": f"token {token}"})
    assert r.ok, r.text
    return r.json()


def test_a_closed_teachers_page_stops_supervising_within_seconds(world, browser):
    pupil = world.headers(world.pupil["name"])
    [room] = world.call("GET", f"spaces/{world.slug}/rooms", pupil)["items"]
    world.call("PATCH", f"rooms/{room['id']}", world.teacher, json={"supervised": True})
    seconds = room["presence_seconds"]

    def teacher_present() -> bool:
        return world.call("GET", f"rooms/{room['id']}", pupil)["teacher_present"]

    def post(text: str) -> requests.Response:
        return world.request("POST", f"rooms/{room['id']}/messages", pupil,
                             json={"body": text})

    # No teacher's page is open: the pupil may not write.
    r = post("Is anyone there?")
    assert r.status_code == 403 and r.json()["message"] == SUPERVISED

    # The teacher opens the chat from Home (the view's shell shows it in place): while the
    # page is open the pupil may write.
    page = browser_log_in(browser, world, world.founder, PASSWORD)
    page.wait_for_selector("nav.ts-nav")

    def open_chat() -> None:
        page.locator("nav.ts-nav .ts-sections a", has_text="Chat").click()
        page.wait_for_selector(".twinspace-chat >> text=In the room now: Fiona Founder")

    open_chat()
    wait_for(teacher_present, "the teacher is in the room")
    # Well past the presence period, the open page (its browser's heartbeats) keeps the
    # teacher in, with no action of theirs.
    kept_from = time.monotonic()
    while time.monotonic() - kept_from < 2 * seconds:
        assert teacher_present(), "the open page's heartbeats stopped"
        time.sleep(0.5)
    r = post("Hello Ms Founder!")
    assert r.status_code == 201, r.text
    page.wait_for_selector(".twinspace-chat >> text=Hello Ms Founder!")  # live, on screen

    # Back to Home in the same view: the chat's widgets are closed and the teacher leaves
    # the room at once; the chat again, and the teacher is back.
    page.locator("nav.ts-nav .ts-sections a", has_text="Home").click()
    page.wait_for_selector(".ts-shell-content .twinspace-members")
    wait_for(lambda: not teacher_present(), "the teacher left the room with the page",
             timeout=seconds)
    open_chat()
    wait_for(teacher_present, "the teacher is in the room again")

    # The teacher closes the browser: the page's kernel lives on (until it is culled), its
    # chat still long-polling, yet within seconds the pupil is refused again, politely.
    [kernel] = teachers_kernels(world)
    page.context.close()
    wait_for(lambda: not teacher_present(), "the teacher's presence ran out",
             timeout=4 * seconds)
    r = post("Still there?")
    assert r.status_code == 403 and r.json()["message"] == SUPERVISED
    assert kernel["id"] in {k["id"] for k in teachers_kernels(world)}
    assert "Still there?" not in [m["body"] for m in world.call(
        "GET", f"rooms/{room['id']}/messages", world.teacher)["items"]]


# --- button labels fit -----------------------------------------------------------------------

# Buttons, and the labels of check boxes (ipywidgets cuts both at a fixed width).
CUT_LABELS = """() => [...document.querySelectorAll(
        "button, .widget-checkbox label, .widget-checkbox label span")]
    .filter(b => b.offsetParent !== null && b.scrollWidth > b.clientWidth)
    .map(b => `${b.innerText.trim() || b.title}: ${b.scrollWidth} > ${b.clientWidth}`)"""


def labels_fit(page, where: str) -> None:
    assert page.evaluate(CUT_LABELS) == [], f"cut labels {where}"


def labelled(app, label: str):
    """The visible buttons of `app` whose whole label is `label`."""
    return app.locator("button:visible").filter(
        has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))


def test_button_labels_fit_at_1280_px_in_english_and_french(world, browser):
    page = browser_log_in(browser, world, world.founder, PASSWORD)
    url = world.view_url(world.founder, f"page/{world.page_id}")
    [chat_page] = world.call("GET", f"spaces/{world.slug}/pages", world.teacher,
                             params={"section": "chat"})["items"]
    for language in ("en", "fr"):
        tr = translations(language).gettext
        page.goto(url + f"?lang={language}")
        page.wait_for_url(url)
        for kind in KINDS:
            page.wait_for_selector(f".twinspace-{kind} button >> visible=true")
        forum, gallery, calendar, mailbox = (page.locator(f".twinspace-{kind}") for kind in (
            "forum", "gallery", "calendar", "mailbox"))
        labelled(forum, tr("Open")).first.wait_for()
        labelled(mailbox, tr("Open")).first.wait_for()
        gallery.locator("button", has_text="Spring walk").wait_for()
        calendar.locator("button", has_text="River walk").wait_for()
        labels_fit(page, f"on the page ({language})")
        # Each app's detail view, with its own buttons ("Back to the threads", …).
        labelled(forum, tr("Open")).first.click()
        labelled(forum, tr("Back to the threads")).wait_for()
        gallery.locator("button", has_text="Spring walk").click()
        labelled(gallery, tr("All albums")).wait_for()
        labelled(mailbox, tr("Open")).first.click()
        labelled(mailbox, tr("Back")).wait_for()
        calendar.locator("button", has_text="River walk").click()
        labelled(calendar, tr("Delete event")).wait_for()
        labels_fit(page, f"in the apps' detail views ({language})")
        page.goto(world.view_url(world.founder, f"page/{chat_page['id']}"))
        page.locator(".twinspace-chat .widget-checkbox").wait_for()
        labels_fit(page, f"on the chat page ({language})")
    page.context.close()
