"""Internal mail (F11, F12): send to members of a shared space, inbox, sent, unread, read."""

from __future__ import annotations

import threading
import time

import pytest
from utils import ROLES

SEND = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 201,
        "visitor": 201, "outsider": 403, "public": 401}
# Everyone with an account has a mailbox (an outsider's is just empty).
MAILBOX = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
           "visitor": 200, "outsider": 200, "public": 401}
# A mail from the teacher to the pupil: only those two may open it.
OPEN = {"teacher_admin": 404, "teacher": 200, "pupil_admin": 404, "pupil": 200,
        "visitor": 404, "outsider": 404, "public": 401}
# Read marks are for recipients only.
MARK = {"teacher_admin": 404, "teacher": 404, "pupil_admin": 404, "pupil": 200,
        "visitor": 404, "outsider": 404, "public": 401}
# The recipient removes it from the inbox, the sender from Sent; the other keeps theirs.
DELETE = {"teacher_admin": 404, "teacher": 204, "pupil_admin": 404, "pupil": 204,
          "visitor": 404, "outsider": 404, "public": 401}


def send(world, sender="teacher", to=("pupil",), subject="Hello", body="Our project"):
    return world.as_(sender).ok("POST", "mail", json={
        "space": world.slug, "to": [world.as_(r).name for r in to],
        "subject": subject, "body": body,
    })


def refused(r) -> None:
    if r.status_code in (401, 403, 404, 409):
        assert r.json()["message"]


# --- rights matrix -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_send(world, role):
    # Each member mails someone else of the space (pupils mail teachers too).
    to = "pupil" if role == "teacher_admin" else "teacher_admin"
    r = world.as_(role).post("mail", json={
        "space": world.slug, "to": [world.as_(to).name], "subject": "Hi", "body": "Text",
    }, expect=SEND[role])
    refused(r)
    if r.status_code == 201:
        mail = r.json()
        assert mail["subject"] == "Hi" and mail["body"] == "Text"
        assert mail["sender"]["name"] == world.as_(role).name
        assert [t["name"] for t in mail["to"]] == [world.as_(to).name]
        inbox = world.as_(to).ok("GET", "mail/inbox")["items"]
        assert inbox[0]["id"] == mail["id"] and inbox[0]["read"] is False
        assert inbox[0]["space"] == world.slug


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("box", ["inbox", "sent", "unread"])
def test_mailbox(world, role, box):
    r = world.as_(role).get(f"mail/{box}", expect=MAILBOX[role])
    refused(r)


@pytest.mark.parametrize("role", ROLES)
def test_open(world, role):
    mail = send(world)
    r = world.as_(role).get(f"mail/{mail['id']}", expect=OPEN[role])
    refused(r)
    if r.status_code == 200:
        assert r.json()["body"] == "Our project"


@pytest.mark.parametrize("role", ROLES)
def test_mark_read(world, role):
    mail = send(world)
    r = world.as_(role).post(f"mail/{mail['id']}/read", json={"read": True}, expect=MARK[role])
    refused(r)
    if r.status_code == 200:
        assert r.json()["read"] is True


@pytest.mark.parametrize("role", ROLES)
def test_delete(world, role):
    mail = send(world)
    r = world.as_(role).delete(f"mail/{mail['id']}", expect=DELETE[role])
    refused(r)
    if role == "pupil":
        assert world.as_(role).ok("GET", "mail/inbox")["items"] == []
        world.as_(role).get(f"mail/{mail['id']}", expect=404)
        # The sender still has it in Sent.
        sent = world.as_("teacher").ok("GET", "mail/sent")["items"]
        assert [s["id"] for s in sent] == [mail["id"]]
    if role == "teacher":
        assert world.as_(role).ok("GET", "mail/sent")["items"] == []
        world.as_(role).get(f"mail/{mail['id']}", expect=404)
        # The recipient still has it.
        inbox = world.as_("pupil").ok("GET", "mail/inbox")["items"]
        assert [i["id"] for i in inbox] == [mail["id"]]
        assert world.as_("pupil").ok("GET", f"mail/{mail['id']}")["subject"] == "Hello"


# --- behaviour -----------------------------------------------------------------------------


