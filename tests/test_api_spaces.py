"""Spaces and members (F1–F3, F9, F30): every endpoint for every role."""

from __future__ import annotations

import pytest
from utils import ROLES, Caller, unique


def test_founder_becomes_teacher_admin_with_home_and_chat(site):
    founder = site.account("teacher")
    slug = unique("founded")
    space = founder.ok("POST", "spaces", json={"slug": slug, "title": "Water around us"})
    assert space["role"] == "teacher_admin"
    assert space["sections"] == ["home", "activities", "teachers_room", "pupils_corner", "chat"]
    pages = founder.ok("GET", f"spaces/{slug}/pages")["items"]
    assert [(p["section"], p["title"]) for p in pages] == [("home", "Home"), ("chat", "Chat")]
    home = founder.ok("GET", f"pages/{[p for p in pages if p['section'] == 'home'][0]['id']}")
    assert [a["kind"] for a in home["apps"]] == ["members", "mailbox", "calendar", "blog",
                                                "activity"]


@pytest.mark.parametrize(
    "kind,expected", [("teacher", 201), ("pupil", 403), ("visitor", 403)]
)
def test_only_teachers_create_spaces(site, kind, expected):
    caller = site.account(kind)
    r = caller.post("spaces", json={"slug": unique("s"), "title": "T"}, expect=expected)
    if expected == 403:
        assert r.json()["message"] == "Only teachers can create a TwinSpace."


def test_space_creation_bad_input(site):
    founder = site.account("teacher")
    r = founder.post("spaces", json={"slug": "Bad Slug!", "title": "T"}, expect=400)
    assert "short name" in r.json()["message"]
    founder.post("spaces", json={"title": "T"}, expect=400)
    founder.post("spaces", data="{not json", expect=400)
    slug = unique("dup")
    founder.post("spaces", json={"slug": slug, "title": "T"}, expect=201)
    r = founder.post("spaces", json={"slug": slug, "title": "T"}, expect=409)
    assert r.json()["message"] == f"A space called {slug} already exists."
    site.anonymous.post("spaces", json={"slug": unique("s"), "title": "T"}, expect=401)


VIEW_SPACE = {
    "teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200, "visitor": 200,
    "outsider": 403, "public": 401,
}


@pytest.mark.parametrize("role", ROLES)
def test_view_space(world, role):
    r = world.as_(role).get(f"spaces/{world.slug}", expect=VIEW_SPACE[role])
    if r.status_code == 200:
        assert r.json()["role"] == role
        assert r.json()["member_count"] == 5


SECTIONS_SEEN = {
    "teacher_admin": ["home", "activities", "teachers_room", "pupils_corner", "chat"],
    "teacher": ["home", "activities", "teachers_room", "pupils_corner", "chat"],
    "pupil_admin": ["home", "activities", "pupils_corner", "chat"],
    "pupil": ["home", "activities", "pupils_corner", "chat"],
    "visitor": ["home", "activities", "chat"],
}


@pytest.mark.parametrize("role", SECTIONS_SEEN)
def test_sections_follow_the_role(world, role):
    assert world.as_(role).ok("GET", f"spaces/{world.slug}")["sections"] == SECTIONS_SEEN[role]


PATCH_SPACE = {
    "teacher_admin": 200, "teacher": 403, "pupil_admin": 403, "pupil": 403, "visitor": 403,
    "outsider": 403, "public": 401,
}


@pytest.mark.parametrize("role", ROLES)
def test_rename_space(world, role):
    r = world.as_(role).patch(f"spaces/{world.slug}", json={"title": "Renamed"},
                              expect=PATCH_SPACE[role])
    if r.status_code == 200:
        assert r.json()["title"] == "Renamed"


@pytest.mark.parametrize("role", ROLES)
def test_publish_space(world, role):
    world.as_(role).patch(f"spaces/{world.slug}", json={"public": True},
                          expect=PATCH_SPACE[role])


