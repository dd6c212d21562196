"""The shared volume as members see it: display names and the tree of what each may reach.

Pure functions (no I/O): the service builds its `GET volume` answer with `build_space`,
and resolves the names the JupyterLab file browser sends back with `find_entry`, so both
sides always agree on what `TwinSpace/<space>/<section>/<entry>` means. Every rights
decision comes from `twinspace_kernel.rights`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import rights

ROOT_FOLDER = "TwinSpace"
# English and stable: the folder names are paths that notebooks and links may hold.
SECTION_FOLDERS = {
    "home": "Home",
    "activities": "Project Activities",
    "teachers_room": "Teachers' Room",
    "pupils_corner": "Pupils' Corner",
    "chat": "Chat",
}
FOLDER_SECTIONS = {folder: section for section, folder in SECTION_FOLDERS.items()}
MAX_NAME = 100
UNTITLED = "Untitled"
# Members' own files live beside the page notebooks, one folder down, so a file can never
# take the place of a page's `<page-slug>.ipynb` on disk.
FILES_DIR = "files"
NOTEBOOK_SUFFIX = ".ipynb"

_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def safe_name(text: str) -> str:
    """A title made into a file or folder name (see the shared contract in BRIEF/README)."""
    name = _UNSAFE.sub("-", str(text))
    name = _SPACES.sub(" ", name).strip().lstrip(".").strip()
    name = name[:MAX_NAME].rstrip()
    return name or UNTITLED


def name_key(name: str) -> str:
    """What two names are compared by: without case, in one Unicode form."""
    return unicodedata.normalize("NFC", name).casefold()


def _numbered(name: str, n: int) -> str:
    stem, dot, suffix = name.rpartition(".")
    if dot and stem:
        return f"{stem} ({n}).{suffix}"
    return f"{name} ({n})"


def unique_names(names: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """`names` in order, a repeated one (case aside) getting " (2)", " (3)" before its suffix."""
    used = {name_key(n) for n in taken}
    out = []
    for name in names:
        candidate, n = name, 1
        while name_key(candidate) in used:
            n += 1
            candidate = _numbered(name, n)
        used.add(name_key(candidate))
        out.append(candidate)
    return out


def space_folders(spaces: Iterable[tuple[str, str]]) -> dict[str, str]:
    """{slug: folder} for a member's (slug, title) spaces; alike titles get " (<slug>)"."""
    spaces = list(spaces)
    counts: dict[str, int] = {}
    for _slug, title in spaces:
        key = name_key(safe_name(title))
        counts[key] = counts.get(key, 0) + 1
    folders = {}
    for slug, title in spaces:
        folder = safe_name(title)
        if counts[name_key(folder)] > 1:
            folder = f"{folder} ({slug})"
        folders[slug] = folder
    return folders


def page_file(section: str, page_slug: str) -> str:
    """A page notebook's path relative to its space's folder on disk."""
    return f"{section}/{page_slug}{NOTEBOOK_SUFFIX}"


def shared_file(section: str, name: str) -> str:
    """A member's shared file's path relative to its space's folder on disk."""
    return f"{section}/{FILES_DIR}/{name}"


class BadFileName(ValueError):
    """A file name a member sent that cannot be used (the message says why)."""


def check_file_name(name: str) -> str:
    """A member's file name, checked for anything that could reach elsewhere; NFC form."""
    if not isinstance(name, str) or not name:
        raise BadFileName("A file needs a name.")
    if "/" in name or "\\" in name:
        raise BadFileName("A file name cannot contain '/' or '\\': folders cannot be made here.")
    if _UNSAFE.search(name):
        raise BadFileName("A file name cannot contain control characters.")
    if name in (".", "..") or name.startswith("."):
        raise BadFileName("A file name cannot start with '.': hidden files are not shared.")
    if name != name.strip():
        raise BadFileName("A file name cannot start or end with a space.")
    if len(name) > MAX_NAME:
        raise BadFileName(f"A file name is at most {MAX_NAME} characters long.")
    return unicodedata.normalize("NFC", name)


