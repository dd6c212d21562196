"""The Moderation tool of the member view (F32) in a browser: reports, Hide, Dismiss, the log.

ONE real hub for the module (node proxy, real members' servers); Debian's Chromium
through Playwright drives the member view as a pupil and a teacher administrator would.
"""

from __future__ import annotations

import pytest
from browser import button, log_in
from hubproc import HubWorld, isolated_hub

PASSWORD = HubWorld.PASSWORD

pytestmark = [pytest.mark.hub, pytest.mark.timeout(900)]


class World(HubWorld):
    """The module's hub with one space: its founder, two pupils, a forum and a blog."""

    def __init__(self, hub):
        super().__init__(hub)
        self.slug = f"mod-{self.tag}"
        self.founder = f"founder{self.tag}"
        self.teacher = self.add_teacher(self.founder, "Fiona Founder")
        self.call("POST", "spaces", self.teacher, json={"slug": self.slug,
                                                        "title": "River project"})
        self.pupils = self.call("POST", f"spaces/{self.slug}/pupils", self.teacher,
                                json={"names": ["Ana Lopez", "Ben Ng"]})["items"]
        page = self.call("POST", f"spaces/{self.slug}/pages", self.teacher,
                         json={"section": "activities", "title": "Our rivers"})
        self.page_id = page["id"]
        self.forum = self.call("POST", f"pages/{page['id']}/apps", self.teacher,
                               json={"kind": "forum", "title": "Questions"})["id"]
        self.blog = self.call("POST", f"pages/{page['id']}/apps", self.teacher,
                              json={"kind": "blog", "title": "Diary"})["id"]

    def as_pupil(self, index: int) -> dict:
        return self.headers(self.pupils[index]["name"])

    def open_reports(self) -> list[dict]:
        return self.call("GET", f"spaces/{self.slug}/reports", self.teacher)["items"]

    def tool_url(self, name: str) -> str:
        return self.view_url(name, f"tool/moderation/{self.slug}")


@pytest.fixture(scope="module")
def world():
    with isolated_hub("twinspace-moderation-", missing=pytest.skip) as hub:
        yield World(hub)


