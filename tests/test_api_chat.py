"""Chat rooms, live messages, presence (F28) and supervised rooms (F29), for every role."""

from __future__ import annotations

import threading
import time

import pytest
from utils import ROLES, unique

VIEW = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
        "visitor": 200, "outsider": 403, "public": 401}
MANAGE_CREATE = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 403, "pupil": 403,
                 "visitor": 403, "outsider": 403, "public": 401}
MANAGE_PATCH = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 403, "pupil": 403,
                "visitor": 403, "outsider": 403, "public": 401}
MANAGE_DELETE = {"teacher_admin": 204, "teacher": 204, "pupil_admin": 403, "pupil": 403,
                 "visitor": 403, "outsider": 403, "public": 401}
POST_MESSAGE = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 201,
                "visitor": 201, "outsider": 403, "public": 401}
JOIN = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
        "visitor": 200, "outsider": 403, "public": 401}
LEAVE = {"teacher_admin": 204, "teacher": 204, "pupil_admin": 204, "pupil": 204,
         "visitor": 204, "outsider": 403, "public": 401}
# Posting in a supervised room with no teacher present.
SUPERVISED_ALONE = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 403, "pupil": 403,
                    "visitor": 201, "outsider": 403, "public": 401}


def general(world) -> dict:
    rooms = world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/rooms")["items"]
    return next(r for r in rooms if r["name"] == "General")


def new_room(world, supervised=False) -> int:
    body = {"name": unique("room"), "supervised": supervised}
    return world.as_("teacher_admin").ok("POST", f"spaces/{world.slug}/rooms", json=body)["id"]


def refused(r) -> None:
    if r.status_code in (401, 403):
        assert r.json()["message"]


# --- rights matrix -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_list_rooms(world, role):
    r = world.as_(role).get(f"spaces/{world.slug}/rooms", expect=VIEW[role])
    refused(r)
    if r.status_code == 200:
        items = r.json()["items"]
        assert [i["name"] for i in items] == ["General"]
        assert items[0]["present"] == [] and items[0]["teacher_present"] is False


@pytest.mark.parametrize("role", ROLES)
def test_get_room(world, role):
    r = world.as_(role).get(f"rooms/{general(world)['id']}", expect=VIEW[role])
    refused(r)


@pytest.mark.parametrize("role", ROLES)
def test_create_room(world, role):
    name = unique("room")
    r = world.as_(role).post(
        f"spaces/{world.slug}/rooms", json={"name": name, "supervised": True},
        expect=MANAGE_CREATE[role],
    )
    refused(r)
    if r.status_code == 201:
        assert r.json()["name"] == name and r.json()["supervised"] is True
        # The same name twice is a conflict.
        world.as_(role).post(f"spaces/{world.slug}/rooms", json={"name": name}, expect=409)


@pytest.mark.parametrize("role", ROLES)
def test_patch_room(world, role):
    room = new_room(world)
    name = unique("renamed")
    r = world.as_(role).patch(
        f"rooms/{room}", json={"name": name, "supervised": True}, expect=MANAGE_PATCH[role]
    )
    refused(r)
    if r.status_code == 200:
        assert r.json()["name"] == name and r.json()["supervised"] is True


@pytest.mark.parametrize("role", ROLES)
def test_delete_room(world, role):
    room = new_room(world)
    r = world.as_(role).delete(f"rooms/{room}", expect=MANAGE_DELETE[role])
    refused(r)
    if r.status_code == 204:
        world.as_("teacher_admin").get(f"rooms/{room}", expect=404)


def test_last_room_stays(world):
    world.as_("teacher_admin").delete(f"rooms/{general(world)['id']}", expect=409)


@pytest.mark.parametrize("role", ROLES)
def test_read_messages(world, role):
    room = general(world)["id"]
    world.as_("teacher").ok("POST", f"rooms/{room}/messages", json={"body": "Hello <b>all</b>"})
    r = world.as_(role).get(f"rooms/{room}/messages", expect=VIEW[role])
    refused(r)
    if r.status_code == 200:
        body = r.json()
        # Plain text as written: the widget escapes it.
        assert [i["body"] for i in body["items"]] == ["Hello <b>all</b>"]
        assert body["last_id"] == body["items"][-1]["id"]
        assert body["items"][0]["author"]["name"] == world.as_("teacher").name
        # Reading is not being in the room (nor is posting): only heartbeats are (F29).
        assert body["present"] == [] and body["teacher_present"] is False