def test_public_space_shows_name_description_only(world):
    ta = world.as_("teacher_admin")
    ta.ok("PATCH", f"spaces/{world.slug}", json={"public": True, "description": "About water"})
    body = world.as_("public").ok("GET", f"spaces/{world.slug}")
    assert body["role"] == "public"
    assert body["description"] == "About water"
    assert "member_count" not in body and "state" not in body
    assert body["sections"] == ["home", "activities"]
    listed = [s["slug"] for s in world.as_("public").ok("GET", "spaces")["items"]]
    assert world.slug in listed
    world.as_("public").get(f"spaces/{world.slug}/members", expect=401)


def test_archived_space_is_read_only_and_can_be_reopened(world):
    ta = world.as_("teacher_admin")
    ta.ok("PATCH", f"spaces/{world.slug}", json={"state": "archived"})
    world.as_("pupil").get(f"spaces/{world.slug}", expect=200)
    r = ta.post(f"spaces/{world.slug}/pages", json={"section": "activities", "title": "X"},
                expect=403)
    assert r.json()["message"] == "This space is archived and read-only."
    ta.ok("PATCH", f"spaces/{world.slug}", json={"state": "open"})
    ta.post(f"spaces/{world.slug}/pages", json={"section": "activities", "title": "X"},
            expect=201)


def test_closed_space_vanishes_except_for_teacher_admins(world):
    ta = world.as_("teacher_admin")
    ta.ok("PATCH", f"spaces/{world.slug}", json={"state": "closed"})
    ta.get(f"spaces/{world.slug}", expect=200)
    for role in ("teacher", "pupil", "visitor"):
        r = world.as_(role).get(f"spaces/{world.slug}", expect=404)
        assert r.json()["message"] == f"No such space: {world.slug}."
        assert world.slug not in [s["slug"] for s in world.as_(role).ok("GET", "spaces")["items"]]
    assert world.slug in [s["slug"] for s in ta.ok("GET", "spaces")["items"]]


def test_bad_state_is_refused(world):
    r = world.as_("teacher_admin").patch(f"spaces/{world.slug}", json={"state": "frozen"},
                                         expect=400)
    assert "'state' must be one of" in r.json()["message"]


MEMBERS_LIST = VIEW_SPACE


@pytest.mark.parametrize("role", ROLES)
def test_members_list(world, role):
    r = world.as_(role).get(f"spaces/{world.slug}/members", expect=MEMBERS_LIST[role])
    if r.status_code == 200:
        items = r.json()["items"]
        assert sorted(i["role"] for i in items) == sorted(
            ["teacher_admin", "teacher", "pupil_admin", "pupil", "visitor"]
        )
        assert all({"display_name", "school", "country", "has_photo"} <= set(i) for i in items)


CHANGE_ROLE = PATCH_SPACE


@pytest.mark.parametrize("role", ROLES)
def test_change_a_role(world, role):
    target = world.as_("pupil").name
    r = world.as_(role).patch(f"spaces/{world.slug}/members/{target}",
                              json={"role": "pupil_admin"}, expect=CHANGE_ROLE[role])
    if r.status_code == 200:
        assert world.as_("pupil").ok("GET", f"spaces/{world.slug}")["role"] == "pupil_admin"


def test_role_must_fit_the_account(world):
    ta = world.as_("teacher_admin")
    r = ta.patch(f"spaces/{world.slug}/members/{world.as_('pupil').name}",
                 json={"role": "teacher"}, expect=400)
    assert r.json()["message"] == "A pupil account cannot have the role teacher."
    ta.patch(f"spaces/{world.slug}/members/{world.as_('visitor').name}",
             json={"role": "teacher"}, expect=400)


def test_last_teacher_admin_stays(world):
    ta = world.as_("teacher_admin")
    r = ta.patch(f"spaces/{world.slug}/members/{ta.name}", json={"role": "teacher"}, expect=409)
    assert "at least one teacher administrator" in r.json()["message"]
    ta.patch(f"spaces/{world.slug}/members/{world.as_('teacher').name}",
             json={"role": "teacher_admin"}, expect=200)
    ta.patch(f"spaces/{world.slug}/members/{ta.name}", json={"role": "teacher"}, expect=200)


