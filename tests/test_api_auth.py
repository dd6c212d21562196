"""Password checks for the hub, with throttling per account and per client address."""

from __future__ import annotations

import pytest
from utils import ROLES, Caller, unique


@pytest.fixture
def hub_caller(site):
    """Calls as the hub's authenticator does: with the TwinSpace service's own token."""
    return Caller(site.api_base, site.hub.service_token, "hub")


@pytest.fixture
def teacher(site):
    name = unique("login")
    site.admin.ok("POST", "users", json={"name": name, "kind": "teacher",
                                         "password": "correct horse"})
    return name


def login(caller, name, password, address):
    return caller.post("auth/login", json={"username": name, "password": password,
                                           "address": address})


@pytest.mark.parametrize("role", ROLES)
def test_members_cannot_check_passwords(world, role):
    r = login(world.as_(role), "x", "y", "1.1.1.1")
    assert r.status_code == 403
    assert r.json()["message"] == "Only the hub may check passwords."


def test_unknown_and_passwordless_accounts_fail_alike(hub_caller, world):
    # The founder was made without a password: such an account cannot log in.
    r = login(hub_caller, world.as_("teacher_admin").name, "", unique("addr"))
    assert r.status_code == 403
    assert r.json()["message"] == "Unknown username or wrong password."
    r = login(hub_caller, "nobody-" + unique("n"), "whatever", unique("addr"))
    assert r.status_code == 403
    assert r.json()["message"] == "Unknown username or wrong password."


def test_groups_mirror_memberships(site, hub_caller, teacher):
    founder = site.caller(teacher)
    slug = unique("grp")
    founder.ok("POST", "spaces", json={"slug": slug, "title": "Groups"})
    body = login(hub_caller, teacher, "correct horse", unique("addr")).json()
    assert body["groups"] == [f"space:{slug}:teacher_admin"]
    assert hub_caller.ok("GET", f"auth/users/{teacher}")["groups"] == body["groups"]
    founder.get(f"auth/users/{teacher}", expect=403)


def test_wrong_passwords_lock_the_account(hub_caller, teacher):
    address = unique("addr")
    for _ in range(4):
        r = login(hub_caller, teacher, "wrong", address)
        assert r.status_code == 403
    r = login(hub_caller, teacher, "wrong", address)  # the fifth failure locks
    assert r.status_code == 403
    r = login(hub_caller, teacher, "correct horse", address)
    assert r.status_code == 429
    assert r.json()["message"] == "Too many attempts: try again in 1 minute."
    assert r.json()["retry_after"] <= 60
    # The lock is on the account: another address does not get around it.
    assert login(hub_caller, teacher, "correct horse", unique("addr")).status_code == 429


def test_success_resets_the_account_count_but_not_the_address(hub_caller, teacher):
    address = unique("addr")
    for _ in range(4):
        assert login(hub_caller, teacher, "wrong", address).status_code == 403
    assert login(hub_caller, teacher, "correct horse", address).status_code == 200
    for _ in range(4):
        assert login(hub_caller, teacher, "wrong", address).status_code == 403
    # Eight failures from this address in all: it is now locked, whoever logs in from it.
    assert login(hub_caller, teacher, "correct horse", address).status_code == 429
    assert login(hub_caller, teacher, "correct horse", unique("addr")).status_code == 200


def test_one_address_against_many_accounts_is_locked(hub_caller, site, teacher):
    address = unique("addr")
    # The test hub locks an address after 8 failures (TWINSPACE_LOGIN_ADDRESS_THRESHOLD).
    for i in range(8):
        assert login(hub_caller, f"guess{i}-{address}", "abcde", address).status_code == 403
    r = login(hub_caller, teacher, "correct horse", address)
    assert r.status_code == 429
    assert "try again in" in r.json()["message"]
    assert login(hub_caller, teacher, "correct horse", unique("addr")).status_code == 200


def test_bad_input(hub_caller):
    hub_caller.post("auth/login", json={"password": "x"}, expect=400)
    hub_caller.post("auth/login", data="nope", expect=400)


def test_throttle_policy_keeps_escalating_after_a_lock():
    from twinspace_kernel.service.auth import ThrottlePolicy

    policy = ThrottlePolicy(account_threshold=5, base_seconds=60, max_seconds=3600)
    assert [policy.lock_seconds(n, 5) for n in (4, 5, 6, 7, 12)] == [0, 60, 120, 240, 3600]
    # A few failures are forgotten after 15 quiet minutes...
    assert policy.forgets(3, 5, quiet_seconds=901)
    assert not policy.forgets(3, 5, quiet_seconds=600)
    # ...but once locked, waiting out even the longest lock does not reset the doubling.
    assert not policy.forgets(11, 5, quiet_seconds=3601)
    assert policy.forgets(11, 5, quiet_seconds=86401)
