"""The one table of TwinSpace role rights: nothing else decides who may do what.

Every check in the service and the shared-volume extension asks :func:`allowed`
(or :func:`may_edit`, which is built on it). The table below is the
"Roles and rights" table of DESIGN.md written as data: for each action and
section, the set of roles that may perform it.
"""

from __future__ import annotations

ROLES = ("teacher_admin", "teacher", "pupil_admin", "pupil", "visitor", "public")
MEMBER_ROLES = ROLES[:-1]
TEACHER_ROLES = ("teacher_admin", "teacher")
PUPIL_ROLES = ("pupil_admin", "pupil")

SECTIONS = ("home", "activities", "teachers_room", "pupils_corner", "chat")

ACTIONS = (
    "view",
    "post",
    "comment",
    "open_thread",
    "reply",
    "edit_wiki",
    "upload",
    "manage_pages",
    "moderate",
    "report",
    "chat",
    "add_event",
    "send_mail",
    "invite",
    "manage_pupils",
    "publish",
    "view_pupil_profile",
    # Not a separate line of DESIGN.md's table but part of its first admin row:
    # change roles, archive, close or reopen the space.
    "administer",
)

SPACE_STATES = ("open", "archived", "closed")

# Abbreviations keep the table readable as a grid.
TA, T, PA, P, V, PUB = ROLES
ALL_MEMBERS = frozenset(MEMBER_ROLES)
TEACHERS = frozenset(TEACHER_ROLES)
ADMINS = frozenset({TA, T, PA})
PUPILS_CORNER_MEMBERS = frozenset({TA, T, PA, P})
NOBODY: frozenset[str] = frozenset()

# TABLE[action][section] -> roles that may do it. A missing section means nobody.
TABLE: dict[str, dict[str, frozenset[str]]] = {
    "view": {
        "home": ALL_MEMBERS | {PUB},
        "activities": ALL_MEMBERS | {PUB},
        "teachers_room": TEACHERS,
        "pupils_corner": PUPILS_CORNER_MEMBERS,
        "chat": ALL_MEMBERS,
    },
    "post": {
        "home": TEACHERS,
        "activities": frozenset({TA, T, PA, P}),
        "teachers_room": TEACHERS,
        "pupils_corner": frozenset({PA, P}),
    },
    "comment": {
        "home": ALL_MEMBERS,
        "activities": ALL_MEMBERS,
        "teachers_room": TEACHERS,
        "pupils_corner": frozenset({PA, P}),
    },
    "open_thread": {
        "home": ADMINS,
        "activities": ADMINS,
        "teachers_room": TEACHERS,
        "pupils_corner": frozenset({PA, P}),
    },
    "reply": {
        "home": ALL_MEMBERS,
        "activities": ALL_MEMBERS,
        "teachers_room": TEACHERS,
        "pupils_corner": frozenset({PA, P}),
    },
    "edit_wiki": {
        "home": frozenset({TA, T, PA, P}),
        "activities": frozenset({TA, T, PA, P}),
        "teachers_room": TEACHERS,
        "pupils_corner": frozenset({PA, P}),
    },
    "upload": {
        "home": ADMINS,
        "activities": ADMINS,
        "teachers_room": TEACHERS,
        "pupils_corner": frozenset({PA, P}),
    },
    "manage_pages": {
        "home": frozenset({TA}),
        "activities": ADMINS,
        "teachers_room": TEACHERS,
        "pupils_corner": frozenset({PA}),
        "chat": TEACHERS,
    },
    "moderate": {
        "home": TEACHERS,
        "activities": TEACHERS,
        "teachers_room": frozenset({TA}),
        "pupils_corner": frozenset({TA}),
        "chat": frozenset({TA}),
    },
    "report": {
        "home": ALL_MEMBERS,
        "activities": ALL_MEMBERS,
        "teachers_room": TEACHERS,
        "pupils_corner": PUPILS_CORNER_MEMBERS,
        "chat": ALL_MEMBERS,
    },
    "chat": {"chat": ALL_MEMBERS},
    "add_event": {"home": ADMINS},
    "send_mail": {"home": ALL_MEMBERS},
    "invite": {"home": frozenset({TA})},
    # A plain teacher manages only the pupils they created: see `own` in allowed().
    "manage_pupils": {"home": TEACHERS},
    "publish": {"home": frozenset({TA})},
    "view_pupil_profile": {"home": PUPILS_CORNER_MEMBERS},
    "administer": {"home": frozenset({TA})},
}