# --- the tree -------------------------------------------------------------------------------


@dataclass
class PageInfo:
    id: int
    section: str
    slug: str
    title: str
    position: int = 0
    updated_at: Any = None


@dataclass
class FileInfo:
    id: int
    section: str
    name: str
    author_id: int | None
    author: str | None = None
    updated_at: Any = None
    size: int = 0


@dataclass
class SpaceInfo:
    slug: str
    title: str
    state: str
    role: str
    pages: list[PageInfo] = field(default_factory=list)
    files: list[FileInfo] = field(default_factory=list)


def may_in(role: str, section: str, state: str) -> dict[str, bool]:
    """{action: bool} for `role` in `section` of a space in `state`."""
    return {action: rights.allowed(role, action, section, state=state) for action in rights.ACTIONS}


def visible(space: SpaceInfo) -> bool:
    """Whether a member sees this space's folder at all (closed: teacher administrators)."""
    return any(rights.allowed(space.role, "view", s, state=space.state) for s in rights.SECTIONS)


def section_entries(space: SpaceInfo, section: str, user_id: int | None) -> list[dict]:
    """The entries of one section: its pages in page order, then members' files by name."""
    role, state = space.role, space.state
    pages = sorted((p for p in space.pages if p.section == section),
                   key=lambda p: (p.position, p.id))
    files = sorted((f for f in space.files if f.section == section),
                   key=lambda f: (name_key(f.name), f.id))
    names = unique_names([safe_name(p.title) + NOTEBOOK_SUFFIX for p in pages]
                         + [f.name for f in files])
    manage = rights.allowed(role, "manage_pages", section, state=state)
    upload = rights.allowed(role, "upload", section, state=state)
    entries = []
    for page, name in zip(pages, names, strict=False):
        entries.append({
            "name": name, "kind": "page", "page_id": page.id,
            "path": page_file(section, page.slug), "writable": manage, "may_delete": False,
            "updated_at": page.updated_at,
        })
    for item, name in zip(files, names[len(pages):], strict=True):
        is_author = user_id is not None and item.author_id == user_id
        may_edit = rights.may_edit(role, section, is_author=is_author, state=state)
        entries.append({
            "name": name, "kind": "file", "file_id": item.id,
            "path": shared_file(section, item.name), "author": item.author,
            "writable": upload and may_edit, "may_delete": may_edit, "size": item.size,
            "updated_at": item.updated_at,
        })
    return entries


def build_space(space: SpaceInfo, folder: str, user_id: int | None) -> dict | None:
    """One space of the `GET volume` answer, or None when the member may see nothing of it."""
    if not visible(space):
        return None
    sections = []
    for section in rights.SECTIONS:
        if not rights.allowed(space.role, "view", section, state=space.state):
            continue
        sections.append({
            "section": section,
            "folder": SECTION_FOLDERS[section],
            "may": may_in(space.role, section, space.state),
            "entries": section_entries(space, section, user_id),
        })
    return {"slug": space.slug, "title": space.title, "state": space.state, "role": space.role,
            "folder": folder, "sections": sections}


def build_tree(spaces: Iterable[SpaceInfo], user_id: int | None) -> dict:
    """The whole `GET volume` answer for a member of `spaces`."""
    shown = [s for s in spaces if visible(s)]
    folders = space_folders((s.slug, s.title) for s in shown)
    return {"spaces": [build_space(s, folders[s.slug], user_id) for s in shown]}


def find_entry(entries: list[dict], name: str) -> tuple[dict | None, dict | None]:
    """(entry named exactly `name`, entry whose name differs from it only by case or form)."""
    key = name_key(name)
    exact = next((e for e in entries if e["name"] == name), None)
    alike = next((e for e in entries if e["name"] != name and name_key(e["name"]) == key), None)
    return exact, alike
