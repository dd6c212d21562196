"""Space settings (F2, F30) and New space (F1, F34) driven through their widgets."""

from __future__ import annotations

import datetime as dt

from utils import unique

from twinspace_kernel.apps.manage_pages import ManagePages
from twinspace_kernel.apps.new_space import NewSpace, slug_problem, suggest_slug
from twinspace_kernel.apps.space_settings import SpaceSettings
from twinspace_kernel.i18n import set_language


def space_of(world, slug=None):
    return world.as_("teacher_admin").ok("GET", f"spaces/{slug or world.slug}")


def choose_archive(upload, name: str, data: bytes) -> None:
    upload.value = ({"name": name, "type": "application/zip", "size": len(data),
                     "content": memoryview(data), "last_modified": dt.datetime.now(dt.UTC)},)


def test_administrator_renames_archives_reopens_closes_and_publishes(world):
    settings = SpaceSettings(world.slug, client=world.client("teacher_admin"))
    assert settings.about_box in settings.body.children
    assert "This space is open." in settings.state_now.value
    # Every state says what it means for members before anything is chosen.
    assert "read-only for everyone" in settings.state_meanings.value
    assert "Only teacher administrators can see the space" in settings.state_meanings.value

    settings.title_text.value = "  "
    settings.save_button.click()
    assert "needs a title" in settings.banner.value
    settings.title_text.value = "River partners"
    settings.description_text.value = "Two schools, one river."
    settings.save_button.click()
    assert "River partners" in settings.banner.value
    assert space_of(world)["title"] == "River partners"
    assert space_of(world)["description"] == "Two schools, one river."

    settings.state_choice.value = "archived"
    settings.state_button.click()
    # Asks first, with what archiving means; nothing changed yet.
    assert settings.confirm_box.layout.display == ""
    assert "Archive this space?" in settings.confirm_text.value
    assert "read-only for everyone" in settings.confirm_text.value
    assert space_of(world)["state"] == "open"
    settings.cancel_button.click()
    assert settings.confirm_box.layout.display == "none"
    settings.state_button.click()
    settings.confirm_button.click()
    assert "now archived" in settings.banner.value
    assert space_of(world)["state"] == "archived"
    assert "This space is archived." in settings.state_now.value
    # Archived: read-only, publishing included; the administrator may still reopen it.
    assert settings.public_switch.button.layout.display == "none"
    assert "Reopen the space" in settings.public_note.value
    world.as_("pupil_admin").post(f"spaces/{world.slug}/pages", json={"section": "pupils_corner"},
                            expect=403)

    settings.state_choice.value = "open"
    settings.state_button.click()
    assert "Reopen this space?" in settings.confirm_text.value
    settings.confirm_button.click()
    assert space_of(world)["state"] == "open"
    assert "open again" in settings.banner.value

    settings.state_choice.value = "closed"
    settings.state_button.click()
    assert "taken offline" in settings.confirm_text.value
    settings.confirm_button.click()
    assert space_of(world)["state"] == "closed"
    world.as_("pupil").get(f"spaces/{world.slug}", expect=404)  # gone for members
    assert "the public sees none of it" in settings.public_note.value
    settings.state_choice.value = "open"
    settings.state_button.click()
    settings.confirm_button.click()
    assert space_of(world)["state"] == "open"

    switch = settings.public_switch
    assert switch.button.description == "Make this space public"
    switch.button.click()
    assert "now public" in settings.banner.value
    assert space_of(world)["public"] is True
    assert world.as_("public").ok("GET", f"spaces/{world.slug}")["title"] == "River partners"
    assert switch.button.description == "Make this space private"
    # The same switch in Manage pages shows the same state.
    manage = ManagePages(world.slug, "activities", client=world.client("teacher_admin"))
    assert manage.space_public is True
    assert manage.public_button.description == "Make this space private"
    switch.button.click()
    assert "now private" in settings.banner.value
    assert space_of(world)["public"] is False


