"""The wiki app driven through its widgets against the real service (F20)."""

from __future__ import annotations

from twinspace_kernel.apps import show
from twinspace_kernel.apps.wiki import Wiki


def add_page(world, app_id, role="teacher", title="Recipes", text="Bread"):
    return world.as_(role).ok("POST", f"apps/{app_id}/wiki", json={"title": title, "text": text})


def save(world, wiki_id, text, base, role="teacher"):
    return world.as_(role).ok("PUT", f"wiki/{wiki_id}", json={"text": text, "base_revision": base})


def test_member_creates_a_page_and_member_text_is_safe(world):
    app_id = world.new_app("wiki")
    app = show(app_id, client=world.client("pupil"))
    assert isinstance(app, Wiki)
    assert app.create_box in app.body.children
    app.new_title.value = "<b>Our</b> dishes"
    app.new_text.value = "# Soup\n\nHot *soup*\n\n<script>alert(1)</script>"
    app.create_button.click()
    assert "page is created" in app.banner.value
    [stored] = world.as_("visitor").ok("GET", f"apps/{app_id}/wiki")["items"]
    assert stored["title"] == "<b>Our</b> dishes"
    # The page view: the rendered, sanitized text; the title escaped.
    assert app.page["id"] == stored["id"]
    assert "&lt;b&gt;Our&lt;/b&gt; dishes" in app.page_header.value
    assert "<em>soup</em>" in app.view.value and "<script" not in app.view.value
    assert "revision 1" in app.page_header.value
    # Back to the list of pages.
    app.back_button.click()
    [row] = app.pages_box.children
    assert "&lt;b&gt;Our&lt;/b&gt; dishes" in row.children[0].value
    assert "(École Test, FR)" in row.children[0].value


def test_refused_edit_shows_the_services_message(world):
    app_id = world.new_app("wiki")
    wiki = add_page(world, app_id)
    app = Wiki(app_id, client=world.client("visitor"))
    assert app.create_box not in app.body.children
    app.new_title.value = "Mine"
    app.new_text.value = "text"
    app.create_button.click()
    assert "A visitor may not edit the wiki in the activities section." in app.banner.value
    app.pages_box.children[0].open_button.click()
    assert app.edit_button.layout.display == "none"
    assert app.revert_box.layout.display == "none"
    # Forcing the editor anyway: refused, nothing stored.
    app.start_edit()
    app.editor.value = "vandalised"
    app.save_button.click()
    assert "A visitor may not edit the wiki in the activities section." in app.banner.value
    current = world.as_("teacher").ok("GET", f"wiki/{wiki['id']}")
    assert (current["revision"], current["text"]) == (1, "Bread")


def test_edit_and_save(world):
    app_id = world.new_app("wiki")
    wiki = add_page(world, app_id)
    app = Wiki(app_id, client=world.client("pupil"))
    app.pages_box.children[0].open_button.click()
    assert "<p>Bread</p>" in app.view.value
    assert app.edit_box.layout.display == "none"
    app.edit_button.click()
    assert app.editor.value == "Bread" and app.base_revision == 1
    assert app.theirs_box.layout.display == "none"
    app.editor.value = "Bread\n\n**Butter**"
    app.summary.value = "Added butter"
    app.save_button.click()
    assert "Saved as revision 2" in app.banner.value
    assert "<strong>Butter</strong>" in app.view.value
    assert app.edit_box.layout.display == "none"
    current = world.as_("teacher").ok("GET", f"wiki/{wiki['id']}")
    assert (current["revision"], current["text"]) == (2, "Bread\n\n**Butter**")
    # History: both revisions with their authors and times (read when the tab is opened).
    assert app.history_box.children == ()
    app.tabs.selected_index = 1
    assert [r["number"] for r in app.revisions] == [2, 1]
    assert "Added butter" in app.history_table.value
    assert "Pupil" in app.history_table.value and "Teacher" in app.history_table.value
    assert "UTC" in app.history_table.value


