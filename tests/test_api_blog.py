"""Blogs (F14 Home journal, F18 page blogs) and their comments, through the real hub and service.

The rights matrix runs every endpoint for every role in three sections (the Home journal,
Project Activities, Pupils' Corner); the expected statuses are written out below, never
computed from rights.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from utils import ROLES

from twinspace_kernel.store import models as m
from twinspace_kernel.store.db import new_engine

OWN_ONLY = "You may only edit or delete your own content."

# EXPECT[section][what][role] -> HTTP status.
# view: GET posts / post / comments; post: POST a post; comment: POST a comment;
# edit_other / delete_other: PATCH / DELETE someone else's post or comment.
EXPECT = {
    "home": {
        "view": {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
                 "visitor": 200, "outsider": 403, "public": 401},
        "post": {"teacher_admin": 201, "teacher": 201, "pupil_admin": 403, "pupil": 403,
                 "visitor": 403, "outsider": 403, "public": 401},
        "comment": {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 201,
                    "visitor": 201, "outsider": 403, "public": 401},
        "edit_other": {"teacher_admin": 200, "teacher": 200, "pupil_admin": 403, "pupil": 403,
                       "visitor": 403, "outsider": 403, "public": 401},
        "delete_other": {"teacher_admin": 204, "teacher": 204, "pupil_admin": 403,
                         "pupil": 403, "visitor": 403, "outsider": 403, "public": 401},
    },
    "activities": {
        "view": {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
                 "visitor": 200, "outsider": 403, "public": 401},
        "post": {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 201,
                 "visitor": 403, "outsider": 403, "public": 401},
        "comment": {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 201,
                    "visitor": 201, "outsider": 403, "public": 401},
        "edit_other": {"teacher_admin": 200, "teacher": 200, "pupil_admin": 403, "pupil": 403,
                       "visitor": 403, "outsider": 403, "public": 401},
        "delete_other": {"teacher_admin": 204, "teacher": 204, "pupil_admin": 403,
                         "pupil": 403, "visitor": 403, "outsider": 403, "public": 401},
    },
    "pupils_corner": {
        "view": {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
                 "visitor": 403, "outsider": 403, "public": 401},
        "post": {"teacher_admin": 403, "teacher": 403, "pupil_admin": 201, "pupil": 201,
                 "visitor": 403, "outsider": 403, "public": 401},
        "comment": {"teacher_admin": 403, "teacher": 403, "pupil_admin": 201, "pupil": 201,
                    "visitor": 403, "outsider": 403, "public": 401},
        "edit_other": {"teacher_admin": 200, "teacher": 403, "pupil_admin": 403, "pupil": 403,
                       "visitor": 403, "outsider": 403, "public": 401},
        "delete_other": {"teacher_admin": 204, "teacher": 403, "pupil_admin": 403,
                         "pupil": 403, "visitor": 403, "outsider": 403, "public": 401},
    },
}

# Who writes the "someone else's" post and comment: a member who may post there and is not
# the role under test.
AUTHORS = {
    "home": ["teacher", "teacher_admin"],
    "activities": ["pupil_admin", "teacher"],
    "pupils_corner": ["pupil_admin", "pupil"],
}


def new_app(world, kind: str, section: str) -> int:
    """A page holding one `kind` app, made by a member who manages pages there (in Pupils'
    Corner only the pupil administrator does)."""
    if section != "pupils_corner":
        return world.new_app(kind, section)
    pa = world.as_("pupil_admin")
    page = pa.ok("POST", f"spaces/{world.slug}/pages", json={"section": section, "title": kind})
    return pa.ok("POST", f"pages/{page['id']}/apps", json={"kind": kind})["id"]


def blog_app(world, section: str) -> int:
    if section == "home":
        return world.app_id("blog", "home")  # the project journal
    return new_app(world, "blog", section)


def refused(r, status: int) -> None:
    """A refusal carries a human message."""
    assert r.status_code == status
    assert r.json()["message"]


def with_db(db_url, fn):
    engine = new_engine(db_url)
    try:
        with Session(engine) as db:
            fn(db)
            db.commit()
    finally:
        engine.dispose()


# --- rights matrix -------------------------------------------------------------------------


@pytest.mark.parametrize("section", list(EXPECT))
@pytest.mark.parametrize("role", ROLES)
def test_blog_rights_matrix(world, section, role):
    expect = EXPECT[section]
    app = blog_app(world, section)
    author_role = next(a for a in AUTHORS[section] if a != role)
    author = world.as_(author_role)
    me = world.as_(role)

    def others_post() -> dict:
        return author.ok("POST", f"apps/{app}/posts", json={"title": "Theirs", "body": "Text"})

    def others_comment(post_id: int) -> dict:
        return author.ok("POST", f"posts/{post_id}/comments", json={"body": "Their comment"})

    post = others_post()
    comment = others_comment(post["id"])

    # GET /apps/{id}/posts, GET /posts/{id}, GET /posts/{id}/comments
    r = me.get(f"apps/{app}/posts", expect=expect["view"][role])
    if r.status_code == 200:
        items = r.json()["items"]
        assert [p["id"] for p in items] == [post["id"]]
        assert items[0]["comment_count"] == 1
        assert items[0]["may_edit"] is (expect["edit_other"][role] == 200)
    else:
        refused(r, expect["view"][role])
    r = me.get(f"posts/{post['id']}", expect=expect["view"][role])
    if r.status_code == 200:
        assert r.json()["title"] == "Theirs"
    r = me.get(f"posts/{post['id']}/comments", expect=expect["view"][role])
    if r.status_code == 200:
        assert [c["id"] for c in r.json()["items"]] == [comment["id"]]

    # POST /apps/{id}/posts, then the author's own PATCH and DELETE
    r = me.post(f"apps/{app}/posts", json={"title": "Mine", "body": "*Hello*"},
                expect=expect["post"][role])
    if r.status_code == 201:
        mine = r.json()
        assert mine["body_html"] == "<p><em>Hello</em></p>\n"
        assert mine["may_edit"] is True and mine["comment_count"] == 0
        edited = me.ok("PATCH", f"posts/{mine['id']}", json={"title": "Mine, edited"})
        assert edited["title"] == "Mine, edited" and edited["body"] == "*Hello*"
        me.delete(f"posts/{mine['id']}", expect=204)
        me.get(f"posts/{mine['id']}", expect=404)
    else:
        refused(r, expect["post"][role])

    # POST /posts/{id}/comments, then the author's own PATCH and DELETE
    r = me.post(f"posts/{post['id']}/comments", json={"body": "Nice **work**"},
                expect=expect["comment"][role])
    if r.status_code == 201:
        mine = r.json()
        assert mine["body_html"] == "<p>Nice <strong>work</strong></p>\n"
        edited = me.ok("PATCH", f"comments/{mine['id']}", json={"body": "Nice!"})
        assert edited["body"] == "Nice!"
        me.delete(f"comments/{mine['id']}", expect=204)
    else:
        refused(r, expect["comment"][role])

    # Someone else's comment and post: PATCH and DELETE
    r = me.patch(f"comments/{comment['id']}", json={"body": "changed"},
                 expect=expect["edit_other"][role])
    if r.status_code == 403 and expect["view"][role] == 200:
        assert r.json()["message"] == OWN_ONLY
    r = me.delete(f"comments/{comment['id']}", expect=expect["delete_other"][role])
    r = me.patch(f"posts/{post['id']}", json={"body": "changed"},
                 expect=expect["edit_other"][role])
    if r.status_code == 200:
        assert r.json()["body"] == "changed"
    elif r.status_code == 403 and expect["view"][role] == 200:
        assert r.json()["message"] == OWN_ONLY
    else:
        refused(r, expect["edit_other"][role])
    me.delete(f"posts/{post['id']}", expect=expect["delete_other"][role])
    if expect["delete_other"][role] == 204:
        author.get(f"posts/{post['id']}", expect=404)
    else:
        assert author.ok("GET", f"posts/{post['id']}")["comment_count"] == 1


# --- behaviour -----------------------------------------------------------------------------


NASTY = (
    "Hi <script>alert('x')</script> there\n\n"
    "[click](javascript:alert(1)) and <img src=x onerror=alert(2)> "
    "<javascript:alert(3)> [ok](https://example.org)"
)


def assert_safe(html: str) -> None:
    """Raw HTML is escaped to text and javascript: never becomes a link."""
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html.lower()
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in html


def test_markdown_is_sanitized(world):
    app = world.new_app("blog", "activities")
    pupil = world.as_("pupil")
    post = pupil.ok("POST", f"apps/{app}/posts", json={"title": "<b>T</b>", "body": NASTY})
    assert post["body"] == NASTY  # the Markdown source is kept as written
    assert_safe(post["body_html"])
    assert_safe(pupil.ok("GET", f"posts/{post['id']}")["body_html"])
    assert_safe(pupil.ok("GET", f"apps/{app}/posts")["items"][0]["body_html"])
    comment = pupil.ok("POST", f"posts/{post['id']}/comments", json={"body": NASTY})
    assert_safe(comment["body_html"])
    assert_safe(pupil.ok("GET", f"posts/{post['id']}/comments")["items"][0]["body_html"])
    assert_safe(pupil.ok("PATCH", f"comments/{comment['id']}", json={"body": NASTY})["body_html"])
    edited = pupil.ok("PATCH", f"posts/{post['id']}", json={"body": "[a](javascript:void(0))"})
    assert "<a" not in edited["body_html"]


def test_edit_own_versus_others(world):
    app = world.new_app("blog", "activities")
    pupil, pupil_admin = world.as_("pupil"), world.as_("pupil_admin")
    post = pupil.ok("POST", f"apps/{app}/posts", json={"title": "Mine", "body": "x"})
    assert pupil.ok("GET", f"posts/{post['id']}")["may_edit"] is True
    assert pupil_admin.ok("GET", f"posts/{post['id']}")["may_edit"] is False
    r = pupil_admin.patch(f"posts/{post['id']}", json={"title": "Stolen"}, expect=403)
    assert r.json()["message"] == OWN_ONLY
    r = pupil_admin.delete(f"posts/{post['id']}", expect=403)
    assert r.json()["message"] == OWN_ONLY
    assert pupil.ok("PATCH", f"posts/{post['id']}", json={"title": "Still mine"})["title"] == (
        "Still mine"
    )
    # Bad input is refused with a message and changes nothing.
    r = pupil.patch(f"posts/{post['id']}", json={}, expect=400)
    assert "Nothing to change" in r.json()["message"]
    pupil.patch(f"posts/{post['id']}", json={"title": "   "}, expect=400)
    pupil.post(f"apps/{app}/posts", json={"title": "x" * 201, "body": "y"}, expect=400)
    pupil.post(f"apps/{app}/posts", json={"title": "t"}, expect=400)
    assert pupil.ok("GET", f"posts/{post['id']}")["title"] == "Still mine"
    # Unknown ids and apps of another kind are 404s.
    pupil.get("posts/999999999", expect=404)
    pupil.get(f"apps/{world.new_app('wiki', 'activities')}/posts", expect=404)


def test_moderator_edits_anything(world):
    corner = new_app(world, "blog", "pupils_corner")
    pupil = world.as_("pupil")
    post = pupil.ok("POST", f"apps/{corner}/posts", json={"title": "Ours", "body": "x"})
    comment = pupil.ok("POST", f"posts/{post['id']}/comments", json={"body": "c"})
    ta = world.as_("teacher_admin")
    assert ta.ok("GET", f"posts/{post['id']}")["may_edit"] is True
    assert ta.ok("PATCH", f"posts/{post['id']}", json={"title": "Moderated"})["title"] == (
        "Moderated"
    )
    ta.ok("PATCH", f"comments/{comment['id']}", json={"body": "Moderated"})
    # A plain teacher reads Pupils' Corner but does not moderate it.
    world.as_("teacher").patch(f"posts/{post['id']}", json={"title": "No"}, expect=403)
    ta.delete(f"comments/{comment['id']}", expect=204)
    ta.delete(f"posts/{post['id']}", expect=204)
    # In Project Activities a teacher moderates too.
    app = world.new_app("blog", "activities")
    post = pupil.ok("POST", f"apps/{app}/posts", json={"title": "P", "body": "x"})
    world.as_("teacher").ok("PATCH", f"posts/{post['id']}", json={"body": "tidied"})
    world.as_("teacher").delete(f"posts/{post['id']}", expect=204)


def test_pagination_posts_and_comments(world):
    app = world.new_app("blog", "activities")
    pupil = world.as_("pupil")
    ids = [
        pupil.ok("POST", f"apps/{app}/posts", json={"title": f"P{i}", "body": "x"})["id"]
        for i in range(7)
    ]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} if cursor is None else {"limit": 3, "before": cursor}
        page = pupil.ok("GET", f"apps/{app}/posts", params=params)
        seen += [p["id"] for p in page["items"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)  # newest first, each once
    assert pages == 3

    post = ids[0]
    cids = [
        world.as_("visitor").ok("POST", f"posts/{post}/comments", json={"body": f"c{i}"})["id"]
        for i in range(7)
    ]
    seen, cursor = [], None
    while True:
        params = {"limit": 3} if cursor is None else {"limit": 3, "after": cursor}
        page = pupil.ok("GET", f"posts/{post}/comments", params=params)
        seen += [c["id"] for c in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == cids  # oldest first, each once
    assert pupil.ok("GET", f"posts/{post}")["comment_count"] == 7
    pupil.get(f"apps/{app}/posts", params={"limit": 0}, expect=400)
    pupil.get(f"apps/{app}/posts", params={"before": "x"}, expect=400)


def test_public_reads_published_blog(world):
    ta = world.as_("teacher_admin")
    page_id = world.add_page("activities", "Our journal")
    app = world.add_app(page_id, "blog")
    pupil = world.as_("pupil")
    post = pupil.ok("POST", f"apps/{app}/posts", json={"title": "By a pupil", "body": "Hi"})
    pupil.ok("POST", f"posts/{post['id']}/comments", json={"body": "first"})
    public = world.as_("public")
    public.get(f"apps/{app}/posts", expect=401)
    ta.ok("PATCH", f"spaces/{world.slug}", json={"public": True})
    public.get(f"apps/{app}/posts", expect=401)  # the page itself is not published yet
    ta.ok("PATCH", f"pages/{page_id}", json={"published": True})

    items = public.ok("GET", f"apps/{app}/posts")["items"]
    assert [p["id"] for p in items] == [post["id"]]
    assert items[0]["author"] == {"name": None, "display_name": "A pupil", "kind": "pupil"}
    assert items[0]["may_edit"] is False
    assert pupil.name not in str(items)
    one = public.ok("GET", f"posts/{post['id']}")
    assert one["author"]["name"] is None
    comments = public.ok("GET", f"posts/{post['id']}/comments")["items"]
    assert comments[0]["author"]["display_name"] == "A pupil"
    assert pupil.name not in str(comments)
    # Members still see the name.
    assert world.as_("visitor").ok("GET", f"posts/{post['id']}")["author"]["name"] == pupil.name
    # The public reads but never writes.
    public.post(f"apps/{app}/posts", json={"title": "x", "body": "y"}, expect=401)
    public.post(f"posts/{post['id']}/comments", json={"body": "y"}, expect=401)
    public.patch(f"posts/{post['id']}", json={"body": "y"}, expect=401)
    public.delete(f"posts/{post['id']}", expect=401)
    # Pupils' Corner is never public, even on a published page.
    corner = new_app(world, "blog", "pupils_corner")
    corner_page = ta.ok("GET", f"apps/{corner}")["page_id"]
    ta.ok("PATCH", f"pages/{corner_page}", json={"published": True})
    public.get(f"apps/{corner}/posts", expect=401)


def test_archived_space_is_read_only(world):
    app = world.new_app("blog", "activities")
    pupil = world.as_("pupil")
    post = pupil.ok("POST", f"apps/{app}/posts", json={"title": "Before", "body": "x"})
    comment = pupil.ok("POST", f"posts/{post['id']}/comments", json={"body": "c"})
    world.as_("teacher_admin").ok("PATCH", f"spaces/{world.slug}", json={"state": "archived"})
    for role in ("teacher_admin", "teacher", "pupil"):
        caller = world.as_(role)
        assert caller.ok("GET", f"apps/{app}/posts")["items"][0]["may_edit"] is False
        r = caller.post(f"apps/{app}/posts", json={"title": "After", "body": "x"}, expect=403)
        assert "archived" in r.json()["message"]
        r = caller.post(f"posts/{post['id']}/comments", json={"body": "c"}, expect=403)
        assert "archived" in r.json()["message"]
        r = caller.patch(f"posts/{post['id']}", json={"body": "y"}, expect=403)
        assert "archived" in r.json()["message"]
        caller.delete(f"posts/{post['id']}", expect=403)
        caller.patch(f"comments/{comment['id']}", json={"body": "y"}, expect=403)
        caller.delete(f"comments/{comment['id']}", expect=403)
    journal = world.app_id("blog", "home")
    r = world.as_("teacher_admin").post(f"apps/{journal}/posts", json={"title": "t", "body": "b"},
                                        expect=403)
    assert "archived" in r.json()["message"]


def test_hidden_posts_and_comments(world, db_url):
    app = world.new_app("blog", "activities")
    pupil = world.as_("pupil")
    shown = pupil.ok("POST", f"apps/{app}/posts", json={"title": "Shown", "body": "x"})
    hidden = pupil.ok("POST", f"apps/{app}/posts", json={"title": "Hidden", "body": "x"})
    pupil.ok("POST", f"posts/{shown['id']}/comments", json={"body": "ok"})
    bad = pupil.ok("POST", f"posts/{shown['id']}/comments", json={"body": "bad"})

    # Hiding belongs to the moderation module; set the flags in the service's database.
    def hide(db):
        db.execute(update(m.BlogPost).where(m.BlogPost.id == hidden["id"]).values(hidden=True))
        db.execute(update(m.Comment).where(m.Comment.id == bad["id"]).values(hidden=True))

    with_db(db_url, hide)
    items = pupil.ok("GET", f"apps/{app}/posts")["items"]
    assert [p["id"] for p in items] == [shown["id"]]
    assert items[0]["comment_count"] == 1
    pupil.get(f"posts/{hidden['id']}", expect=404)
    pupil.get(f"posts/{hidden['id']}/comments", expect=404)
    pupil.patch(f"comments/{bad['id']}", json={"body": "x"}, expect=404)
    assert len(pupil.ok("GET", f"posts/{shown['id']}/comments")["items"]) == 1

    teacher = world.as_("teacher")  # moderates Project Activities
    items = teacher.ok("GET", f"apps/{app}/posts")["items"]
    assert [(p["id"], p["hidden"]) for p in items] == [(hidden["id"], True), (shown["id"], False)]
    assert items[1]["comment_count"] == 2
    comments = teacher.ok("GET", f"posts/{shown['id']}/comments")["items"]
    assert [c["hidden"] for c in comments] == [False, True]


def test_posting_is_recorded_in_latest_activities(world, db_url):
    app = world.new_app("blog", "activities")
    post = world.as_("pupil").ok("POST", f"apps/{app}/posts", json={"title": "News", "body": "x"})
    world.as_("visitor").ok("POST", f"posts/{post['id']}/comments", json={"body": "Great"})
    found = []

    def read(db):
        rows = db.execute(
            m.ActivityEvent.__table__.select().where(m.ActivityEvent.verb.like("blog.%"))
            .where(m.ActivityEvent.space_id == db.scalar(
                m.Space.__table__.select().with_only_columns(m.Space.id)
                .where(m.Space.slug == world.slug)))
        ).mappings().all()
        found.extend((r["verb"], r["summary"]) for r in rows)

    with_db(db_url, read)
    assert ("blog.post", "News") in found
    assert ("blog.comment", "News: Great") in found