def test_others_read_the_settings_and_are_refused_changes(world):
    set_language("fr")
    try:
        pupil = SpaceSettings(world.slug, client=world.client("pupil"))
        assert "Seuls les enseignants administrateurs" in pupil.banner.value
        assert pupil.about_box not in pupil.body.children
        assert pupil.public_switch.button.layout.display == "none"
    finally:
        set_language("en")
    teacher = SpaceSettings(world.slug, client=world.client("teacher"))
    assert teacher.state_box not in teacher.body.children
    # The widgets are still reachable from a teacher's own kernel: the service says no.
    teacher.state_choice.value = "closed"
    teacher.change_state()
    assert "may not change the space&#x27;s settings" in teacher.banner.value
    teacher.public_switch.toggle()
    assert "may not publish" in teacher.banner.value
    assert space_of(world)["state"] == "open" and space_of(world)["public"] is False


def test_web_address_is_suggested_and_checked():
    assert suggest_slug("Échanges 2026 : la Loire !") == "echanges-2026-la-loire"
    assert suggest_slug("x" * 100) == "x" * 63
    assert slug_problem("ok-2") is None
    assert "lowercase" in slug_problem("Bad slug")
    assert "at least 2" in slug_problem("a")
    assert "cannot be" in slug_problem("import")


def test_teacher_creates_spaces_every_way(world):
    client = world.client("teacher_admin")
    new = NewSpace(world.slug, client=client, base_url="/user/t/")
    assert new.form in new.body.children
    assert [slug for _title, slug in new.template_choice.options] == [world.slug]
    assert "10 MB" in new.archive_hint.value or "2 MB" in new.archive_hint.value
    assert "twinspace space import" in new.archive_hint.value

    # The address follows the title until typed; bad input is said and nothing is lost.
    new.title_text.value = "Océans partagés"
    assert new.slug_text.value == "oceans-partages"
    new.slug_text.value = "Bad Address"
    assert "lowercase" in new.slug_hint.value
    new.title_text.value = "Océans partagés 2"
    assert new.slug_text.value == "Bad Address"
    new.create_button.click()
    assert "lowercase" in new.banner.value
    assert new.title_text.value == "Océans partagés 2"

    slug = unique("oceans")
    new.slug_text.value = slug
    new.description_text.value = "Sea life"
    new.create_button.click()
    assert f'href="/user/t/twinspace/space/{slug}"' in new.result.value
    created = space_of(world, slug)
    assert (created["title"], created["description"], created["role"]) == (
        "Océans partagés 2", "Sea life", "teacher_admin")
    pages = world.as_("teacher_admin").ok("GET", f"spaces/{slug}/pages",
                                          params={"section": "activities"})["items"]
    assert len(pages) == 5  # the starter pages
    assert new.title_text.value == ""  # ready for another

    new.title_text.value = "Taken"
    new.slug_text.value = slug
    new.start.value = "empty"
    new.create_button.click()
    assert "already a space" in new.banner.value

    copy_slug = unique("copy")
    new.start.value = "template"
    new.template_choice.value = slug
    new.title_text.value = "Oceans again"
    new.slug_text.value = copy_slug
    new.create_button.click()
    assert "created" in new.banner.value
    copied = world.as_("teacher_admin").ok("GET", f"spaces/{copy_slug}/pages",
                                           params={"section": "activities"})["items"]
    assert [p["title"] for p in copied] == [p["title"] for p in pages]
    assert space_of(world, copy_slug)["description"] == "Sea life"  # the template's own

    archive = world.as_("teacher_admin").get(f"spaces/{slug}/export", expect=200).content
    new.start.value = "archive"
    new.title_text.value = "Imported oceans"
    new.create_button.click()
    assert "Choose the archive" in new.banner.value
    import_slug = unique("imported")
    new.slug_text.value = import_slug
    new.description_text.value = "From the archive"
    choose_archive(new.archive_upload, f"{slug}-export.zip", archive)
    new.create_button.click()
    assert "created" in new.banner.value, new.banner.value
    imported = space_of(world, import_slug)
    assert (imported["title"], imported["description"]) == ("Imported oceans",
                                                            "From the archive")
    assert new.archive_upload.value == ()


def test_only_teachers_create_spaces(world):
    for role in ("pupil", "visitor"):
        new = NewSpace(world.slug, client=world.client(role))
        assert "only teachers can create a space" in new.banner.value
        assert new.form not in new.body.children
        # Reachable from their own kernel all the same: the service refuses.
        new.title_text.value = "Mine"
        new.slug_text.value = unique("mine")
        new.create()
        assert "Only teachers" in new.banner.value
