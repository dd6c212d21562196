"""OS enforcement of the shared volume: owners, modes and POSIX ACLs from the rights table.

When members run as system users (the hub isolates them), a pupil's kernel can `open()`
any path: the files themselves must say no. Everything under `<spaces>/<slug>/` belongs
to the service's user (root under the hub); the Unix group of each role that may `view` a
section (`twinspace_kernel.unix.unix_group`) gets read access to it (directories r-x,
files r--), nobody else gets anything, and nobody but the service writes. The ACL of a
path depends only on the space's state and the section, never on who is a member: a role
change moves the member between groups (the spawner does that), and no file changes.
Closed spaces: the teacher administrators' group only.
"""

from __future__ import annotations

import grp
import logging
import os
import subprocess
from pathlib import Path
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.ioloop import IOLoop

from .. import rights
from ..unix import unix_group

log = logging.getLogger("twinspace.service.volume_acl")

SECTION_DIRS_MODE = 0o750
FILES_MODE = 0o640
# <spaces>/ itself: members pass through to their spaces but cannot list the others.
SPACES_DIR_MODE = 0o711


def reader_groups(slug: str, state: str, section: str | None) -> list[str]:
    """Groups that may read `section` of a space (None: the space's own folder)."""
    sections = rights.SECTIONS if section is None else (section,)
    return [
        unix_group(slug, role)
        for role in rights.MEMBER_ROLES
        if any(rights.allowed(role, "view", s, state=state) for s in sections)
    ]


def acl_text(groups: list[str], *, directory: bool) -> str:
    """The full ACL (`setfacl --set`) of a directory or file readable by `groups`."""
    perm = "r-x" if directory else "r--"
    owner = "rwx" if directory else "rw-"
    entries = [f"u::{owner}", "g::---", "o::---"]
    entries += [f"g:{group}:{perm}" for group in groups]
    if groups:
        entries.append(f"m::{perm}")
    if directory:
        # New files (the service's temporary files before their rename) start closed too.
        entries += [f"d:{e}" for e in ["u::rw-", "g::---", "o::---"]]
        entries += [f"d:g:{group}:r--" for group in groups]
        if groups:
            entries.append("d:m::r--")
    return ",".join(entries)


def ensure_groups(groups: list[str]) -> None:
    """Create the role groups the ACLs name (the spawner may not have met them yet)."""
    for group in groups:
        try:
            grp.getgrnam(group)
        except KeyError:
            done = subprocess.run(["groupadd", group], capture_output=True, text=True)
            # Another process (the spawner) may have created it at the same moment.
            if done.returncode != 0:
                try:
                    grp.getgrnam(group)
                except KeyError:
                    raise OSError(f"groupadd {group}: {done.stderr.strip()}") from None


def set_acl(acl: str, paths: list[Path]) -> None:
    if not paths:
        return
    done = subprocess.run(["setfacl", "--set", acl, "--", *map(str, paths)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"setfacl on {paths[0]}…: {done.stderr.strip()}")


def secure_space(ctx, space) -> None:
    """Set the owners, modes and ACLs of a whole space's folder (after a state change)."""
    if not getattr(ctx, "volume_acls", False) or ctx.spaces_dir is None:
        return
    try:
        _secure_space(Path(ctx.spaces_dir), space.slug, space.state)
    except OSError as e:
        log.error("Could not secure the shared volume of %s: %s", space.slug, e)


def _secure_space(spaces: Path, slug: str, state: str) -> None:
    os.chmod(spaces, SPACES_DIR_MODE)
    base = spaces / slug
    base.mkdir(exist_ok=True)
    groups = reader_groups(slug, state, None)
    ensure_groups(groups)
    set_acl(acl_text(groups, directory=True), [base])
    for section in rights.SECTIONS:
        folder = base / section
        folder.mkdir(exist_ok=True)
        section_groups = reader_groups(slug, state, section)
        dirs, files = [], []
        for root, subdirs, names in os.walk(folder):
            dirs.append(Path(root))
            files += [Path(root) / name for name in names]
            subdirs[:] = [d for d in subdirs if not (Path(root) / d).is_symlink()]
        set_acl(acl_text(section_groups, directory=True), dirs)
        set_acl(acl_text(section_groups, directory=False),
                [f for f in files if not f.is_symlink()])


def secure_path(ctx, space, section: str, path: Path) -> None:
    """Set the ACL of one file just written in `section` (and of its folders)."""
    if not getattr(ctx, "volume_acls", False) or ctx.spaces_dir is None:
        return
    try:
        base = Path(ctx.spaces_dir) / space.slug
        if not (base / section).exists() or not _has_acl(base):
            _secure_space(Path(ctx.spaces_dir), space.slug, space.state)
            return
        groups = reader_groups(space.slug, space.state, section)
        set_acl(acl_text(groups, directory=True),
                [p for p in path.parents if base / section in (p, *p.parents)])
        set_acl(acl_text(groups, directory=False), [path])
    except OSError as e:
        log.error("Could not secure %s: %s", path, e)


def _has_acl(path: Path) -> bool:
    # A space folder made before ACLs were on (or by an import) has the plain 0755 mode.
    return path.stat().st_mode & 0o007 == 0


def secure_all(ctx, sessions) -> None:
    """Bring every space's folder in line (at the service's start)."""
    if not getattr(ctx, "volume_acls", False):
        return
    from sqlalchemy import select

    from ..store import models as m

    with sessions() as db:
        for space in db.scalars(select(m.Space)):
            secure_space(ctx, space)


# --- role changes ------------------------------------------------------------------------


def sections_lost(state: str, old_role: str | None, new_role: str | None) -> list[str]:
    """Sections `old_role` could view that `new_role` (None: no longer a member) cannot."""
    if old_role is None:
        return []
    return [
        s for s in rights.SECTIONS
        if rights.allowed(old_role, "view", s, state=state)
        and not (new_role and rights.allowed(new_role, "view", s, state=state))
    ]


def after_role_change(ctx, space, user_name: str, old_role: str | None,
                      new_role: str | None) -> None:
    """Stop the member's server when their new role sees less than the old one.

    A running server keeps the Unix groups it started with, so its kernels could still
    open what the old role could read; the next start (the spawner sets the groups from
    the current roles) closes it. A role that sees more needs nothing now: the member's
    server reads through the service until it restarts.
    """
    if not getattr(ctx, "volume_acls", False) or old_role == new_role:
        return
    if sections_lost(space.state, old_role, new_role):
        IOLoop.current().spawn_callback(stop_server, user_name)


async def stop_server(user_name: str) -> None:
    api = os.environ.get("JUPYTERHUB_API_URL", "").rstrip("/")
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not api or not token:
        log.error("Cannot stop %s's server: not running under a hub.", user_name)
        return
    request = HTTPRequest(f"{api}/users/{quote(user_name, safe='')}/server", method="DELETE",
                          headers={"Authorization": f"token {token}"}, request_timeout=30)
    try:
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
    except (OSError, HTTPClientError) as e:
        log.error("Could not stop %s's server after a role change: %s", user_name, e)
        return
    # 400: no server running, nothing to do.
    if response.code not in (202, 204, 400):
        log.error("The hub answered %s when stopping %s's server after a role change: %s",
                  response.code, user_name, response.body[:200])
    else:
        log.info("Stopped %s's server: their role no longer sees some sections.", user_name)