@pytest.mark.parametrize("role", ROLES)
def test_post_message(world, role):
    room = general(world)["id"]
    r = world.as_(role).post(f"rooms/{room}/messages", json={"body": "hi"},
                             expect=POST_MESSAGE[role])
    refused(r)
    if r.status_code == 201:
        assert r.json()["body"] == "hi"


@pytest.mark.parametrize("role", ROLES)
def test_join_and_leave(world, role):
    room = general(world)["id"]
    r = world.as_(role).post(f"rooms/{room}/presence", expect=JOIN[role])
    refused(r)
    if r.status_code == 200:
        assert world.as_(role).name in {p["name"] for p in r.json()["present"]}
    r = world.as_(role).delete(f"rooms/{room}/presence", expect=LEAVE[role])
    refused(r)
    if r.status_code == 204:
        room_now = general(world)
        assert world.as_(role).name not in {p["name"] for p in room_now["present"]}


@pytest.mark.parametrize("role", ROLES)
def test_supervised_room_without_teacher(world, role):
    room = new_room(world, supervised=True)
    world.as_("teacher_admin").delete(f"rooms/{room}/presence", expect=204)
    r = world.as_(role).post(f"rooms/{room}/messages", json={"body": "anyone?"},
                             expect=SUPERVISED_ALONE[role])
    refused(r)
    if r.status_code == 403 and role in ("pupil", "pupil_admin"):
        assert "supervised" in r.json()["message"]


# --- behaviour -----------------------------------------------------------------------------


def test_bad_messages(world):
    room = general(world)["id"]
    pupil = world.as_("pupil")
    pupil.post(f"rooms/{room}/messages", json={"body": ""}, expect=400)
    pupil.post(f"rooms/{room}/messages", json={"body": "x" * 2001}, expect=400)
    pupil.post(f"rooms/{room}/messages", json={}, expect=400)
    pupil.post("rooms/999999/messages", json={"body": "x"}, expect=404)
    pupil.get(f"rooms/{room}/messages?after=abc", expect=400)


