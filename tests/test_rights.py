"""The rights table, walked in full against an explicit expected matrix (DESIGN.md)."""

from __future__ import annotations

import pytest

from twinspace_kernel import rights

# Columns: teacher_admin, teacher, pupil_admin, pupil, visitor, public.
# "y" may, "." may not. Public "y" means: when the space and page are published.
# Sections: home, activities, teachers_room, pupils_corner, chat.
EXPECTED = {
    "view": {
        "home": "yyyyyy",
        "activities": "yyyyyy",
        "teachers_room": "yy....",
        "pupils_corner": "yyyy..",
        "chat": "yyyyy.",
    },
    "post": {
        "home": "yy....",
        "activities": "yyyy..",
        "teachers_room": "yy....",
        "pupils_corner": "..yy..",
        "chat": "......",
    },
    "comment": {
        "home": "yyyyy.",
        "activities": "yyyyy.",
        "teachers_room": "yy....",
        "pupils_corner": "..yy..",
        "chat": "......",
    },
    "open_thread": {
        "home": "yyy...",
        "activities": "yyy...",
        "teachers_room": "yy....",
        "pupils_corner": "..yy..",
        "chat": "......",
    },
    "reply": {
        "home": "yyyyy.",
        "activities": "yyyyy.",
        "teachers_room": "yy....",
        "pupils_corner": "..yy..",
        "chat": "......",
    },
    "edit_wiki": {
        "home": "yyyy..",
        "activities": "yyyy..",
        "teachers_room": "yy....",
        "pupils_corner": "..yy..",
        "chat": "......",
    },
    "upload": {
        "home": "yyy...",
        "activities": "yyy...",
        "teachers_room": "yy....",
        "pupils_corner": "..yy..",
        "chat": "......",
    },
    "manage_pages": {
        "home": "y.....",
        "activities": "yyy...",
        "teachers_room": "yy....",
        "pupils_corner": "..y...",
        "chat": "yy....",
    },
    "moderate": {
        "home": "yy....",
        "activities": "yy....",
        "teachers_room": "y.....",
        "pupils_corner": "y.....",
        "chat": "y.....",
    },
    "report": {
        "home": "yyyyy.",
        "activities": "yyyyy.",
        "teachers_room": "yy....",
        "pupils_corner": "yyyy..",
        "chat": "yyyyy.",
    },
    "chat": {
        "home": "......",
        "activities": "......",
        "teachers_room": "......",
        "pupils_corner": "......",
        "chat": "yyyyy.",
    },
    "add_event": {
        "home": "yyy...",
        "activities": "......",
        "teachers_room": "......",
        "pupils_corner": "......",
        "chat": "......",
    },
    "send_mail": {
        "home": "yyyyy.",
        "activities": "......",
        "teachers_room": "......",
        "pupils_corner": "......",
        "chat": "......",
    },
    "invite": {
        "home": "y.....",
        "activities": "......",
        "teachers_room": "......",
        "pupils_corner": "......",
        "chat": "......",
    },
    "manage_pupils": {
        "home": "yy....",
        "activities": "......",
        "teachers_room": "......",
        "pupils_corner": "......",
        "chat": "......",
    },
    "publish": {
        "home": "y.....",
        "activities": "......",
        "teachers_room": "......",
        "pupils_corner": "......",
        "chat": "......",
    },
    "view_pupil_profile": {
        "home": "yyyy..",
        "activities": "......",
        "teachers_room": "......",
        "pupils_corner": "......",
        "chat": "......",
    },
    "administer": {
        "home": "y.....",
        "activities": "......",
        "teachers_room": "......",
        "pupils_corner": "......",
        "chat": "......",
    },
}

CASES = [
    (role, action, section, row[i] == "y")
    for action, sections in EXPECTED.items()
    for section, row in sections.items()
    for i, role in enumerate(rights.ROLES)
]


def test_expected_table_covers_every_action_and_section():
    assert set(EXPECTED) == set(rights.ACTIONS)
    for action, sections in EXPECTED.items():
        assert set(sections) == set(rights.SECTIONS), action
        assert all(len(row) == len(rights.ROLES) for row in sections.values())


@pytest.mark.parametrize("role,action,section,expected", CASES)
def test_open_space_matrix(role, action, section, expected):
    assert rights.allowed(role, action, section, published=True) is expected


@pytest.mark.parametrize("role,action,section,expected", CASES)
def test_archived_space_is_read_only(role, action, section, expected):
    # Only viewing stays, plus the teacher administrator's power to reopen the space.
    still = action in ("view", "view_pupil_profile") or (
        role == "teacher_admin" and action == "administer"
    )
    got = rights.allowed(role, action, section, state="archived", published=True)
    assert got is (expected and still)


@pytest.mark.parametrize("role,action,section,expected", CASES)
def test_closed_space_only_for_teacher_admins(role, action, section, expected):
    got = rights.allowed(role, action, section, state="closed", published=True)
    assert got is (expected and role == "teacher_admin")


@pytest.mark.parametrize("section", rights.SECTIONS)
def test_public_sees_only_published(section):
    assert rights.allowed("public", "view", section, published=False) is False


def test_teacher_manages_only_own_pupils():
    assert rights.allowed("teacher", "manage_pupils", "home", own=True)
    assert not rights.allowed("teacher", "manage_pupils", "home", own=False)
    assert rights.allowed("teacher_admin", "manage_pupils", "home", own=False)


@pytest.mark.parametrize(
    "role,section,is_author,state,expected",
    [
        ("pupil", "activities", True, "open", True),
        ("pupil", "activities", False, "open", False),
        ("visitor", "activities", True, "open", True),
        ("visitor", "pupils_corner", True, "open", False),  # may no longer view it
        ("teacher", "activities", False, "open", True),  # moderator
        ("teacher", "pupils_corner", False, "open", False),
        ("teacher_admin", "pupils_corner", False, "open", True),
        ("pupil", "activities", True, "archived", False),
        ("public", "activities", True, "open", False),
    ],
)
def test_may_edit(role, section, is_author, state, expected):
    assert rights.may_edit(role, section, is_author=is_author, state=state) is expected


@pytest.mark.parametrize(
    "args",
    [
        ("principal", "view", "home"),
        ("pupil", "fly", "home"),
        ("pupil", "view", "kitchen"),
    ],
)
def test_unknown_names_raise(args):
    with pytest.raises(rights.RightsError, match="Unknown"):
        rights.allowed(*args)


def test_unknown_state_raises():
    with pytest.raises(rights.RightsError, match="space state"):
        rights.allowed("pupil", "view", "home", state="frozen")


def test_explain_gives_a_human_reason():
    assert rights.explain("pupil", "open_thread", "activities") == (
        "A pupil may not open a forum thread in the activities section."
    )
    assert "archived" in rights.explain("teacher", "post", "home", state="archived")
    assert "log in" in rights.explain("public", "view", "activities")


@pytest.mark.parametrize(
    "role,supervised,present,blocked",
    [
        ("pupil", True, [], True),
        ("pupil_admin", True, ["pupil", "visitor"], True),
        ("pupil", True, ["teacher"], False),
        ("pupil", True, ["teacher_admin", "pupil"], False),
        ("pupil", False, [], False),
        ("visitor", True, [], False),
        ("teacher", True, [], False),
    ],
)
def test_supervised_chat(role, supervised, present, blocked):
    got = rights.supervised_chat_blocks(role, supervised=supervised, present_roles=present)
    assert got is blocked
