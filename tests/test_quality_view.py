"""The Quality Label report page (F33) in the member view, driven in Chromium on a real hub.

ONE isolated hub for the module: two schools work together in a space (seeded through the
API); a teacher reads the report's table and charts, downloads the printable version and
reads it again in French; a pupil is told politely that the report is not for them.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from browser import log_in, wait_for
from hubproc import HubWorld, isolated_hub
from PIL import Image

PASSWORD = HubWorld.PASSWORD
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
SCHOOL_A, SCHOOL_B = "Lycée A (FR)", "Schule B (DE)"

pytestmark = [pytest.mark.hub, pytest.mark.timeout(900)]


class World(HubWorld):
    """A space where Lycée A (founder, a pupil) and Schule B (partner) work together."""

    def __init__(self, hub):
        super().__init__(hub)
        self.slug = f"quality-{self.tag}"
        self.founder, self.partner = f"fiona{self.tag}", f"paul{self.tag}"
        fiona = self.add_teacher(self.founder, "Fiona Founder", "Lycée A", "FR")
        paul = self.add_teacher(self.partner, "Paul Partner", "Schule B", "DE")
        self.call("POST", "spaces", fiona, json={"slug": self.slug, "title": "River project"})
        self.call("PUT", f"spaces/{self.slug}/members/{self.partner}", self.admin,
                  json={"role": "teacher"})
        [self.pupil] = self.call("POST", f"spaces/{self.slug}/pupils", fiona,
                                 json={"names": ["Ana Lopez"]})["items"]

        # Blog: Paul comments twice on Fiona's post (cross-school); Fiona once (not).
        home = self.call("GET", f"spaces/{self.slug}/pages", fiona,
                         params={"section": "home"})["items"][0]["id"]
        journal = next(app["id"] for app in self.call("GET", f"pages/{home}", fiona)["apps"]
                       if app["kind"] == "blog")
        post = self.call("POST", f"apps/{journal}/posts", fiona,
                         json={"title": "Day 1", "body": "Hello"})["id"]
        for who in (paul, paul, fiona):
            self.call("POST", f"posts/{post}/comments", who, json={"body": "Hi"})
        # Forum: Paul asks, Fiona answers (cross-school).
        page = self.call("POST", f"spaces/{self.slug}/pages", fiona,
                         json={"section": "activities", "title": "Together"})["id"]
        apps = {kind: self.call("POST", f"pages/{page}/apps", fiona, json={"kind": kind})["id"]
                for kind in ("forum", "wiki", "documents", "gallery")}
        thread = self.call("POST", f"apps/{apps['forum']}/threads", paul,
                           json={"title": "Rivers", "body": "Which one is yours?"})["id"]
        self.call("POST", f"threads/{thread}/replies", fiona, json={"body": "The Loire"})
        # Wiki: one page written by both schools, one by Fiona alone.
        shared = self.call("POST", f"apps/{apps['wiki']}/wiki", fiona,
                           json={"title": "Our rivers", "text": "Loire"})["id"]
        self.call("PUT", f"wiki/{shared}", paul, json={"text": "Loire\nRhein",
                                                        "base_revision": 1})
        self.call("POST", f"apps/{apps['wiki']}/wiki", fiona,
                  json={"title": "Alone", "text": "Only A"})
        # Files and photos: Paul shares a document, Fiona a photo.
        self.call("POST", f"apps/{apps['documents']}/documents", paul, data=PDF,
                  params={"filename": "plan.pdf"})
        album = self.call("POST", f"apps/{apps['gallery']}/albums", fiona,
                          json={"title": "Trip"})["id"]
        photo = io.BytesIO()
        Image.new("RGB", (80, 60), (30, 120, 200)).save(photo, "PNG")
        self.call("POST", f"albums/{album}/photos", fiona, data=photo.getvalue(),
                  params={"filename": "river.png"})
        # Chat: Fiona twice.
        rooms = self.call("GET", f"spaces/{self.slug}/rooms", fiona)["items"]
        general = next(room for room in rooms if room["name"] == "General")["id"]
        for text in ("Hello", "Anyone there?"):
            self.call("POST", f"rooms/{general}/messages", fiona, json={"body": text})

    def report_url(self, name: str) -> str:
        return self.view_url(name, f"tool/report/{self.slug}")


@pytest.fixture(scope="module")
def world():
    with isolated_hub("twinspace-quality-", missing=pytest.skip) as hub:
        yield World(hub)


def figure(page, school: str, key: str) -> str:
    row = page.locator(f'table.ts-quality-summary tr[data-school="{school}"]')
    return row.locator(f'td[data-key="{key}"]').inner_text()


def test_a_teacher_reads_charts_and_prints_the_report(world, browser):
    page = log_in(browser, world.hub, world.founder, PASSWORD)
    page.goto(world.report_url(world.founder))
    page.wait_for_selector("h2:has-text('Quality Label evidence: River project')")
    page.locator("table.ts-quality-summary").wait_for()
    # The numbers the service computed from what the two schools did.
    expected = {
        SCHOOL_A: {"members": "2", "active_members": "1", "cross_school_replies": "1",
                   "cross_school_comments": "0", "co_written_wiki_pages": "1",
                   "documents": "0", "photos": "1", "chat_messages": "2"},
        SCHOOL_B: {"members": "1", "active_members": "1", "cross_school_replies": "0",
                   "cross_school_comments": "2", "co_written_wiki_pages": "1",
                   "documents": "1", "photos": "0", "chat_messages": "0"},
        # The whole space: the co-written page is one page.
        "*": {"members": "3", "active_members": "2", "cross_school_replies": "1",
              "cross_school_comments": "2", "co_written_wiki_pages": "1"},
    }
    for school, figures in expected.items():
        assert {key: figure(page, school, key) for key in figures} == figures, school
    # One chart per figure, drawn (real PNGs the browser decoded).
    charts = page.locator("figure.ts-chart img")
    assert charts.count() == 7
    assert charts.first.get_attribute("src").startswith("data:image/png;base64,")
    assert charts.first.get_attribute("alt") == (
        "Chart: Active members, per school and month")
    wait_for(lambda: charts.first.evaluate("img => img.complete && img.naturalWidth") > 300,
             "the chart decoded")

    # The printable version: written into the teacher's home, downloaded from their server.
    page.locator("button", has_text="Printable version").click()
    link = page.locator("a.twinspace-download")
    link.wait_for()
    assert link.get_attribute("href").startswith(
        f"/user/{world.founder}/files/TwinSpace%20downloads/quality-report-{world.slug}-")
    with page.expect_download() as download:
        link.click()
    printable = Path(download.value.path()).read_text(encoding="utf-8")
    assert printable.startswith("<!DOCTYPE html>")
    assert "@media print" in printable
    assert "<title>Quality Label evidence: River project</title>" in printable
    row_b = re.search(r'<tr data-school="Schule B \(DE\)">(.*?)</tr>', printable).group(1)
    assert re.search(r'data-key="cross_school_comments">2<', row_b)
    assert re.search(r'data-key="documents">1<', row_b)
    assert printable.count('<img src="data:image/png;base64,') == 7
    assert "<script" not in printable  # self-contained and inert

    # In French: the page's own language switch, then the labels are French.
    page.goto(world.report_url(world.founder) + "?lang=fr")
    page.wait_for_selector("h2:has-text('Preuves pour le label de qualité : River project')")
    headers = page.locator("table.ts-quality-summary th").all_inner_texts()
    assert "Réponses au forum entre écoles" in headers
    assert "Commentaires de blog entre écoles" in headers
    assert "Toutes les écoles" in page.locator("table.ts-quality-summary").inner_text()
    assert page.locator("button", has_text="Version imprimable").count() == 1
    assert figure(page, SCHOOL_B, "cross_school_comments") == "2"
    page.context.close()


def test_a_pupil_is_told_the_report_is_for_teachers(world, browser):
    pupil = world.pupil
    page = log_in(browser, world.hub, pupil["name"], pupil["password"])
    page.goto(world.report_url(pupil["name"]))
    page.wait_for_selector("text=The Quality Label report is for the teachers of this space.")
    assert page.locator("table.ts-quality-summary").count() == 0
    assert page.locator("button", has_text="Printable version").count() == 0
    assert "Traceback" not in page.content()
    page.context.close()
