"""The members app driven through its widgets against the real service."""

from __future__ import annotations

import base64
import io
import re

from ipywidgets import HTML, Image
from utils import unique

from twinspace_kernel.apps import show
from twinspace_kernel.apps.members import Members


def members_app(world, role: str) -> Members:
    return Members(world.app_id("members"), client=world.client(role))


def is_jpeg(widget) -> bool:
    return isinstance(widget, Image) and bytes(widget.value).startswith(b"\xff\xd8")


def sheet_from_link(html: str) -> str:
    match = re.search(r'href="data:text/html;base64,([A-Za-z0-9+/=]+)"', html)
    assert match, html
    return base64.b64decode(match.group(1)).decode("utf-8")


def test_list_groups_members_by_role_with_school(world):
    app = show(world.app_id("members"), client=world.client("visitor"))
    assert isinstance(app, Members)
    assert set(app.rows) == {c.name for c in world.members.values()}
    teacher = world.as_("teacher").name
    assert "École Test" in app.rows[teacher].info.value
    # A visitor reads the role; the tools to change it are not there.
    assert "<span>Teacher</span>" in app.rows[teacher].info.value
    assert app.rows[teacher].box is app.rows[teacher].info
    headings = [w.value for w in app.members_box.children
                if isinstance(w, HTML) and "<h4>" in w.value]
    assert headings[0].startswith("<h4>1 teacher administrator")
    assert headings[-1].startswith("<h4>1 visitor")


def test_photo_shown_only_where_the_reader_may_see_it(world):
    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.new("RGB", (80, 80), (10, 120, 200)).save(out, "JPEG")
    for role in ("teacher", "pupil"):
        world.as_(role).ok("PUT", "me/profile/photo", data=out.getvalue(),
                           params={"filename": "me.jpg"})
    teacher, pupil = world.as_("teacher").name, world.as_("pupil").name
    seen_by_pupil = members_app(world, "pupil")
    assert is_jpeg(seen_by_pupil.rows[teacher].photo)
    assert is_jpeg(seen_by_pupil.rows[pupil].photo)
    # Visitors never see pupils' photos: not even asked for.
    seen_by_visitor = members_app(world, "visitor")
    assert is_jpeg(seen_by_visitor.rows[teacher].photo)
    assert seen_by_visitor.rows[pupil].photo is None
    assert 'aria-hidden="true"' in seen_by_visitor.rows[pupil].info.value  # the placeholder
    assert seen_by_visitor.banner.layout.display == "none"


def test_teacher_admin_invites_a_newcomer_and_an_existing_member(world, site):
    app = members_app(world, "teacher_admin")
    assert app.invite_panel in app.body.children
    assert app.pupils_panel in app.body.children
    app.invite_who.value = "newcomer@example.org"
    app.invite_role.value = "visitor"
    app.invite_button.click()
    assert "/hub/twinspace/join?token=" in app.invite_result.value
    assert "works once" in app.invite_result.value
    assert "newcomer@example.org" in app.invitations_box.children[0].children[0].value
    # An account that exists gets the invitation in their mailbox, no link.
    existing = site.account("teacher")
    app.invite_who.value = existing.name
    app.invite_role.value = "teacher"
    app.invite_button.click()
    assert "mailbox" in app.invite_result.value
    assert "token=" not in app.invite_result.value
    inbox = existing.ok("GET", "mail/inbox")["items"]
    assert any("Invitation" in item["subject"] for item in inbox)
    assert len(app.invitations_box.children) == 2
    # Cancel one.
    app.invitations_box.children[0].children[1].click()
    assert "cancelled" in app.banner.value
    pending = world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/invitations")
    assert len(pending["items"]) == 1


def test_teacher_admin_changes_a_role_and_removes_a_member(world):
    app = members_app(world, "teacher_admin")
    teacher = world.as_("teacher").name
    app.rows[teacher].role.value = "teacher_admin"
    app.rows[teacher].save.click()
    assert "is now Teacher administrator" in app.banner.value
    member = world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/members/{teacher}")
    assert member["role"] == "teacher_admin"
    # The service refuses a pupil role for a teacher, with its message.
    app.rows[teacher].role.value = "pupil"
    app.rows[teacher].save.click()
    assert "cannot have the role pupil" in app.banner.value
    # Removing asks first.
    visitor = world.as_("visitor").name
    app.rows[visitor].remove.click()
    assert app.confirm_box.layout.display == ""
    app.cancel_remove_button.click()
    assert visitor in app.rows
    app.rows[visitor].remove.click()
    app.confirm_remove_button.click()
    assert visitor not in app.rows
    assert app.confirm_box.layout.display == "none"
    world.as_("teacher_admin").get(f"spaces/{world.slug}/members/{visitor}", expect=404)