# Actions that change nothing: the only ones left in an archived space.
READ_ONLY_ACTIONS = frozenset({"view", "view_pupil_profile"})
# What a teacher administrator may still do in an archived space: bring it back.
ARCHIVED_ADMIN_ACTIONS = frozenset({"administer"})
# Actions a plain teacher may do only on what is their own (their own pupils).
OWN_ONLY = {("manage_pupils", T)}


class RightsError(ValueError):
    """An unknown role, action, section or space state was asked about."""


def _check_names(role: str, action: str, section: str, state: str) -> None:
    for value, known, what in (
        (role, ROLES, "role"),
        (action, ACTIONS, "action"),
        (section, SECTIONS, "section"),
        (state, SPACE_STATES, "space state"),
    ):
        if value not in known:
            raise RightsError(f"Unknown {what} {value!r}; expected one of {', '.join(known)}")


def allowed(
    role: str,
    action: str,
    section: str,
    *,
    state: str = "open",
    published: bool = False,
    own: bool = True,
) -> bool:
    """May `role` perform `action` in `section` of a space?

    state: the space's state; archived spaces are read-only and closed spaces
        are visible to teacher administrators only.
    published: whether the thing viewed is published; the public sees only
        published spaces and pages.
    own: whether the target belongs to the actor (a plain teacher manages only
        their own pupils).
    """
    _check_names(role, action, section, state)
    if role not in TABLE[action].get(section, NOBODY):
        return False
    if state == "closed" and role != TA:
        return False
    if state == "archived" and action not in READ_ONLY_ACTIONS:
        if not (role == TA and action in ARCHIVED_ADMIN_ACTIONS):
            return False
    if role == PUB and not published:
        return False
    if (action, role) in OWN_ONLY and not own:
        return False
    return True


def may_edit(role: str, section: str, *, is_author: bool, state: str = "open") -> bool:
    """May `role` edit or delete an item of `section`?

    Authors edit their own content wherever they may still view the section;
    moderators edit anything in the sections they moderate.
    """
    if allowed(role, "moderate", section, state=state):
        return True
    return (
        is_author
        and role != PUB
        and state == "open"
        and allowed(role, "view", section, state=state)
    )


def supervised_chat_blocks(role: str, *, supervised: bool, present_roles) -> bool:
    """In a supervised room pupils write only while a teacher is present (F29)."""
    teacher_here = any(r in TEACHER_ROLES for r in present_roles)
    return supervised and role in PUPIL_ROLES and not teacher_here


def explain(role: str, action: str, section: str, *, state: str = "open") -> str:
    """A human sentence saying why `role` may not do `action` (for 403 messages)."""
    _check_names(role, action, section, state)
    if state == "closed":
        return "This space is closed; only its teacher administrators can see it."
    if state == "archived" and action not in READ_ONLY_ACTIONS:
        return "This space is archived and read-only."
    if role == PUB:
        return "Please log in: this is not published."
    who = role.replace("_", " ")
    where = section.replace("_", " ")
    return f"A {who} may not {ACTION_WORDS[action]} in the {where} section."


ACTION_WORDS = {
    "view": "view this",
    "post": "post",
    "comment": "comment",
    "open_thread": "open a forum thread",
    "reply": "reply",
    "edit_wiki": "edit the wiki",
    "upload": "upload files",
    "manage_pages": "manage pages or applications",
    "moderate": "moderate content",
    "report": "report content",
    "chat": "chat",
    "add_event": "add calendar events",
    "send_mail": "send mail",
    "invite": "invite members or change roles",
    "manage_pupils": "manage these pupil accounts",
    "publish": "publish pages",
    "view_pupil_profile": "see pupils' profiles",
    "administer": "change the space's settings or state",
}
