"""Password checks for the hub's login form, with persisted throttling per account and address."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..passwords import hash_password, verify_password
from ..store import models as m
from .base import APIError, APIHandler, as_utc, utcnow

# Verifying against this when the account does not exist costs the same time as a real
# check, so response times do not tell which usernames exist.
_DUMMY_HASH = hash_password("not-a-password")


@dataclass(frozen=True)
class ThrottlePolicy:
    """When repeated failures lock a key, and for how long.

    After `threshold` consecutive failures the key is locked for `base_seconds`; each
    further failure doubles the lock, up to `max_seconds`. Every failure also delays
    the answer a little more (`step_delay` per failure, up to `max_delay`). A few
    failures are forgotten after `window_seconds` of quiet; once a key has been locked
    its count is kept for `locked_memory_seconds`, so waiting out a lock does not reset
    the doubling. A success clears its account's count but not its address's: a whole
    class logs in from one school address, so that limit is higher, and an attacker's
    own good login must not buy more guesses.
    """

    account_threshold: int = 5
    address_threshold: int = 30
    window_seconds: float = 900.0
    locked_memory_seconds: float = 86400.0
    base_seconds: float = 60.0
    max_seconds: float = 3600.0
    step_delay: float = 0.25
    max_delay: float = 2.0

    def forgets(self, failures: int, threshold: int, quiet_seconds: float) -> bool:
        """Whether `failures` are old enough, after `quiet_seconds` without any, to drop."""
        memory = self.window_seconds if failures < threshold else self.locked_memory_seconds
        return quiet_seconds > memory

    def lock_seconds(self, failures: int, threshold: int) -> float:
        if failures < threshold:
            return 0.0
        return min(self.base_seconds * 2 ** (failures - threshold), self.max_seconds)


def _lock_row(db: Session, key: str) -> m.LoginLock:
    row = db.get(m.LoginLock, key, with_for_update=True)
    if row is None:
        row = m.LoginLock(key=key, failures=0)
        db.add(row)
        try:
            db.flush()
        except IntegrityError:
            # A concurrent attempt created it first.
            db.rollback()
            row = db.get(m.LoginLock, key, with_for_update=True)
    return row


def locked_for(db: Session, keys: list[str], now: dt.datetime) -> float:
    """Seconds until every key in `keys` is unlocked (0 when none is locked)."""
    rows = db.scalars(select(m.LoginLock).where(m.LoginLock.key.in_(keys)))
    remaining = [
        (as_utc(row.locked_until) - now).total_seconds()
        for row in rows
        if row.locked_until is not None and as_utc(row.locked_until) > now
    ]
    return max(remaining, default=0.0)


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
        keys = [f"user:{username}"[:100], f"addr:{address}"]
        now = utcnow()

        wait = locked_for(self.db, keys, now)
        if wait > 0:
            self._log_attempt(username, address, False)
            self.db.commit()
            raise APIError(429, too_many_message(wait), retry_after=math.ceil(wait))

        user = self.db.scalar(select(m.User).where(m.User.name == username))
        good = await self.in_thread(
            verify_password, user.password_hash if user else _DUMMY_HASH, password
        )
        good = good and user is not None
        self._log_attempt(username, address, good)
        if good:
            for key in keys[:1]:
                row = _lock_row(self.db, key)
                row.failures, row.locked_until, row.updated_at = 0, None, now
            self.db.commit()
            self.write_json(login_json(self.db, user))
            return

        failures = 0
        for key, threshold in zip(
            keys, (policy.account_threshold, policy.address_threshold), strict=True
        ):
            row = _lock_row(self.db, key)
            quiet = (now - as_utc(row.updated_at or now)).total_seconds()
            if policy.forgets(row.failures, threshold, quiet):
                row.failures = 0
            row.failures += 1
            row.updated_at = now
            seconds = policy.lock_seconds(row.failures, threshold)
            if seconds:
                row.locked_until = now + dt.timedelta(seconds=seconds)
            failures = max(failures, row.failures)
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
