"""Unix names of TwinSpace roles: the group of each space and role (`ts-<slug>-<role>`).

Shared by the hub's spawner (members' supplementary groups) and the service (the ACLs of
the shared volume), so both always name a role's group the same way.
"""

from __future__ import annotations

import hashlib
import re

MAX_UNIX_NAME = 32
USER_PREFIX = "ts-"
ROLE_ABBREVIATIONS = {
    "teacher_admin": "ta",
    "teacher": "t",
    "pupil_admin": "pa",
    "pupil": "p",
    "visitor": "v",
}
UNIX_SAFE_RE = re.compile(r"^[a-z0-9_-]+$")


def short_hash(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def unix_group(slug: str, role: str) -> str:
    """The Unix group of a role in a space, e.g. `ts-twin-p` (hashed when the slug is long)."""
    abbrev = ROLE_ABBREVIATIONS[role]
    name = f"{USER_PREFIX}{slug}-{abbrev}"
    if UNIX_SAFE_RE.match(slug) and len(name) <= MAX_UNIX_NAME:
        return name
    clean = re.sub(r"[^a-z0-9-]+", "-", slug.lower()).strip("-")
    tail = f"-{short_hash(slug, 6)}-{abbrev}"
    return USER_PREFIX + clean[: MAX_UNIX_NAME - len(USER_PREFIX) - len(tail)] + tail