def test_conflict_shows_both_versions_and_the_merge_is_stored(world):
    app_id = world.new_app("wiki")
    wiki = add_page(world, app_id, text="Bread\nMilk")
    first = Wiki(app_id, client=world.client("pupil"))
    second = Wiki(app_id, client=world.client("teacher"))
    for app in (first, second):
        app.open_item(None, wiki["id"])
        app.edit_button.click()
    first.editor.value = "Bread\nMilk\nEggs"
    first.save_button.click()
    assert "Saved as revision 2" in first.banner.value

    second.editor.value = "Bread\nMilk\nApples"
    second.save_button.click()
    # Both versions side by side: theirs read-only with its author, yours in the editor.
    assert "Someone saved this page" in second.banner.value
    assert second.theirs_box.layout.display == ""
    assert second.theirs.disabled
    assert second.theirs.value == "Bread\nMilk\nEggs"
    assert "revision 2" in second.theirs_label.value and "Pupil" in second.theirs_label.value
    assert second.editor.value == "Bread\nMilk\nApples"
    assert "Someone saved this page after you started editing" in second.conflict_message.value
    assert "diff-delete" in second.conflict_diff.value and "-Eggs" in second.conflict_diff.value
    assert "diff-insert" in second.conflict_diff.value and "+Apples" in second.conflict_diff.value
    assert second.base_revision == 2
    # Their text was not overwritten.
    current = world.as_("visitor").ok("GET", f"wiki/{wiki['id']}")
    assert (current["revision"], current["text"]) == (2, "Bread\nMilk\nEggs")

    # The member merges in the editor and saves again: revision 3, the merged text.
    second.editor.value = "Bread\nMilk\nEggs\nApples"
    second.save_button.click()
    assert "Saved as revision 3" in second.banner.value
    assert second.theirs_box.layout.display == "none"
    current = world.as_("visitor").ok("GET", f"wiki/{wiki['id']}")
    assert (current["revision"], current["text"]) == (3, "Bread\nMilk\nEggs\nApples")
    revisions = world.as_("visitor").ok("GET", f"wiki/{wiki['id']}/revisions")["items"]
    assert [r["number"] for r in revisions] == [3, 2, 1]


def test_history_diff_and_revert(world):
    app_id = world.new_app("wiki")
    wiki = add_page(world, app_id, text="line a\nline <b>")
    save(world, wiki["id"], "line a\nline c", 1, role="pupil")
    app = Wiki(app_id, client=world.client("pupil_admin"))
    app.open_item(None, wiki["id"])
    app.tabs.selected_index = 1
    assert (app.diff_from.value, app.diff_to.value) == (1, 2)
    app.compare_button.click()
    diff = app.diff_view.value
    assert diff.startswith("<pre")
    assert 'class="diff-delete"' in diff and "-line &lt;b&gt;" in diff
    assert 'class="diff-insert"' in diff and "+line c" in diff
    assert "<b>\n" not in diff
    # Revert to revision 1: a new revision 3 with revision 1's text.
    assert app.revert_box.layout.display == ""
    app.revert_choice.value = 1
    app.revert_button.click()
    assert "Revision 3 has the text of revision 1 again." in app.banner.value
    current = world.as_("teacher").ok("GET", f"wiki/{wiki['id']}")
    assert (current["revision"], current["text"]) == (3, "line a\nline <b>")
    assert [r["number"] for r in app.revisions] == [3, 2, 1]
    assert app.revisions[0]["reverted_from"] == 1
    assert "Reverted to revision 1" in app.history_table.value


def test_stale_revert_and_refused_revert(world):
    app_id = world.new_app("wiki")
    wiki = add_page(world, app_id, text="one")
    save(world, wiki["id"], "two", 1)
    app = Wiki(app_id, client=world.client("pupil"))
    app.open_item(None, wiki["id"])
    save(world, wiki["id"], "three", 2)  # someone saves meanwhile
    app.revert_choice.value = 1
    app.revert_button.click()
    assert "Someone saved this page" in app.banner.value
    assert app.page["revision"] == 3  # reloaded
    assert world.as_("teacher").ok("GET", f"wiki/{wiki['id']}")["text"] == "three"

    visitor = Wiki(app_id, client=world.client("visitor"))
    visitor.open_item(None, wiki["id"])
    visitor.revert_choice.value = 1
    visitor.revert_button.click()
    assert "A visitor may not edit the wiki in the activities section." in visitor.banner.value
    assert world.as_("teacher").ok("GET", f"wiki/{wiki['id']}")["revision"] == 3
