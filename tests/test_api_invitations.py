"""Invitations of teachers and visitors (F4), through the real hub and service.

Expiry trick (test-only): the API never lets anyone move an invitation's end date, so
`expire()` opens the very database the service uses (the `db_url` fixture) and sets
`expires_at` in the past for one invitation id.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from utils import ROLES, unique

from twinspace_kernel.passwords import verify_password
from twinspace_kernel.store import models as m
from twinspace_kernel.store.db import new_engine

PASSWORD = "correct-horse-battery"


def with_db(db_url, fn):
    engine = new_engine(db_url)
    try:
        with Session(engine) as db:
            result = fn(db)
            db.commit()
            return result
    finally:
        engine.dispose()


def expire(db_url, invitation_id: int) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with_db(
        db_url,
        lambda db: db.execute(
            update(m.Invitation).where(m.Invitation.id == invitation_id).values(expires_at=past)
        ),
    )


def invite_newcomer(world, role="teacher", **fields):
    body = {"role": role, "username": unique("new"), **fields}
    return world.as_("teacher_admin").ok("POST", f"spaces/{world.slug}/invitations", json=body)


# --- rights matrix -------------------------------------------------------------------------

INVITE = {"teacher_admin": 201, "teacher": 403, "pupil_admin": 403, "pupil": 403,
          "visitor": 403, "outsider": 403, "public": 401}


@pytest.mark.parametrize("role", ROLES)
def test_post_invitation_rights(world, role):
    r = world.as_(role).post(
        f"spaces/{world.slug}/invitations",
        json={"role": "teacher", "username": unique("new")},
        expect=INVITE[role],
    )
    if r.status_code == 201:
        assert r.json()["existing"] is False
    else:
        assert r.json()["message"]


LIST = {"teacher_admin": 200, "teacher": 403, "pupil_admin": 403, "pupil": 403,
        "visitor": 403, "outsider": 403, "public": 401}


@pytest.mark.parametrize("role", ROLES)
def test_list_invitations_rights(world, role):
    invite_newcomer(world)
    r = world.as_(role).get(f"spaces/{world.slug}/invitations", expect=LIST[role])
    if r.status_code == 200:
        body = r.json()
        assert len(body["items"]) == 1 and body["next"] is None
        assert "token" not in body["items"][0] and "token_hash" not in body["items"][0]


CANCEL = {"teacher_admin": 204, "teacher": 403, "pupil_admin": 403, "pupil": 403,
          "visitor": 403, "outsider": 403, "public": 401}


@pytest.mark.parametrize("role", ROLES)
def test_cancel_invitation_rights(world, role):
    inv = invite_newcomer(world)
    world.as_(role).delete(f"invitations/{inv['id']}", expect=CANCEL[role])
    if CANCEL[role] == 204:
        world.as_("public").get(f"invitations/by-token/{inv['token']}", expect=404)


# Only the invited account may answer; everybody else is refused.
ANSWER = {"invitee": 200, "teacher_admin": 403, "teacher": 403, "pupil_admin": 403,
          "pupil": 403, "visitor": 403, "outsider": 403, "public": 401}


@pytest.mark.parametrize("role", ["invitee", *ROLES])
def test_accept_rights(site, world, role):
    invitee = site.account("teacher")
    inv = world.as_("teacher_admin").ok(
        "POST", f"spaces/{world.slug}/invitations",
        json={"role": "teacher", "username": invitee.name},
    )
    caller = invitee if role == "invitee" else world.as_(role)
    r = caller.post(f"invitations/{inv['id']}/accept", expect=ANSWER[role])
    if r.status_code == 200:
        assert r.json()["role"] == "teacher"
        assert invitee.ok("GET", f"spaces/{world.slug}")["role"] == "teacher"
    else:
        invitee.get(f"spaces/{world.slug}", expect=403)


DECLINE = {**ANSWER, "invitee": 204}


@pytest.mark.parametrize("role", ["invitee", *ROLES])
def test_decline_rights(site, world, role):
    invitee = site.account("visitor")
    inv = world.as_("teacher_admin").ok(
        "POST", f"spaces/{world.slug}/invitations",
        json={"role": "visitor", "username": invitee.name},
    )
    caller = invitee if role == "invitee" else world.as_(role)
    caller.post(f"invitations/{inv['id']}/decline", expect=DECLINE[role])
    pending = world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/invitations")["items"]
    assert len(pending) == (0 if role == "invitee" else 1)
    invitee.get(f"spaces/{world.slug}", expect=403)


# The join link needs no login: whoever holds it may look at it and redeem it.
BY_TOKEN_GET = {role: 200 for role in ROLES}
BY_TOKEN_POST = {role: 201 for role in ROLES}


@pytest.mark.parametrize("role", ROLES)
def test_by_token_rights(world, role):
    inv = invite_newcomer(world)
    world.as_(role).get(f"invitations/by-token/{inv['token']}", expect=BY_TOKEN_GET[role])
    world.as_(role).post(
        f"invitations/by-token/{inv['token']}",
        json={"username": unique("jn"), "password": PASSWORD, "display_name": "New One"},
        expect=BY_TOKEN_POST[role],
    )


# --- the newcomer's whole journey ------------------------------------------------------------


def test_newcomer_flow(site, world, db_url):
    ta = world.as_("teacher_admin")
    title = ta.ok("GET", f"spaces/{world.slug}")["title"]
    suggested = unique("newt")
    inv = ta.ok(
        "POST", f"spaces/{world.slug}/invitations",
        json={"role": "teacher", "username": suggested, "email": f"{suggested}@school.example"},
    )
    assert inv["existing"] is False and inv["role"] == "teacher"
    token = inv["token"]
    assert len(token) >= 40
    assert inv["link"].endswith(f"/hub/twinspace/join?token={token}")
    # Only the hash is stored.
    stored = with_db(db_url, lambda db: db.get(m.Invitation, inv["id"]).token_hash)
    assert token not in stored and len(stored) == 64

    public = world.as_("public")
    info = public.ok("GET", f"invitations/by-token/{token}")
    assert info["title"] == title and info["role"] == "teacher" and info["valid"] is True
    assert info["inviter"] == ta.ok("GET", "me")["user"]["display_name"]
    assert info["expires_at"]

    # Bad input loses nothing: a short password, then a taken username.
    r = public.post(f"invitations/by-token/{token}", expect=400,
                    json={"username": suggested, "password": "short", "display_name": "N"})
    assert "at least 8" in r.json()["message"]
    taken = world.as_("teacher").name
    r = public.post(f"invitations/by-token/{token}", expect=409,
                    json={"username": taken, "password": PASSWORD, "display_name": "N"})
    assert r.json()["message"] == f"The username {taken} is taken."
    public.ok("GET", f"invitations/by-token/{token}")  # still valid

    made = public.ok(
        "POST", f"invitations/by-token/{token}",
        json={"username": suggested, "password": PASSWORD, "display_name": "Nora Newt",
              "school": "Lycée Nord", "country": "BE"},
    )
    assert made["name"] == suggested and made["space"] == world.slug

    newcomer = site.caller(suggested)
    me = newcomer.ok("GET", "me")
    assert me["user"]["kind"] == "teacher" and me["user"]["school"] == "Lycée Nord"
    assert me["user"]["email"] == f"{suggested}@school.example"
    assert {"slug": world.slug, "role": "teacher"}.items() <= me["spaces"][0].items()
    password_hash = with_db(
        db_url, lambda db: db.scalar(select(m.User.password_hash).where(m.User.name == suggested))
    )
    assert password_hash.startswith("$argon2id$") and verify_password(password_hash, PASSWORD)

    # The link is used up.
    r = public.post(f"invitations/by-token/{token}", expect=409,
                    json={"username": unique("x"), "password": PASSWORD, "display_name": "X"})
    assert r.json()["message"] == "This invitation has already been used."
    r = public.get(f"invitations/by-token/{token}", expect=409)
    assert r.json()["message"] == "This invitation has already been used."
    assert ta.ok("GET", f"spaces/{world.slug}/invitations")["items"] == []
    # Their joining shows in Latest activities' store.
    events = with_db(db_url, lambda db: list(db.execute(
        select(m.ActivityEvent.section, m.User.name)
        .join(m.Space, m.Space.id == m.ActivityEvent.space_id)
        .join(m.User, m.User.id == m.ActivityEvent.actor_id)
        .where(m.Space.slug == world.slug, m.ActivityEvent.verb == "member.join",
               m.ActivityEvent.summary == "Nora Newt")
    )))
    assert [tuple(e) for e in events] == [("home", suggested)]


def test_visitor_newcomer_gets_visitor_account(site, world):
    inv = invite_newcomer(world, role="visitor")
    name = unique("vis")
    world.as_("public").ok(
        "POST", f"invitations/by-token/{inv['token']}",
        json={"username": name, "password": PASSWORD, "display_name": "Vera Visitor"},
    )
    me = site.caller(name).ok("GET", "me")
    assert me["user"]["kind"] == "visitor" and me["spaces"][0]["role"] == "visitor"


def test_expired_link(world, db_url):
    inv = invite_newcomer(world)
    expire(db_url, inv["id"])
    public = world.as_("public")
    r = public.get(f"invitations/by-token/{inv['token']}", expect=409)
    assert r.json()["message"] == "This invitation has expired."
    r = public.post(f"invitations/by-token/{inv['token']}", expect=409,
                    json={"username": unique("x"), "password": PASSWORD, "display_name": "X"})
    assert r.json()["message"] == "This invitation has expired."
    # Expired invitations are no longer pending.
    assert world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/invitations")["items"] == []


def test_invalid_link(world):
    r = world.as_("public").get("invitations/by-token/not-a-real-token", expect=404)
    assert r.json()["message"] == "This invitation link is not valid."
    world.as_("public").post("invitations/by-token/not-a-real-token", expect=404,
                             json={"username": "abc", "password": PASSWORD, "display_name": "X"})


# --- existing accounts -------------------------------------------------------------------------


def test_existing_account_gets_mail_and_accepts(site, world, db_url):
    ta = world.as_("teacher_admin")
    invitee = site.account("teacher", email=f"{unique('mail')}@school.example")
    email = invitee.ok("GET", "me")["user"]["email"]
    inv = ta.ok("POST", f"spaces/{world.slug}/invitations",
                json={"role": "teacher_admin", "email": email})
    assert inv["existing"] is True and "token" not in inv and "link" not in inv
    assert inv["user"]["name"] == invitee.name

    def mail(db):
        message = db.scalar(select(m.MailMessage).where(m.MailMessage.invitation_id == inv["id"]))
        return message.subject, [r.recipient_id for r in message.recipients]

    subject, recipients = with_db(db_url, mail)
    title = ta.ok("GET", f"spaces/{world.slug}")["title"]
    assert subject == f"Invitation to {title}"
    invitee_id = with_db(
        db_url, lambda db: db.scalar(select(m.User.id).where(m.User.name == invitee.name))
    )
    assert recipients == [invitee_id]

    # Asking again while one is pending is refused.
    ta.post(f"spaces/{world.slug}/invitations", expect=409,
            json={"role": "teacher", "username": invitee.name})
    invitee.ok("POST", f"invitations/{inv['id']}/accept")
    assert invitee.ok("GET", f"spaces/{world.slug}")["role"] == "teacher_admin"
    r = invitee.post(f"invitations/{inv['id']}/accept", expect=409)
    assert r.json()["message"] == "This invitation has already been used."
    # Now a member: a new invitation is a conflict.
    r = ta.post(f"spaces/{world.slug}/invitations", expect=409,
                json={"role": "teacher", "username": invitee.name})
    assert "already a member" in r.json()["message"]


def test_accept_expired(site, world, db_url):
    invitee = site.account("teacher")
    inv = world.as_("teacher_admin").ok(
        "POST", f"spaces/{world.slug}/invitations",
        json={"role": "teacher", "username": invitee.name},
    )
    expire(db_url, inv["id"])
    r = invitee.post(f"invitations/{inv['id']}/accept", expect=409)
    assert r.json()["message"] == "This invitation has expired."
    invitee.get(f"spaces/{world.slug}", expect=403)


@pytest.mark.parametrize("member", ["teacher", "pupil", "visitor"])
def test_reinviting_a_member_conflicts(world, member):
    r = world.as_("teacher_admin").post(
        f"spaces/{world.slug}/invitations", expect=409,
        json={"role": "visitor", "username": world.as_(member).name},
    )
    assert "already a member" in r.json()["message"]


@pytest.mark.parametrize("role", ["pupil", "pupil_admin"])
def test_pupils_are_created_not_invited(world, role):
    r = world.as_("teacher_admin").post(
        f"spaces/{world.slug}/invitations", expect=400,
        json={"role": role, "username": unique("p")},
    )
    assert f"spaces/{world.slug}/pupils" in r.json()["message"]


def test_bad_input(site, world):
    ta = world.as_("teacher_admin")
    path = f"spaces/{world.slug}/invitations"
    ta.post(path, expect=400, json={"role": "king"})
    ta.post(path, expect=400, json={})
    ta.post(path, expect=400, json={"role": "teacher", "username": "Bad Name!"})
    ta.post(path, expect=400, json={"role": "teacher", "email": "not-an-address"})
    # A visitor account cannot be made a teacher.
    visitor = site.account("visitor")
    ta.post(path, expect=400, json={"role": "teacher", "username": visitor.name})
    ta.delete("invitations/999999999", expect=404)


def test_newcomer_without_suggested_name_must_choose_one(site, world):
    inv = world.as_("teacher_admin").ok(
        "POST", f"spaces/{world.slug}/invitations", json={"role": "teacher"}
    )
    public = world.as_("public")
    r = public.post(f"invitations/by-token/{inv['token']}", expect=400,
                    json={"password": PASSWORD, "display_name": "No Name"})
    assert r.json()["message"] == "'username' is required."
    name = unique("chosen")
    public.ok("POST", f"invitations/by-token/{inv['token']}",
              json={"username": name.upper(), "password": PASSWORD, "display_name": "Chosen"})
    assert site.caller(name).ok("GET", "me")["spaces"][0]["slug"] == world.slug
