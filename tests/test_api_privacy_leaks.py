"""Issue 9's stored XSS and privacy leaks, through the real hub and service (one test each)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import nbformat
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from PIL import Image
from utils import image_with_gps, unique

HOSTILE_TITLE = ('<img src=x onerror="window.__xss=1"> [x](javascript:alert(1)) '
                 '<script>alert(2)</script> *bold* & `code`')


def make_public(world) -> None:
    world.as_("teacher_admin").ok("PATCH", f"spaces/{world.slug}", json={"public": True})


def published_page(world, title: str = "Shared work") -> int:
    page = world.add_page("activities", title)
    world.as_("teacher_admin").ok("PATCH", f"pages/{page}", json={"published": True})
    return page


def test_a_hostile_page_title_is_plain_text_in_its_notebook(world):
    page = world.as_("teacher_admin").ok("POST", f"spaces/{world.slug}/pages",
                                         json={"section": "activities", "title": "Safe"})
    world.as_("teacher_admin").ok("PATCH", f"pages/{page['id']}",
                                  json={"title": HOSTILE_TITLE})
    # A pupil administrator names pages of the Pupils' Corner: the same holds there.
    corner = world.as_("pupil_admin").ok("POST", f"spaces/{world.slug}/pages", json={
        "section": "pupils_corner", "title": HOSTILE_TITLE})
    spaces = Path(world.site.hub.data_dir) / "spaces" / world.slug
    for path in (spaces / "activities" / f"{page['slug']}.ipynb",
                 spaces / "pupils_corner" / f"{corner['slug']}.ipynb"):
        title_cell = nbformat.read(path, as_version=4).cells[0]
        # What Voila's renderer (nbconvert's mistune) makes of it: text, never a tag or link.
        html = markdown2html_mistune(title_cell.source)
        # Only the heading and nbconvert's own anchor link (href="#…") are tags.
        assert re.findall(r"<(\w+)", html) == ["h1", "a"], html
        assert re.findall(r'href="([^"]*)"', html)[0].startswith("#"), html
        assert "&lt;img src=x onerror=" in html and "&lt;script&gt;" in html
        assert "*bold*" in html and "[x](javascript:alert(1))" in html


def test_logged_in_non_members_see_pupils_as_the_public_does(world):
    """A teacher of another space reading a public space's published page: "A pupil"."""
    make_public(world)
    page = published_page(world)
    blog = world.add_app(page, "blog")
    forum = world.add_app(page, "forum")
    pupil = world.as_("pupil")
    post = pupil.ok("POST", f"apps/{blog}/posts", json={"title": "Our river", "body": "Hi"})
    pupil.ok("POST", f"posts/{post['id']}/comments", json={"body": "A comment"})
    thread = world.as_("pupil_admin").ok("POST", f"apps/{forum}/threads",
                                         json={"title": "Fish?", "body": "Why"})
    pupil.ok("POST", f"threads/{thread['id']}/replies", json={"body": "Because"})
    wiki = world.add_app(page, "wiki")
    documents = world.add_app(page, "documents")
    pa = world.as_("pupil_admin")
    wiki_page = pa.ok("POST", f"apps/{wiki}/wiki", json={"title": "Words", "text": "River"})
    pa.ok("POST", f"apps/{documents}/documents", data=b"Our notes\n",
          params={"filename": "notes.txt"})
    event = pa.ok("POST", f"spaces/{world.slug}/events", json={
        "kind": "meeting", "title": "Visit", "starts_at": "2026-12-03"})
    me = pupil.ok("GET", "me")["user"]
    pa_me = pa.ok("GET", "me")["user"]
    outsider, anonymous = world.as_("outsider"), world.as_("public")
    for reader in (outsider, anonymous):
        answers = [
            reader.ok("GET", f"apps/{blog}/posts"),
            reader.ok("GET", f"posts/{post['id']}"),
            reader.ok("GET", f"posts/{post['id']}/comments"),
            reader.ok("GET", f"apps/{forum}/threads"),
            reader.ok("GET", f"threads/{thread['id']}/replies"),
            reader.ok("GET", f"spaces/{world.slug}/activity"),
            reader.ok("GET", f"apps/{wiki}/wiki"),
            reader.ok("GET", f"wiki/{wiki_page['id']}"),
            reader.ok("GET", f"wiki/{wiki_page['id']}/revisions"),
            reader.ok("GET", f"apps/{documents}/documents"),
            reader.ok("GET", f"events/{event['id']}"),
        ]
        text = repr(answers)
        for who in (me, pa_me):
            assert who["display_name"] not in text and f"'{who['name']}'" not in text, \
                reader.name
        assert "A pupil" in text
    # Members still see who wrote it.
    assert world.as_("teacher").ok("GET", f"posts/{post['id']}")["author"]["display_name"] \
        == me["display_name"]


def test_the_calendar_is_public_only_where_a_public_page_shows_it(world):
    pa = world.as_("pupil_admin")
    event = pa.ok("POST", f"spaces/{world.slug}/events", json={
        "kind": "meeting", "title": "Secret meeting", "starts_at": "2026-12-03"})["id"]
    anonymous = world.as_("public")
    paths = (f"spaces/{world.slug}/events?from=2026-12-01&to=2026-12-31",
             f"events/{event}", f"spaces/{world.slug}/calendar.ics")
    ta = world.as_("teacher_admin")
    make_public(world)
    home = ta.ok("GET", f"pages/{world.page_id('home')}")
    [calendar] = [app["id"] for app in home["apps"] if app["kind"] == "calendar"]
    # The Home page is public (and shows the calendar): the events are readable.
    for path in paths:
        assert "Secret meeting" in anonymous.get(path, expect=200).text
    # The calendar is on no public page any more: not a word of it to the public.
    ta.ok("DELETE", f"apps/{calendar}")
    for path in paths:
        r = anonymous.get(path, expect=401)
        assert "Secret meeting" not in r.text
    # Members still read it, and a published page holding a calendar makes it public again.
    assert world.as_("visitor").ok("GET", f"events/{event}")["title"] == "Secret meeting"
    page = published_page(world, "Dates")
    world.add_app(page, "calendar")
    assert anonymous.ok("GET", f"events/{event}")["title"] == "Secret meeting"
    ta.ok("PATCH", f"pages/{page}", json={"published": False})
    anonymous.get(f"events/{event}", expect=401)