def test_long_poll_wakes_on_new_message(world):
    room = general(world)["id"]
    pupil, teacher = world.as_("pupil"), world.as_("teacher")
    first = pupil.ok("GET", f"rooms/{room}/messages")
    result = {}

    def poll():
        started = time.monotonic()
        result["body"] = pupil.ok(
            "GET", f"rooms/{room}/messages",
            params={"after": first["last_id"], "wait": 10},
        )
        result["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)  # let the poll reach its wait
    assert thread.is_alive(), result
    teacher.ok("POST", f"rooms/{room}/messages", json={"body": "news!"})
    thread.join(15)
    assert not thread.is_alive()
    assert [i["body"] for i in result["body"]["items"]] == ["news!"]
    # It came when the message was posted, not when the wait ran out.
    assert result["elapsed"] < 10
    assert result["body"]["last_id"] == result["body"]["items"][-1]["id"]
    # Nothing new: an empty answer after a short wait, the cursor unchanged.
    again = pupil.ok("GET", f"rooms/{room}/messages",
                     params={"after": result["body"]["last_id"], "wait": 0.2})
    assert again["items"] == [] and again["last_id"] == result["body"]["last_id"]


def test_history_pages_and_after(world):
    room = general(world)["id"]
    teacher = world.as_("teacher")
    ids = [teacher.ok("POST", f"rooms/{room}/messages", json={"body": f"m{i}"})["id"]
           for i in range(5)]
    page = teacher.ok("GET", f"rooms/{room}/messages", params={"limit": 2})
    assert [i["body"] for i in page["items"]] == ["m3", "m4"]  # newest two, oldest first
    older = teacher.ok("GET", f"rooms/{room}/messages",
                       params={"limit": 2, "before": page["next"]})
    assert [i["body"] for i in older["items"]] == ["m1", "m2"]
    newer = teacher.ok("GET", f"rooms/{room}/messages", params={"after": ids[2]})
    assert [i["body"] for i in newer["items"]] == ["m3", "m4"]


def test_presence_list(world):
    room = general(world)["id"]
    visitor, pupil = world.as_("visitor"), world.as_("pupil")
    visitor.ok("POST", f"rooms/{room}/presence")
    rooms = pupil.ok("GET", f"spaces/{world.slug}/rooms")["items"]
    present = {p["name"]: p["role"] for p in rooms[0]["present"]}
    assert present == {visitor.name: "visitor"}
    assert rooms[0]["teacher_present"] is False
    assert rooms[0]["presence_seconds"] > 0  # the widget beats well within it
    pupil.ok("POST", f"rooms/{room}/presence")
    body = pupil.ok("GET", f"rooms/{room}/messages")
    assert {p["name"] for p in body["present"]} == {visitor.name, pupil.name}


def test_supervised_room(world):
    room = new_room(world, supervised=True)
    ta, teacher, pupil = world.as_("teacher_admin"), world.as_("teacher"), world.as_("pupil")
    ta.delete(f"rooms/{room}/presence", expect=204)  # created it: not in the room
    r = pupil.post(f"rooms/{room}/messages", json={"body": "hello?"}, expect=403)
    assert r.json()["message"] == (
        "This room is supervised: pupils can write only while a teacher is here."
    )
    state = pupil.ok("GET", f"rooms/{room}/messages")
    assert state["teacher_present"] is False and state["can_post"] is False
    # Reading (or writing) is not supervising: the pupil still may not write.
    teacher.ok("GET", f"rooms/{room}/messages")
    teacher.ok("POST", f"rooms/{room}/messages", json={"body": "I am reading"})
    pupil.post(f"rooms/{room}/messages", json={"body": "hello?"}, expect=403)
    # The teacher's open chat page beats: now the pupil may write.
    teacher.ok("POST", f"rooms/{room}/presence")
    state = pupil.ok("GET", f"rooms/{room}/messages")
    assert state["teacher_present"] is True and state["can_post"] is True
    pupil.post(f"rooms/{room}/messages", json={"body": "hello!"}, expect=201)
    world.as_("pupil_admin").post(f"rooms/{room}/messages", json={"body": "hi"}, expect=201)
    # The teacher leaves: pupils are silent again.
    teacher.delete(f"rooms/{room}/presence", expect=204)
    pupil.post(f"rooms/{room}/messages", json={"body": "still there?"}, expect=403)
    # An unsupervised room never stops pupils.
    pupil.post(f"rooms/{general(world)['id']}/messages", json={"body": "free"}, expect=201)


def test_long_poll_wakes_when_teacher_arrives(world):
    room = new_room(world, supervised=True)
    world.as_("teacher_admin").delete(f"rooms/{room}/presence", expect=204)
    pupil = world.as_("pupil")
    first = pupil.ok("GET", f"rooms/{room}/messages")
    assert first["can_post"] is False
    result = {}

    def poll():
        result["body"] = pupil.ok("GET", f"rooms/{room}/messages",
                                  params={"after": first["last_id"], "wait": 10})

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)
    world.as_("teacher").ok("POST", f"rooms/{room}/presence")
    thread.join(15)
    assert not thread.is_alive()
    assert result["body"]["items"] == []
    assert result["body"]["teacher_present"] is True and result["body"]["can_post"] is True


def test_hidden_messages_only_for_moderators(world, db_url):
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from twinspace_kernel.store import models as m
    from twinspace_kernel.store.db import new_engine

    room = general(world)["id"]
    msg = world.as_("pupil").ok("POST", f"rooms/{room}/messages", json={"body": "oops"})
    engine = new_engine(db_url)
    try:
        with Session(engine) as db:
            db.execute(update(m.ChatMessage).where(m.ChatMessage.id == msg["id"])
                       .values(hidden=True))
            db.commit()
    finally:
        engine.dispose()
    mod = world.as_("teacher_admin").ok("GET", f"rooms/{room}/messages")
    assert [(i["body"], i["hidden"]) for i in mod["items"]] == [("oops", True)]
    for role in ("teacher", "pupil", "visitor"):
        assert world.as_(role).ok("GET", f"rooms/{room}/messages")["items"] == []


# --- presence is an open page's heartbeat (issue 8) ------------------------------------------


