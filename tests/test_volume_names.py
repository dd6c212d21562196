"""The shared volume's display names and tree (twinspace_kernel.volume), without a hub."""

from __future__ import annotations

import pytest

from twinspace_kernel import rights
from twinspace_kernel import volume as vol


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Our rivers", "Our rivers"),
        ("a/b\\c", "a-b-c"),
        ("tab\there\nnew  line", "tab-here-new line"),
        ("bell\x07", "bell-"),
        ("nul\x00", "nul-"),
        ("  ..hidden  ", "hidden"),
        ("...", "Untitled"),
        ("", "Untitled"),
        ("   ", "Untitled"),
        ("x" * 150, "x" * 100),
        ("Élève's café", "Élève's café"),
    ],
)
def test_safe_name(title, expected):
    assert vol.safe_name(title) == expected


def test_long_name_does_not_end_in_a_space():
    assert vol.safe_name("a" * 99 + " b") == "a" * 99


def test_duplicates_are_numbered_before_the_suffix_and_case_aside():
    assert vol.unique_names(["Plan.ipynb", "plan.ipynb", "Plan.ipynb", "notes"]) == [
        "Plan.ipynb", "plan (2).ipynb", "Plan (3).ipynb", "notes",
    ]
    assert vol.unique_names(["notes", "Notes"]) == ["notes", "Notes (2)"]


def test_space_folders_alike_titles_get_their_slug():
    folders = vol.space_folders([("a", "Rivers"), ("b", "rivers"), ("c", "Lakes/Seas")])
    assert folders == {"a": "Rivers (a)", "b": "rivers (b)", "c": "Lakes-Seas"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "needs a name"),
        ("a/b", "'/'"),
        ("a\\b", "'/'"),
        ("..", "start with '.'"),
        (".", "start with '.'"),
        (".ipynb_checkpoints", "start with '.'"),
        ("a\x00b", "control characters"),
        ("a\nb", "control characters"),
        (" a", "space"),
        ("a ", "space"),
        ("x" * 101, "at most 100"),
    ],
)
def test_bad_file_names_are_refused_with_a_reason(name, message):
    with pytest.raises(vol.BadFileName, match=message):
        vol.check_file_name(name)


def test_file_names_are_kept_in_one_unicode_form():
    decomposed = "e\u0301t\u00e9.txt"
    assert vol.check_file_name(decomposed) == "\u00e9t\u00e9.txt"
    assert vol.name_key("ÉTÉ.txt") == vol.name_key(decomposed)


def _space(role: str, state: str = "open") -> vol.SpaceInfo:
    pages = [
        vol.PageInfo(10 + i, section, f"p{i}", title, position)
        for i, (section, title, position) in enumerate([
            ("home", "Home", 0), ("activities", "Second", 1), ("activities", "First", 0),
            ("activities", "first", 2), ("teachers_room", "Plans", 0),
            ("pupils_corner", "Ours", 0), ("chat", "Chat", 0),
        ])
    ]
    files = [vol.FileInfo(1, "activities", "first.ipynb", 7, "Ann"),
             vol.FileInfo(2, "activities", "b.txt", 8, "Bob")]
    return vol.SpaceInfo("twin", "Twin/Space", state, role, pages, files)


@pytest.mark.parametrize("role", rights.MEMBER_ROLES)
@pytest.mark.parametrize("state", rights.SPACE_STATES)
def test_tree_follows_the_rights_table(role, state):
    tree = vol.build_tree([_space(role, state)], user_id=7)
    viewable = [s for s in rights.SECTIONS if rights.allowed(role, "view", s, state=state)]
    if not viewable:
        assert tree == {"spaces": []}
        return
    [space] = tree["spaces"]
    assert space["folder"] == "Twin-Space"
    assert [s["section"] for s in space["sections"]] == viewable
    for section in space["sections"]:
        assert section["folder"] == vol.SECTION_FOLDERS[section["section"]]
        for action, may in section["may"].items():
            assert may == rights.allowed(role, action, section["section"], state=state)
        for entry in section["entries"]:
            if entry["kind"] == "page":
                assert entry["writable"] == rights.allowed(
                    role, "manage_pages", section["section"], state=state)
                assert entry["may_delete"] is False
            else:
                own = entry["author"] == "Ann"
                may_edit = rights.may_edit(role, section["section"], is_author=own, state=state)
                assert entry["may_delete"] == may_edit
                assert entry["writable"] == (may_edit and rights.allowed(
                    role, "upload", section["section"], state=state))


def test_entries_pages_in_order_then_files_deduplicated():
    [space] = vol.build_tree([_space("teacher")], user_id=7)["spaces"]
    activities = next(s for s in space["sections"] if s["section"] == "activities")
    assert [(e["name"], e["kind"], e["path"]) for e in activities["entries"]] == [
        ("First.ipynb", "page", "activities/p2.ipynb"),
        ("Second.ipynb", "page", "activities/p1.ipynb"),
        ("first (2).ipynb", "page", "activities/p3.ipynb"),
        ("b.txt", "file", "activities/files/b.txt"),
        ("first (3).ipynb", "file", "activities/files/first.ipynb"),
    ]
    assert vol.find_entry(activities["entries"], "FIRST.ipynb")[0] is None
    assert vol.find_entry(activities["entries"], "FIRST.ipynb")[1]["name"] == "First.ipynb"
    assert vol.find_entry(activities["entries"], "b.txt")[0]["file_id"] == 2


def test_closed_space_only_for_teacher_administrators():
    assert vol.build_tree([_space("teacher", "closed")], 1) == {"spaces": []}
    [space] = vol.build_tree([_space("teacher_admin", "closed")], 1)["spaces"]
    assert [s["section"] for s in space["sections"]] == list(rights.SECTIONS)
