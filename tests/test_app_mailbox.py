"""The mailbox app (F12, F11) driven through its widgets against the real service."""

from __future__ import annotations

from twinspace_kernel.apps import show
from twinspace_kernel.apps.mailbox import Mailbox

ERROR_STYLE = "background:#fdecea"


def mailbox(world, role: str) -> Mailbox:
    return Mailbox(world.app_id("mailbox"), client=world.client(role))


def find(box: Mailbox, title: str) -> dict:
    return next(m for m in box.inbox + box.sent if m["subject"] == title)


def test_compose_read_reply_delete(world):
    teacher = mailbox(world, "teacher")
    assert isinstance(show(world.app_id("mailbox"), client=world.client("teacher")), Mailbox)
    assert teacher.tabs.titles == ("Inbox", "Sent", "Write")
    # The Write tab is filled when the member opens it.
    assert teacher.compose.children == ()
    teacher.tabs.selected_index = 2
    pupil_name = world.as_("pupil").name
    assert pupil_name in [value for _label, value in teacher.to.options]
    teacher.to.value = (pupil_name,)
    teacher.subject.value = "Our <project>"
    teacher.text.value = "Dear pupil,\nsee you <b>Monday</b>."
    teacher.send_button.click()
    assert "Your mail is sent" in teacher.banner.value
    assert [m["subject"] for m in teacher.sent] == ["Our <project>"]
    assert teacher.tabs.selected_index == 1
    assert teacher.subject.value == "" and teacher.to.value == ()

    pupil = mailbox(world, "pupil")
    assert pupil.unread == 1
    assert pupil.tabs.titles[0] == "Inbox (1 unread)"
    assert "&lt;project&gt;" in pupil.inbox_list.children[0].children[0].value
    pupil.inbox_list.children[0].children[1].click()  # Open
    assert pupil.reading.layout.display == ""
    assert "see you &lt;b&gt;Monday&lt;/b&gt;." in pupil.reader.value
    assert pupil.tabs.titles[0] == "Inbox"
    assert world.as_("pupil").ok("GET", "mail/unread")["count"] == 0
    assert pupil.reply_box in pupil.reading.children
    assert pupil.invitation_box not in pupil.reading.children
    pupil.reply_text.value = "Thank you!"
    pupil.reply_button.click()
    assert "reply is sent" in pupil.banner.value

    teacher.refresh_button.click()
    assert teacher.unread == 1
    reply = find(teacher, "Re: Our <project>")
    teacher.open_mail(reply["id"])
    assert "Thank you!" in teacher.reader.value
    # Delete from the pupil's inbox: gone for the pupil, the teacher keeps the sent copy.
    pupil.open_mail(find(pupil, "Our <project>")["id"])
    pupil.delete_button.click()
    assert "deleted" in pupil.banner.value
    assert pupil.inbox == [] and pupil.reading.layout.display == "none"
    assert [m["subject"] for m in world.as_("teacher").ok("GET", "mail/sent")["items"]] == [
        "Our <project>"]


def test_refused_sends_show_the_reason(world):
    box = mailbox(world, "pupil")
    box.send_button.click()
    assert "Choose at least one member" in box.banner.value
    # A name that is not a member (e.g. a stale list): the service says no.
    box.to.options = [*box.to.options, ("Nobody", "nobody-at-all")]
    box.to.value = ("nobody-at-all",)
    box.subject.value = "Hi"
    box.text.value = "Hello"
    box.send_button.click()
    assert ERROR_STYLE in box.banner.value and "nobody-at-all" in box.banner.value
    assert box.sent == []


def test_outsider_sees_why_not(world):
    box = mailbox(world, "outsider")
    assert "not a member of this space" in box.banner.value
    assert box.body.children == ()


def test_invitation_mail_accept(world, site):
    other = site.space()  # the invitee is a teacher of another space: their mailbox is there
    invitee = other.as_("teacher")
    world.as_("teacher_admin").ok(
        "POST", f"spaces/{world.slug}/invitations",
        json={"role": "teacher", "username": invitee.name},
    )
    box = mailbox(other, "teacher")
    assert box.unread == 1
    box.open_mail(box.inbox[0]["id"])
    assert box.invitation_box in box.reading.children
    box.accept_button.click()
    assert "Welcome to" in box.banner.value
    assert box.invitation_box not in box.reading.children
    members = world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/members")["items"]
    assert {"name": invitee.name, "role": "teacher"}.items() <= next(
        m for m in members if m["name"] == invitee.name).items()
    # Answering again (e.g. from another tab): the service's reason, politely.
    box.open_mail(box.inbox[0]["id"])
    box.accept_button.click()
    assert ERROR_STYLE in box.banner.value


def test_invitation_mail_decline_and_someone_elses_invitation(world, site):
    other = site.space()
    invitee = other.as_("visitor")
    world.as_("teacher_admin").ok(
        "POST", f"spaces/{world.slug}/invitations",
        json={"role": "visitor", "username": invitee.name},
    )
    # The inviter opens their own sent copy: no reply box, no answer buttons...
    sender = mailbox(world, "teacher_admin")
    sender.open_mail(sender.sent[0]["id"])
    assert sender.reply_box not in sender.reading.children
    assert sender.invitation_box not in sender.reading.children
    # ...and forcing an answer to an invitation meant for someone else is refused.
    sender.accept_button.click()
    assert ERROR_STYLE in sender.banner.value
    assert "addressed to someone else" in sender.banner.value
    box = mailbox(other, "visitor")
    box.open_mail(box.inbox[0]["id"])
    box.decline_button.click()
    assert "declined" in box.banner.value
    assert world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/invitations")["items"] == []