REMOVE_MEMBER = {
    "teacher_admin": 204, "teacher": 403, "pupil_admin": 403, "pupil": 403, "visitor": 403,
    "outsider": 403, "public": 401,
}


@pytest.mark.parametrize("role", ROLES)
def test_remove_a_member(world, role):
    target = world.as_("teacher").name
    if role == "teacher":
        target = world.as_("visitor").name  # (removing oneself is leaving: tested below)
    world.as_(role).delete(f"spaces/{world.slug}/members/{target}", expect=REMOVE_MEMBER[role])


def test_member_leaves_by_themselves(world):
    visitor = world.as_("visitor")
    visitor.delete(f"spaces/{world.slug}/members/{visitor.name}", expect=204)
    visitor.get(f"spaces/{world.slug}", expect=403)


ADD_DIRECT = {
    "teacher_admin": 403, "teacher": 403, "pupil_admin": 403, "pupil": 403, "visitor": 403,
    "outsider": 403, "public": 401,
}


@pytest.mark.parametrize("role", ROLES)
def test_direct_add_is_for_hub_admins(world, role):
    newcomer = world.site.account("teacher")
    world.as_(role).put(f"spaces/{world.slug}/members/{newcomer.name}", json={"role": "teacher"},
                        expect=ADD_DIRECT[role])
    world.site.admin.put(f"spaces/{world.slug}/members/{newcomer.name}",
                         json={"role": "teacher"}, expect=201)


def test_me_lists_spaces_with_roles_from_the_store(world):
    pupil = world.as_("pupil")
    me = pupil.ok("GET", "me")
    assert me["kind"] == "user" and me["user"]["kind"] == "pupil"
    assert [(s["slug"], s["role"]) for s in me["spaces"]] == [(world.slug, "pupil")]
    # A role change shows at once: roles come from the store, not the hub's cache.
    world.as_("teacher_admin").ok("PATCH", f"spaces/{world.slug}/members/{pupil.name}",
                                  json={"role": "pupil_admin"})
    assert pupil.ok("GET", "me")["spaces"][0]["role"] == "pupil_admin"


def test_accounts_are_made_by_hub_admins(site):
    teacher = site.account("teacher")
    r = teacher.post("users", json={"name": unique("x"), "kind": "teacher"}, expect=403)
    assert r.json()["message"] == "Only hub administrators may do this."
    site.admin.post("users", json={"name": "Bad Name", "kind": "teacher"}, expect=400)
    site.admin.post("users", json={"name": teacher.name, "kind": "teacher"}, expect=409)
    r = site.admin.post("users", json={"name": unique("pw"), "password": "short"}, expect=400)
    assert "at least 8" in r.json()["message"]
    teacher.get(f"users/{teacher.name}", expect=200)
    teacher.get(f"users/{site.admin_name}", expect=403)


def test_hub_admin_founds_a_space_for_a_teacher(site):
    teacher = site.account("teacher")
    slug = unique("onbehalf")
    space = site.admin.ok("POST", "spaces",
                          json={"slug": slug, "title": "Rivers", "founder": teacher.name})
    assert space["slug"] == slug
    assert teacher.ok("GET", f"spaces/{slug}")["role"] == "teacher_admin"
    members = teacher.ok("GET", f"spaces/{slug}/members")["items"]
    assert [(i["name"], i["role"]) for i in members] == [(teacher.name, "teacher_admin")]


def test_founder_field_bad_input(site):
    pupil = site.account("pupil")
    r = site.admin.post("spaces", json={"slug": unique("s"), "title": "T",
                                        "founder": pupil.name}, expect=400)
    assert "a founder must be a teacher" in r.json()["message"]
    r = site.admin.post("spaces", json={"slug": unique("s"), "title": "T",
                                        "founder": "nobody-at-all"}, expect=404)
    assert r.json()["message"] == "No such member: nobody-at-all."
    # Teachers found their own spaces only.
    teacher, other = site.account("teacher"), site.account("teacher")
    r = teacher.post("spaces", json={"slug": unique("s"), "title": "T",
                                     "founder": other.name}, expect=403)
    assert r.json()["message"] == "Only hub administrators may do this."


