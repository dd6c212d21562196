"""Password links for accounts made by an administrator, and mailed links (real SMTP).

Expiry trick (test-only): the API never moves a link's end date, so `expire()` opens the
database the service uses (the `db_url` fixture) and sets `expires_at` in the past.
The mail tests run their own hub whose service mails through a real SMTP server
(aiosmtpd) listening on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import email
from email import policy

import pytest
from hubharness import RealHub, free_port, twinspace_command
from sqlalchemy import update
from sqlalchemy.orm import Session
from utils import ROLES, Caller, Site, unique, wait_until

from twinspace_kernel.store import models as m
from twinspace_kernel.store.db import new_engine

PASSWORD = "a-long-enough-secret"


def expire_links(db_url: str, name: str) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    engine = new_engine(db_url)
    try:
        with Session(engine) as db:
            user_id = db.query(m.User.id).filter(m.User.name == name).scalar()
            db.execute(
                update(m.PasswordLink)
                .where(m.PasswordLink.user_id == user_id)
                .values(expires_at=past)
            )
            db.commit()
    finally:
        engine.dispose()


def service_caller(site: Site) -> Caller:
    """The hub's own TwinSpace service token: trusted like the `twinspace` command's."""
    return Caller(site.api_base, _token=site.hub.service_token, name="service")


def can_log_in(site: Site, name: str, password: str) -> bool:
    """Check a password through the hub's own login check (a fresh address: no throttle)."""
    r = service_caller(site).post(
        "auth/login",
        json={"username": name, "password": password, "address": unique("test-addr-")},
    )
    return r.status_code == 200


def new_link(site: Site, name: str) -> dict:
    return site.admin.ok("POST", f"users/{name}/password-link")


# --- making a link ---------------------------------------------------------------------

MAKE = {"hub_admin": 201, "service": 201, "teacher_admin": 403, "teacher": 403,
        "pupil_admin": 403, "pupil": 403, "visitor": 403, "outsider": 403, "public": 401}


@pytest.mark.parametrize("role", list(MAKE))
def test_make_password_link_rights(site, world, role):
    target = site.account("teacher")
    caller = {"hub_admin": site.admin, "service": service_caller(site)}.get(role)
    caller = caller or world.as_(role)
    r = caller.post(f"users/{target.name}/password-link", expect=MAKE[role])
    body = r.json()
    if r.status_code == 201:
        assert body["link"].endswith(f"/hub/twinspace/password?token={body['token']}")
        expires = dt.datetime.fromisoformat(body["expires_at"])
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        days = (expires - dt.datetime.now(dt.UTC)).total_seconds() / 86400
        assert 6.9 < days <= 7.0
        assert body["mailed"] is False  # this hub has no SMTP
    else:
        assert body["message"]


def test_pupils_get_no_password_link(site, world):
    pupil = world.as_("pupil")
    r = site.admin.post(f"users/{pupil.name}/password-link", expect=400)
    assert r.json()["message"] == "Pupils' passwords are set by their teacher."


def test_password_link_for_unknown_account(site):
    r = site.admin.post("users/nobody-here/password-link", expect=404)
    assert "nobody-here" in r.json()["message"]


def test_validity_can_be_chosen_within_bounds(site):
    target = site.account("visitor")
    site.admin.post(f"users/{target.name}/password-link", json={"days": 0}, expect=400)
    body = site.admin.ok("POST", f"users/{target.name}/password-link", json={"days": 1})
    assert body["token"]


# --- using a link: no login needed -----------------------------------------------------

READ = {role: 200 for role in ROLES}
SET = {role: 200 for role in ROLES}


@pytest.mark.parametrize("role", ROLES)
def test_read_password_link_rights(site, world, role):
    target = site.account("teacher", display_name="Ana Lopez")
    token = new_link(site, target.name)["token"]
    r = world.as_(role).get(f"password-links/{token}", expect=READ[role])
    assert r.json() == {
        "name": target.name,
        "display_name": "Ana Lopez",
        "expires_at": r.json()["expires_at"],
        "valid": True,
    }


@pytest.mark.parametrize("role", ROLES)
def test_set_password_with_link_rights(site, world, role):
    target = site.account("teacher")
    token = new_link(site, target.name)["token"]
    r = world.as_(role).post(
        f"password-links/{token}", json={"password": PASSWORD}, expect=SET[role]
    )
    assert r.json() == {"name": target.name, "password_set": True}
    assert can_log_in(site, target.name, PASSWORD)


def test_a_link_works_once(site):
    target = site.account("teacher")
    token = new_link(site, target.name)["token"]
    site.anonymous.post(f"password-links/{token}", json={"password": PASSWORD}, expect=200)
    for method in ("get", "post"):
        r = getattr(site.anonymous, method)(
            f"password-links/{token}", json={"password": "another-password"}, expect=409
        )
        assert r.json()["message"] == "This link has already been used."
    assert can_log_in(site, target.name, PASSWORD)
    assert not can_log_in(site, target.name, "another-password")


def test_a_password_set_with_a_link_lifts_the_accounts_lock(site):
    """Someone guessed at the account until it locked; its owner sets a new password with
    a link and logs in at once."""
    target = site.account("teacher")
    hub, address = service_caller(site), unique("test-addr-")
    while hub.post("auth/login", json={"username": target.name, "password": "guess",
                                       "address": address}).status_code != 429:
        pass
    token = new_link(site, target.name)["token"]
    site.anonymous.post(f"password-links/{token}", json={"password": PASSWORD}, expect=200)
    assert can_log_in(site, target.name, PASSWORD)


