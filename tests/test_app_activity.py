"""Latest activities (F15) driven through its widget against the real service."""

from __future__ import annotations

import pytest
from utils import World, unique, wait_until

from twinspace_kernel import i18n
from twinspace_kernel.apps import show
from twinspace_kernel.apps.activity import LatestActivities, sentence


@pytest.fixture
def feeds():
    made: list[LatestActivities] = []

    def make(world, role: str, **kwargs) -> LatestActivities:
        feed = LatestActivities(world.app_id("activity"), client=world.client(role), **kwargs)
        made.append(feed)
        return feed

    yield make
    for feed in made:
        feed.close()


def blog_post(world, role: str, title: str, section: str = "home") -> None:
    if section == "home":
        app = world.app_id("blog")
    else:
        app = world.new_app("blog", section)
    world.as_(role).ok("POST", f"apps/{app}/posts", json={"title": title, "body": "Text"})


def test_new_activity_appears_live_as_a_sentence(world, feeds):
    feed = feeds(world, "pupil")
    assert isinstance(show(world.app_id("activity"), client=world.client("pupil")),
                      LatestActivities)
    assert feed.live
    before = len(feed.shown_events())
    blog_post(world, "teacher", "Spring <b>festival</b>")
    wait_until(lambda: len(feed.shown_events()) > before, timeout=5)
    newest = feed.shown_events()[0]
    assert newest["text"] == "posted in the blog"
    assert newest["summary"] == "Spring <b>festival</b>"
    assert newest["section"] == "Home" and newest["page"] == "Home"
    assert newest["actor"].startswith("Teacher ")
    assert "posted in the blog: “Spring &lt;b&gt;festival&lt;/b&gt;”" in feed.feed.value
    assert "<b>festival</b>" not in feed.feed.value
    # Newest first.
    ids = [e["id"] for e in feed.shown_events()]
    assert ids == sorted(ids, reverse=True)


def test_reader_sees_only_what_they_may(world, feeds):
    blog_post(world, "teacher", "Staff meeting notes", section="teachers_room")
    teacher, pupil = feeds(world, "teacher"), feeds(world, "pupil")
    assert "Staff meeting notes" in teacher.feed.value
    assert "Teachers&#x27; Room" in teacher.feed.value
    assert "Staff meeting notes" not in pupil.feed.value
    # Also live: a new teachers' room post never reaches the pupil's widget.
    blog_post(world, "teacher", "Second staff note", section="teachers_room")
    blog_post(world, "teacher", "For everyone")
    wait_until(lambda: "For everyone" in pupil.feed.value, timeout=5)
    assert "Second staff note" not in pupil.feed.value
    wait_until(lambda: "Second staff note" in teacher.feed.value, timeout=5)


def test_outsider_sees_why_not(world, feeds):
    feed = feeds(world, "outsider")
    assert "not a member of this space" in feed.banner.value
    assert feed.body.children == ()
    assert not feed.live


def test_load_older(world, feeds):
    app = world.app_id("blog")
    for n in range(35):
        world.as_("teacher").ok("POST", f"apps/{app}/posts", json={"title": f"p{n}", "body": "x"})
    feed = feeds(world, "visitor")
    first = feed.shown_events()
    assert len(first) == 30 and first[0]["summary"] == "p34"
    assert feed.older_button.layout.display == ""
    feed.older_button.click()
    events = feed.shown_events()
    assert len(events) > 35  # the space's own creation events come last
    assert [e["summary"] for e in events[:35]] == [f"p{n}" for n in range(34, -1, -1)]
    assert feed.older_button.layout.display == "none"
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)


def test_verbs_read_as_sentences():
    assert sentence("forum.reply") == "replied in the forum"
    assert sentence("wiki.edit") == "edited the wiki page"
    assert sentence("document.upload") == "uploaded a document"
    assert sentence("brand.new") == "made a change (brand.new)"


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_founder_is_named_and_app_kinds_are_translated(site, feeds, language):
    """A space founded for a teacher (the `twinspace` command, a hub administrator) names
    the founder, never "Former member"; an added application's kind reads as people say it."""
    founder = site.account("teacher", display_name="Marie Curie")
    slug = unique("founded")
    site.admin.ok("POST", "spaces", json={"slug": slug, "title": "Rivers",
                                          "founder": founder.name})
    world = World(site, slug, {"teacher_admin": founder})
    world.add_app(world.page_id("home"), "web_content", title="Welcome", section="home")
    i18n.set_language(language)
    try:
        feed = feeds(world, "teacher_admin")
        events = feed.shown_events()
    finally:
        i18n.set_language("en")
    created = [e for e in events if e["text"] == i18n.translations(language).gettext(
        "created the TwinSpace")]
    assert [e["actor"] for e in created] == ["Marie Curie"]
    kind = {"en": "Web content", "fr": "Contenu web", "de": "Webinhalt"}[language]
    assert events[0]["summary"] == f"Welcome ({kind})"
    assert "web_content" not in feed.feed.value and "Former member" not in feed.feed.value
