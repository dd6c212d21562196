"""The document library app driven through its widgets against the real service."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests

from twinspace_kernel.apps import show
from twinspace_kernel.apps.documents import Documents

MIB = 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
OVER_LIMIT = 2 * MIB + 50_000  # the test hub's limit is 2 MB: this reads "2.1 MB"

LIMITS = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
          "visitor": 200, "outsider": 200, "public": 200}  # fmt: skip


def choose(upload, *files: tuple[str, bytes], kind: str = "application/pdf") -> None:
    """What the browser does: the widget's value becomes the chosen files (ipywidgets 8 turns
    `last_modified` into a datetime; an int would break the widget's own serializer)."""
    upload.value = tuple(
        {"name": name, "type": kind, "size": len(data), "content": memoryview(data),
         "last_modified": dt.datetime.now(dt.UTC)}
        for name, data in files
    )


def listed(world, app_id: int, folder: int | None = None) -> list[str]:
    params = {} if folder is None else {"folder": folder}
    items = world.as_("teacher_admin").ok("GET", f"apps/{app_id}/documents", params=params)
    return [d["filename"] for d in items["items"]]


def html_of(app: Documents) -> str:
    return " ".join(w.value for w in app.table.children
                    if isinstance(getattr(w, "value", None), str))


def links(app: Documents) -> list[str]:
    return re.findall(r'href="([^"]+)"', html_of(app))


@pytest.mark.parametrize("role", sorted(LIMITS))
def test_limits_are_public(world, role):
    assert world.as_(role).get("limits", expect=LIMITS[role]).json() == {"upload_limit": 2 * MIB}


def test_uploader_makes_folders_uploads_and_gets_working_links(world):
    app_id = world.new_app("documents")
    app = show(app_id, client=world.client("pupil_admin"))
    assert isinstance(app, Documents)
    assert app.upload_box in app.body.children
    assert "Largest file: 2 MB" in app.limit_label.value
    assert app.upload.multiple

    app.folder_name.value = "Plans"
    app.folder_button.click()
    assert "Folder Plans created" in app.banner.value
    [open_plans] = [h.children[0] for h in app.folder_list.children]
    assert open_plans.description == "Plans"
    open_plans.click()
    assert "<b aria-current='page'>Plans</b>" in app.breadcrumbs.children[-1].value
    assert app.breadcrumbs.children[0].description == "Documents"

    choose(app.upload, ("plan.pdf", PDF), ("notes.txt", b"Hello, partners!\n"))
    assert "Uploaded 2 files" in app.banner.value
    assert app.upload.value == ()
    folder_id = app.folder_id
    assert sorted(listed(world, app_id, folder_id)) == ["notes.txt", "plan.pdf"]
    assert listed(world, app_id) == []
    texts = [w.value for w in app.table.children if isinstance(getattr(w, "value", None), str)]
    assert "PDF" in texts and "Text" in texts and f"{len(PDF)} bytes" in texts

    # The link is the hub proxy's path to the service (the browser's cookie goes there).
    hrefs = links(app)
    assert len(hrefs) == 2
    for href in hrefs:
        assert re.fullmatch(r"/services/twinspace/api/v1/documents/\d+/download", href)
    assert 'download="plan.pdf"' in html_of(app)
    base = world.site.api_base.split("/services/")[0]
    token = world.as_("pupil").token
    got = {requests.get(base + href, headers={"Authorization": f"token {token}"},
                        timeout=10).content for href in hrefs}
    assert got == {PDF, b"Hello, partners!\n"}

    # Move one to the top level, then delete the other; back to the top via the breadcrumb.
    row_moves = [w for w in app.table.children if w.__class__.__name__ == "Dropdown"]
    row_moves[0].value = "top"
    assert "Document moved" in app.banner.value
    assert len(listed(world, app_id)) == 1
    [delete] = [w for w in app.table.children if getattr(w, "description", "") == "Delete"]
    delete.click()
    assert "Document deleted" in app.banner.value
    assert listed(world, app_id, folder_id) == []
    app.breadcrumbs.children[0].click()
    assert app.folder is None
    assert len(links(app)) == 1


def test_over_limit_and_refused_type_leave_the_widget_working(world):
    app_id = world.new_app("documents")
    app = Documents(app_id, client=world.client("teacher"))
    choose(app.upload, ("film.pdf", b"%PDF" + b"0" * (OVER_LIMIT - 4)))
    assert "The file is 2.1 MB; the limit is 2 MB." in app.banner.value
    assert listed(world, app_id) == []
    assert app.upload.value == ()
    # The widget still works: the next (small) file goes through.
    choose(app.upload, ("small.pdf", PDF))
    assert "Uploaded 1 file" in app.banner.value
    assert listed(world, app_id) == ["small.pdf"]
    # A program is refused by the service (415) with its message.
    choose(app.upload, ("game.pdf", ELF), kind="application/x-executable")
    assert "game.pdf: Programs and scripts can&#x27;t be uploaded." in app.banner.value
    assert listed(world, app_id) == ["small.pdf"]
    # Without the client-side check, the service's own 413 says the same.
    app.limit = 0
    choose(app.upload, ("film.pdf", b"%PDF" + b"0" * (OVER_LIMIT - 4)))
    assert "The file is 2.1 MB; the limit is 2 MB." in app.banner.value
    choose(app.upload, ("again.pdf", PDF))
    assert sorted(listed(world, app_id)) == ["again.pdf", "small.pdf"]


@pytest.mark.parametrize("role", ["pupil", "visitor"])
def test_refused_role_sees_the_list_but_no_upload(world, role):
    app_id = world.new_app("documents")
    owner = Documents(app_id, client=world.client("pupil_admin"))
    choose(owner.upload, ("plan.pdf", PDF))
    app = Documents(app_id, client=world.client(role))
    assert app.upload_box not in app.body.children
    assert len(links(app)) == 1
    assert not any(getattr(w, "description", "") == "Delete" for w in app.table.children)
    # Forcing the hidden widgets: the service refuses, politely.
    choose(app.upload, ("mine.pdf", PDF))
    assert f"A {role} may not upload files in the activities section." in app.banner.value
    app.folder_name.value = "Mine"
    app.folder_button.click()
    assert "may not upload files" in app.banner.value
    assert listed(world, app_id) == ["plan.pdf"]
    assert world.as_("teacher_admin").ok("GET", f"apps/{app_id}/folders")["items"] == []


def test_moderator_deletes_what_others_uploaded(world):
    app_id = world.new_app("documents")
    owner = Documents(app_id, client=world.client("pupil_admin"))
    choose(owner.upload, ("plan.pdf", PDF))
    teacher = Documents(app_id, client=world.client("teacher"))
    [delete] = [w for w in teacher.table.children if getattr(w, "description", "") == "Delete"]
    delete.click()
    assert listed(world, app_id) == []
    assert "No documents in this folder yet" in teacher.empty.value