def test_hub_admin_lists_every_space(site):
    founder = site.account("teacher")
    slug = unique("listed")
    founder.ok("POST", "spaces", json={"slug": slug, "title": "Listed"})
    founder.ok("PATCH", f"spaces/{slug}", json={"state": "closed"})
    items = {s["slug"]: s for s in site.admin.ok("GET", "spaces?all=1")["items"]}
    assert items[slug]["state"] == "closed" and items[slug]["member_count"] == 1
    r = founder.get("spaces?all=1", expect=403)
    assert r.json()["message"] == "Only hub administrators may do this."
    site.anonymous.get("spaces?all=1", expect=403)


def test_members_choose_their_language(world, site):
    pupil = world.as_("pupil")
    assert pupil.ok("PATCH", "me", json={"locale": "fr"})["locale"] == "fr"
    assert pupil.ok("GET", "me")["user"]["locale"] == "fr"
    r = pupil.patch("me", json={"locale": "xx"}, expect=400)
    assert "'locale' must be one of: en, fr, de." == r.json()["message"]
    world.as_("public").patch("me", json={"locale": "fr"}, expect=401)
    # The hub reads it with the groups, and gives it to the member's server.
    trusted = Caller(site.api_base, site.hub.service_token, "hub")
    assert trusted.ok("GET", f"auth/users/{pupil.name}")["locale"] == "fr"


def test_visitors_and_the_public_see_pupils_by_first_name_only(world, site):
    """F31: a pupil's full name never reaches a visitor (first name) or the public."""
    ta = world.as_("teacher_admin")
    pupil = site.account("pupil", display_name="Ana Lopez Garcia")
    site.admin.ok("PUT", f"spaces/{world.slug}/members/{pupil.name}", json={"role": "pupil"})
    ta.ok("PATCH", f"spaces/{world.slug}/members/{pupil.name}", json={"role": "pupil_admin"})
    ta.ok("PATCH", f"spaces/{world.slug}", json={"public": True})
    blog = world.new_app("blog")
    for page in ta.ok("GET", f"spaces/{world.slug}/pages?section=activities")["items"]:
        ta.ok("PATCH", f"pages/{page['id']}", json={"published": True})
    post = pupil.ok("POST", f"apps/{blog}/posts", json={"title": "Our trip", "body": "Fun"})
    pupil.ok("POST", f"posts/{post['id']}/comments", json={"body": "Nice"})
    room = pupil.ok("GET", f"spaces/{world.slug}/rooms")["items"][0]["id"]
    pupil.ok("POST", f"rooms/{room}/messages", json={"body": "Hello"})

    def names_seen(role: str) -> list[str]:
        caller = world.as_(role)
        members = caller.get(f"spaces/{world.slug}/members")
        found = [m["display_name"] for m in
                 (members.json()["items"] if members.status_code == 200 else [])
                 if m["kind"] == "pupil"]
        found += [e["actor"]["display_name"] for e in
                  caller.ok("GET", f"spaces/{world.slug}/activity?limit=100")["items"]
                  if e["actor"] and e["actor"]["kind"] == "pupil"]
        found += [e["summary"] for e in
                  caller.ok("GET", f"spaces/{world.slug}/activity?limit=100")["items"]
                  if e["verb"].startswith("member.")]
        found += [p["author"]["display_name"] for p in
                  caller.ok("GET", f"apps/{blog}/posts")["items"]]
        found += [c["author"]["display_name"] for c in
                  caller.ok("GET", f"posts/{post['id']}/comments")["items"]]
        if role != "public":
            found += [m["author"]["display_name"] for m in
                      caller.ok("GET", f"rooms/{room}/messages")["items"]]
        return found

    visitor = names_seen("visitor")
    assert "Ana" in visitor and not any("Lopez" in n for n in visitor), visitor
    public = names_seen("public")
    assert not any("Ana" in n or "Lopez" in n for n in public), public
    assert "Ana Lopez Garcia" in names_seen("teacher")
