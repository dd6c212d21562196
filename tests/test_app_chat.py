"""The chat app (F28, F29) driven through its widgets against the real service."""

from __future__ import annotations

import pytest
from hubharness import free_port
from utils import wait_until

from twinspace_kernel.apps import show
from twinspace_kernel.apps.chat import MAX_SHOWN, Chat
from twinspace_kernel.client import TwinSpaceClient

SUPERVISED = "This room is supervised: pupils can write only while a teacher is here."


@pytest.fixture
def chats():
    """Chat widgets made by a test; closed (their live threads stopped) at the end."""
    made: list[Chat] = []

    def make(world, role: str, **kwargs) -> Chat:
        chat = Chat(world.app_id("chat", "chat"), client=world.client(role), **kwargs)
        made.append(chat)
        return chat

    yield make
    for chat in made:
        chat.close()


def texts(chat: Chat) -> list[str]:
    return [m["text"] for m in chat.shown_messages()]


def test_teacher_sends_and_text_is_escaped(world, chats):
    chat = chats(world, "teacher")
    assert isinstance(show(world.app_id("chat", "chat"), client=world.client("teacher")), Chat)
    assert [label for label, _id in chat.room_picker.options] == ["General"]
    assert chat.live
    assert chat.room_form in chat.body.children  # teachers open rooms
    assert "(teacher)" in chat.present_view.value
    chat.input.value = "Hello <b>all</b> & welcome"
    chat.send_button.click()
    assert chat.input.value == ""
    assert texts(chat) == ["Hello <b>all</b> & welcome"]
    assert "Hello &lt;b&gt;all&lt;/b&gt; &amp; welcome" in chat.messages_view.value
    assert "<b>all</b>" not in chat.messages_view.value
    room = chat.room_id
    stored = world.as_("pupil").ok("GET", f"rooms/{room}/messages")["items"]
    assert [m["body"] for m in stored] == ["Hello <b>all</b> & welcome"]
    # Enter in the text box sends too.
    chat.input.value = "second"
    chat.input._submission_callbacks(chat.input)
    assert texts(chat)[-1] == "second"


def test_pupil_has_no_room_form_and_empty_send_is_refused_politely(world, chats):
    chat = chats(world, "pupil")
    assert chat.room_form not in chat.body.children
    chat.send_button.click()
    assert "Write a message first" in chat.banner.value
    assert texts(chat) == []


def test_outsider_sees_why_not(world, chats):
    chat = chats(world, "outsider")
    assert "not a member of this space" in chat.banner.value
    assert chat.body.children == ()
    assert not chat.live


def test_teacher_opens_a_room_and_a_pupil_cannot(world, chats):
    teacher = chats(world, "teacher")
    teacher.room_name.value = "Homework help"
    teacher.room_supervised.value = True
    teacher.create_button.click()
    assert "Homework help" in teacher.banner.value
    assert [label for label, _id in teacher.room_picker.options] == ["General", "Homework help"]
    assert teacher.room_picker.value == teacher.room_id
    assert "Supervised" in teacher.badge.value
    # A pupil driving the (hidden) form gets the service's refusal.
    pupil = chats(world, "pupil")
    pupil.room_name.value = "Secret room"
    pupil.create_button.click()
    assert "may not manage pages" in pupil.banner.value
    rooms = world.as_("pupil").ok("GET", f"spaces/{world.slug}/rooms")["items"]
    assert [r["name"] for r in rooms] == ["General", "Homework help"]