def test_pupil_sees_no_admin_panels_and_a_forced_click_is_refused(world):
    app = members_app(world, "pupil")
    assert app.invite_panel not in app.body.children
    assert app.pupils_panel not in app.body.children
    assert app.confirm_box.layout.display == "none"
    row = app.rows[world.as_("teacher").name]
    assert row.save not in getattr(row.box, "children", ())
    # The widgets exist in the pupil's kernel; the service still says no.
    app.invite_who.value = unique("someone")
    app.invite_button.click()
    assert "may not" in app.banner.value
    row.role.value = "teacher_admin"
    row.save.click()
    assert "may not" in app.banner.value
    app.pupil_names.value = "Sneaky Pete"
    app.create_from_names_button.click()
    assert "may not" in app.banner.value
    assert world.as_("teacher_admin").ok(
        "GET", f"spaces/{world.slug}/members/{world.as_('teacher').name}")["role"] == "teacher"


def test_teacher_creates_pupils_and_gets_the_sheet(world):
    app = members_app(world, "teacher")
    assert app.invite_panel not in app.body.children
    assert app.pupils_panel in app.body.children
    app.pupil_names.value = "Ana Lopez\n\nBruno Rossi\n  Chloé Martin  \n"
    app.create_from_names_button.click()
    assert "3 pupil accounts were created" in app.banner.value
    rows = re.findall(r"<tr><td>(.*?)</td><td><code>(.*?)</code></td><td><code>(.*?)</code>",
                      app.created.value)
    assert [r[0] for r in rows] == ["Ana Lopez", "Bruno Rossi", "Chloé Martin"]
    usernames = [r[1] for r in rows]
    assert all(usernames) and all(5 <= len(r[2]) <= 8 for r in rows)
    assert "shown only once" in app.created.value
    assert f'download="pupils-{world.slug}.html"' in app.sheet_link.value
    sheet = sheet_from_link(app.sheet_link.value)
    assert sheet.startswith("<!DOCTYPE html>")
    text = re.sub(r"<[^>]+>", "", sheet)
    for display, name, password in rows:
        assert display in text and name in text and password in text
    app.show_sheet_button.click()
    assert "<iframe" in app.sheet_view.value and "srcdoc=" in app.sheet_view.value
    # The new pupils are in both lists at once.
    assert set(usernames) <= set(app.pupil_buttons)
    assert set(usernames) <= set(app.rows)


def test_teacher_resets_own_pupil_but_not_another_teachers(world):
    app = members_app(world, "teacher")
    app.pupil_names.value = "Dora Explorer"
    app.create_from_names_button.click()
    mine = re.search(r"<code>([^<]+)</code>", app.created.value).group(1)
    assert app.pupil_buttons[mine].layout.display == ""
    app.reset_password.value = "zebra7"
    app.pupil_buttons[mine].click()
    assert "zebra7" in app.reset_result.value
    assert "password was changed" in app.banner.value
    # A generated one when the field is empty.
    app.pupil_buttons[mine].click()
    assert re.search(r"<code><b>\w{5,8}</b></code>", app.reset_result.value)
    # A bad word: the service's rule.
    app.reset_password.value = "abc"
    app.pupil_buttons[mine].click()
    assert "5 to 8 characters" in app.banner.value
    # The world's pupil was not created by this teacher: the button is hidden, and a
    # forced click shows the service's refusal.
    other = app.pupil_buttons[world.as_("pupil").name]
    assert other.layout.display == "none"
    app.reset_password.value = ""
    other.click()
    assert "You can only manage pupils you created." in app.banner.value
    # The teacher administrator may reset any pupil.
    admin = members_app(world, "teacher_admin")
    assert admin.pupil_buttons[world.as_("pupil").name].layout.display == ""
    admin.pupil_buttons[world.as_("pupil").name].click()
    assert "password was changed" in admin.banner.value