def test_a_teachers_waiting_long_poll_does_not_supervise(world):
    """A kernel still long-polling after its page closed keeps nobody in the room."""
    room = new_room(world, supervised=True)
    world.as_("teacher_admin").delete(f"rooms/{room}/presence", expect=204)
    teacher, pupil = world.as_("teacher"), world.as_("pupil")
    first = teacher.ok("GET", f"rooms/{room}/messages")
    result = {}

    def teacher_poll():
        result["body"] = teacher.ok("GET", f"rooms/{room}/messages",
                                    params={"after": first["last_id"], "wait": 3})

    thread = threading.Thread(target=teacher_poll)
    thread.start()
    try:
        r = pupil.post(f"rooms/{room}/messages", json={"body": "alone?"}, expect=403)
        assert r.json()["message"] == (
            "This room is supervised: pupils can write only while a teacher is here."
        )
        assert pupil.ok("GET", f"rooms/{room}")["teacher_present"] is False
    finally:
        thread.join(15)
    assert not thread.is_alive()
    assert result["body"]["present"] == [] and result["body"]["teacher_present"] is False


def test_presence_runs_out_without_heartbeats_and_wakes_the_waiting_pupil(world):
    room = new_room(world, supervised=True)
    world.as_("teacher_admin").delete(f"rooms/{room}/presence", expect=204)
    teacher, pupil = world.as_("teacher"), world.as_("pupil")
    joined = teacher.ok("POST", f"rooms/{room}/presence")
    assert joined["teacher_present"] is True
    seconds = joined["presence_seconds"]
    state = pupil.ok("GET", f"rooms/{room}/messages")
    assert state["can_post"] is True
    posted = pupil.ok("POST", f"rooms/{room}/messages", json={"body": "hello teacher"})
    # The teacher's page closes: no more heartbeats. The pupil's waiting poll is told when
    # the presence runs out (nobody announces it), long before its own wait ends.
    wait = seconds + 15
    started = time.monotonic()
    body = pupil.ok("GET", f"rooms/{room}/messages",
                    params={"after": posted["id"], "wait": wait})
    assert time.monotonic() - started < wait
    assert body["teacher_present"] is False and body["can_post"] is False
    assert teacher.name not in {p["name"] for p in body["present"]}
    r = pupil.post(f"rooms/{room}/messages", json={"body": "anyone?"}, expect=403)
    assert "supervised" in r.json()["message"]
    # A heartbeat again (the page reopened): the pupil may write again.
    teacher.ok("POST", f"rooms/{room}/presence")
    pupil.post(f"rooms/{room}/messages", json={"body": "welcome back"}, expect=201)


def test_listeners_woken_together_each_get_their_own_view(world):
    """One message wakes every listener of the room; the answer read for one is shared
    only with those who see it alike (a visitor sees a pupil's first name only)."""
    room = general(world)["id"]
    pupil = world.as_("pupil")
    pupil_name = pupil.ok("GET", "me")["user"]["display_name"]
    last_id = pupil.ok("GET", f"rooms/{room}/messages")["last_id"]
    listeners = ["teacher_admin", "teacher", "pupil_admin", "visitor", "visitor", "teacher"]
    answers: list[tuple[str, dict]] = []

    def listen(role):
        answer = world.as_(role).ok("GET", f"rooms/{room}/messages",
                                    params={"after": last_id, "wait": 10})
        answers.append((role, answer))

    threads = [threading.Thread(target=listen, args=(role,)) for role in listeners]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # let the polls reach their wait (answers are right either way)
    pupil.ok("POST", f"rooms/{room}/messages", json={"body": "hello all"})
    for thread in threads:
        thread.join(15)
    assert sorted(role for role, _ in answers) == sorted(listeners)
    for role, answer in answers:
        assert [item["body"] for item in answer["items"]] == ["hello all"], role
        shown = answer["items"][0]["author"]["display_name"]
        assert shown == (pupil_name.split()[0] if role == "visitor" else pupil_name), role
        assert answer["last_id"] == answer["items"][0]["id"]


def test_notifier_shares_one_read_per_notification():
    from twinspace_kernel.service.notify import Notifier

    notifier, reads = Notifier(), []

    def read():
        reads.append(1)
        return len(reads)

    assert notifier.shared("room:1", "q", read) == 1
    assert notifier.shared("room:1", "q", read) == 1  # the same wake: the same answer
    assert notifier.shared("room:1", "other", read) == 2  # another question: its own read
    notifier.notify("room:1")
    assert notifier.shared("room:1", "q", read) == 3  # a new wake: read again
    notifier.notify("room:2")
    assert notifier.shared("room:1", "q", read) == 3  # another key's wake changes nothing