def test_supervised_room_without_teacher_blocks_the_pupil_until_one_comes(world, chats):
    room = world.as_("teacher").ok(
        "POST", f"spaces/{world.slug}/rooms", json={"name": "Quiet", "supervised": True}
    )
    pupil = chats(world, "pupil")
    pupil.room_picker.value = room["id"]
    assert pupil.room_id == room["id"]
    assert "Supervised" in pupil.badge.value
    assert pupil.input.disabled and pupil.send_button.disabled
    assert SUPERVISED in pupil.reason.value
    # Forcing a send from the kernel: the service refuses, politely.
    pupil.input.value = "anyone?"
    pupil.send_button.click()
    assert SUPERVISED in pupil.banner.value
    # (Reading as a teacher would make the teacher present: ask the visitor.)
    assert world.as_("visitor").ok("GET", f"rooms/{room['id']}/messages")["items"] == []
    assert pupil.send_button.disabled  # still disabled after the refused click
    # A teacher comes into the room: the pupil's widget learns it by itself.
    teacher = chats(world, "teacher")
    teacher.room_picker.value = room["id"]
    wait_until(lambda: not pupil.input.disabled, timeout=10)
    assert "(teacher)" in pupil.present_view.value
    assert pupil.reason.layout.display == "none"
    pupil.send_button.click()
    assert texts(pupil) == ["anyone?"]


def test_message_appears_in_the_other_widget_without_any_action(world, chats):
    teacher = chats(world, "teacher")
    pupil = chats(world, "pupil")
    teacher.input.value = "Live from the teacher"
    teacher.send_button.click()
    wait_until(lambda: "Live from the teacher" in texts(pupil), timeout=5)
    assert "Live from the teacher" in pupil.messages_view.value
    # And back, several in a row, in order and without duplicates.
    for n in range(3):
        pupil.input.value = f"pupil {n}"
        pupil.send_button.click()
    wait_until(lambda: texts(teacher)[-1:] == ["pupil 2"], timeout=5)
    assert texts(teacher) == ["Live from the teacher", "pupil 0", "pupil 1", "pupil 2"]
    assert texts(pupil) == texts(teacher)


def test_the_live_loop_follows_the_picked_room(world, chats):
    other = world.as_("teacher").ok("POST", f"spaces/{world.slug}/rooms", json={"name": "Two"})
    general = world.as_("teacher").ok("GET", f"spaces/{world.slug}/rooms")["items"][0]
    pupil = chats(world, "pupil")
    first_loop = pupil._loop
    pupil.room_picker.value = other["id"]
    assert pupil._loop is not first_loop and first_loop.stopped
    world.as_("teacher").ok("POST", f"rooms/{general['id']}/messages", json={"body": "in general"})
    world.as_("teacher").ok("POST", f"rooms/{other['id']}/messages", json={"body": "in two"})
    wait_until(lambda: texts(pupil) == ["in two"], timeout=5)
    pupil.room_picker.value = general["id"]
    assert texts(pupil) == ["in general"]


def test_load_older_and_bounded_history(world, chats):
    teacher = world.as_("teacher")
    room = teacher.ok("GET", f"spaces/{world.slug}/rooms")["items"][0]["id"]
    for n in range(60):
        teacher.ok("POST", f"rooms/{room}/messages", json={"body": f"m{n}"})
    chat = chats(world, "pupil")
    assert texts(chat) == [f"m{n}" for n in range(10, 60)]
    assert chat.older_button.layout.display == ""
    chat.older_button.click()
    assert texts(chat) == [f"m{n}" for n in range(60)]
    assert chat.older_button.layout.display == "none"
    # Live messages beyond the bound push the oldest out; "Load older" brings them back.
    chat._cap = 55
    teacher.ok("POST", f"rooms/{room}/messages", json={"body": "m60"})
    wait_until(lambda: texts(chat)[-1:] == ["m60"], timeout=5)
    assert len(texts(chat)) == 55 and texts(chat)[0] == "m6"
    assert chat.older_button.layout.display == ""
    assert MAX_SHOWN == 200


def test_network_errors_show_a_banner_and_the_loop_keeps_trying(world, chats):
    chat = chats(world, "teacher")
    live = chat._loop
    chat._stop_loop(leave=False)
    chat.client = TwinSpaceClient(f"http://127.0.0.1:{free_port()}/", "t" * 20,
                                  retry_seconds=0)
    chat._start_loop(0)
    wait_until(lambda: "Live updates paused" in chat.banner.value, timeout=10)
    assert "Trying again" in chat.banner.value
    assert chat.live  # the thread is alive and retrying, not dead
    dead = chat._loop
    chat.close()
    dead.join(5)
    assert not dead.alive
    live.join(0)
