"""Pupil accounts (F5, F6, F8): creation, listing and password resets, for every role.

Stored hashes are read straight from the service's database (the `db_url` fixture) to
check that each shown password really opens its account.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from utils import ROLES

from twinspace_kernel.passwords import CONSONANTS, DIGITS, VOWELS, verify_password
from twinspace_kernel.service.pupils import name_base, pick_name, slug_prefix
from twinspace_kernel.store import models as m
from twinspace_kernel.store.db import new_engine

C, V = f"[{CONSONANTS}]", f"[{VOWELS}]"
# Seven letters, consonant and vowel in turn, then a digit (passwords.generate_pupil_password).
GENERATED = re.compile(f"^{C}{V}{C}{V}{C}{V}{C}[{DIGITS}]$")
NOT_OWN = "You can only manage pupils you created."


def stored(db_url, name: str) -> m.User:
    engine = new_engine(db_url)
    try:
        with Session(engine) as db:
            user = db.scalar(select(m.User).where(m.User.name == name))
            db.expunge_all()
            return user
    finally:
        engine.dispose()


def create(world, role="teacher_admin", **body):
    return world.as_(role).ok("POST", f"spaces/{world.slug}/pupils", json=body)["items"]


# --- rights matrix -------------------------------------------------------------------------

CREATE = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 403, "pupil": 403,
          "visitor": 403, "outsider": 403, "public": 401}


@pytest.mark.parametrize("role", ROLES)
def test_create_rights(world, role):
    r = world.as_(role).post(
        f"spaces/{world.slug}/pupils", json={"names": ["Ana Lopez"]}, expect=CREATE[role]
    )
    if r.status_code == 201:
        (item,) = r.json()["items"]
        assert item["display_name"] == "Ana Lopez" and GENERATED.match(item["password"])
    else:
        assert r.json()["message"]


LIST = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 403, "pupil": 403,
        "visitor": 403, "outsider": 403, "public": 401}


@pytest.mark.parametrize("role", ROLES)
def test_list_rights(world, role):
    made = create(world, names=["Bea Marin", "Carl Nilsen"])
    r = world.as_(role).get(f"spaces/{world.slug}/pupils", expect=LIST[role])
    if r.status_code == 200:
        body = r.json()
        names = [i["name"] for i in body["items"]]
        # The world's two pupil members (made by a hub admin) and the two new ones.
        assert names[-2:] == [p["name"] for p in made] and len(names) == 4
        assert all("password" not in i for i in body["items"])
        ta_name = world.as_("teacher_admin").ok("GET", "me")["user"]["display_name"]
        assert body["items"][-1]["created_by"]["display_name"] == ta_name
        assert body["items"][-1]["can_reset"] is (role == "teacher_admin")


# Resetting a pupil made by the teacher administrator.
RESET_TA_PUPIL = {"teacher_admin": 200, "teacher": 403, "pupil_admin": 403, "pupil": 403,
                  "visitor": 403, "outsider": 403, "public": 401}


@pytest.mark.parametrize("role", ROLES)
def test_reset_rights(world, db_url, role):
    (pupil,) = create(world, names=["Dora Ek"])
    r = world.as_(role).post(
        f"spaces/{world.slug}/pupils/{pupil['name']}/password", json={},
        expect=RESET_TA_PUPIL[role],
    )
    user = stored(db_url, pupil["name"])
    if r.status_code == 200:
        new = r.json()["password"]
        assert GENERATED.match(new) and new != pupil["password"]
        assert verify_password(user.password_hash, new)
        assert not verify_password(user.password_hash, pupil["password"])
    else:
        assert verify_password(user.password_hash, pupil["password"])
        if role == "teacher":
            assert r.json()["message"] == NOT_OWN


# Resetting a pupil made by the plain teacher: their own pupil.
RESET_T_PUPIL = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 403, "pupil": 403,
                 "visitor": 403, "outsider": 403, "public": 401}


@pytest.mark.parametrize("role", ROLES)
def test_reset_own_pupil_rights(world, db_url, role):
    (pupil,) = create(world, role="teacher", names=["Emil Fox"])
    r = world.as_(role).post(
        f"spaces/{world.slug}/pupils/{pupil['name']}/password", json={"password": "soleil"},
        expect=RESET_T_PUPIL[role],
    )
    user = stored(db_url, pupil["name"])
    assert verify_password(user.password_hash, "soleil") is (r.status_code == 200)


@pytest.mark.parametrize("role", ["pupil", "pupil_admin"])
def test_pupil_cannot_change_own_password(world, db_url, role):
    me = world.as_(role)
    before = stored(db_url, me.name).password_hash
    r = me.post(f"spaces/{world.slug}/pupils/{me.name}/password", json={"password": "mine12"},
                expect=403)
    assert r.json()["message"]
    me.post(f"spaces/{world.slug}/pupils/{me.name}/password", json={}, expect=403)
    assert stored(db_url, me.name).password_hash == before


# --- creation ----------------------------------------------------------------------------


def test_create_from_names(world, db_url):
    ta = world.as_("teacher_admin")
    items = create(world, names=["Ana Lopez", "Ana Lima", "  Zoé   Dupont ", "李明"])
    names = [i["name"] for i in items]
    assert len(set(names)) == 4
    assert re.fullmatch(r"ana\.l\d*", names[0]) and re.fullmatch(r"ana\.l\d+", names[1])
    assert re.fullmatch(r"zoe\.d\d*", names[2]) and re.fullmatch(r"pupil\d*", names[3])
    assert [i["display_name"] for i in items] == ["Ana Lopez", "Ana Lima", "Zoé Dupont", "李明"]
    # Again: every name is taken now, so new ones get numbers.
    again = create(world, names=["Ana Lopez"])
    assert again[0]["name"] not in names and again[0]["name"].startswith("ana.l")
    ta_user = ta.ok("GET", "me")["user"]
    for item in items:
        assert GENERATED.match(item["password"])
        user = stored(db_url, item["name"])
        assert user.kind == "pupil" and user.email is None
        assert user.school == ta_user["school"] and user.country == ta_user["country"]
        assert user.password_hash.startswith("$argon2id$")
        assert verify_password(user.password_hash, item["password"])
    members = {i["name"]: i for i in ta.ok("GET", f"spaces/{world.slug}/members")["items"]}
    assert all(members[n]["role"] == "pupil" for n in names)


def test_create_from_count(world, db_url):
    prefix = f"{slug_prefix(world.slug)}-p"
    first = create(world, role="teacher", count=3, school="Escola Sul", country="PT")
    assert [i["name"] for i in first] == [f"{prefix}01", f"{prefix}02", f"{prefix}03"]
    second = create(world, count=2)
    assert [i["name"] for i in second] == [f"{prefix}04", f"{prefix}05"]
    user = stored(db_url, f"{prefix}02")
    assert user.school == "Escola Sul" and user.country == "PT"
    teacher_id = stored(db_url, world.as_("teacher").name).id
    assert user.created_by_id == teacher_id
    assert verify_password(user.password_hash, first[1]["password"])


def test_create_many(world):
    items = create(world, count=20)
    assert len({i["name"] for i in items}) == 20
    assert all(GENERATED.match(i["password"]) for i in items)


@pytest.mark.parametrize(
    "body",
    [{}, {"count": 0}, {"count": 501}, {"count": "3"}, {"names": []}, {"names": "Ana"},
     {"names": ["Ana Lopez", ""]}, {"names": ["x" * 121]}, {"names": ["A"], "count": 1},
     {"names": ["A"] * 501}],
)
def test_create_bad_input_creates_nothing(world, body):
    ta = world.as_("teacher_admin")
    before = ta.ok("GET", f"spaces/{world.slug}/pupils")["items"]
    ta.post(f"spaces/{world.slug}/pupils", json=body, expect=400)
    assert ta.ok("GET", f"spaces/{world.slug}/pupils")["items"] == before


def test_reset_checks_the_chosen_password(world):
    (pupil,) = create(world, names=["Gil Hart"])
    path = f"spaces/{world.slug}/pupils/{pupil['name']}/password"
    ta = world.as_("teacher_admin")
    for bad in ["abcd", "abcdefghi", "two words", "bad-pw1", 12345]:
        r = ta.post(path, json={"password": bad}, expect=400)
        assert "password" in r.json()["message"]
    assert ta.ok("POST", path, json={"password": "Tiger7"}) == {
        "name": pupil["name"], "password": "Tiger7"}
    # Not a pupil of this space (a teacher; an unknown name).
    ta.post(f"spaces/{world.slug}/pupils/{world.as_('teacher').name}/password", json={},
            expect=404)
    ta.post(f"spaces/{world.slug}/pupils/nobody-here/password", json={}, expect=404)


def test_username_helpers():
    assert name_base("Ana Lopez") == "ana.l"
    assert name_base("Zoé Élise Dupont") == "zoe.d"
    assert name_base("Ana") == "ana"
    assert name_base("李明") == "pupil"
    assert pick_name("ana.l", {"ana.l", "ana.l2"}) == "ana.l3"
    assert pick_name("a", set()) == "a2"
    assert slug_prefix("twin-space-2025-europe") == "twin-space-2"


# --- on behalf of a teacher (the `twinspace` command, hub administrators) -----------------


def test_hub_admin_creates_pupils_for_a_teacher(site, world, db_url):
    teacher = world.as_("teacher")
    r = site.admin.post(f"spaces/{world.slug}/pupils",
                        json={"names": ["Ada Byron"], "teacher": teacher.name}, expect=201)
    (item,) = r.json()["items"]
    user = stored(db_url, item["name"])
    assert user.created_by_id == stored(db_url, teacher.name).id
    assert user.school == teacher.ok("GET", "me")["user"]["school"]
    # Their own pupil: the teacher (not an administrator) may reset it.
    teacher.ok("POST", f"spaces/{world.slug}/pupils/{item['name']}/password", json={})
    # The hub administrator resets any pupil too.
    again = site.admin.ok("POST", f"spaces/{world.slug}/pupils/{item['name']}/password",
                          json={"password": "Lemon5"})
    assert again == {"name": item["name"], "password": "Lemon5"}
    assert verify_password(stored(db_url, item["name"]).password_hash, "Lemon5")


@pytest.mark.parametrize("who,expected", [("pupil", 400), ("visitor", 400), ("outsider", 400),
                                          ("nobody-at-all", 404)])
def test_hub_admin_names_a_teacher_who_may_not(site, world, who, expected):
    name = who if who == "nobody-at-all" else world.as_(who).name
    r = site.admin.post(f"spaces/{world.slug}/pupils", json={"count": 1, "teacher": name},
                        expect=expected)
    assert name in r.json()["message"]


def test_members_may_not_name_the_teacher(world):
    r = world.as_("teacher_admin").post(
        f"spaces/{world.slug}/pupils",
        json={"count": 1, "teacher": world.as_("teacher").name}, expect=403)
    assert r.json()["message"] == "Only hub administrators may do this."
