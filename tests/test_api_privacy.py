"""Personal data export and erasure (F35) and the cooperation report (F33), through the real
hub and service. Expected statuses are written out per role, never computed from rights.py.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image
from utils import ROLES

# GET /me/export: anyone with an account (members or not).
EXPECT_EXPORT = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
                 "visitor": 200, "outsider": 200, "public": 401}
# DELETE /me: the world's teacher administrator is its only one (409).
EXPECT_ERASE = {"teacher_admin": 409, "teacher": 204, "pupil_admin": 204, "pupil": 204,
                "visitor": 204, "outsider": 204, "public": 401}
# GET /spaces/{slug}/cooperation-report: the space's teachers.
EXPECT_REPORT = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 403, "pupil": 403,
                 "visitor": 403, "outsider": 403, "public": 401}


@pytest.mark.parametrize("role", ROLES)
def test_export_every_role(world, role):
    caller = world.as_(role)
    r = caller.get("me/export", expect=EXPECT_EXPORT[role])
    if r.status_code == 200:
        assert r.headers["Content-Disposition"] == (
            f'attachment; filename="twinspace-{caller.name}.json"')
        doc = r.json()
        assert doc["account"]["name"] == caller.name
        spaces = [ms["space"] for ms in doc["memberships"]]
        assert spaces == ([] if role == "outsider" else [world.slug])
    else:
        assert r.json()["message"]


@pytest.mark.parametrize("role", ROLES)
def test_erase_every_role(world, role):
    caller = world.as_(role)
    r = caller.delete("me", json={"confirm": caller.name or "nobody"},
                      expect=EXPECT_ERASE[role])
    if r.status_code == 204:
        # The account is gone: the hub identity has no TwinSpace account any more.
        caller.get("me/export", expect=403)
        members = world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/members")["items"]
        assert caller.name not in [mb["name"] for mb in members]
    elif r.status_code == 409:
        assert "last teacher administrator" in r.json()["message"]
        assert r.json()["spaces"] == [world.slug]
    else:
        assert r.json()["message"]


@pytest.mark.parametrize("role", ROLES)
def test_cooperation_report_every_role(world, role):
    r = world.as_(role).get(f"spaces/{world.slug}/cooperation-report",
                            expect=EXPECT_REPORT[role])
    if r.status_code == 200:
        assert r.json()["space"] == world.slug
    else:
        assert r.json()["message"]


def test_export_holds_what_the_member_wrote(world):
    pupil, ta = world.as_("pupil"), world.as_("teacher_admin")
    app = world.new_app("blog")
    post = pupil.ok("POST", f"apps/{app}/posts", json={"title": "My trip", "body": "We *went*"})
    pupil.ok("POST", f"posts/{post['id']}/comments", json={"body": "Nice, says me"})
    pupil.ok("PUT", "me/profile", json={"hobbies": "Chess"})
    pupil.ok("POST", "mail", json={"space": world.slug, "to": [ta.name], "subject": "Hello",
                                   "body": "Question"})
    ta.ok("POST", "mail", json={"space": world.slug, "to": [pupil.name], "subject": "Answer",
                                "body": "Reply"})
    doc = pupil.ok("GET", "me/export")
    assert [(p["title"], p["body"], p["space"], p["section"]) for p in doc["blog_posts"]] == [
        ("My trip", "We *went*", world.slug, "activities")]
    assert [c["body"] for c in doc["comments"]] == ["Nice, says me"]
    assert doc["profile"]["hobbies"] == "Chess"
    assert [(mail["subject"], mail["to"]) for mail in doc["mail_sent"]] == [
        ("Hello", [ta.name])]
    assert [(mail["subject"], mail["from"]) for mail in doc["mail_received"]] == [
        ("Answer", ta.name)]
    assert doc["memberships"][0]["role"] == "pupil"
    # Nothing of anyone else's.
    assert ta.ok("GET", "me/export")["blog_posts"] == []


def test_erasure_keeps_content_without_author(world, site):
    pupil, ta = world.as_("pupil"), world.as_("teacher_admin")
    app = world.new_app("blog")
    post = pupil.ok("POST", f"apps/{app}/posts", json={"title": "Kept", "body": "Our work"})
    pupil.ok("PUT", "me/profile", json={"interests": "Birds"})
    buf = io.BytesIO()
    Image.new("RGB", (60, 40), (200, 10, 10)).save(buf, "PNG")
    pupil.ok("PUT", "me/profile/photo?filename=me.png", data=buf.getvalue())
    blobs = site.hub.data_dir / "files"
    before = sum(1 for p in blobs.rglob("*") if p.is_file())
    world.as_("teacher").ok("POST", f"spaces/{world.slug}/members/{pupil.name}/wall",
                            json={"body": "Bravo"})
    ta.ok("POST", "mail", json={"space": world.slug, "to": [pupil.name], "subject": "Hi",
                                "body": "Hello pupil"})

    pupil.delete("me", json={"confirm": "someone-else"}, expect=400)
    pupil.delete("me", json={}, expect=400)
    pupil.delete("me", json={"confirm": pupil.name}, expect=204)
    # The profile photo's file is deleted with the account.
    assert sum(1 for p in blobs.rglob("*") if p.is_file()) == before - 1

    kept = ta.ok("GET", f"posts/{post['id']}")
    assert (kept["title"], kept["author"]) == ("Kept", None)
    ta.get(f"spaces/{world.slug}/members/{pupil.name}", expect=404)
    ta.get(f"spaces/{world.slug}/members/{pupil.name}/profile", expect=404)
    # The mail the pupil received is gone; the sender still has it in "sent".
    sent = ta.ok("GET", "mail/sent")["items"]
    assert [mail["subject"] for mail in sent] == ["Hi"]
    # Erasing again: there is no account left to erase.
    pupil.delete("me", json={"confirm": pupil.name}, expect=403)


def test_second_teacher_admin_may_leave(world, site):
    ta, teacher = world.as_("teacher_admin"), world.as_("teacher")
    ta.ok("PATCH", f"spaces/{world.slug}/members/{teacher.name}",
          json={"role": "teacher_admin"})
    ta.delete("me", json={"confirm": ta.name}, expect=204)
    # The other one is now the last.
    teacher.delete("me", json={"confirm": teacher.name}, expect=409)
    assert teacher.ok("GET", f"spaces/{world.slug}")["role"] == "teacher_admin"


def test_cooperation_report_counts_cross_school_work(site):
    founder = site.account("teacher", prefix="ta", school="Lycée A", country="FR")
    world = site.space(founder)
    partner = site.account("teacher", prefix="tb", school="Schule B", country="DE")
    site.admin.ok("PUT", f"spaces/{world.slug}/members/{partner.name}", json={"role": "teacher"})
    ta, teacher = world.as_("teacher_admin"), world.as_("teacher")  # teacher: École Test

    journal = world.app_id("blog", "home")
    post = ta.ok("POST", f"apps/{journal}/posts", json={"title": "Day 1", "body": "Hello"})["id"]
    partner.ok("POST", f"posts/{post}/comments", json={"body": "Greetings from B"})
    partner.ok("POST", f"posts/{post}/comments", json={"body": "And again"})
    ta.ok("POST", f"posts/{post}/comments", json={"body": "Same school: not cross"})

    forum = world.new_app("forum")
    thread = ta.ok("POST", f"apps/{forum}/threads", json={"title": "Q", "body": "Ideas?"})["id"]
    partner.ok("POST", f"threads/{thread}/replies", json={"body": "Mine!"})

    wiki_app = world.new_app("wiki")
    shared = ta.ok("POST", f"apps/{wiki_app}/wiki", json={"title": "Shared", "text": "A"})
    partner.ok("PUT", f"wiki/{shared['id']}", json={"text": "A\nB", "base_revision": 1})
    ta.ok("POST", f"apps/{wiki_app}/wiki", json={"title": "Alone", "text": "only A"})

    report = teacher.ok("GET", f"spaces/{world.slug}/cooperation-report")
    schools = {(s["school"], s["country"]): s for s in report["schools"]}
    a, b = schools[("Lycée A", "FR")], schools[("Schule B", "DE")]
    assert (b["comments"], b["cross_school_comments"]) == (2, 2)
    assert (a["comments"], a["cross_school_comments"]) == (1, 0)
    assert (b["forum_replies"], b["cross_school_replies"]) == (1, 1)
    assert (a["forum_threads"], a["forum_replies"], a["cross_school_replies"]) == (1, 1, 0)
    assert (a["wiki_revisions"], b["wiki_revisions"]) == (2, 1)
    assert a["co_written_wiki_pages"] == b["co_written_wiki_pages"] == 1
    assert a["blog_posts"] == 1 and b["members"] == 1
    assert report["cross_school"] == {"comments": 2, "forum_replies": 1, "wiki_pages": 1}
    assert report["totals"]["wiki_pages"] == 2

    # Hidden (moderated) content does not count.
    comments = ta.ok("GET", f"posts/{post}/comments")["items"]
    first_b = next(c for c in comments if c["body"] == "Greetings from B")
    ta.ok("POST", "moderation", json={"object_type": "comment", "object_id": first_b["id"],
                                      "action": "hide"})
    again = ta.ok("GET", f"spaces/{world.slug}/cooperation-report")
    assert again["cross_school"]["comments"] == 1


# --- a teacher and the data of the pupils they manage (F35) -----------------------------------

# (the teacher's own pupil, a pupil the teacher administrator created): export and erase.
EXPECT_PUPIL_DATA = {"teacher_admin": (200, 200), "teacher": (200, 403),
                     "pupil_admin": (403, 403), "pupil": (403, 403), "visitor": (403, 403),
                     "outsider": (403, 403), "public": (401, 401)}


def class_pupils(world) -> tuple[str, str]:
    """Two new pupils of the space: one the teacher created, one the teacher administrator."""
    path = f"spaces/{world.slug}/pupils"
    own = world.as_("teacher").ok("POST", path, json={"names": ["Tia Own"]})["items"][0]
    other = world.as_("teacher_admin").ok("POST", path, json={"names": ["Olga Other"]})
    return own["name"], other["items"][0]["name"]


@pytest.mark.parametrize("role", ROLES)
def test_pupil_export_every_role(world, role):
    caller = world.as_(role)
    for pupil, expect in zip(class_pupils(world), EXPECT_PUPIL_DATA[role], strict=True):
        r = caller.get(f"spaces/{world.slug}/pupils/{pupil}/export", expect=expect)
        if expect == 200:
            assert r.headers["Content-Disposition"] == (
                f'attachment; filename="twinspace-{pupil}.json"')
            assert r.json()["account"]["name"] == pupil
        else:
            assert r.json()["message"]


@pytest.mark.parametrize("role", ROLES)
def test_pupil_erase_every_role(world, role):
    caller, ta = world.as_(role), world.as_("teacher_admin")
    for pupil, expect in zip(class_pupils(world), EXPECT_PUPIL_DATA[role], strict=True):
        r = caller.delete(f"spaces/{world.slug}/pupils/{pupil}", json={"confirm": pupil},
                          expect=expect)
        members = [mb["name"] for mb in ta.ok("GET", f"spaces/{world.slug}/members")["items"]]
        if expect == 200:
            assert r.json()["name"] == pupil
            assert pupil not in members
        else:
            assert r.json()["message"]
            assert pupil in members


def test_teacher_downloads_then_erases_their_pupils_data(world, site):
    teacher, ta = world.as_("teacher"), world.as_("teacher_admin")
    name, _other = class_pupils(world)
    pupil = site.caller(name)
    app = world.new_app("blog")
    post = pupil.ok("POST", f"apps/{app}/posts", json={"title": "Our river", "body": "Clean"})
    pupil.ok("PUT", "me/profile", json={"hobbies": "Kayak"})
    doc = teacher.ok("GET", f"spaces/{world.slug}/pupils/{name}/export")
    assert [p["title"] for p in doc["blog_posts"]] == ["Our river"]
    assert doc["profile"]["hobbies"] == "Kayak"

    # Not a pupil, not in the space, a wrong confirmation: refused, nothing lost.
    teacher.get(f"spaces/{world.slug}/pupils/{ta.name}/export", expect=404)
    teacher.delete(f"spaces/{world.slug}/pupils/{ta.name}", json={"confirm": ta.name},
                   expect=404)
    teacher.delete(f"spaces/{world.slug}/pupils/{name}", json={"confirm": "tia"}, expect=400)
    teacher.delete(f"spaces/{world.slug}/pupils/{name}", json={}, expect=400)
    assert pupil.ok("GET", "me/profile")["hobbies"] == "Kayak"

    answer = teacher.ok("DELETE", f"spaces/{world.slug}/pupils/{name}", json={"confirm": name})
    assert answer["name"] == name
    # This test hub gives the service no right to delete hub users: it says so.
    assert answer["hub_user_removed"] is False
    pupil.get("me/export", expect=403)
    kept = ta.ok("GET", f"posts/{post['id']}")
    assert (kept["title"], kept["author"]) == ("Our river", None)
    teacher.get(f"spaces/{world.slug}/pupils/{name}/export", expect=404)
