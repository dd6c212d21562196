"""Pages and applications (F16, F17) and web content (F23): every endpoint, every role."""

from __future__ import annotations

from pathlib import Path

import pytest
from utils import ROLES

from twinspace_kernel import rights

# Creating a page: who may manage pages in each section.
CREATE = {
    "activities": {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 403,
                   "visitor": 403, "outsider": 403, "public": 401},
    "teachers_room": {"teacher_admin": 201, "teacher": 201, "pupil_admin": 403, "pupil": 403,
                      "visitor": 403, "outsider": 403, "public": 401},
    "pupils_corner": {"teacher_admin": 403, "teacher": 403, "pupil_admin": 201, "pupil": 403,
                      "visitor": 403, "outsider": 403, "public": 401},
    "home": {"teacher_admin": 201, "teacher": 403, "pupil_admin": 403, "pupil": 403,
             "visitor": 403, "outsider": 403, "public": 401},
}


@pytest.mark.parametrize("section", CREATE)
@pytest.mark.parametrize("role", ROLES)
def test_create_page(world, role, section):
    r = world.as_(role).post(f"spaces/{world.slug}/pages",
                             json={"section": section, "title": "Étape 1: Présentation"},
                             expect=CREATE[section][role])
    if r.status_code == 201:
        page = r.json()
        assert page["slug"] == "etape-1-presentation"
        assert page["section"] == section and page["apps"] == []
    else:
        assert r.json()["message"]


# Reading a page of each section (unpublished, private space).
VIEW = {
    "activities": {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
                   "visitor": 200, "outsider": 403, "public": 401},
    "teachers_room": {"teacher_admin": 200, "teacher": 200, "pupil_admin": 403, "pupil": 403,
                      "visitor": 403, "outsider": 403, "public": 401},
    "pupils_corner": {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
                      "visitor": 403, "outsider": 403, "public": 401},
}


@pytest.mark.parametrize("section", VIEW)
@pytest.mark.parametrize("role", ROLES)
def test_view_page_and_list(world, role, section):
    page_id = world.add_page(section, "Hidden gem")
    caller = world.as_(role)
    caller.get(f"pages/{page_id}", expect=VIEW[section][role])
    r = caller.get(f"spaces/{world.slug}/pages", params={"section": section},
                   expect=VIEW[section][role])
    if r.status_code == 200:
        assert [p["title"] for p in r.json()["items"]] == ["Hidden gem"]
    # The unfiltered list leaves out what the caller may not see.
    if VIEW[section][role] == 403 and role not in ("outsider", "public"):
        titles = [p["title"] for p in caller.ok("GET", f"spaces/{world.slug}/pages")["items"]]
        assert "Hidden gem" not in titles


def test_all_pages_come_in_the_top_bars_order(world):
    """Home first, then Project Activities, Teachers' Room, ..., each section in its order."""
    world.add_page("teachers_room", "Planning")
    world.add_page("activities", "Second")
    world.add_page("activities", "Third")
    items = world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/pages")["items"]
    sections = [p["section"] for p in items]
    assert sections == sorted(sections, key=rights.SECTIONS.index)
    assert sections[0] == "home"
    activities = [p["title"] for p in items if p["section"] == "activities"]
    assert activities[-2:] == ["Second", "Third"]


MANAGE_ACTIVITIES = {
    "teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 403, "visitor": 403,
    "outsider": 403, "public": 401,
}
DELETE_ACTIVITIES = {**MANAGE_ACTIVITIES, "teacher_admin": 204, "teacher": 204,
                     "pupil_admin": 204}
ADD_APP = {**MANAGE_ACTIVITIES, "teacher_admin": 201, "teacher": 201, "pupil_admin": 201}
PUBLISH = {"teacher_admin": 200, "teacher": 403, "pupil_admin": 403, "pupil": 403,
           "visitor": 403, "outsider": 403, "public": 401}


@pytest.mark.parametrize("role", ROLES)
def test_rename_page(world, role):
    page_id = world.add_page()
    r = world.as_(role).patch(f"pages/{page_id}", json={"title": "Renamed"},
                              expect=MANAGE_ACTIVITIES[role])
    if r.status_code == 200:
        assert r.json()["title"] == "Renamed"


@pytest.mark.parametrize("role", ROLES)
def test_publish_page(world, role):
    page_id = world.add_page()
    world.as_(role).patch(f"pages/{page_id}", json={"published": True}, expect=PUBLISH[role])


@pytest.mark.parametrize("role", ROLES)
def test_delete_page(world, role):
    page_id = world.add_page()
    world.as_(role).delete(f"pages/{page_id}", expect=DELETE_ACTIVITIES[role])


@pytest.mark.parametrize("role", ROLES)
def test_reorder_pages(world, role):
    ids = [world.add_page(title=t) for t in ("One", "Two", "Three")]
    r = world.as_(role).put(f"spaces/{world.slug}/pages/order",
                            json={"section": "activities", "ids": ids[::-1]},
                            expect=MANAGE_ACTIVITIES[role])
    if r.status_code == 200:
        listed = world.as_("pupil").ok("GET", f"spaces/{world.slug}/pages",
                                       params={"section": "activities"})["items"]
        assert [p["title"] for p in listed] == ["Three", "Two", "One"]


@pytest.mark.parametrize("role", ROLES)
def test_add_application(world, role):
    page_id = world.add_page()
    r = world.as_(role).post(f"pages/{page_id}/apps", json={"kind": "forum"},
                             expect=ADD_APP[role])
    if r.status_code == 201:
        assert r.json()["kind"] == "forum" and r.json()["title"] == "Forum"
        apps = world.as_("visitor").ok("GET", f"pages/{page_id}")["apps"]
        assert [a["kind"] for a in apps] == ["forum"]


