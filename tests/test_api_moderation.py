"""Reports, moderation and the moderation log (F32), through the real hub and service.

Every endpoint runs for every role; the expected statuses are written out below, never
computed from rights.py.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image
from utils import ROLES

# POST /reports on a Project Activities post.
EXPECT_REPORT = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 201,
                 "visitor": 201, "outsider": 403, "public": 401}
# POST /reports on a Pupils' Corner post (visitors may not see Pupils' Corner).
EXPECT_REPORT_PUPILS_CORNER = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201,
                               "pupil": 201, "visitor": 403, "outsider": 403, "public": 401}
# GET /spaces/{slug}/reports
EXPECT_LIST = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 403, "pupil": 403,
               "visitor": 403, "outsider": 403, "public": 401}
# POST /moderation (hide) on a Project Activities post.
EXPECT_MODERATE = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 403, "pupil": 403,
                   "visitor": 403, "outsider": 403, "public": 401}
# POST /moderation (hide) on a Pupils' Corner post: teacher administrators only.
EXPECT_MODERATE_PUPILS_CORNER = {"teacher_admin": 201, "teacher": 403, "pupil_admin": 403,
                                 "pupil": 403, "visitor": 403, "outsider": 403, "public": 401}
# POST /reports/{id}/dismiss on a report about a Project Activities post.
EXPECT_DISMISS = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 403, "pupil": 403,
                  "visitor": 403, "outsider": 403, "public": 401}
# GET /spaces/{slug}/moderation-log
EXPECT_LOG = {"teacher_admin": 200, "teacher": 403, "pupil_admin": 403, "pupil": 403,
              "visitor": 403, "outsider": 403, "public": 401}


def blog_post(world, section="activities", author="pupil", title="A post"):
    """(app id, post id) of a new post by `author` on a new blog page of `section`."""
    if section == "pupils_corner":  # only the pupil administrator manages pages there
        pa = world.as_("pupil_admin")
        page = pa.ok("POST", f"spaces/{world.slug}/pages", json={"section": section,
                                                                 "title": "Corner blog"})
        app = pa.ok("POST", f"pages/{page['id']}/apps", json={"kind": "blog"})["id"]
    else:
        app = world.new_app("blog", section)
    post = world.as_(author).ok("POST", f"apps/{app}/posts",
                                json={"title": title, "body": f"Text of *{title}*."})
    return app, post["id"]


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 128, 255)).save(buf, "PNG")
    return buf.getvalue()


def blob_count(site) -> int:
    return sum(1 for p in (site.hub.data_dir / "files").rglob("*") if p.is_file())


# --- the rights matrix ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_report_every_role(world, role):
    _app, post = blog_post(world, "activities", author="teacher_admin")
    r = world.as_(role).post("reports", json={"object_type": "blog_post", "object_id": post,
                                              "reason": "Rude"}, expect=EXPECT_REPORT[role])
    if r.status_code == 201:
        report = r.json()
        assert report["object_type"] == "blog_post" and report["object_id"] == post
        assert report["status"] == "open" and report["section"] == "activities"
        assert report["excerpt"].startswith("A post")
    else:
        assert r.json()["message"]


@pytest.mark.parametrize("role", ROLES)
def test_report_pupils_corner_every_role(world, role):
    _app, post = blog_post(world, "pupils_corner", author="pupil")
    world.as_(role).post("reports", json={"object_type": "blog_post", "object_id": post},
                         expect=EXPECT_REPORT_PUPILS_CORNER[role])


@pytest.mark.parametrize("role", ROLES)
def test_list_reports_every_role(world, role):
    _app, post = blog_post(world)
    world.as_("visitor").ok("POST", "reports",
                            json={"object_type": "blog_post", "object_id": post})
    r = world.as_(role).get(f"spaces/{world.slug}/reports", expect=EXPECT_LIST[role])
    if r.status_code == 200:
        items = r.json()["items"]
        assert [i["object_id"] for i in items] == [post]
        assert items[0]["reporter"]["name"] == world.as_("visitor").name
        assert items[0]["page_id"] is not None
    else:
        assert r.json()["message"]


@pytest.mark.parametrize("role", ROLES)
def test_moderate_every_role(world, role):
    _app, post = blog_post(world)
    r = world.as_(role).post("moderation", json={"object_type": "blog_post", "object_id": post,
                                                 "action": "hide"},
                             expect=EXPECT_MODERATE[role])
    if r.status_code == 201:
        assert r.json()["action"] == "hide" and r.json()["hidden"] is True
    else:
        assert r.json()["message"]


@pytest.mark.parametrize("role", ROLES)
def test_moderate_pupils_corner_every_role(world, role):
    """Teachers moderate Home and Activities only; teacher administrators everywhere."""
    _app, post = blog_post(world, "pupils_corner")
    r = world.as_(role).post("moderation", json={"object_type": "blog_post", "object_id": post,
                                                 "action": "hide"},
                             expect=EXPECT_MODERATE_PUPILS_CORNER[role])
    if role == "teacher":
        assert "teacher may not moderate" in r.json()["message"]


@pytest.mark.parametrize("role", ROLES)
def test_dismiss_every_role(world, role):
    _app, post = blog_post(world)
    report = world.as_("pupil").ok("POST", "reports",
                                   json={"object_type": "blog_post", "object_id": post})
    r = world.as_(role).post(f"reports/{report['id']}/dismiss", json={"reason": "Fine"},
                             expect=EXPECT_DISMISS[role])
    if r.status_code == 200:
        assert r.json()["status"] == "resolved" and r.json()["resolution"] == "dismiss"


@pytest.mark.parametrize("role", ROLES)
def test_log_every_role(world, role):
    _app, post = blog_post(world)
    world.as_("teacher").ok("POST", "moderation",
                            json={"object_type": "blog_post", "object_id": post,
                                  "action": "hide", "reason": "Spam"})
    r = world.as_(role).get(f"spaces/{world.slug}/moderation-log", expect=EXPECT_LOG[role])
    if r.status_code == 200:
        (entry,) = r.json()["items"]
        assert entry["action"] == "hide" and entry["reason"] == "Spam"
        assert entry["moderator"]["name"] == world.as_("teacher").name


# --- the whole story --------------------------------------------------------------------------


def test_report_hide_unhide_delete(world):
    ta, teacher, pupil = world.as_("teacher_admin"), world.as_("teacher"), world.as_("pupil")
    app, post = blog_post(world, author="pupil_admin", title="Bad words")

    def pupil_sees() -> list[int]:
        return [p["id"] for p in pupil.ok("GET", f"apps/{app}/posts")["items"]]

    assert pupil_sees() == [post]
    report = world.as_("visitor").ok("POST", "reports", json={
        "object_type": "blog_post", "object_id": post, "reason": "Insulting"})
    # One open report per reporter and object.
    world.as_("visitor").post("reports", json={"object_type": "blog_post", "object_id": post},
                              expect=409)
    listed = teacher.ok("GET", f"spaces/{world.slug}/reports")["items"]
    assert [(i["id"], i["reason"], i["hidden"]) for i in listed] == [
        (report["id"], "Insulting", False)]

    hidden = teacher.ok("POST", "moderation", json={
        "object_type": "blog_post", "object_id": post, "action": "hide",
        "report_id": report["id"], "reason": "Insults"})
    assert hidden["hidden"] is True and hidden["report_id"] == report["id"]
    # Gone for the pupil, flagged for the moderator.
    assert pupil_sees() == []
    pupil.get(f"posts/{post}", expect=404)
    seen = teacher.ok("GET", f"apps/{app}/posts")["items"]
    assert [(p["id"], p["hidden"]) for p in seen] == [(post, True)]
    # Hidden from the pupil: they cannot report it either.
    pupil.post("reports", json={"object_type": "blog_post", "object_id": post}, expect=404)
    # The report is resolved, by the teacher, with "hide".
    assert teacher.ok("GET", f"spaces/{world.slug}/reports")["items"] == []
    (resolved,) = teacher.ok("GET", f"spaces/{world.slug}/reports?status=resolved")["items"]
    assert resolved["status"] == "resolved" and resolved["resolution"] == "hide"
    assert resolved["resolved_by"]["name"] == teacher.name

    ta.ok("POST", "moderation", json={"object_type": "blog_post", "object_id": post,
                                      "action": "unhide"})
    assert pupil_sees() == [post]

    # A new report, then delete: the report is resolved, the post gone for everyone.
    report2 = pupil.ok("POST", "reports", json={"object_type": "blog_post", "object_id": post})
    ta.ok("POST", "moderation", json={"object_type": "blog_post", "object_id": post,
                                      "action": "delete", "reason": "Really bad"})
    ta.get(f"posts/{post}", expect=404)
    assert pupil_sees() == []
    (gone,) = [r for r in ta.ok("GET", f"spaces/{world.slug}/reports?status=resolved")["items"]
               if r["id"] == report2["id"]]
    assert gone["exists"] is False and gone["resolution"] is None

    log = ta.ok("GET", f"spaces/{world.slug}/moderation-log")["items"]
    assert [(e["action"], e["moderator"]["name"]) for e in log] == [
        ("delete", ta.name), ("unhide", ta.name), ("hide", teacher.name)]
    assert log[0]["exists"] is False and log[2]["excerpt"] is None


def test_report_and_moderation_errors(world):
    ta, pupil = world.as_("teacher_admin"), world.as_("pupil")
    _app, post = blog_post(world)
    pupil.post("reports", json={"object_type": "spaceship", "object_id": post}, expect=400)
    pupil.post("reports", json={"object_type": "blog_post", "object_id": 99999999}, expect=404)
    pupil.post("reports", json={"object_type": "blog_post", "object_id": "x"}, expect=400)
    pupil.post("reports", json={"object_type": "blog_post"}, expect=400)
    ta.post("moderation", json={"object_type": "blog_post", "object_id": post,
                                "action": "burn"}, expect=400)
    ta.post("moderation", json={"object_type": "comment", "object_id": 99999999,
                                "action": "hide"}, expect=404)
    ta.get(f"spaces/{world.slug}/reports?status=maybe", expect=400)
    ta.post("reports/99999999/dismiss", expect=404)
    # A report about something else cannot be resolved by this action.
    _app2, other = blog_post(world, title="Other")
    report = pupil.ok("POST", "reports", json={"object_type": "blog_post", "object_id": other})
    ta.post("moderation", json={"object_type": "blog_post", "object_id": post,
                                "action": "hide", "report_id": report["id"]}, expect=400)
    # Dismissing twice.
    ta.ok("POST", f"reports/{report['id']}/dismiss")
    ta.post(f"reports/{report['id']}/dismiss", expect=409)
    # After a dismissal the same member may report again.
    pupil.ok("POST", "reports", json={"object_type": "blog_post", "object_id": other})
    (entry,) = [e for e in ta.ok("GET", f"spaces/{world.slug}/moderation-log")["items"]]
    assert entry["action"] == "dismiss" and entry["report_id"] == report["id"]


def test_teacher_sees_only_reports_of_sections_they_moderate(world):
    ta, teacher = world.as_("teacher_admin"), world.as_("teacher")
    _a, corner = blog_post(world, "pupils_corner")
    _b, acts = blog_post(world, "activities")
    for post in (corner, acts):
        world.as_("pupil").ok("POST", "reports",
                              json={"object_type": "blog_post", "object_id": post})
    assert [i["object_id"] for i in teacher.ok("GET", f"spaces/{world.slug}/reports")["items"]
            ] == [acts]
    assert [i["object_id"] for i in ta.ok("GET", f"spaces/{world.slug}/reports")["items"]
            ] == [acts, corner]
    (report,) = [i for i in ta.ok("GET", f"spaces/{world.slug}/reports")["items"]
                 if i["object_id"] == corner]
    teacher.post(f"reports/{report['id']}/dismiss", expect=403)
    # Keyset pagination, newest first.
    page1 = ta.ok("GET", f"spaces/{world.slug}/reports?limit=1")
    assert [i["object_id"] for i in page1["items"]] == [acts] and page1["next"]
    page2 = ta.ok("GET", f"spaces/{world.slug}/reports?limit=1&before={page1['next']}")
    assert [i["object_id"] for i in page2["items"]] == [corner] and page2["next"] is None


def test_every_content_type(world, site):
    """Each registered type can be reported, hidden (or not, for wiki pages) and deleted."""
    ta, pa, pupil = world.as_("teacher_admin"), world.as_("pupil_admin"), world.as_("pupil")
    _app, post = blog_post(world)
    comment = pupil.ok("POST", f"posts/{post}/comments", json={"body": "A *comment*"})["id"]
    forum = world.new_app("forum")
    thread = pa.ok("POST", f"apps/{forum}/threads", json={"title": "Topic", "body": "Opening"})
    opening = thread["replies"]["items"][0]["id"]
    reply = pupil.ok("POST", f"threads/{thread['id']}/replies", json={"body": "Reply!"})["id"]
    wiki_app = world.new_app("wiki")
    wiki = pupil.ok("POST", f"apps/{wiki_app}/wiki", json={"title": "Plants", "text": "Green"})
    docs = world.new_app("documents")
    doc = pa.ok("POST", f"apps/{docs}/documents?filename=notes.txt", data=b"Some notes.")
    gallery = world.new_app("gallery")
    album = pa.ok("POST", f"apps/{gallery}/albums", json={"title": "Trip"})["id"]
    photo = pa.ok("POST", f"albums/{album}/photos?filename=p.png&caption=Lake",
                  data=png_bytes())
    room = pupil.ok("GET", f"spaces/{world.slug}/rooms")["items"][0]["id"]
    message = pupil.ok("POST", f"rooms/{room}/messages", json={"body": "Hello chat"})["id"]
    wall = world.as_("visitor").ok(
        "POST", f"spaces/{world.slug}/members/{ta.name}/wall", json={"body": "Hi wall"})["id"]
    event = pa.ok("POST", f"spaces/{world.slug}/events",
                  json={"kind": "deadline", "title": "Hand in", "starts_at": "2031-05-02"})["id"]

    items = {
        "comment": (comment, "A comment", "activities"),
        "forum_thread": (thread["id"], "Topic", "activities"),
        "forum_reply": (reply, "Reply!", "activities"),
        "wiki_page": (wiki["id"], "Plants: Green", "activities"),
        "document": (doc["id"], "notes.txt", "activities"),
        "photo": (photo["id"], "Lake (p.png)", "activities"),
        "chat_message": (message, "Hello chat", "chat"),
        "wall_post": (wall, "Hi wall", "home"),
        "event": (event, "Hand in", "home"),
    }
    for object_type, (object_id, excerpt, section) in items.items():
        report = pupil.ok("POST", "reports",
                          json={"object_type": object_type, "object_id": object_id})
        assert (report["excerpt"], report["section"]) == (excerpt, section), object_type
        action = "delete" if object_type == "wiki_page" else "hide"
        if object_type == "wiki_page":
            ta.post("moderation", json={"object_type": "wiki_page", "object_id": object_id,
                                        "action": "hide"}, expect=400)
        done = ta.ok("POST", "moderation", json={"object_type": object_type,
                                                 "object_id": object_id, "action": action,
                                                 "report_id": report["id"]})
        assert done["action"] == action, object_type
    # Hidden for the pupil everywhere.
    assert pupil.ok("GET", f"posts/{post}/comments")["items"] == []
    pupil.get(f"threads/{thread['id']}", expect=404)
    pupil.get(f"wiki/{wiki['id']}", expect=404)
    pupil.get(f"documents/{doc['id']}", expect=404)
    pupil.get(f"photos/{photo['id']}", expect=404)
    assert message not in [m["id"] for m in pupil.ok("GET", f"rooms/{room}/messages")["items"]]
    assert ta.ok("GET", f"spaces/{world.slug}/reports")["items"] == []

    # The opening message of a thread goes with its thread.
    ta.post("moderation", json={"object_type": "forum_reply", "object_id": opening,
                                "action": "delete"}, expect=409)
    ta.ok("POST", "moderation", json={"object_type": "forum_reply", "object_id": reply,
                                      "action": "delete"})
    assert ta.ok("GET", f"threads/{thread['id']}")["reply_count"] == 1

    # Deleting a document or photo removes its stored files too.
    before = blob_count(site)
    ta.ok("POST", "moderation", json={"object_type": "document", "object_id": doc["id"],
                                      "action": "delete"})
    ta.ok("POST", "moderation", json={"object_type": "photo", "object_id": photo["id"],
                                      "action": "delete"})
    assert blob_count(site) == before - 3  # the document, the photo and its thumbnail
    ta.get(f"documents/{doc['id']}", expect=404)

    # Deleting a post closes the open reports on its comments.
    ta.ok("POST", "moderation", json={"object_type": "comment", "object_id": comment,
                                      "action": "unhide"})
    pupil.ok("POST", "reports", json={"object_type": "comment", "object_id": comment})
    ta.ok("POST", "moderation", json={"object_type": "blog_post", "object_id": post,
                                      "action": "delete"})
    assert ta.ok("GET", f"spaces/{world.slug}/reports")["items"] == []


def test_wall_post_on_a_pupils_wall_is_not_reportable_by_visitors(world):
    wall = world.as_("teacher").ok(
        "POST", f"spaces/{world.slug}/members/{world.as_('pupil').name}/wall",
        json={"body": "Well done"})["id"]
    world.as_("visitor").post("reports", json={"object_type": "wall_post", "object_id": wall},
                              expect=403)
    world.as_("pupil_admin").ok("POST", "reports",
                                json={"object_type": "wall_post", "object_id": wall})


def test_deleting_from_an_items_own_menu_is_logged_and_closes_its_reports(world):
    """A moderator's Delete from a post's menu (not the queue) is logged and closes reports;
    an author deleting their own item is not a moderator action."""
    ta, pa, pupil = world.as_("teacher_admin"), world.as_("pupil_admin"), world.as_("pupil")
    _app, post = blog_post(world, author="pupil", title="Rude post")
    comment = pupil.ok("POST", f"posts/{post}/comments", json={"body": "Rude comment"})["id"]
    forum = world.new_app("forum")
    thread = pa.ok("POST", f"apps/{forum}/threads", json={"title": "Topic", "body": "Opening"})
    reply = pupil.ok("POST", f"threads/{thread['id']}/replies", json={"body": "Rude"})["id"]
    wiki_app = world.new_app("wiki")
    wiki = pupil.ok("POST", f"apps/{wiki_app}/wiki", json={"title": "Rude", "text": "Page"})
    docs = world.new_app("documents")
    doc = pa.ok("POST", f"apps/{docs}/documents?filename=rude.txt", data=b"Rude.")["id"]
    gallery = world.new_app("gallery")
    album = pa.ok("POST", f"apps/{gallery}/albums", json={"title": "Trip"})["id"]
    photo = pa.ok("POST", f"albums/{album}/photos?filename=p.png", data=png_bytes())["id"]
    event = pa.ok("POST", f"spaces/{world.slug}/events",
                  json={"kind": "deadline", "title": "Rude", "starts_at": "2031-05-02"})["id"]
    wall = pupil.ok("POST", f"spaces/{world.slug}/members/{world.as_('teacher').name}/wall",
                    json={"body": "Rude wall"})["id"]
    own = ta.ok("POST", f"apps/{_app}/posts", json={"title": "Mine", "body": "Mine"})["id"]
    items = [("comment", comment, f"comments/{comment}"),
             ("forum_reply", reply, f"replies/{reply}"),
             ("forum_thread", thread["id"], f"threads/{thread['id']}"),
             ("wiki_page", wiki["id"], f"wiki/{wiki['id']}"),
             ("document", doc, f"documents/{doc}"),
             ("photo", photo, f"photos/{photo}"),
             ("event", event, f"events/{event}"),
             ("wall_post", wall, f"wall-posts/{wall}"),
             ("blog_post", post, f"posts/{post}")]
    for object_type, object_id, _url in items:
        world.as_("teacher").ok("POST", "reports",
                                json={"object_type": object_type, "object_id": object_id})
    for _type, _id, url in [*items, ("blog_post", own, f"posts/{own}")]:
        ta.delete(url, expect=204)
    # Every open report is closed, by the teacher administrator.
    assert ta.ok("GET", f"spaces/{world.slug}/reports")["items"] == []
    resolved = ta.ok("GET", f"spaces/{world.slug}/reports?status=resolved&limit=100")["items"]
    assert {r["resolved_by"]["name"] for r in resolved} == {ta.name}
    # Each deletion of someone else's item is in the log, oldest last; their own is not.
    log = ta.ok("GET", f"spaces/{world.slug}/moderation-log")["items"]
    assert [(e["action"], e["object_type"], e["object_id"], e["moderator"]["name"])
            for e in reversed(log)] == [("delete", t, i, ta.name) for t, i, _u in items]
    # An author deleting their own item writes nothing to the log.
    mine = pupil.ok("POST", f"posts/{_own_post(world, pupil)}/comments",
                    json={"body": "Oops"})["id"]
    pupil.delete(f"comments/{mine}", expect=204)
    assert len(ta.ok("GET", f"spaces/{world.slug}/moderation-log")["items"]) == len(log)


def test_an_author_deleting_a_reported_item_closes_its_reports(world):
    """Nothing is left to moderate: the queue no longer lists it, and nothing is logged."""
    ta, pupil = world.as_("teacher_admin"), world.as_("pupil")
    post = _own_post(world, pupil)
    comment = pupil.ok("POST", f"posts/{post}/comments", json={"body": "Rude"})["id"]
    for object_type, object_id in (("blog_post", post), ("comment", comment)):
        world.as_("teacher").ok("POST", "reports",
                                json={"object_type": object_type, "object_id": object_id})
    log = ta.ok("GET", f"spaces/{world.slug}/moderation-log")["items"]
    open_before = ta.ok("GET", f"spaces/{world.slug}/reports?limit=100")["items"]
    assert {(r["object_type"], r["object_id"]) for r in open_before} >= {
        ("blog_post", post), ("comment", comment)}

    pupil.delete(f"posts/{post}", expect=204)  # the comment goes with it
    still_open = ta.ok("GET", f"spaces/{world.slug}/reports?limit=100")["items"]
    assert not {(r["object_type"], r["object_id"]) for r in still_open} & {
        ("blog_post", post), ("comment", comment)}
    resolved = ta.ok("GET", f"spaces/{world.slug}/reports?status=resolved&limit=100")["items"]
    closed = {(r["object_type"], r["object_id"]): r["resolved_by"]["name"] for r in resolved}
    assert closed[("blog_post", post)] == closed[("comment", comment)] == pupil.name
    assert len(ta.ok("GET", f"spaces/{world.slug}/moderation-log")["items"]) == len(log)


def _own_post(world, caller) -> int:
    app = world.new_app("blog")
    return caller.ok("POST", f"apps/{app}/posts", json={"title": "T", "body": "B"})["id"]


def test_deleting_an_album_or_folder_logs_the_items_that_went_with_it(world):
    ta, pa = world.as_("teacher_admin"), world.as_("pupil_admin")
    gallery = world.new_app("gallery")
    album = pa.ok("POST", f"apps/{gallery}/albums", json={"title": "Trip"})["id"]
    photo = pa.ok("POST", f"albums/{album}/photos?filename=p.png", data=png_bytes())["id"]
    docs = world.new_app("documents")
    folder = pa.ok("POST", f"apps/{docs}/folders", json={"name": "Notes"})["id"]
    doc = pa.ok("POST", f"apps/{docs}/documents?filename=n.txt&folder={folder}",
                data=b"Notes")["id"]
    for object_type, object_id in (("photo", photo), ("document", doc)):
        world.as_("pupil").ok("POST", "reports",
                              json={"object_type": object_type, "object_id": object_id})
    ta.delete(f"albums/{album}", expect=204)
    ta.delete(f"folders/{folder}", expect=204)
    assert ta.ok("GET", f"spaces/{world.slug}/reports")["items"] == []
    log = ta.ok("GET", f"spaces/{world.slug}/moderation-log")["items"]
    assert [(e["action"], e["object_type"], e["object_id"]) for e in log] == [
        ("delete", "document", doc), ("delete", "photo", photo)]


def test_reports_carry_the_reported_text_in_context(world):
    """A moderator reads what was reported where: its page, application, thread or post,
    who wrote it, who reported it and why; the log keeps the same context."""
    ta, pa, pupil = world.as_("teacher_admin"), world.as_("pupil_admin"), world.as_("pupil")
    page = world.add_page("activities", "Rivers of Europe")
    forum = world.add_app(page, "forum", "Questions")
    thread = pa.ok("POST", f"apps/{forum}/threads", json={"title": "Floods", "body": "Why?"})
    opening = thread["replies"]["items"][0]["id"]
    long_text = "Rude words. " + "And more words after them. " * 20
    reply = pupil.ok("POST", f"threads/{thread['id']}/replies", json={"body": long_text})["id"]
    _app, post = blog_post(world, author="teacher", title="Our trip")
    comment = pupil.ok("POST", f"posts/{post}/comments", json={"body": "Silly *trip*"})["id"]
    room = pupil.ok("GET", f"spaces/{world.slug}/rooms")["items"][0]
    message = pupil.ok("POST", f"rooms/{room['id']}/messages", json={"body": "Go away"})["id"]
    wall = pupil.ok("POST", f"spaces/{world.slug}/members/{pa.name}/wall",
                    json={"body": "Mean"})["id"]
    pupil_name = pupil.ok("GET", "me")["user"]["display_name"]
    pa_name = pa.ok("GET", "me")["user"]["display_name"]

    report = pa.ok("POST", "reports", json={"object_type": "forum_reply", "object_id": reply,
                                            "reason": "Insults"})
    # The report answer, and the queue, carry the whole text (the excerpt is short).
    assert report["text"] == long_text.strip() and len(report["excerpt"]) <= 200
    (listed,) = ta.ok("GET", f"spaces/{world.slug}/reports")["items"]
    assert listed["text"] == long_text.strip()
    assert (listed["author"]["display_name"], listed["reporter"]["display_name"],
            listed["reason"]) == (pupil_name, pa_name, "Insults")
    assert listed["context"] == {
        "section": "activities", "page_id": page, "page_title": "Rivers of Europe",
        "app_id": forum, "app_kind": "forum", "app_title": "Questions",
        "within": {"type": "forum_thread", "id": thread["id"], "title": "Floods",
                   "opening": False},
    }
    contexts = {}
    for object_type, object_id in (("forum_reply", opening), ("comment", comment),
                                   ("chat_message", message), ("wall_post", wall)):
        made = ta.ok("POST", "reports", json={"object_type": object_type,
                                              "object_id": object_id})
        contexts[object_type] = made["context"]
    assert contexts["forum_reply"]["within"]["opening"] is True
    assert contexts["comment"]["within"] == {"type": "blog_post", "id": post,
                                             "title": "Our trip"}
    assert contexts["comment"]["app_kind"] == "blog"
    assert contexts["chat_message"] == {
        "section": "chat", "page_id": None, "page_title": None, "app_id": None,
        "app_kind": None, "app_title": None,
        "within": {"type": "chat_room", "id": room["id"], "title": room["name"]}}
    within_wall = contexts["wall_post"]["within"]
    assert within_wall["type"] == "wall" and within_wall["member"]["name"] == pa.name

    # The log says who did what to what, and where.
    ta.ok("POST", "moderation", json={"object_type": "forum_reply", "object_id": reply,
                                      "action": "hide", "report_id": report["id"]})
    entry = ta.ok("GET", f"spaces/{world.slug}/moderation-log")["items"][0]
    assert (entry["action"], entry["object_id"], entry["hidden"]) == ("hide", reply, True)
    assert entry["author"]["display_name"] == pupil_name
    assert entry["context"]["within"]["title"] == "Floods"
    assert entry["context"]["page_title"] == "Rivers of Europe"


def test_acting_from_the_queue_closes_every_report_on_the_item(world):
    """Two members reported the same reply: one Hide closes both, and Unhide and Delete
    close the reports made since; each action is one log entry."""
    ta, teacher = world.as_("teacher_admin"), world.as_("teacher")
    forum = world.new_app("forum")
    thread = world.as_("pupil_admin").ok("POST", f"apps/{forum}/threads",
                                         json={"title": "T", "body": "Opening"})
    reply = world.as_("pupil").ok("POST", f"threads/{thread['id']}/replies",
                                  json={"body": "Nasty"})["id"]
    target = {"object_type": "forum_reply", "object_id": reply}

    def report(role: str) -> int:
        return world.as_(role).ok("POST", "reports", json=target)["id"]

    def open_reports() -> list[int]:
        return [r["id"] for r in teacher.ok("GET", f"spaces/{world.slug}/reports")["items"]]

    first, second = report("visitor"), report("pupil_admin")
    assert open_reports() == [second, first]
    teacher.ok("POST", "moderation", json={**target, "action": "hide", "report_id": first})
    assert open_reports() == []
    resolved = {r["id"]: r for r in teacher.ok(
        "GET", f"spaces/{world.slug}/reports?status=resolved")["items"]}
    assert {resolved[i]["resolved_by"]["name"] for i in (first, second)} == {teacher.name}

    third = report("teacher_admin")  # moderators see hidden items and may report them
    teacher.ok("POST", "moderation", json={**target, "action": "unhide"})
    assert third not in open_reports()
    report("visitor")
    teacher.ok("POST", "moderation", json={**target, "action": "delete", "report_id": None})
    assert open_reports() == []
    log = ta.ok("GET", f"spaces/{world.slug}/moderation-log")["items"]
    assert [(e["action"], e["moderator"]["name"], e["object_id"]) for e in log] == [
        ("delete", teacher.name, reply), ("unhide", teacher.name, reply),
        ("hide", teacher.name, reply)]
    assert log[0]["exists"] is False and log[0]["context"] is None


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_moderation_queue_widget(world, language):
    """The member view's Moderation tool, as a kernel runs it: the reported text in
    context, Hide and Dismiss through the service, the log for the teacher administrator,
    a polite refusal for a pupil, in the member's language."""
    from twinspace_kernel import i18n
    from twinspace_kernel.apps.moderation import ModerationQueue

    words = {
        "en": {"hide": "Hide", "dismiss": "Dismiss", "empty": "No open reports",
               "hidden": "Hidden: only moderators see it now.", "log": "Moderation log",
               "refused": "Sorry, this page is not available to you.",
               "thread": "in the thread “Floods”", "action": "Hidden"},
        "fr": {"hide": "Masquer", "dismiss": "Classer", "empty": "Aucun signalement ouvert",
               "hidden": "Masqué : seuls les modérateurs le voient désormais.",
               "log": "Journal de modération",
               "refused": "Désolé, cette page ne vous est pas accessible.",
               "thread": "dans la discussion « Floods »", "action": "Masqué"},
    }[language]
    i18n.set_language(language)
    try:
        pa, pupil = world.as_("pupil_admin"), world.as_("pupil")
        forum = world.add_app(world.add_page("activities", "Rivers"), "forum")
        thread = pa.ok("POST", f"apps/{forum}/threads", json={"title": "Floods", "body": "?"})
        rude = pupil.ok("POST", f"threads/{thread['id']}/replies",
                        json={"body": "You are all **stupid**"})["id"]
        fine = pupil.ok("POST", f"threads/{thread['id']}/replies",
                        json={"body": "Rivers are nice"})["id"]
        for reply, reason in ((rude, "Insults"), (fine, "")):
            pa.ok("POST", "reports", json={"object_type": "forum_reply", "object_id": reply,
                                           "reason": reason})

        queue = ModerationQueue(world.slug, client=world.client("teacher_admin"))
        assert queue.banner.layout.display == "none", queue.banner.value
        by_id = {item.object_id: item for item in queue.items}
        assert set(by_id) == {rude, fine}
        shown = by_id[rude].description.value
        assert "You are all stupid" in shown and "**" not in shown
        assert words["thread"] in shown and "Insults" in shown
        assert by_id[rude].hide_button.description == words["hide"]
        by_id[rude].note_input.value = "Not kind"
        by_id[rude].hide_button.click()
        assert words["hidden"] in queue.banner.value
        assert [item.object_id for item in queue.items] == [fine]
        seen = pupil.ok("GET", f"threads/{thread['id']}")["replies"]["items"]
        assert [r["id"] for r in seen if r["id"] in (rude, fine)] == [fine]
        # The log, for the teacher administrator: who, what, to what, why.
        assert words["log"] in queue.log_part.children[0].value
        log = queue.log_table.value
        assert words["action"] in log and "You are all stupid" in log and "Not kind" in log

        assert queue.items[0].dismiss_button.description == words["dismiss"]
        queue.items[0].dismiss_button.click()
        assert queue.items == []
        assert words["empty"] in queue.reports_box.children[0].value
        assert world.as_("teacher_admin").ok(
            "GET", f"spaces/{world.slug}/reports")["items"] == []

        # A plain teacher moderates but does not see the log.
        teacher_view = ModerationQueue(world.slug, client=world.client("teacher"))
        assert teacher_view.log_part not in teacher_view.body.children
        # A pupil opening the tool: the polite refusal, nothing of the queue.
        refused = ModerationQueue(world.slug, client=world.client("pupil"))
        assert words["refused"] in refused.banner.value
        assert refused.body.children == () and refused.title.value == ""
    finally:
        i18n.set_language("en")
