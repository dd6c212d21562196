"""Profiles, profile photos and walls (F10, F11), for every role.

Pupils' profiles are confidential inside the space: teachers and pupils see them,
visitors and the public never do. Hidden wall posts are made hidden directly in the
service's database (the `db_url` fixture), as moderation has its own module.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from utils import ROLES, image_with_gps

from twinspace_kernel.store import models as m
from twinspace_kernel.store.db import new_engine

ACCOUNTS = ROLES[:-1]


def with_db(db_url, fn):
    engine = new_engine(db_url)
    try:
        with Session(engine) as db:
            result = fn(db)
            db.commit()
            return result
    finally:
        engine.dispose()


def photo_key(db_url, name):
    return with_db(db_url, lambda db: db.scalar(
        select(m.Profile.photo_key).join(m.User, m.User.id == m.Profile.user_id)
        .where(m.User.name == name)
    ))


def png(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


def upload_photo(caller, data=None, expect=200, filename="me.jpg"):
    return caller.put("me/profile/photo", params={"filename": filename},
                      data=data if data is not None else image_with_gps(), expect=expect)


# --- own profile -----------------------------------------------------------------------------

OWN = {**{role: 200 for role in ACCOUNTS}, "public": 401}


@pytest.mark.parametrize("role", ROLES)
def test_own_profile_rights(world, role):
    caller = world.as_(role)
    caller.get("me/profile", expect=OWN[role])
    r = caller.put("me/profile", json={"hobbies": "Chess", "favourite_food": "Paella"},
                   expect=OWN[role])
    if r.status_code == 200:
        profile = caller.ok("GET", "me/profile")
        assert profile["hobbies"] == "Chess" and profile["favourite_food"] == "Paella"
        assert profile["about"] == "" and profile["has_photo"] is False


@pytest.mark.parametrize("role", ROLES)
def test_own_photo_rights(world, role):
    caller = world.as_(role)
    upload_photo(caller, expect={**OWN, "public": 401}[role])
    caller.delete("me/profile/photo", expect={**{r: 204 for r in ACCOUNTS}, "public": 401}[role])


def test_profile_input(world):
    me = world.as_("pupil")
    me.ok("PUT", "me/profile", json={"about": "  Hello\r\nworld\x07 ", "interests": "Maths"})
    profile = me.ok("GET", "me/profile")
    assert profile["about"] == "Hello\nworld" and profile["interests"] == "Maths"
    # Only the fields given change; empty clears.
    me.ok("PUT", "me/profile", json={"interests": ""})
    profile = me.ok("GET", "me/profile")
    assert profile["about"] == "Hello\nworld" and profile["interests"] == ""
    me.put("me/profile", json={"favourite_food": "x" * 201}, expect=400)
    me.put("me/profile", json={"about": 3}, expect=400)
    me.put("me/profile", json={"password": "hacked"}, expect=400)
    me.put("me/profile", data="not json", expect=400)


def test_photo_is_stripped_and_replaced(world, db_url, hub):
    me = world.as_("teacher")
    upload_photo(me, image_with_gps("JPEG", (1600, 1200)))
    first = photo_key(db_url, me.name)
    r = world.as_("pupil").get(f"spaces/{world.slug}/members/{me.name}/photo", expect=200)
    assert r.headers["Content-Type"] == "image/jpeg"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    image = Image.open(io.BytesIO(r.content))
    assert image.format == "JPEG" and max(image.size) <= 512
    exif = image.getexif()
    assert not exif.get_ifd(0x8825) and 0x010F not in exif
    assert "exif" not in image.info
    assert me.ok("GET", "me/profile")["has_photo"] is True

    # A new photo replaces the old one, whose file is deleted.
    first_path = hub.data_dir / "files" / first[:2] / first
    assert first_path.exists()
    upload_photo(me, png(), filename="me.png")
    second = photo_key(db_url, me.name)
    assert second != first and not first_path.exists()
    r = world.as_("pupil").get(f"spaces/{world.slug}/members/{me.name}/photo", expect=200)
    assert r.headers["Content-Type"].startswith("image/")

    me.delete("me/profile/photo", expect=204)
    assert photo_key(db_url, me.name) is None
    assert not (hub.data_dir / "files" / second[:2] / second).exists()
    world.as_("pupil").get(f"spaces/{world.slug}/members/{me.name}/photo", expect=404)


def test_photo_refusals(world):
    me = world.as_("visitor")
    r = upload_photo(me, b"%PDF-1.7\nnot an image", expect=415)
    assert "image" in r.json()["message"]
    upload_photo(me, b"", expect=400)
    # Oversize bodies (413) are answered by base.UploadHandler before they are read; that
    # path is tested in test_api_files.py (through the proxy it can race: see the report).
    me.put("me/profile/photo", data=png(), expect=400)  # no ?filename=


# --- members' profiles and photos -------------------------------------------------------------

# Profile of a teacher (and of a visitor): anyone who may view Home.
SEE_TEACHER = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
               "visitor": 200, "outsider": 403, "public": 401}
# A pupil's profile: never visitors, never the public.
SEE_PUPIL = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
             "visitor": 403, "outsider": 403, "public": 401}
TARGETS = {"teacher": SEE_TEACHER, "visitor": SEE_TEACHER, "pupil": SEE_PUPIL,
           "pupil_admin": SEE_PUPIL}


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("role", ROLES)
def test_member_profile_rights(world, role, target):
    owner = world.as_(target)
    owner.ok("PUT", "me/profile", json={"interests": "Birds"})
    upload_photo(owner)
    expect = TARGETS[target][role]
    r = world.as_(role).get(f"spaces/{world.slug}/members/{owner.name}/profile", expect=expect)
    if expect == 200:
        assert r.json()["interests"] == "Birds" and r.json()["has_photo"] is True
    else:
        assert "Birds" not in r.text
    r = world.as_(role).get(f"spaces/{world.slug}/members/{owner.name}/photo", expect=expect)
    if expect == 200:
        assert r.headers["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize("target", ["pupil", "teacher"])
def test_public_space_never_shows_profiles(world, target):
    world.as_("teacher_admin").ok("PATCH", f"spaces/{world.slug}", json={"public": True})
    public = world.as_("public")
    public.ok("GET", f"spaces/{world.slug}")  # the space itself is public now
    name = world.as_(target).name
    for what in ("profile", "photo", "wall"):
        public.get(f"spaces/{world.slug}/members/{name}/{what}", expect=401)


def test_member_profile_not_found(world):
    ta = world.as_("teacher_admin")
    ta.get(f"spaces/{world.slug}/members/{world.as_('outsider').name}/profile", expect=404)
    ta.get(f"spaces/{world.slug}/members/nobody-at-all/profile", expect=404)
    ta.get(f"spaces/{world.slug}/members/{world.as_('teacher').name}/photo", expect=404)


# --- walls -----------------------------------------------------------------------------------

WRITE_TEACHER_WALL = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 201,
                      "visitor": 201, "outsider": 403, "public": 401}
WRITE_PUPIL_WALL = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 201,
                    "visitor": 403, "outsider": 403, "public": 401}
WALLS = {"teacher": (SEE_TEACHER, WRITE_TEACHER_WALL), "pupil": (SEE_PUPIL, WRITE_PUPIL_WALL)}


@pytest.mark.parametrize("target", list(WALLS))
@pytest.mark.parametrize("role", ROLES)
def test_wall_rights(world, role, target):
    see, write = WALLS[target]
    path = f"spaces/{world.slug}/members/{world.as_(target).name}/wall"
    r = world.as_(role).post(path, json={"body": f"Hello from {role}"}, expect=write[role])
    if r.status_code == 201:
        post = r.json()
        assert post["body"] == f"Hello from {role}" and post["author"]["name"]
    world.as_("teacher_admin").ok("POST", path, json={"body": "Welcome!"})
    r = world.as_(role).get(path, expect=see[role])
    if r.status_code == 200:
        bodies = [p["body"] for p in r.json()["items"]]
        assert bodies[0] == "Welcome!"
        assert len(bodies) == (2 if write[role] == 201 else 1)


# A post by the pupil administrator on the visitor's wall: its author, the wall's owner
# and the moderators of Home may delete it.
DELETE_POST = {"teacher_admin": 204, "teacher": 204, "pupil_admin": 204, "pupil": 403,
               "visitor": 204, "outsider": 403, "public": 401}


@pytest.mark.parametrize("role", ROLES)
def test_delete_wall_post_rights(world, role):
    path = f"spaces/{world.slug}/members/{world.as_('visitor').name}/wall"
    post = world.as_("pupil_admin").ok("POST", path, json={"body": "Nice to meet you"})
    world.as_(role).delete(f"wall-posts/{post['id']}", expect=DELETE_POST[role])
    left = world.as_("teacher_admin").ok("GET", path)["items"]
    assert len(left) == (0 if DELETE_POST[role] == 204 else 1)


def test_pupil_deletes_post_on_own_wall(world):
    path = f"spaces/{world.slug}/members/{world.as_('pupil').name}/wall"
    post = world.as_("teacher").ok("POST", path, json={"body": "Well done!"})
    world.as_("pupil_admin").delete(f"wall-posts/{post['id']}", expect=403)
    world.as_("pupil").delete(f"wall-posts/{post['id']}", expect=204)
    world.as_("pupil").delete(f"wall-posts/{post['id']}", expect=404)


def test_wall_pagination_hidden_and_input(world, db_url):
    path = f"spaces/{world.slug}/members/{world.as_('teacher').name}/wall"
    pupil = world.as_("pupil")
    ids = [pupil.ok("POST", path, json={"body": f"post {i}"})["id"] for i in range(3)]
    page = pupil.ok("GET", path, params={"limit": 2})
    assert [p["id"] for p in page["items"]] == ids[:0:-1] and page["next"] == ids[1]
    rest = pupil.ok("GET", path, params={"limit": 2, "before": page["next"]})
    assert [p["id"] for p in rest["items"]] == [ids[0]] and rest["next"] is None

    with_db(db_url, lambda db: db.execute(
        update(m.WallPost).where(m.WallPost.id == ids[1]).values(hidden=True)))
    assert ids[1] not in [p["id"] for p in pupil.ok("GET", path)["items"]]
    seen = {p["id"]: p for p in world.as_("teacher_admin").ok("GET", path)["items"]}
    assert seen[ids[1]]["hidden"] is True and "hidden" not in seen[ids[0]]

    pupil.post(path, json={"body": "   "}, expect=400)
    pupil.post(path, json={}, expect=400)
    pupil.post(path, json={"body": "x" * 5001}, expect=400)
    # Markup is stored as plain text, never interpreted.
    post = pupil.ok("POST", path, json={"body": "<b>hi</b>"})
    assert post["body"] == "<b>hi</b>"


def test_wall_activity_sections(world, db_url):
    """A pupil's wall is filed under Pupils' Corner (never shown to visitors/public)."""
    for target in ("pupil", "teacher"):
        world.as_("teacher_admin").ok(
            "POST", f"spaces/{world.slug}/members/{world.as_(target).name}/wall",
            json={"body": "hi"})
    rows = with_db(db_url, lambda db: list(db.execute(
        select(m.ActivityEvent.section).join(m.Space, m.Space.id == m.ActivityEvent.space_id)
        .where(m.Space.slug == world.slug, m.ActivityEvent.verb == "wall.post")
        .order_by(m.ActivityEvent.id)
    )))
    assert [r[0] for r in rows] == ["pupils_corner", "home"]


# --- school and country on the profile; managing a pupil's data ---------------------------


def test_school_and_country_are_edited_with_the_profile(world):
    pupil, ta = world.as_("pupil"), world.as_("teacher_admin")
    pupil.ok("PUT", "me/profile", json={"about": "Before"})
    answer = pupil.ok("PUT", "me/profile",
                      json={"school": "  Gimnazjum\nnr 3 ", "country": "PL", "about": "After"})
    assert (answer["school"], answer["country"], answer["about"]) == (
        "Gimnazjum nr 3", "PL", "After")
    assert pupil.ok("GET", "me")["user"]["school"] == "Gimnazjum nr 3"
    seen = ta.ok("GET", f"spaces/{world.slug}/members/{pupil.name}/profile")
    assert (seen["school"], seen["country"]) == ("Gimnazjum nr 3", "PL")
    # Bad input: a clear message, and nothing of the request is saved.
    r = pupil.put("me/profile", json={"about": "Lost?", "school": "x" * 161}, expect=400)
    assert "school" in r.json()["message"]
    pupil.put("me/profile", json={"about": "Lost?", "country": 7}, expect=400)
    kept = pupil.ok("GET", "me/profile")
    assert (kept["about"], kept["school"]) == ("After", "Gimnazjum nr 3")


def test_profile_says_who_may_manage_a_pupils_data(world):
    path = f"spaces/{world.slug}/pupils"
    own = world.as_("teacher").ok("POST", path, json={"names": ["Tia Own"]})["items"][0]["name"]

    def may(role, name):
        profile = world.as_(role).ok("GET", f"spaces/{world.slug}/members/{name}/profile")
        return profile["may_manage_data"]

    pupil = world.as_("pupil").name  # made by the hub administrator
    assert may("teacher_admin", own) is True and may("teacher_admin", pupil) is True
    assert may("teacher", own) is True and may("teacher", pupil) is False
    assert may("pupil", own) is False and may("pupil_admin", own) is False
    assert may("pupil", world.as_("teacher").name) is False