def test_unread_and_read_marks(world):
    pupil = world.as_("pupil")
    assert pupil.ok("GET", "mail/unread") == {"count": 0}
    first = send(world, subject="One")
    send(world, sender="visitor", to=("pupil", "teacher"), subject="Two")
    assert pupil.ok("GET", "mail/unread") == {"count": 2}
    assert world.as_("teacher").ok("GET", "mail/unread") == {"count": 1}
    inbox = pupil.ok("GET", "mail/inbox")["items"]
    assert [i["subject"] for i in inbox] == ["Two", "One"]  # newest first
    # Opening marks read.
    opened = pupil.ok("GET", f"mail/{first['id']}")
    assert opened["read"] is True
    assert pupil.ok("GET", "mail/unread") == {"count": 1}
    pupil.ok("POST", f"mail/{first['id']}/read", json={"read": False})
    assert pupil.ok("GET", "mail/unread") == {"count": 2}
    pupil.ok("POST", f"mail/{first['id']}/read", json={"read": True})
    assert pupil.ok("GET", "mail/unread") == {"count": 1}
    inbox = pupil.ok("GET", "mail/inbox")["items"]
    assert [i["read"] for i in inbox] == [False, True]
    # The sender opening their own mail changes nothing for the recipient.
    world.as_("teacher").ok("GET", f"mail/{first['id']}")
    assert pupil.ok("GET", "mail/unread") == {"count": 1}


def test_recipient_not_in_space(world, site):
    stranger = site.account("teacher", prefix="strg")
    r = world.as_("teacher").post("mail", json={
        "space": world.slug, "to": [world.as_("pupil").name, stranger.name, "nobody-at-all"],
        "subject": "Hi", "body": "x",
    }, expect=400)
    assert stranger.name in r.json()["message"] and "nobody-at-all" in r.json()["message"]
    assert r.json()["not_members"] == [stranger.name, "nobody-at-all"]
    # Nothing was sent.
    assert world.as_("pupil").ok("GET", "mail/unread") == {"count": 0}


def test_bad_input(world):
    teacher = world.as_("teacher")
    pupil = world.as_("pupil").name
    base = {"space": world.slug, "to": [pupil], "subject": "S", "body": "B"}
    for change in ({"to": []}, {"to": "x"}, {"to": [3]}, {"subject": ""},
                   {"body": "x" * 20001}, {"body": None}):
        teacher.post("mail", json={**base, **change}, expect=400)
    teacher.post("mail", json={**base, "space": "no-such-space"}, expect=404)
    teacher.get("mail/999999999", expect=404)


def test_outsider_cannot_read_others_mail(world):
    mail = send(world)
    outsider = world.as_("outsider")
    outsider.get(f"mail/{mail['id']}", expect=404)
    outsider.post(f"mail/{mail['id']}/read", json={"read": True}, expect=404)
    outsider.delete(f"mail/{mail['id']}", expect=404)
    assert outsider.ok("GET", "mail/inbox")["items"] == []
    assert outsider.ok("GET", "mail/sent")["items"] == []


def test_sent_and_pagination(world):
    teacher = world.as_("teacher")
    ids = [send(world, subject=f"s{i}")["id"] for i in range(5)]
    page = teacher.ok("GET", "mail/sent", params={"limit": 2})
    assert [s["subject"] for s in page["items"]] == ["s4", "s3"]
    assert page["items"][0]["to"][0]["name"] == world.as_("pupil").name
    more = teacher.ok("GET", "mail/sent", params={"limit": 2, "before": page["next"]})
    assert [s["subject"] for s in more["items"]] == ["s2", "s1"]
    inbox = world.as_("pupil").ok("GET", "mail/inbox", params={"before": ids[1]})
    assert [i["id"] for i in inbox["items"]] == [ids[0]] and inbox["next"] is None


def test_mail_goes_when_sender_and_recipients_all_delete(world, db_url):
    import sqlalchemy as sa

    mail = send(world)
    world.as_("teacher").delete(f"mail/{mail['id']}", expect=204)
    world.as_("pupil").delete(f"mail/{mail['id']}", expect=204)
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT count(*) FROM mail_messages WHERE id = :id"), {"id": mail["id"]}
        ).scalar()
    engine.dispose()
    assert left == 0


def test_unread_long_poll(world):
    pupil = world.as_("pupil")
    result = {}

    def poll():
        result["body"] = pupil.ok("GET", "mail/unread", params={"count": 0, "wait": 10})

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()
    send(world)
    thread.join(15)
    assert result["body"] == {"count": 1}
