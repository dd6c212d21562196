"""Forums (F19): threads, replies and quotes, through the real hub and service.

The rights matrix runs every endpoint for every role in Project Activities and Pupils'
Corner; the expected statuses are written out below, never computed from rights.py.
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
# view: GET threads / thread / replies / reply; open: POST a thread; reply: POST a reply;
# edit_other / delete_other: PATCH / DELETE someone else's thread or (non-first) reply;
# delete_first: DELETE someone else's opening reply (409 for those who could: delete the
# thread instead).
EXPECT = {
    "activities": {
        "view": {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
                 "visitor": 200, "outsider": 403, "public": 401},
        "open": {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 403,
                 "visitor": 403, "outsider": 403, "public": 401},
        "reply": {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 201,
                  "visitor": 201, "outsider": 403, "public": 401},
        "edit_other": {"teacher_admin": 200, "teacher": 200, "pupil_admin": 403, "pupil": 403,
                       "visitor": 403, "outsider": 403, "public": 401},
        "delete_other": {"teacher_admin": 204, "teacher": 204, "pupil_admin": 403,
                         "pupil": 403, "visitor": 403, "outsider": 403, "public": 401},
        "delete_first": {"teacher_admin": 409, "teacher": 409, "pupil_admin": 403,
                         "pupil": 403, "visitor": 403, "outsider": 403, "public": 401},
    },
    "pupils_corner": {
        "view": {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
                 "visitor": 403, "outsider": 403, "public": 401},
        "open": {"teacher_admin": 403, "teacher": 403, "pupil_admin": 201, "pupil": 201,
                 "visitor": 403, "outsider": 403, "public": 401},
        "reply": {"teacher_admin": 403, "teacher": 403, "pupil_admin": 201, "pupil": 201,
                  "visitor": 403, "outsider": 403, "public": 401},
        "edit_other": {"teacher_admin": 200, "teacher": 403, "pupil_admin": 403, "pupil": 403,
                       "visitor": 403, "outsider": 403, "public": 401},
        "delete_other": {"teacher_admin": 204, "teacher": 403, "pupil_admin": 403,
                         "pupil": 403, "visitor": 403, "outsider": 403, "public": 401},
        "delete_first": {"teacher_admin": 409, "teacher": 403, "pupil_admin": 403,
                         "pupil": 403, "visitor": 403, "outsider": 403, "public": 401},
    },
}

# Who opens "someone else's" thread: a member who may open threads there, not the role tested.
AUTHORS = {
    "activities": ["pupil_admin", "teacher"],
    "pupils_corner": ["pupil_admin", "pupil"],
}


def forum_app(world, section: str) -> int:
    """A page holding a forum, made by a member who manages pages there (in Pupils' Corner
    only the pupil administrator does)."""
    if section != "pupils_corner":
        return world.new_app("forum", section)
    pa = world.as_("pupil_admin")
    page = pa.ok("POST", f"spaces/{world.slug}/pages", json={"section": section, "title": "F"})
    return pa.ok("POST", f"pages/{page['id']}/apps", json={"kind": "forum"})["id"]


def open_thread(caller, app: int, title: str = "A thread", body: str = "Opening") -> dict:
    return caller.ok("POST", f"apps/{app}/threads", json={"title": title, "body": body})


def first_reply(thread: dict) -> dict:
    return thread["replies"]["items"][0]


def refused(r, status: int) -> None:
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
def test_forum_rights_matrix(world, section, role):
    expect = EXPECT[section]
    app = forum_app(world, section)
    author = world.as_(next(a for a in AUTHORS[section] if a != role))
    me = world.as_(role)

    thread = open_thread(author, app, "Theirs", "Their **opening**")
    opening = first_reply(thread)
    second = author.ok("POST", f"threads/{thread['id']}/replies", json={"body": "And more"})
    tid = thread["id"]

    # GET /apps/{id}/threads, /threads/{id}, /threads/{id}/replies, /replies/{id}
    r = me.get(f"apps/{app}/threads", expect=expect["view"][role])
    if r.status_code == 200:
        items = r.json()["items"]
        assert [t["id"] for t in items] == [tid]
        assert items[0]["reply_count"] == 2 and items[0]["last_post_id"] == second["id"]
        assert items[0]["may_edit"] is (expect["edit_other"][role] == 200)
    else:
        refused(r, expect["view"][role])
    r = me.get(f"threads/{tid}", expect=expect["view"][role])
    if r.status_code == 200:
        body = r.json()
        assert body["title"] == "Theirs"
        assert [x["id"] for x in body["replies"]["items"]] == [opening["id"], second["id"]]
        assert body["replies"]["items"][0]["first"] is True
    r = me.get(f"threads/{tid}/replies", expect=expect["view"][role])
    if r.status_code == 200:
        assert len(r.json()["items"]) == 2
    me.get(f"replies/{second['id']}", expect=expect["view"][role])

    # POST /apps/{id}/threads, then the author's own PATCH and DELETE
    r = me.post(f"apps/{app}/threads", json={"title": "Mine", "body": "*Hi*"},
                expect=expect["open"][role])
    if r.status_code == 201:
        mine = r.json()
        assert mine["reply_count"] == 1 and mine["may_edit"] is True
        assert first_reply(mine)["body_html"] == "<p><em>Hi</em></p>\n"
        assert me.ok("PATCH", f"threads/{mine['id']}", json={"title": "Mine!"})["title"] == (
            "Mine!"
        )
        # Even its author cannot delete the opening reply alone.
        r = me.delete(f"replies/{first_reply(mine)['id']}", expect=409)
        assert "delete the thread" in r.json()["message"]
        me.delete(f"threads/{mine['id']}", expect=204)
        me.get(f"threads/{mine['id']}", expect=404)
    else:
        refused(r, expect["open"][role])

    # POST /threads/{id}/replies with a quote, then the author's own PATCH and DELETE
    r = me.post(f"threads/{tid}/replies", json={"body": "I agree", "quote_id": opening["id"]},
                expect=expect["reply"][role])
    if r.status_code == 201:
        mine = r.json()
        assert mine["quote"]["id"] == opening["id"]
        assert mine["quote"]["author"]["name"] == author.name
        assert mine["quote"]["excerpt"] == "Their opening"
        assert me.ok("PATCH", f"replies/{mine['id']}", json={"body": "Agreed"})["body"] == (
            "Agreed"
        )
        me.delete(f"replies/{mine['id']}", expect=204)
    else:
        refused(r, expect["reply"][role])

    # Someone else's reply and thread: PATCH and DELETE
    r = me.patch(f"replies/{second['id']}", json={"body": "changed"},
                 expect=expect["edit_other"][role])
    if r.status_code == 403 and expect["view"][role] == 200:
        assert r.json()["message"] == OWN_ONLY
    me.delete(f"replies/{opening['id']}", expect=expect["delete_first"][role])
    me.delete(f"replies/{second['id']}", expect=expect["delete_other"][role])
    r = me.patch(f"threads/{tid}", json={"title": "Renamed"}, expect=expect["edit_other"][role])
    if r.status_code == 200:
        assert r.json()["title"] == "Renamed"
    elif r.status_code == 403 and expect["view"][role] == 200:
        assert r.json()["message"] == OWN_ONLY
    else:
        refused(r, expect["edit_other"][role])
    me.delete(f"threads/{tid}", expect=expect["delete_other"][role])
    if expect["delete_other"][role] == 204:
        author.get(f"threads/{tid}", expect=404)
        author.get(f"replies/{opening['id']}", expect=404)
    else:
        assert author.ok("GET", f"threads/{tid}")["reply_count"] == 2


# --- behaviour -----------------------------------------------------------------------------


def test_threads_sort_by_newest_reply(world):
    app = world.new_app("forum", "activities")
    teacher, pupil = world.as_("teacher"), world.as_("pupil")
    a = open_thread(teacher, app, "A")
    b = open_thread(teacher, app, "B")
    c = open_thread(teacher, app, "C")

    def order():
        return [t["title"] for t in pupil.ok("GET", f"apps/{app}/threads")["items"]]

    assert order() == ["C", "B", "A"]
    reply = pupil.ok("POST", f"threads/{a['id']}/replies", json={"body": "Bump"})
    assert order() == ["A", "C", "B"]
    listed = pupil.ok("GET", f"apps/{app}/threads")["items"][0]
    assert listed["reply_count"] == 2 and listed["last_post_id"] == reply["id"]
    assert listed["last_post"]["author"]["name"] == pupil.name
    # Deleting the newest reply puts the thread back where its remaining replies place it.
    pupil.delete(f"replies/{reply['id']}", expect=204)
    assert order() == ["C", "B", "A"]
    thread = pupil.ok("GET", f"threads/{a['id']}")
    assert thread["reply_count"] == 1 and thread["last_post_id"] == first_reply(a)["id"]
    assert b["id"] != c["id"]


def test_quotes(world):
    app = world.new_app("forum", "activities")
    teacher, visitor = world.as_("teacher"), world.as_("visitor")
    one = open_thread(teacher, app, "One", "A *long* first message " + "word " * 100)
    two = open_thread(teacher, app, "Two")
    # A quote must be a reply of the same thread.
    for bad in (first_reply(two)["id"], 999999999, "x", True):
        r = visitor.post(f"threads/{one['id']}/replies", json={"body": "q", "quote_id": bad},
                         expect=400)
        assert "quote_id" in r.json()["message"]
    r = visitor.ok("POST", f"threads/{one['id']}/replies",
                   json={"body": "Quoting", "quote_id": first_reply(one)["id"]})
    assert r["quote"]["author"]["name"] == teacher.name
    assert r["quote"]["excerpt"].startswith("A long first message word")
    assert len(r["quote"]["excerpt"]) <= 200
    replies = visitor.ok("GET", f"threads/{one['id']}/replies")["items"]
    assert replies[1]["quote"]["id"] == first_reply(one)["id"]
    assert replies[0]["quote"] is None
    # Bad bodies are refused with a message; nothing is added.
    visitor.post(f"threads/{one['id']}/replies", json={"body": "  "}, expect=400)
    visitor.post(f"threads/{one['id']}/replies", json={}, expect=400)
    teacher.post(f"apps/{app}/threads", json={"title": "No body"}, expect=400)
    visitor.post(f"threads/{one['id']}/replies", data="not json", expect=400)
    assert visitor.ok("GET", f"threads/{one['id']}")["reply_count"] == 2
    # Unknown ids, and apps of another kind, are 404s.
    visitor.get("threads/999999999", expect=404)
    visitor.get(f"apps/{world.new_app('blog', 'activities')}/threads", expect=404)


def test_markdown_is_sanitized(world):
    app = world.new_app("forum", "activities")
    pupil_admin = world.as_("pupil_admin")
    nasty = "<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(2)>"
    thread = open_thread(pupil_admin, app, "<script>t</script>", nasty)
    reply = pupil_admin.ok("POST", f"threads/{thread['id']}/replies", json={"body": nasty})
    edited = pupil_admin.ok("PATCH", f"replies/{reply['id']}", json={"body": nasty + " more"})
    listed = pupil_admin.ok("GET", f"threads/{thread['id']}")["replies"]["items"]
    for html in [first_reply(thread)["body_html"], reply["body_html"], edited["body_html"]] + [
        x["body_html"] for x in listed
    ]:
        assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
        assert 'href="javascript' not in html
    assert first_reply(thread)["body"] == nasty  # the source is kept as written


def test_moderator_edits_anything(world):
    corner = forum_app(world, "pupils_corner")
    pupil = world.as_("pupil")
    thread = open_thread(pupil, corner, "Ours")
    reply = pupil.ok("POST", f"threads/{thread['id']}/replies", json={"body": "r"})
    ta, teacher = world.as_("teacher_admin"), world.as_("teacher")
    assert ta.ok("GET", f"threads/{thread['id']}")["may_edit"] is True
    assert teacher.ok("GET", f"threads/{thread['id']}")["may_edit"] is False
    ta.ok("PATCH", f"replies/{reply['id']}", json={"body": "Moderated"})
    ta.ok("PATCH", f"replies/{first_reply(thread)['id']}", json={"body": "Moderated too"})
    ta.ok("PATCH", f"threads/{thread['id']}", json={"title": "Moderated"})
    r = teacher.patch(f"replies/{reply['id']}", json={"body": "No"}, expect=403)
    assert r.json()["message"] == OWN_ONLY
    # Pupils reply in Project Activities but may not open threads there.
    app = world.new_app("forum", "activities")
    r = pupil.post(f"apps/{app}/threads", json={"title": "t", "body": "b"}, expect=403)
    assert r.json()["message"] == "A pupil may not open a forum thread in the activities section."
    ta.delete(f"threads/{thread['id']}", expect=204)


def test_pagination_threads_and_replies(world):
    app = world.new_app("forum", "activities")
    teacher, pupil = world.as_("teacher"), world.as_("pupil")
    threads = [open_thread(teacher, app, f"T{i}") for i in range(7)]
    # Bump the oldest thread so the order is not simply creation order.
    pupil.ok("POST", f"threads/{threads[0]['id']}/replies", json={"body": "bump"})
    expected = [threads[0]["id"]] + [t["id"] for t in reversed(threads[1:])]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} if cursor is None else {"limit": 3, "before": cursor}
        page = pupil.ok("GET", f"apps/{app}/threads", params=params)
        seen += [t["id"] for t in page["items"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == expected and pages == 3

    tid = threads[1]["id"]
    ids = [first_reply(threads[1])["id"]] + [
        pupil.ok("POST", f"threads/{tid}/replies", json={"body": f"r{i}"})["id"]
        for i in range(6)
    ]
    first = pupil.ok("GET", f"threads/{tid}", params={"limit": 3})
    seen = [x["id"] for x in first["replies"]["items"]]
    cursor = first["replies"]["next"]
    while cursor is not None:
        page = pupil.ok("GET", f"threads/{tid}/replies", params={"limit": 3, "after": cursor})
        seen += [x["id"] for x in page["items"]]
        cursor = page["next"]
    assert seen == ids  # oldest first, each once
    assert pupil.ok("GET", f"threads/{tid}")["reply_count"] == 7
    pupil.get(f"apps/{app}/threads", params={"limit": 101}, expect=400)


def test_public_reads_published_forum(world):
    ta = world.as_("teacher_admin")
    page_id = world.add_page("activities", "Discussion")
    app = world.add_app(page_id, "forum")
    pupil_admin, pupil = world.as_("pupil_admin"), world.as_("pupil")
    thread = open_thread(pupil_admin, app, "By a pupil", "Hello")
    reply = pupil.ok("POST", f"threads/{thread['id']}/replies",
                     json={"body": "Hi", "quote_id": first_reply(thread)["id"]})
    public = world.as_("public")
    public.get(f"apps/{app}/threads", expect=401)
    ta.ok("PATCH", f"spaces/{world.slug}", json={"public": True})
    public.get(f"threads/{thread['id']}", expect=401)  # the page is not published yet
    ta.ok("PATCH", f"pages/{page_id}", json={"published": True})

    items = public.ok("GET", f"apps/{app}/threads")["items"]
    assert items[0]["author"] == {"name": None, "display_name": "A pupil", "kind": "pupil"}
    assert items[0]["last_post"]["author"]["display_name"] == "A pupil"
    full = public.ok("GET", f"threads/{thread['id']}")
    replies = full["replies"]["items"]
    assert [x["author"]["display_name"] for x in replies] == ["A pupil", "A pupil"]
    assert replies[1]["quote"]["author"]["name"] is None
    text = str(items) + str(full) + str(public.ok("GET", f"replies/{reply['id']}"))
    assert pupil.name not in text and pupil_admin.name not in text
    # The public reads but never writes.
    public.post(f"apps/{app}/threads", json={"title": "t", "body": "b"}, expect=401)
    public.post(f"threads/{thread['id']}/replies", json={"body": "b"}, expect=401)
    public.patch(f"replies/{reply['id']}", json={"body": "b"}, expect=401)
    public.delete(f"threads/{thread['id']}", expect=401)
    # Members still see names.
    assert world.as_("visitor").ok("GET", f"threads/{thread['id']}")["author"]["name"] == (
        pupil_admin.name
    )


def test_archived_space_is_read_only(world):
    app = world.new_app("forum", "activities")
    teacher = world.as_("teacher")
    thread = open_thread(teacher, app)
    reply = world.as_("pupil").ok("POST", f"threads/{thread['id']}/replies", json={"body": "r"})
    world.as_("teacher_admin").ok("PATCH", f"spaces/{world.slug}", json={"state": "archived"})
    for role in ("teacher_admin", "teacher", "pupil"):
        caller = world.as_(role)
        assert caller.ok("GET", f"apps/{app}/threads")["items"][0]["may_edit"] is False
        r = caller.post(f"apps/{app}/threads", json={"title": "t", "body": "b"}, expect=403)
        assert "archived" in r.json()["message"]
        r = caller.post(f"threads/{thread['id']}/replies", json={"body": "b"}, expect=403)
        assert "archived" in r.json()["message"]
        caller.patch(f"replies/{reply['id']}", json={"body": "b"}, expect=403)
        caller.delete(f"replies/{reply['id']}", expect=403)
        caller.patch(f"threads/{thread['id']}", json={"title": "b"}, expect=403)
        caller.delete(f"threads/{thread['id']}", expect=403)


def test_hidden_threads_and_replies(world, db_url):
    app = world.new_app("forum", "activities")
    teacher, pupil = world.as_("teacher"), world.as_("pupil")
    shown = open_thread(teacher, app, "Shown")
    hidden = open_thread(teacher, app, "Hidden")
    bad = pupil.ok("POST", f"threads/{shown['id']}/replies", json={"body": "bad"})

    def hide(db):
        db.execute(update(m.ForumThread).where(m.ForumThread.id == hidden["id"])
                   .values(hidden=True))
        db.execute(update(m.ForumReply).where(m.ForumReply.id == bad["id"]).values(hidden=True))

    with_db(db_url, hide)
    visitor = world.as_("visitor")
    items = visitor.ok("GET", f"apps/{app}/threads")["items"]
    assert [t["id"] for t in items] == [shown["id"]]
    assert items[0]["last_post"] is None  # the newest reply is hidden
    visitor.get(f"threads/{hidden['id']}", expect=404)
    visitor.get(f"replies/{bad['id']}", expect=404)
    assert len(visitor.ok("GET", f"threads/{shown['id']}")["replies"]["items"]) == 1
    r = visitor.post(f"threads/{shown['id']}/replies", json={"body": "q", "quote_id": bad["id"]},
                     expect=400)
    assert "quote_id" in r.json()["message"]
    # Teachers moderate Project Activities: they see hidden things, marked.
    items = teacher.ok("GET", f"apps/{app}/threads")["items"]
    assert {(t["id"], t["hidden"]) for t in items} == {(shown["id"], False), (hidden["id"], True)}
    replies = teacher.ok("GET", f"threads/{shown['id']}/replies")["items"]
    assert [x["hidden"] for x in replies] == [False, True]


def test_forum_is_recorded_in_latest_activities(world, db_url):
    app = world.new_app("forum", "activities")
    thread = open_thread(world.as_("teacher"), app, "Plans", "Let us plan")
    world.as_("visitor").ok("POST", f"threads/{thread['id']}/replies", json={"body": "Yes"})
    found = []

    def read(db):
        space_id = db.scalar(
            m.Space.__table__.select().with_only_columns(m.Space.id)
            .where(m.Space.slug == world.slug)
        )
        rows = db.execute(
            m.ActivityEvent.__table__.select().where(m.ActivityEvent.space_id == space_id)
        ).mappings().all()
        found.extend((r["verb"], r["summary"]) for r in rows)

    with_db(db_url, read)
    assert ("forum.thread", "Plans") in found
    assert ("forum.reply", "Plans: Yes") in found