VIEW_APP = VIEW["activities"]


@pytest.mark.parametrize("role", ROLES)
def test_app_read_rename_remove(world, role):
    app_id = world.new_app("wiki")
    caller = world.as_(role)
    caller.get(f"apps/{app_id}", expect=VIEW_APP[role])
    caller.patch(f"apps/{app_id}", json={"title": "Our words"}, expect=MANAGE_ACTIVITIES[role])
    caller.delete(f"apps/{app_id}", expect=DELETE_ACTIVITIES[role])


EDIT_WEB = MANAGE_ACTIVITIES


@pytest.mark.parametrize("role", ROLES)
def test_web_content(world, role):
    app_id = world.new_app("web_content")
    caller = world.as_(role)
    caller.get(f"apps/{app_id}/content", expect=VIEW_APP[role])
    r = caller.put(f"apps/{app_id}/content",
                   json={"html": '<h2>Hello</h2><img src="x" onerror="alert(1)">'
                                 '<a href="javascript:alert(1)">go</a><script>bad()</script>'},
                   expect=EDIT_WEB[role])
    if r.status_code == 200:
        html = world.as_("visitor").ok("GET", f"apps/{app_id}/content")["html"]
        assert "<h2>Hello</h2>" in html
        for bad in ("onerror", "javascript:", "<script", "bad()"):
            assert bad not in html


def test_bad_input(world):
    ta = world.as_("teacher_admin")
    r = ta.post(f"spaces/{world.slug}/pages", json={"section": "kitchen", "title": "x"},
                expect=400)
    assert "'section' must be one of" in r.json()["message"]
    ta.post(f"spaces/{world.slug}/pages", json={"section": "activities", "title": "  "},
            expect=400)
    page_id = world.add_page()
    r = ta.post(f"pages/{page_id}/apps", json={"kind": "spreadsheet"}, expect=400)
    assert "'kind' must be one of" in r.json()["message"]
    ta.patch(f"pages/{page_id}", json={}, expect=400)
    r = ta.put(f"spaces/{world.slug}/pages/order",
               json={"section": "activities", "ids": [page_id, page_id]}, expect=400)
    assert r.json()["message"] == "'ids' must list each page of the section exactly once."
    ta.get("pages/999999", expect=404)
    ta.get("apps/999999/content", expect=404)
    blog = world.app_id("blog")
    r = ta.get(f"apps/{blog}/content", expect=404)
    assert r.json()["message"] == f"Application {blog} is not a web_content."


def test_fixed_pages_cannot_be_deleted(world):
    r = world.as_("teacher_admin").delete(f"pages/{world.page_id('home')}", expect=409)
    assert r.json()["message"] == "The Home and Chat pages are part of every space."


def test_slugs_stay_unique_in_a_section(world):
    ta = world.as_("teacher_admin")
    first = ta.ok("POST", f"spaces/{world.slug}/pages",
                  json={"section": "activities", "title": "Our town"})
    second = ta.ok("POST", f"spaces/{world.slug}/pages",
                   json={"section": "activities", "title": "Our town"})
    assert (first["slug"], second["slug"]) == ("our-town", "our-town-2")
    assert second["position"] == first["position"] + 1


def test_public_sees_only_published_pages_of_a_public_space(world):
    ta = world.as_("teacher_admin")
    shown, hidden = world.add_page(title="Shown"), world.add_page(title="Hidden")
    ta.ok("PATCH", f"pages/{shown}", json={"published": True})
    world.as_("public").get(f"pages/{shown}", expect=401)  # the space is not public yet
    ta.ok("PATCH", f"spaces/{world.slug}", json={"public": True})
    world.as_("public").get(f"pages/{shown}", expect=200)
    world.as_("public").get(f"pages/{hidden}", expect=401)
    titles = [p["title"] for p in world.as_("public").ok(
        "GET", f"spaces/{world.slug}/pages", params={"section": "activities"})["items"]]
    assert titles == ["Shown"]
    # A published page in the Teachers' Room stays private.
    room = world.add_page("teachers_room", "Staff only")
    ta.ok("PATCH", f"pages/{room}", json={"published": True})
    world.as_("public").get(f"pages/{room}", expect=401)


def _stored_files(site) -> set[Path]:
    return {p for p in (Path(site.hub.data_dir) / "files").rglob("*") if p.is_file()}


def test_deleting_a_page_deletes_its_files(world, site):
    app_id = world.new_app("documents")
    page_id = world.as_("teacher_admin").ok("GET", f"apps/{app_id}")["page_id"]
    before = _stored_files(site)
    world.as_("teacher_admin").ok("POST", f"apps/{app_id}/documents",
                                  params={"filename": "notes.txt"}, data=b"Our notes\n")
    assert len(_stored_files(site) - before) == 1
    world.as_("teacher_admin").delete(f"pages/{page_id}", expect=204)
    assert _stored_files(site) - before == set()


def test_page_changes_reach_latest_activities(world):
    page_id = world.add_page(title="Stage 2")
    world.as_("teacher_admin").ok("POST", f"pages/{page_id}/apps", json={"kind": "blog"})
    feed = world.as_("pupil").ok("GET", f"spaces/{world.slug}/activity")["items"]
    assert [e["verb"] for e in feed[:2]] == ["app.add", "page.create"]
