"""Manage pages (F16) and Add application (F17) driven through their widgets."""

from __future__ import annotations

import ipywidgets as widgets

from twinspace_kernel.apps import AddApplication, ManagePages, page_tools


def titles(world, section="activities"):
    items = world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/pages",
                                          params={"section": section})["items"]
    return [p["title"] for p in items]


def test_administrator_creates_renames_reorders_publishes_and_deletes(world):
    world.add_page("activities", "First")
    manage = ManagePages(world.slug, "activities", client=world.client("teacher_admin"))
    assert manage.new_box in manage.body.children
    assert [p["title"] for p in manage.pages] == ["First"]

    manage.new_title.value = "Second"
    manage.new_button.click()
    assert "created" in manage.banner.value
    assert titles(world) == ["First", "Second"]

    manage.template.value = "starter/2-online-socialisation.ipynb"
    manage.new_title.value = ""
    manage.new_button.click()
    assert titles(world)[-1] == "Stage 2: Online socialisation"

    row = manage.rows[1]
    row.title.value = "Second, renamed"
    row.rename_button.click()
    assert titles(world)[1] == "Second, renamed"

    manage.rows[1].up_button.click()
    assert titles(world) == ["Second, renamed", "First", "Stage 2: Online socialisation"]
    assert [p["title"] for p in manage.pages] == titles(world)
    assert manage.rows[0].up_button.disabled and manage.rows[-1].down_button.disabled
    manage.rows[0].down_button.click()
    assert titles(world)[:2] == ["First", "Second, renamed"]

    manage.rows[0].publish_button.click()
    assert "now public" in manage.banner.value
    assert manage.rows[0].page["published"] is True
    assert manage.rows[0].publish_button.description == "Unpublish"

    doomed = manage.rows[1]
    doomed.delete_button.click()
    assert doomed.confirm_box.layout.display == ""  # asks first, deletes nothing yet
    assert len(titles(world)) == 3
    doomed.cancel_button.click()
    assert doomed.confirm_box.layout.display == "none"
    doomed.delete_button.click()
    doomed.confirm_button.click()
    assert titles(world) == ["First", "Stage 2: Online socialisation"]
    assert "deleted" in manage.banner.value


def test_plain_teacher_manages_but_may_not_publish(world):
    world.add_page("activities", "Only")
    manage = ManagePages(world.slug, "activities", client=world.client("teacher"))
    assert manage.rows[0].controls.layout.display == ""
    assert manage.rows[0].publish_button.layout.display == "none"


def test_pupil_sees_the_list_only_and_is_refused(world):
    world.add_page("activities", "Ours")
    manage = ManagePages(world.slug, "activities", client=world.client("pupil"))
    assert manage.new_box not in manage.body.children
    assert manage.rows[0].controls.layout.display == "none"
    # The widgets are still reachable from the pupil's kernel: the service says no.
    manage.new_title.value = "Mine"
    manage.new_button.click()
    assert "may not manage pages or applications" in manage.banner.value
    row = manage.rows[0]
    row.title.value = "Hacked"
    row.rename_button.click()
    assert "may not manage pages" in manage.banner.value
    row.delete_button.click()
    row.confirm_button.click()
    assert "may not manage pages" in manage.banner.value
    assert titles(world) == ["Ours"]


def test_pupil_admin_manages_the_pupils_corner_but_not_the_teachers_room(world):
    manage = ManagePages(world.slug, "pupils_corner", client=world.client("pupil_admin"))
    manage.new_title.value = "Our games"
    manage.new_button.click()
    assert titles(world, "pupils_corner") == ["Our games"]
    refused = ManagePages(world.slug, "teachers_room", client=world.client("pupil_admin"))
    assert "Teachers' Room" in refused.banner.value or "may not" in refused.banner.value
    assert refused.rows == []


def test_add_and_remove_applications(world):
    page_id = world.add_page("activities", "Apps")
    add = AddApplication(page_id, client=world.client("teacher_admin"))
    assert add.add_box in add.body.children and add.rows == []
    add.kind_choice.value = "wiki"
    add.new_title.value = "Glossary"
    add.add_button.click()
    add.kind_choice.value = "documents"
    add.add_button.click()
    assert "added" in add.banner.value
    page = world.as_("teacher").ok("GET", f"pages/{page_id}")
    assert [(a["kind"], a["title"]) for a in page["apps"]] == [
        ("wiki", "Glossary"), ("documents", "Documents")]
    assert [row.app["title"] for row in add.rows] == ["Glossary", "Documents"]

    row = add.rows[0]
    row.remove_button.click()
    assert row.confirm_box.layout.display == ""
    row.confirm_button.click()
    assert [r.app["kind"] for r in add.rows] == ["documents"]
    assert [a["kind"] for a in world.as_("teacher").ok("GET", f"pages/{page_id}")["apps"]] == [
        "documents"]


def test_pupil_may_not_add_or_remove_applications(world):
    page_id = world.add_page("activities", "Apps")
    app_id = world.add_app(page_id, "forum")
    add = AddApplication(page_id, client=world.client("pupil"))
    assert add.add_box not in add.body.children
    assert add.rows[0].remove_button.layout.display == "none"
    add.add_button.click()
    assert "may not manage pages or applications" in add.banner.value
    add.rows[0].confirm_button.click()
    assert "may not manage pages or applications" in add.banner.value
    page = world.as_("teacher").ok("GET", f"pages/{page_id}")
    assert [a["id"] for a in page["apps"]] == [app_id]


def test_page_tools_show_only_to_managers(world):
    page_id = world.add_page("activities", "Tools")
    tools = page_tools(world.slug, "activities", page_id, client=world.client("teacher_admin"))
    assert isinstance(tools, widgets.Accordion)
    assert isinstance(tools.children[0], ManagePages)
    assert isinstance(tools.children[1], AddApplication)
    nothing = page_tools(world.slug, "activities", page_id, client=world.client("pupil"))
    assert isinstance(nothing, widgets.VBox) and nothing.children == ()
