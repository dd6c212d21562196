"""The shared volume through the service: `GET volume` and every write, against rights.py."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from twinspace_kernel import rights
from twinspace_kernel.volume import SECTION_FOLDERS, safe_name


def space_dir(world) -> Path:
    return Path(world.site.hub.data_dir) / "spaces" / world.slug


def my_space(caller, slug):
    tree = caller.ok("GET", "volume")
    return next((s for s in tree["spaces"] if s["slug"] == slug), None)


def section_of(space, section):
    return next((s for s in space["sections"] if s["section"] == section), None)


def entry(caller, slug, section, name):
    space = my_space(caller, slug)
    found = section_of(space, section) if space else None
    return next((e for e in found["entries"] if e["name"] == name), None) if found else None


def url(world, section, name):
    from urllib.parse import quote

    return f"volume/{world.slug}/{section}/{quote(name, safe='')}"


@pytest.fixture
def filled(world):
    """The world with a page in every section."""
    for section in ("activities", "teachers_room", "pupils_corner"):
        world.add_page(section, f"{section} page")
    return world


@pytest.mark.parametrize("role", rights.MEMBER_ROLES)
def test_each_role_sees_exactly_the_sections_it_may_view(filled, role):
    world = filled
    space = my_space(world.as_(role), world.slug)
    assert space["role"] == role
    assert space["title"] == f"Space {world.slug}" and space["folder"] == space["title"]
    expected = [s for s in rights.SECTIONS if rights.allowed(role, "view", s)]
    assert [s["section"] for s in space["sections"]] == expected
    for section in space["sections"]:
        assert section["folder"] == SECTION_FOLDERS[section["section"]]
        assert section["may"] == {a: rights.allowed(role, a, section["section"])
                                  for a in rights.ACTIONS}
        names = [e["name"] for e in section["entries"]]
        if section["section"] in ("activities", "teachers_room", "pupils_corner"):
            assert names == [safe_name(f"{section['section']} page") + ".ipynb"]
        for item in section["entries"]:
            assert item["kind"] == "page"
            assert (space_dir(world) / item["path"]).is_file()
            assert item["writable"] == rights.allowed(role, "manage_pages", section["section"])


@pytest.mark.parametrize("role", ["outsider", "public"])
def test_outsiders_see_no_space_and_the_public_must_log_in(world, role):
    caller = world.as_(role)
    if role == "public":
        assert caller.get("volume", expect=401).json()["message"] == "Please log in."
        caller.put(url(world, "home", "x.txt"), data=b"x", expect=401)
    else:
        assert my_space(caller, world.slug) is None
        r = caller.put(url(world, "home", "x.txt"), data=b"x", expect=403)
        assert r.json()["message"] == "You are not a member of this space."


@pytest.mark.parametrize("role", rights.MEMBER_ROLES)
@pytest.mark.parametrize("section", rights.SECTIONS)
def test_sharing_a_file_follows_the_upload_right(world, role, section):
    caller = world.as_(role)
    name = f"{role} notes.txt"
    r = caller.put(url(world, section, name), data=b"hello")
    if rights.allowed(role, "upload", section):
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["name"], body["kind"], body["writable"], body["may_delete"]) == (
            name, "file", True, True)
        assert body["path"] == f"{section}/files/{name}"
        assert (space_dir(world) / body["path"]).read_bytes() == b"hello"
        # Shared with everyone who may view the section.
        for other in rights.MEMBER_ROLES:
            seen = entry(world.as_(other), world.slug, section, name)
            assert (seen is not None) == rights.allowed(other, "view", section), other
    elif not rights.allowed(role, "view", section):
        assert r.status_code == 403
        assert r.json()["message"] == rights.explain(role, "view", section)
    else:
        assert r.status_code == 403
        assert r.json()["message"] == rights.explain(role, "upload", section)
        assert not (space_dir(world) / section / "files" / name).exists()


def test_shared_files_show_in_latest_activities(world):
    pupil = world.as_("pupil")
    pupil.put(url(world, "pupils_corner", "Poem.ipynb"),
              data=nbformat.writes(new_notebook()).encode(), expect=201)
    pupil.put(url(world, "pupils_corner", "Poem.ipynb"), data=b"{}", expect=200)
    pupil.patch(url(world, "pupils_corner", "Poem.ipynb"), json={"name": "Our poem.ipynb"},
                expect=200)
    pupil.delete(url(world, "pupils_corner", "Our poem.ipynb"), expect=204)
    feed = world.as_("pupil_admin").ok("GET", f"spaces/{world.slug}/activity")["items"]
    mine = [(e["verb"], e["summary"]) for e in feed
            if e["actor"] and e["actor"]["name"] == pupil.name and e["verb"] != "member.join"]
    # Saving again a moment later adds no line; rename and delete do.
    assert mine == [("file.delete", "Our poem.ipynb"),
                    ("file.rename", "Poem.ipynb → Our poem.ipynb"),
                    ("file.share", "Poem.ipynb")]
    # Those who may not view the Pupils' Corner do not see its activity.
    visitor_feed = world.as_("visitor").ok("GET", f"spaces/{world.slug}/activity")["items"]
    assert not [e for e in visitor_feed if e["section"] == "pupils_corner"]
    assert not (space_dir(world) / "pupils_corner" / "files").exists() or not list(
        (space_dir(world) / "pupils_corner" / "files").iterdir())


@pytest.mark.parametrize("actor", [*rights.MEMBER_ROLES, "outsider"])
@pytest.mark.parametrize("section", ["activities", "pupils_corner"])
def test_rename_and_delete_author_or_moderator(world, actor, section):
    author = "pupil_admin"
    name = f"by-{actor}.txt"
    world.as_(author).put(url(world, section, name), data=b"x", expect=201)
    caller = world.as_(actor)
    may = actor != "outsider" and rights.may_edit(actor, section, is_author=actor == author)
    r = caller.patch(url(world, section, name), json={"name": f"renamed-{name}"})
    assert r.status_code == (200 if may else 403), r.text
    current = f"renamed-{name}" if may else name
    r = caller.delete(url(world, section, current))
    assert r.status_code == (204 if may else 403), r.text
    assert (space_dir(world) / section / "files" / current).exists() == (not may)
    if not may and actor != "outsider" and rights.allowed(actor, "upload", section):
        # Replacing someone else's file takes a moderator too.
        r = caller.put(url(world, section, current), data=b"mine now")
        assert r.status_code == 403
        assert r.json()["message"] == "You may only edit or delete your own content."


def test_pages_cannot_be_renamed_or_deleted_here(filled):
    ta = filled.as_("teacher_admin")
    for method in ("PATCH", "DELETE"):
        r = ta.request(method, url(filled, "activities", "activities page.ipynb"),
                       json={"name": "x.ipynb"} if method == "PATCH" else None)
        assert r.status_code == 403
        assert "Manage pages" in r.json()["message"]


def page_file(world, section="activities", name="activities page.ipynb") -> Path:
    item = entry(world.as_("teacher_admin"), world.slug, section, name)
    return space_dir(world) / item["path"]


def test_a_teacher_saves_own_cells_in_a_page(filled):
    world = filled
    page_id = entry(world.as_("teacher"), world.slug, "activities",
                    "activities page.ipynb")["page_id"]
    forum = world.add_app(page_id, "forum", "Questions")
    world.add_app(page_id, "wiki", "Words")
    path = page_file(world)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, new_markdown_cell("Read this first."))
    nb.cells.append(new_code_cell("print('teacher code')"))
    teacher = world.as_("teacher")
    body = teacher.ok("PUT", url(world, "activities", "activities page.ipynb"),
                      data=nbformat.writes(nb).encode())
    assert body["kind"] == "page" and body["page_id"] == page_id
    saved = nbformat.read(path, as_version=4)
    assert "Read this first." in [c.source for c in saved.cells]
    assert saved.cells[-1].source == "print('teacher code')"
    assert saved.metadata["twinspace"]["page_id"] == page_id

    # Any change to an application cell is refused, and the page stays as it was.
    for change in ("remove", "edit", "move", "duplicate"):
        broken = nbformat.read(path, as_version=4)
        index = next(i for i, c in enumerate(broken.cells)
                     if c.metadata.get("twinspace", {}).get("app_id") == forum)
        if change == "remove":
            del broken.cells[index]
        elif change == "edit":
            broken.cells[index].source = "import os"
        elif change == "move":  # the applications' order changes
            broken.cells.insert(index + 1, broken.cells.pop(index))
        else:
            broken.cells.append(broken.cells[index])
        before = path.read_bytes()
        r = teacher.put(url(world, "activities", "activities page.ipynb"),
                        data=nbformat.writes(broken).encode())
        assert r.status_code == 409, (change, r.text)
        assert "Manage pages" in r.json()["message"]
        assert path.read_bytes() == before
    r = teacher.put(url(world, "activities", "activities page.ipynb"), data=b"not json")
    assert r.status_code == 400
    assert "not a notebook" in r.json()["message"]


@pytest.mark.parametrize("role", rights.MEMBER_ROLES)
@pytest.mark.parametrize("section", ["home", "activities", "teachers_room", "pupils_corner"])
def test_saving_a_page_needs_manage_pages(filled, role, section):
    world = filled
    name = "Home.ipynb" if section == "home" else f"{section} page.ipynb"
    path = page_file(world, section, name)
    before = path.read_bytes()
    r = world.as_(role).put(url(world, section, name), data=before)
    if rights.allowed(role, "manage_pages", section):
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 403
        action = "view" if not rights.allowed(role, "view", section) else "manage_pages"
        assert r.json()["message"] == rights.explain(role, action, section)
        assert path.read_bytes() == before


@pytest.mark.parametrize("role", [*rights.MEMBER_ROLES, "outsider"])
@pytest.mark.parametrize("section", ["home", "activities", "teachers_room", "pupils_corner"])
def test_reading_an_entry_through_the_service_needs_view(filled, role, section):
    world = filled
    name = "Home.ipynb" if section == "home" else f"{section} page.ipynb"
    r = world.as_(role).get(url(world, section, name))
    if role != "outsider" and rights.allowed(role, "view", section):
        assert r.status_code == 200
        assert r.content == page_file(world, section, name).read_bytes()
    else:
        assert r.status_code == 403
        assert r.json()["message"] == (
            "You are not a member of this space." if role == "outsider"
            else rights.explain(role, "view", section))


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [
        ("..", 404, "No such endpoint"),  # resolved by the client: never reaches a file
        ("%2E%2E", 404, "No such endpoint"),
        (".hidden", 400, "start with '.'"),
        ("a%2Fb", 400, "'/'"),
        ("a%5Cb", 400, "'/'"),
        ("%2E%2E%2Fhub", 400, "'/'"),
        ("x%00y", 400, "control"),
        ("%20lead", 400, "space"),
    ],
)
def test_tricky_names_are_refused(world, name, status, words):
    r = world.as_("pupil").put(f"volume/{world.slug}/pupils_corner/{name}", data=b"x")
    assert r.status_code == status, r.text
    assert words in r.json()["message"]
    assert not (space_dir(world) / "pupils_corner" / "files").exists()


def test_names_differing_only_in_case_are_refused(filled):
    world = filled
    ta = world.as_("teacher_admin")
    r = ta.put(url(world, "activities", "ACTIVITIES PAGE.ipynb"), data=b"x")
    assert r.status_code == 400
    assert "upper and lower case" in r.json()["message"]
    ta.put(url(world, "activities", "notes.txt"), data=b"x", expect=201)
    assert ta.put(url(world, "activities", "Notes.TXT"), data=b"x").status_code == 400
    # Unicode forms are one name too.
    ta.put(url(world, "activities", "\u00e9t\u00e9.txt"), data=b"x", expect=201)
    r = ta.put(url(world, "activities", "e\u0301te\u0301.txt"), data=b"y")
    assert r.status_code == 200  # the same file, saved again
    assert ta.patch(url(world, "activities", "notes.txt"),
                    json={"name": "ÉTÉ.txt"}).status_code == 409
    assert ta.patch(url(world, "activities", "notes.txt"),
                    json={"name": "../x"}).status_code == 400


def test_unknown_section_and_space(world):
    ta = world.as_("teacher_admin")
    r = ta.put(f"volume/{world.slug}/attic/x.txt", data=b"x")
    assert r.status_code == 400 and "No such section" in r.json()["message"]
    assert ta.put("volume/no-such-space/home/x.txt", data=b"x").status_code == 404
    assert ta.delete(url(world, "home", "nothing.txt")).status_code == 404


def test_archived_space_is_read_only_and_closed_is_hidden(world):
    ta = world.as_("teacher_admin")
    ta.put(url(world, "activities", "kept.txt"), data=b"x", expect=201)
    ta.ok("PATCH", f"spaces/{world.slug}", json={"state": "archived"})
    archived = rights.explain("teacher_admin", "upload", "activities", state="archived")
    for r in (
        ta.put(url(world, "activities", "kept.txt"), data=b"y"),
        ta.put(url(world, "activities", "new.txt"), data=b"y"),
        ta.patch(url(world, "activities", "kept.txt"), json={"name": "k.txt"}),
        ta.delete(url(world, "activities", "kept.txt")),
    ):
        assert r.status_code == 403
        assert r.json()["message"] == archived
    space = my_space(world.as_("pupil"), world.slug)
    assert space["state"] == "archived"
    assert all(not e["writable"] for s in space["sections"] for e in s["entries"])
    ta.ok("PATCH", f"spaces/{world.slug}", json={"state": "closed"})
    assert my_space(world.as_("teacher"), world.slug) is None
    assert my_space(ta, world.slug) is not None
    assert world.as_("teacher").put(url(world, "activities", "t.txt"),
                                    data=b"x").status_code == 404


def test_too_large_and_empty_files(world):
    ta = world.as_("teacher_admin")
    limit = ta.ok("GET", "limits")["upload_limit"]
    r = ta.put(url(world, "home", "big.bin"), data=b"x" * (limit + 1))
    assert r.status_code == 413
    assert "the limit is" in r.json()["message"]
    assert not (space_dir(world) / "home" / "files" / "big.bin").exists()
    body = ta.ok("PUT", url(world, "home", "empty.txt"), data=b"")
    assert body["size"] == 0


def test_volume_answer_is_json_for_the_contract(world):
    body = world.as_("pupil").ok("GET", "volume")
    assert json.loads(json.dumps(body)) == body
    assert {"spaces"} == set(body)
