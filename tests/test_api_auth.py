"""Password checks for the hub, with throttling per account and per client address."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session
from utils import ROLES, Caller, unique

from twinspace_kernel.store import models as m
from twinspace_kernel.store.db import new_engine


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
    import datetime as dt

    from twinspace_kernel.service.auth import ThrottlePolicy

    policy = ThrottlePolicy(account_threshold=5, base_seconds=60, max_seconds=7200,
                            address_leak_seconds=120)
    assert [policy.lock_seconds(n, 5) for n in (4, 5, 6, 7, 12, 10**6)] == [
        0, 60, 120, 240, 7200, 7200]
    # An address's failures are forgiven one per leak period, not all at once.
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert policy.leaked(30, start, start + dt.timedelta(seconds=119)) == (30, start)
    assert policy.leaked(30, start, start + dt.timedelta(seconds=250)) == (
        28, start + dt.timedelta(seconds=240))
    later = start + dt.timedelta(days=1)
    assert policy.leaked(30, start, later) == (0, later)


def test_passwordless_accounts_cost_a_full_check():
    from twinspace_kernel.passwords import HASHER
    from twinspace_kernel.service.auth import hash_to_check
    from twinspace_kernel.store import models as m

    for user in (None, m.User(name="x", password_hash=None), m.User(name="y", password_hash="")):
        # A real argon2 hash with the same parameters as members': the same work to verify.
        assert not HASHER.check_needs_rehash(hash_to_check(user))
    assert hash_to_check(m.User(name="z", password_hash="$argon2id$own")) == "$argon2id$own"


def test_simultaneous_guesses_get_exactly_the_threshold(hub_caller, teacher):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    # Each guess from another address: only the account's own limit is in play.
    addresses = [unique("addr") for _ in range(20)]
    start = Barrier(len(addresses))

    def guess(address):
        start.wait()
        return login(hub_caller, teacher, "wrong", address).status_code

    with ThreadPoolExecutor(len(addresses)) as pool:
        codes = sorted(pool.map(guess, addresses))
    # Reserved before the password is checked: five evaluated, the rest refused unseen.
    assert codes == [403] * 5 + [429] * 15, codes
    assert login(hub_caller, teacher, "correct horse", unique("addr")).status_code == 429


def test_failures_in_a_row_are_kept_until_a_success(hub_caller, teacher, db_url):
    # However long ago the first failures were, they still count (no 15-minute window):
    # backdate them a day, then one more failure brings the lock.
    import datetime as dt

    import sqlalchemy as sa

    from twinspace_kernel.store import models as m

    address = unique("addr")
    for _ in range(4):
        assert login(hub_caller, teacher, "wrong", address).status_code == 403
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as db:
            changed = db.execute(
                sa.update(m.LoginLock)
                .where(m.LoginLock.key == f"user:{teacher}")
                .values(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
            ).rowcount
    finally:
        engine.dispose()
    assert changed == 1
    assert login(hub_caller, teacher, "wrong", unique("addr")).status_code == 403
    assert login(hub_caller, teacher, "correct horse", unique("addr")).status_code == 429


def test_a_new_password_lifts_the_accounts_lock_not_the_addresss(hub_caller, world, db_url):
    """A pupil locked out by wrong guesses gets a new password from the teacher and is in
    at once; the guessing address keeps its count."""
    ta = world.as_("teacher_admin")
    (pupil,) = ta.ok("POST", f"spaces/{world.slug}/pupils", json={"names": ["Lou Kept"]})["items"]
    guesser = unique("addr")
    while login(hub_caller, pupil["name"], "wrong", guesser).status_code != 429:
        pass
    assert login(hub_caller, pupil["name"], pupil["password"], unique("addr")).status_code == 429
    new = ta.ok("POST", f"spaces/{world.slug}/pupils/{pupil['name']}/password", json={})
    r = login(hub_caller, pupil["name"], new["password"], unique("addr"))
    assert r.status_code == 200, r.text
    engine = new_engine(db_url)
    try:
        with Session(engine) as db:
            assert db.get(m.LoginLock, f"addr:{guesser}").failures >= 5
    finally:
        engine.dispose()