def test_hidden_and_deleted_content_leaves_latest_activities(world):
    page = world.add_page("activities", "Journal")
    blog = world.add_app(page, "blog")
    forum = world.add_app(page, "forum")
    pupil, teacher = world.as_("pupil"), world.as_("teacher")
    hidden_post = pupil.ok("POST", f"apps/{blog}/posts",
                           json={"title": "Rude title one", "body": "Rude body one"})
    deleted_post = pupil.ok("POST", f"apps/{blog}/posts",
                            json={"title": "Rude title two", "body": "Rude body two"})
    kept_post = pupil.ok("POST", f"apps/{blog}/posts",
                         json={"title": "Kind title", "body": "Kind body"})
    comment = pupil.ok("POST", f"posts/{kept_post['id']}/comments",
                       json={"body": "Rude comment three"})
    opener = world.as_("pupil_admin")  # pupils reply; their administrator opens threads
    thread = opener.ok("POST", f"apps/{forum}/threads",
                       json={"title": "Rude thread four", "body": "Fine start"})
    reply = pupil.ok("POST", f"threads/{thread['id']}/replies", json={"body": "Fine reply"})
    other_thread = opener.ok("POST", f"apps/{forum}/threads",
                             json={"title": "Good thread", "body": "Fine start"})
    rude_reply = pupil.ok("POST", f"threads/{other_thread['id']}/replies",
                          json={"body": "Rude reply five"})
    for kind, object_id, action in (("blog_post", hidden_post["id"], "hide"),
                                    ("blog_post", deleted_post["id"], "delete"),
                                    ("comment", comment["id"], "hide"),
                                    ("forum_thread", thread["id"], "hide"),
                                    ("forum_reply", rude_reply["id"], "delete")):
        teacher.ok("POST", "moderation", json={"object_type": kind, "object_id": object_id,
                                               "action": action})
    assert reply  # its line names the hidden thread: it goes too
    for role in ("teacher_admin", "teacher", "pupil", "visitor"):
        feed = world.as_(role).ok("GET", f"spaces/{world.slug}/activity")["items"]
        text = repr(feed)
        assert "Rude" not in text, (role, feed)
        assert "Kind title" in text and "Good thread" in text
    # Hidden content shown again comes back to the feed.
    teacher.ok("POST", "moderation", json={"object_type": "blog_post",
                                           "object_id": hidden_post["id"], "action": "unhide"})
    feed = world.as_("pupil").ok("GET", f"spaces/{world.slug}/activity")["items"]
    assert "Rude title one" in repr(feed)


def test_library_images_lose_their_location(world):
    app = world.new_app("documents")
    for fmt, name in (("JPEG", "trip.jpg"), ("PNG", "map.png")):
        original = image_with_gps(fmt, size=(64, 48))
        doc = world.as_("pupil_admin").ok("POST", f"apps/{app}/documents", data=original,
                                    params={"filename": name})
        stored = world.as_("teacher").get(f"documents/{doc['id']}/download", expect=200).content
        with Image.open(io.BytesIO(stored)) as image, Image.open(io.BytesIO(original)) as before:
            assert image.format == fmt
            assert not image.getexif().get_ifd(0x8825), fmt
            # Kept as uploaded otherwise: the same pixels, the camera's other details.
            assert image.size == before.size
            if fmt == "PNG":
                assert image.tobytes() == before.tobytes()
            else:
                assert image.getexif().get(0x010F) == "SchoolCam"


def test_invitations_say_nothing_of_accounts_outside_the_inviters_spaces(world):
    site = world.site
    stranger = site.account("teacher", display_name="Tess Stranger", school="Hidden School",
                            country="NO")
    pupil = site.account("pupil", display_name="Pia Faraway", school="Far School")
    ta = world.as_("teacher_admin")
    answer = ta.ok("POST", f"spaces/{world.slug}/invitations",
                   json={"role": "teacher", "username": stranger.name})
    assert answer["existing"] is True and answer["username"] == stranger.name
    listed = ta.ok("GET", f"spaces/{world.slug}/invitations")["items"]
    for text in (repr(answer), repr(listed)):
        assert "Tess" not in text and "Hidden School" not in text and "'NO'" not in text
    refused = ta.post(f"spaces/{world.slug}/invitations",
                      json={"role": "teacher", "username": pupil.name}, expect=400)
    assert "pupil" not in refused.text.lower() and "Pia" not in refused.text
    # Someone the inviter shares a space with is shown as members see them.
    colleague = world.as_("teacher")
    other = unique("space")
    ta.ok("POST", "spaces", json={"slug": other, "title": "Another space"})
    shown = ta.ok("POST", f"spaces/{other}/invitations",
                  json={"role": "teacher", "username": colleague.name})
    assert shown["user"]["display_name"].startswith("Teacher ")
    assert shown["user"]["school"] == "École Test"