def test_a_pupil_reports_and_a_teacher_moderates(world, browser):
    """A pupil reports a forum reply from the forum's own menu and may not open the queue;
    the teacher administrator reads the reports in context, hides one (hidden, report
    closed, in the log), dismisses another, then works in French: Delete, confirmed."""
    ana, ben = world.pupils
    thread = world.call("POST", f"apps/{world.forum}/threads", world.teacher,
                        json={"title": "Floods", "body": "Why do rivers flood?"})
    rude = world.call("POST", f"threads/{thread['id']}/replies", world.as_pupil(1),
                      json={"body": "Only **idiots** ask that"})["id"]
    post = world.call("POST", f"apps/{world.blog}/posts", world.teacher,
                      json={"title": "Our trip", "body": "We saw the river."})["id"]
    comment = world.call("POST", f"posts/{post}/comments", world.as_pupil(1),
                         json={"body": "Boring trip"})["id"]
    world.call("POST", "reports", world.as_pupil(0),
               json={"object_type": "comment", "object_id": comment, "reason": "Unkind"})

    # The pupil reports the reply from the forum, as any member would.
    page = log_in(browser, world.hub, ana["name"], ana["password"])
    page.goto(world.view_url(ana["name"], f"page/{world.page_id}"))
    page.locator(".twinspace-forum button[title='Read the thread “Floods”']").click()
    reply = page.locator(".twinspace-item", has_text="Only idiots ask that")
    button(reply, "Report").click()
    reply.locator("input[placeholder='Why should a moderator look at this?']").fill("Insults")
    button(reply, "Send report").click()
    page.wait_for_selector("text=Thank you: the moderators will look at it.")
    assert {(r["object_type"], r["object_id"]) for r in world.open_reports()} == {
        ("forum_reply", rude), ("comment", comment)}
    # The queue is not for pupils: a polite refusal, no reports, no traceback.
    page.goto(world.tool_url(ana["name"]))
    page.wait_for_selector("text=Sorry, this page is not available to you.")
    assert page.locator(".twinspace-report").count() == 0
    assert "Only idiots" not in page.content() and "Traceback" not in page.content()
    page.context.close()

    page = log_in(browser, world.hub, world.founder, PASSWORD)
    page.goto(world.tool_url(world.founder))
    item = page.locator(".twinspace-report", has_text="Only idiots ask that")
    item.wait_for()
    text = item.inner_text()
    # The reported text in context: what, by whom, where; who reported it and why.
    assert "Forum reply" in text and "by Ben Ng (Lycée A, FR)" in text
    assert "in the thread “Floods”" in text and "page “Our rivers” (Project Activities)" in text
    assert "Reported by Ana Lopez (Lycée A, FR)" in text and "“Insults”" in text
    assert item.locator("a", has_text="page “Our rivers”").get_attribute("href") == (
        f"/user/{world.founder}/twinspace/page/{world.page_id}")
    other = page.locator(".twinspace-report", has_text="Boring trip")
    assert "on the blog post “Our trip”" in other.inner_text()
    assert "Reported by Ana Lopez" in other.inner_text() and "“Unkind”" in other.inner_text()
    page.wait_for_selector("text=The moderation log is empty")

    item.locator("input[placeholder='Why? (kept in the moderation log)']").fill("Insults")
    button(item, "Hide").click()
    page.wait_for_selector("text=Hidden: only moderators see it now. Its reports are closed.")
    assert page.locator(".twinspace-report", has_text="Only idiots").count() == 0
    # Hidden for the pupils, the report closed, the action in the log.
    replies = world.call("GET", f"threads/{thread['id']}", world.as_pupil(0))["replies"]
    assert rude not in [r["id"] for r in replies["items"]]
    assert [r["object_type"] for r in world.open_reports()] == ["comment"]
    log = page.locator(".twinspace-moderation-log")
    row = log.locator("tr", has_text="Only idiots ask that")
    assert "Fiona Founder" in row.inner_text() and "Hidden" in row.inner_text()
    assert "Insults" in row.inner_text()

    button(other, "Dismiss").click()
    page.wait_for_selector("text=Reports dismissed: the item stays as it is.")
    page.wait_for_selector("text=No open reports: there is nothing to moderate.")
    assert world.open_reports() == []
    # The comment stays for everyone; the dismissal is in the log.
    comments = world.call("GET", f"posts/{post}/comments", world.as_pupil(0))["items"]
    assert [c["id"] for c in comments] == [comment]
    assert "Reports dismissed" in log.locator("tr", has_text="Boring trip").inner_text()

    # In French: the labels, and Delete with its confirmation.
    world.call("POST", "reports", world.as_pupil(0),
               json={"object_type": "comment", "object_id": comment, "reason": "Encore"})
    page.goto(world.tool_url(world.founder) + "?lang=fr")
    page.wait_for_url(world.tool_url(world.founder))
    item = page.locator(".twinspace-report", has_text="Boring trip")
    item.wait_for()
    text = item.inner_text()
    assert "Commentaire de blog" in text and "sous l'article « Our trip »" in text
    assert "Signalé par Ana Lopez" in text and "1 signalement ouvert" in text
    assert page.locator("h4", has_text="Signalements ouverts").count() == 1
    assert page.locator("h4", has_text="Journal de modération").count() == 1
    for label in ("Masquer", "Supprimer", "Classer"):
        assert button(item, label).count() == 1, label
    button(item, "Supprimer").click()
    item.locator("text=Supprimer définitivement ?").wait_for()
    button(item, "Oui, supprimer").click()
    page.wait_for_selector("text=Supprimé définitivement. Ses signalements sont clos.")
    page.wait_for_selector("text=Aucun signalement ouvert : il n'y a rien à modérer.")
    assert world.call("GET", f"posts/{post}/comments", world.as_pupil(0))["items"] == []
    log = page.locator(".twinspace-moderation-log")
    assert log.locator("th").all_inner_texts() == ["Quand", "Modérateur", "Action", "Quoi",
                                                   "Note"]
    newest = log.locator("tbody tr").first.inner_text()
    assert "Supprimé" in newest and "(supprimé)" in newest and "Fiona Founder" in newest
    page.context.close()