def test_an_expired_link_says_so(site, db_url):
    target = site.account("teacher")
    token = new_link(site, target.name)["token"]
    expire_links(db_url, target.name)
    for method in ("get", "post"):
        r = getattr(site.anonymous, method)(
            f"password-links/{token}", json={"password": PASSWORD}, expect=409
        )
        assert r.json()["message"] == (
            "This link has expired: ask your hub administrator for a new one."
        )
    assert not can_log_in(site, target.name, PASSWORD)


def test_an_unknown_link_is_not_valid(site):
    for method in ("get", "post"):
        r = getattr(site.anonymous, method)(
            "password-links/made-up-token", json={"password": PASSWORD}, expect=404
        )
        assert r.json()["message"] == "This link is not valid."


def test_a_new_link_replaces_the_unused_one(site):
    target = site.account("teacher")
    old = new_link(site, target.name)["token"]
    new = new_link(site, target.name)["token"]
    site.anonymous.get(f"password-links/{old}", expect=404)
    site.anonymous.get(f"password-links/{new}", expect=200)


def test_a_weak_password_keeps_the_link_usable(site):
    target = site.account("teacher")
    token = new_link(site, target.name)["token"]
    r = site.anonymous.post(f"password-links/{token}", json={"password": "short"}, expect=400)
    assert r.json()["message"] == "A password must be at least 8 characters long."
    site.anonymous.post(f"password-links/{token}", json={}, expect=400)
    site.anonymous.post(f"password-links/{token}", json={"password": PASSWORD}, expect=200)
    assert can_log_in(site, target.name, PASSWORD)


# --- mailed links, through a real SMTP server ------------------------------------------


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [msg for msg in self.messages if msg["X-Envelope-To"] == address]


@pytest.fixture(scope="module")
def smtp():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.controller = controller
    yield inbox
    if controller._thread is not None:  # the failure test stops it early
        controller.stop()


@pytest.fixture(scope="module")
def mail_site(smtp, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("mail-service")
    hub = RealHub(
        twinspace_command(data_dir, f"sqlite:///{data_dir / 'twinspace.sqlite'}"),
        service_env={
            "TWINSPACE_SMTP_HOST": "127.0.0.1",
            "TWINSPACE_SMTP_PORT": str(smtp.controller.port),
            "TWINSPACE_SMTP_FROM": "twinspace@school.example",
            # aiosmtpd here speaks plain SMTP, like a local relay.
            "TWINSPACE_SMTP_STARTTLS": "0",
        },
    )
    hub.start()
    try:
        hub.wait_for_service()
        yield Site(hub)
    finally:
        hub.stop()


def body_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_password_link_is_mailed(mail_site, smtp):
    address = f"{unique('ana')}@school.example"
    target = mail_site.account("teacher", email=address, display_name="Ana Lopez")
    body = mail_site.admin.ok("POST", f"users/{target.name}/password-link")
    assert body["mailed"] is True and "mail_error" not in body
    (message,) = wait_until(lambda: smtp.to(address))
    assert message["From"] == "twinspace@school.example"
    assert message["Subject"] == "Choose your TwinSpace password"
    assert body["link"] in body_of(message)
    assert target.name in body_of(message)


def test_account_without_email_is_not_mailed(mail_site, smtp):
    target = mail_site.account("teacher")
    body = mail_site.admin.ok("POST", f"users/{target.name}/password-link")
    assert body["mailed"] is False and "mail_error" not in body


def test_newcomer_invitation_is_mailed(mail_site, smtp):
    founder = mail_site.account("teacher", display_name="Marie Curie", school="Lycée A")
    slug = unique("mailspace")
    founder.ok("POST", "spaces", json={"slug": slug, "title": "Water in our towns"})
    address = f"{unique('new')}@school.example"
    invitation = founder.ok(
        "POST", f"spaces/{slug}/invitations", json={"role": "teacher", "email": address}
    )
    assert invitation["mailed"] is True
    (message,) = wait_until(lambda: smtp.to(address))
    text = body_of(message)
    assert message["Subject"] == "Invitation to Water in our towns"
    assert invitation["link"] in text
    assert "Marie Curie" in text and "as teacher" in text


def test_mail_failure_is_reported_and_nothing_is_lost(mail_site, smtp):
    """Last in this module: it stops the SMTP server."""
    smtp.controller.stop()
    address = f"{unique('bob')}@school.example"
    target = mail_site.account("teacher", email=address)
    body = mail_site.admin.ok("POST", f"users/{target.name}/password-link")
    assert body["mailed"] is False
    assert body["mail_error"].startswith("The e-mail could not be sent:")
    mail_site.anonymous.get(f"password-links/{body['token']}", expect=200)

    founder = mail_site.account("teacher")
    slug = unique("mailspace")
    founder.ok("POST", "spaces", json={"slug": slug, "title": "Lost mail"})
    invitation = founder.ok(
        "POST", f"spaces/{slug}/invitations",
        json={"role": "visitor", "email": f"{unique('v')}@school.example"},
    )
    assert invitation["mailed"] is False and invitation["mail_error"]
    mail_site.anonymous.get(f"invitations/by-token/{invitation['token']}", expect=200)
