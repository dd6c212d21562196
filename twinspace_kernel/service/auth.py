"""Password checks for the hub's login form, with persisted throttling per account and address."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..passwords import hash_password, verify_password
from ..store import models as m
from .base import APIError, APIHandler, as_utc, utcnow

# Verifying against this when the account does not exist, or has no password yet, costs
# the same time as a real check, so response times do not tell which usernames exist.
_DUMMY_HASH = hash_password("not-a-password")


def hash_to_check(user: m.User | None) -> str:
    """The hash a login attempt is verified against: the account's, or one that costs the same."""
    return user.password_hash if user is not None and user.password_hash else _DUMMY_HASH


@dataclass(frozen=True)
class ThrottlePolicy:
    """When repeated failures lock an account or a client address, and for how long.

    An account counts its failures in a row until a successful login, however slowly they
    come (NIST SP 800-63B): after `account_threshold` of them it is locked for
    `base_seconds`, and each further failure doubles the lock up to `max_seconds`, so a
    patient attacker gets about one guess per `max_seconds` (see docs/security.md).
    An address fills a bucket of `address_threshold` failures that empties by one every
    `address_leak_seconds`: a school's many pupils behind one address can mistype now and
    then, while one address guessing across accounts is held to that rate. A success
    clears its account's count, never its address's: an attacker's own good login must
    not buy more guesses. Every failure also delays the answer a little more
    (`step_delay` per failure in a row, up to `max_delay`).
    """

    account_threshold: int = 5
    address_threshold: int = 30
    base_seconds: float = 60.0
    max_seconds: float = 7200.0
    address_leak_seconds: float = 120.0
    step_delay: float = 0.25
    max_delay: float = 2.0

    def lock_seconds(self, failures: int, threshold: int) -> float:
        if failures < threshold:
            return 0.0
        return min(self.base_seconds * 2 ** min(failures - threshold, 40), self.max_seconds)

    def leaked(
        self, failures: int, since: dt.datetime, now: dt.datetime
    ) -> tuple[int, dt.datetime]:
        """An address bucket after leaking since `since`: (failures left, new leak origin)."""
        drops = int(max(0.0, (now - since).total_seconds()) // self.address_leak_seconds)
        left = max(0, failures - drops)
        if left == 0:
            return 0, now
        return left, since + dt.timedelta(seconds=drops * self.address_leak_seconds)


def _ensure_rows(db: Session, keys: list[str], now: dt.datetime) -> None:
    """Create missing throttle rows (committed), so both can then be locked for update."""
    existing = set(db.scalars(select(m.LoginLock.key).where(m.LoginLock.key.in_(keys))))
    for key in keys:
        if key in existing:
            continue
        db.add(m.LoginLock(key=key, failures=0, updated_at=now))
        try:
            db.commit()
        except IntegrityError:
            db.rollback()  # a concurrent attempt created it first


def _locked_rows(db: Session, keys: list[str]) -> dict[str, m.LoginLock]:
    """The throttle rows, locked until commit (row locks on PostgreSQL; on SQLite the
    service's single writer does the same), always in the same order: no deadlock."""
    rows = db.scalars(
        select(m.LoginLock)
        .where(m.LoginLock.key.in_(sorted(keys)))
        .order_by(m.LoginLock.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.key: row for row in rows}


def reserve_attempt(
    db: Session, policy: ThrottlePolicy, account_key: str, address_key: str, now: dt.datetime
) -> float:
    """Count an attempt as a failure before its password is checked; 0, or seconds to wait.

    The reservation is committed before the (slow, threaded) check, so attempts sent
    together cannot all pass a lock that the first few of them are about to set.
    """
    _ensure_rows(db, [account_key, address_key], now)
    rows = _locked_rows(db, [account_key, address_key])
    account, address = rows[account_key], rows[address_key]
    waits = []
    if account.locked_until is not None and as_utc(account.locked_until) > now:
        waits.append((as_utc(account.locked_until) - now).total_seconds())
    address.failures, address.updated_at = policy.leaked(
        address.failures, as_utc(address.updated_at or now), now
    )
    if address.failures >= policy.address_threshold:
        next_drop = as_utc(address.updated_at) + dt.timedelta(seconds=policy.address_leak_seconds)
        waits.append(max(1.0, (next_drop - now).total_seconds()))
    if waits:
        db.commit()
        return max(waits)
    account.failures += 1
    account.updated_at = now
    seconds = policy.lock_seconds(account.failures, policy.account_threshold)
    if seconds:
        account.locked_until = now + dt.timedelta(seconds=seconds)
    address.failures += 1
    db.commit()
    return 0.0


def settle_success(db: Session, account_key: str, address_key: str, now: dt.datetime) -> None:
    """A good password: the account starts afresh; the address gets its reservation back."""
    rows = _locked_rows(db, [account_key, address_key])
    account, address = rows[account_key], rows[address_key]
    account.failures, account.locked_until, account.updated_at = 0, None, now
    address.failures = max(0, address.failures - 1)
    db.commit()


def account_lock_key(username: str) -> str:
    """The throttle's key for an account."""
    return f"user:{username}"[:100]


def lift_account_lock(db: Session, username: str) -> None:
    """A new password (a teacher's reset, a password link): the guesses counted against the
    old one no longer matter, and the member must be able to log in with it at once. The
    addresses' counts stay: whoever was guessing is still throttled. Committed with the
    caller's change."""
    db.execute(update(m.LoginLock).where(m.LoginLock.key == account_lock_key(username))
               .values(failures=0, locked_until=None))


def account_failures(db: Session, account_key: str) -> int:
    row = db.get(m.LoginLock, account_key, populate_existing=True)
    return row.failures if row is not None else 0


def too_many_message(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many attempts: try again in {minutes} {unit}."


class LoginHandler(APIHandler):
    """Checks a username and password for the hub (trusted services only)."""

    async def post(self):
        """Check a login (the hub's authenticator): 200 with groups, 403, or 429 when locked."""
        self.require_trusted_service("Only the hub may check passwords.")
        body = self.json_body()
        username = self.field(body, "username", max_len=200).lower()
        password = self.field(body, "password", max_len=1000, allow_empty=True)
        address = self.field(body, "address", default="unknown", max_len=64)
        policy: ThrottlePolicy = self.settings["throttle"]
        account_key, address_key = account_lock_key(username), f"addr:{address}"

        wait = reserve_attempt(self.db, policy, account_key, address_key, utcnow())
        if wait > 0:
            self._log_attempt(username, address, False)
            self.db.commit()
            raise APIError(429, too_many_message(wait), retry_after=math.ceil(wait))

        user = self.db.scalar(select(m.User).where(m.User.name == username))
        good = await self.in_thread(verify_password, hash_to_check(user), password)
        good = good and user is not None and bool(user.password_hash)
        self._log_attempt(username, address, good)
        if good:
            settle_success(self.db, account_key, address_key, utcnow())
            self.write_json(login_json(self.db, user))
            return
        # The failure was counted when the attempt was reserved.
        failures = account_failures(self.db, account_key)
        self.db.commit()
        # A growing pause makes scripted guessing slow even before a lock.
        await asyncio.sleep(min(policy.step_delay * failures, policy.max_delay))
        raise APIError(403, "Unknown username or wrong password.", code="invalid_login")

    def _log_attempt(self, username: str, address: str, succeeded: bool) -> None:
        self.db.add(m.LoginAttempt(username=username[:64], address=address, succeeded=succeeded))


def hub_groups(db: Session, user: m.User) -> list[str]:
    """The hub groups mirroring the user's memberships: one per space and role."""
    rows = db.execute(
        select(m.Space.slug, m.Membership.role)
        .join(m.Membership, m.Membership.space_id == m.Space.id)
        .where(m.Membership.user_id == user.id)
    )
    return sorted(f"space:{slug}:{role}" for slug, role in rows)


def login_json(db: Session, user: m.User) -> dict:
    return {
        "name": user.name,
        "kind": user.kind,
        "display_name": user.display_name,
        "locale": user.locale,
        "groups": hub_groups(db, user),
    }


class GroupsHandler(APIHandler):
    def get(self, name):
        """The hub groups of an account (trusted services), for syncing at spawn."""
        self.require_trusted_service("Only the hub may read group mirrors.")
        self.write_json(login_json(self.db, self.load_user(name)))


default_handlers = [
    (r"/auth/login", LoginHandler),
    (r"/auth/users/(?P<name>[^/]+)", GroupsHandler),
]
