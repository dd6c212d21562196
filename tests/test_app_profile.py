"""The profile app (profiles, photos, walls, mail) driven through its widgets."""

from __future__ import annotations

import datetime as dt
import io
import os

import pytest

from twinspace_kernel.apps import show
from twinspace_kernel.apps.profile import Profile


@pytest.fixture
def profile_app_id(world) -> int:
    return world.add_app(world.page_id("home"), "profile", section="home")


def jpeg(size=(300, 200)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", quality=90)
    return out.getvalue()


def choose(upload, name: str, data: bytes, kind: str = "image/jpeg") -> None:
    """What the browser does when a file is picked in a FileUpload."""
    upload.value = ({"name": name, "type": kind, "size": len(data), "content": memoryview(data),
                     "last_modified": dt.datetime.now(dt.UTC)},)


def test_edit_my_profile_and_photo(world, profile_app_id):
    app = show(profile_app_id, client=world.client("pupil"))
    assert isinstance(app, Profile)
    assert "Largest file: 2 MB" in app.photo_limit.value
    app.editors["about"].value = "I live by the sea.\n<b>not bold</b>"
    app.editors["favourite_food"].value = "Crêpes"
    app.save_button.click()
    assert "saved" in app.banner.value
    mine = world.as_("pupil").ok("GET", "me/profile")
    assert mine["about"] == "I live by the sea.\n<b>not bold</b>"
    assert mine["favourite_food"] == "Crêpes"
    # Photo: a JPEG chosen in the FileUpload is sent at once and shown.
    assert app.my_photo.layout.display == "none"
    choose(app.photo_upload, "me.jpg", jpeg())
    assert "photo was saved" in app.banner.value
    assert app.photo_upload.value == ()
    assert app.my_photo.layout.display == ""
    assert bytes(app.my_photo.value).startswith(b"\xff\xd8")
    assert world.as_("pupil").ok("GET", "me/profile")["has_photo"] is True
    # Another pupil sees it, escaped.
    other = Profile(profile_app_id, client=world.client("pupil_admin"),
                    member=world.as_("pupil").name)
    assert other.tabs.selected_index == 1
    assert "I live by the sea.<br>&lt;b&gt;not bold&lt;/b&gt;" in other.card.value
    assert other.photo.layout.display == ""
    # Remove it.
    app.remove_photo_button.click()
    assert "removed" in app.banner.value
    assert app.my_photo.layout.display == "none"
    assert world.as_("pupil").ok("GET", "me/profile")["has_photo"] is False


def test_too_large_or_wrong_photo_shows_the_message(world, profile_app_id):
    app = Profile(profile_app_id, client=world.client("teacher"))
    choose(app.photo_upload, "huge.jpg", os.urandom(2 * 1024 * 1024 + 300_000))
    assert "The file is 2.3 MB; the limit is 2 MB." in app.banner.value
    assert app.photo_upload.value == ()
    # Without the client-side check, the service's 413 message is shown.
    app.limit = 0
    choose(app.photo_upload, "huge.jpg", os.urandom(2 * 1024 * 1024 + 300_000))
    assert "limit is 2 MB" in app.banner.value
    choose(app.photo_upload, "notes.txt", b"just some text, not an image", "text/plain")
    assert "not a PNG, JPEG, GIF or WebP image" in app.banner.value
    assert world.as_("teacher").ok("GET", "me/profile")["has_photo"] is False
    # Still alive: a good photo goes through.
    choose(app.photo_upload, "me.jpg", jpeg())
    assert "photo was saved" in app.banner.value


def test_visitor_is_refused_a_pupils_profile_politely(world, profile_app_id):
    world.as_("pupil").ok("PUT", "me/profile", json={"hobbies": "secret hobby"})
    app = Profile(profile_app_id, client=world.client("visitor"))
    app.tabs.selected_index = 1
    app.picker.value = world.as_("pupil").name
    assert "secret hobby" not in app.card.value
    assert "A visitor may not see pupils&#x27; profiles" in app.card.value
    assert app.wall_box not in app.member_box.children
    assert "Traceback" not in app.card.value
    # A teacher's profile is open to visitors.
    world.as_("teacher").ok("PUT", "me/profile", json={"interests": "Astronomy"})
    app.picker.value = world.as_("teacher").name
    assert "Astronomy" in app.card.value
    assert app.wall_box in app.member_box.children


def test_wall_post_shows_up_for_the_owner(world, profile_app_id):
    teacher = world.as_("teacher").name
    writer = Profile(profile_app_id, client=world.client("pupil"), member=teacher)
    assert writer.wall_form.layout.display == ""
    writer.wall_text.value = "Hello from <Lyon>!"
    writer.wall_button.click()
    assert "Posted" in writer.banner.value
    assert "Hello from &lt;Lyon&gt;!" in writer.wall_list.children[0].children[0].value
    writer.wall_text.value = "A second one"
    writer.wall_button.click()
    assert "A second one" in writer.wall_list.children[0].children[0].value  # newest first
    # The owner sees both on their own wall, and may delete any of them.
    owner = Profile(profile_app_id, client=world.client("teacher"), member=teacher)
    texts = [row.children[0].value for row in owner.wall_list.children]
    assert "A second one" in texts[0] and "Hello from &lt;Lyon&gt;!" in texts[1]
    assert len(owner.wall_delete_buttons) == 2
    # A visitor reading the wall may delete nothing; a forced delete is refused.
    visitor = Profile(profile_app_id, client=world.client("visitor"), member=teacher)
    assert visitor.wall_delete_buttons == {}
    first_id = next(iter(owner.wall_delete_buttons))
    visitor.delete_post(None, first_id)
    assert "You may only edit or delete your own content." in visitor.banner.value
    assert len(owner.wall_delete_buttons) == 2
    owner.wall_delete_buttons[first_id].click()
    assert "deleted" in owner.banner.value
    assert len(owner.wall_list.children) == 1


def test_send_mail_to_a_member(world, profile_app_id):
    teacher = world.as_("teacher").name
    app = Profile(profile_app_id, client=world.client("visitor"), member=teacher)
    assert app.mail_box in app.member_box.children
    app.mail_subject.value = "Our visit"
    app.mail_body.value = "Can I come on Monday?"
    app.mail_button.click()
    assert "was sent" in app.banner.value
    inbox = world.as_("teacher").ok("GET", "mail/inbox")["items"]
    assert any(item["subject"] == "Our visit" for item in inbox)
    # An empty subject: the service's message.
    app.mail_body.value = "again"
    app.mail_button.click()
    assert "subject" in app.banner.value


def test_outsider_and_unknown_member(world, profile_app_id):
    outsider = Profile(profile_app_id, client=world.client("outsider"))
    assert "not a member of this space" in outsider.banner.value
    assert outsider.body.children == ()
    app = Profile(profile_app_id, client=world.client("teacher"), member="nobody-here")
    assert "nobody-here is not a member" in app.banner.value
    assert app.tabs in app.body.children


def test_on_an_activities_page_home_rights_still_apply(world):
    # Mail and walls are Home actions: a profile app elsewhere offers them all the same.
    app = Profile(world.new_app("profile"), client=world.client("visitor"),
                  member=world.as_("teacher").name)
    assert app.mail_box in app.member_box.children
    assert app.wall_form.layout.display == ""
