"""The shared volume through the service: what a member sees of it, and every write to it.

Members' servers list `TwinSpace/` from `GET volume` and read the files straight from disk;
every change (a teacher saving a page notebook, a member sharing their own file, a rename,
a delete) comes here, because the service is the only writer of the volume. Names are
those of `twinspace_kernel.volume`; rights are those of `twinspace_kernel.rights`.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import unicodedata
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import pages as nbpages
from .. import rights
from .. import volume as vol
from ..store import models as m
from . import notebooks, public, volume_acl
from .base import APIError, APIHandler, UploadHandler, as_utc, first_name, utcnow

# A member saving every few minutes makes one line in Latest activities, not one per save.
ACTIVITY_QUIET = dt.timedelta(minutes=10)
USE_MANAGE_PAGES = (
    "Pages are renamed, added and deleted with Manage pages, not in the file browser."
)


def space_info(db, space: m.Space, role: str) -> vol.SpaceInfo:
    """The plain data `twinspace_kernel.volume` builds a space's folders from."""
    pages = [
        vol.PageInfo(p.id, p.section, p.slug, p.title, p.position, p.updated_at)
        for p in db.scalars(select(m.Page).where(m.Page.space_id == space.id))
    ]
    files = []
    rows = db.execute(
        select(m.SharedFile, m.User.display_name, m.User.kind)
        .outerjoin(m.User, m.User.id == m.SharedFile.author_id)
        .where(m.SharedFile.space_id == space.id)
    )
    for item, author, kind in rows:
        if author and kind == "pupil" and role == rights.V:
            author = first_name(author)  # visitors see pupils by first name only (F31)
        files.append(vol.FileInfo(item.id, item.section, item.name, item.author_id, author,
                                  item.updated_at, item.size))
    return vol.SpaceInfo(space.slug, space.title, space.state, role, pages, files)


class VolumeHandler(APIHandler):
    login_required = True

    def get(self):
        """The caller's `TwinSpace/` folder: spaces, sections and entries they may view.

        Each section says what the caller may do there (`may`); each entry its kind (page
        or file), its path relative to the space's folder on disk, and whether the caller
        may save it (`writable`) or rename and delete it (`may_delete`).
        """
        user = self.me
        rows = self.db.execute(
            select(m.Space, m.Membership.role)
            .join(m.Membership, m.Membership.space_id == m.Space.id)
            .where(m.Membership.user_id == user.id)
            .order_by(m.Space.title, m.Space.slug)
        )
        spaces = [space_info(self.db, space, role) for space, role in rows]
        self.write_json(vol.build_tree(spaces, user.id))


class VolumeTarget:
    """What a `volume/<slug>/<section>/<name>` address points at, for the caller."""

    def __init__(self, handler: APIHandler, slug: str, section: str, name: str):
        self.space = handler.load_space(slug)
        if section not in rights.SECTIONS:
            raise APIError(400, f"No such section '{section}'; expected one of "
                                f"{', '.join(rights.SECTIONS)}.")
        self.section = section
        handler.require(self.space, "view", section)
        self.role = handler.role_in(self.space)
        info = space_info(handler.db, self.space, self.role)
        user = handler.identity.user
        self.entries = vol.section_entries(info, section, user.id if user else None)
        # One Unicode form: "é" typed two ways is one name.
        self.name = unicodedata.normalize("NFC", name)
        self.entry, alike = vol.find_entry(self.entries, self.name)
        if self.entry is None and alike is not None:
            raise APIError(400, f"'{alike['name']}' is already here: names that differ only "
                                "in upper and lower case are not allowed. Choose another name.")

    @property
    def is_page(self) -> bool:
        return self.entry is not None and self.entry["kind"] == "page"


def check_name(name: str) -> str:
    try:
        return vol.check_file_name(name)
    except vol.BadFileName as e:
        raise APIError(400, str(e)) from None


def space_dir(handler: APIHandler, space: m.Space) -> Path:
    if handler.ctx.spaces_dir is None:
        raise APIError(409, "This service keeps no shared volume (no spaces directory).")
    return Path(handler.ctx.spaces_dir) / space.slug


def inside(base: Path, relative: str) -> Path:
    """`base/relative`, refusing anything that would resolve elsewhere (a symlink, `..`)."""
    path = base / relative
    resolved_base = base.resolve()
    if resolved_base not in path.resolve().parents:
        raise APIError(400, "That name does not stay inside the space's folder.")
    return path


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write then rename: a member's server never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, notebooks.NEW_FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def app_cells(nb) -> list[tuple]:
    """What of a notebook's application cells a save must leave as it is."""
    return [
        (cell.metadata["twinspace"].get("app_id"), cell.metadata["twinspace"].get("kind"),
         cell.source)
        for cell in nb.cells if nbpages.is_app_cell(cell)
    ]


class VolumeFileHandler(UploadHandler):
    """One entry of a section: a page notebook or a member's shared file."""

    upload_methods = ("PUT",)

    def check_upload(self, slug, section, name) -> None:
        target = VolumeTarget(self, slug, section, name)
        self._check_may_save(target)

    def _check_may_save(self, target: VolumeTarget) -> None:
        if target.is_page:
            self.require(target.space, "manage_pages", target.section)
            return
        self.require(target.space, "upload", target.section)
        if target.entry is None:
            check_name(target.name)
        else:
            self.require_edit(target.space, target.section, self._file(target).author_id)

    def json_body(self) -> dict:
        # The body of every method streams into chunks here (see UploadHandler).
        self.request.body = b"".join(self._chunks)
        return super().json_body()

    def _file(self, target: VolumeTarget) -> m.SharedFile:
        return self.load(m.SharedFile, target.entry["file_id"], "file")

    def get(self, slug, section, name):
        """The bytes of one entry (for servers whose Unix groups predate a new role)."""
        target = VolumeTarget(self, slug, section, name)
        if target.entry is None:
            raise APIError(404, f"There is no '{name}' in this section.")
        path = inside(space_dir(self, target.space), target.entry["path"])
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise APIError(404, f"'{name}' is not in the shared folder any more.") from None
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Cache-Control", "no-store")
        self.finish(data)

    async def put(self, slug, section, name):
        """Save a page notebook (its authors) or share your own file (body: the raw bytes).

        A page's application cells cannot be changed, removed or moved here (409: use
        Manage pages); your own cells are kept. Members who may upload in a section save
        their own files there, shared with everyone who may view it; replacing someone
        else's file takes a moderator. 201 when created, 200 when replaced.
        """
        self.raise_refusal()
        data = b"".join(self._chunks)
        target = VolumeTarget(self, slug, section, name)
        self._check_may_save(target)
        base = space_dir(self, target.space)
        if target.is_page:
            page = self.load(m.Page, target.entry["page_id"], "page")
            self._save_page(page, inside(base, target.entry["path"]), data)
            status, saved = 200, target.name
        else:
            status, saved = self._save_file(target, base, data)
        self.write_json(VolumeTarget(self, slug, section, saved).entry, status)

    def _save_page(self, page: m.Page, path: Path, data: bytes) -> None:
        try:
            nb = nbpages.reads(data.decode("utf-8"))
        except Exception as e:  # any unreadable notebook: say so, keep the page as it was
            raise APIError(400, f"This is not a notebook Jupyter can read, so the page was "
                                f"not changed: {str(e)[:200]}") from None
        record = notebooks.page_record(self.db, page)
        expected = [(a["id"], a["kind"], nbpages.app_source(a["id"], a["title"]))
                    for a in record["apps"]]
        if app_cells(nb) != expected:
            raise APIError(409, "This save would change the page's application cells (the "
                                "blog, forum, wiki… cells). Use Manage pages to add, remove "
                                "or move applications; your own cells can be saved. Reload "
                                "the page notebook to get its applications back.")
        nb = nbpages.sync_notebook(nb, record)
        try:
            text = nbpages.writes(nb)
        except Exception as e:  # nbformat's validation error: a broken cell
            raise APIError(400, f"This notebook is not valid, so the page was not changed: "
                                f"{str(e)[:200]}") from None
        notebooks.write_text_atomic(path, text)
        page.updated_at = utcnow()
        self._record_quietly(page.space, "page.update", page.section, page=page, obj=page,
                             summary=page.title)
        self.commit(f"space:{page.space_id}")
        volume_acl.secure_path(self.ctx, page.space, page.section, path)
        public.sync_page(self.ctx, page)  # a published page's public copy follows

    def _save_file(self, target: VolumeTarget, base: Path, data: bytes) -> tuple[int, str]:
        """Create or replace a member's file; (HTTP status, its name)."""
        space, section = target.space, target.section
        if target.entry is None:
            name = check_name(target.name)
            item = m.SharedFile(space_id=space.id, section=section, name=name,
                                author_id=self.me.id, size=len(data))
            self.db.add(item)
            try:
                self.db.flush()
            except IntegrityError:
                self.db.rollback()
                raise APIError(409, f"'{name}' was saved by someone else at the same moment: "
                                    "reload the folder and choose a name.") from None
            verb, status = "file.share", 201
        else:
            item = self._file(target)
            item.size, item.updated_at = len(data), utcnow()
            verb, status = "file.update", 200
        path = inside(base, vol.shared_file(section, item.name))
        write_bytes_atomic(path, data)
        self._record_quietly(space, verb, section, obj=item, summary=item.name)
        try:
            self.commit(f"space:{space.id}")
        except BaseException:
            if status == 201:
                path.unlink(missing_ok=True)
            raise
        volume_acl.secure_path(self.ctx, space, section, path)
        return status, target.name if status == 200 else item.name

    def _record_quietly(self, space, verb, section, *, page=None, obj=None, summary=""):
        """Record an activity unless the same member did the same to it a moment ago."""
        last = self.db.scalar(
            select(m.ActivityEvent)
            .where(m.ActivityEvent.space_id == space.id,
                   m.ActivityEvent.actor_id == self.me.id,
                   m.ActivityEvent.object_type == type(obj).__tablename__,
                   m.ActivityEvent.object_id == obj.id)
            .order_by(m.ActivityEvent.id.desc())
            .limit(1)
        )
        recent = last is not None and as_utc(last.created_at) > utcnow() - ACTIVITY_QUIET
        if recent and last.verb in (verb, "file.share"):
            return
        self.record(space, verb, section, page=page, obj=obj, summary=summary)

    def patch(self, slug, section, name):
        """Rename a shared file (`name`): its author or a moderator; not pages."""
        target = self._existing(slug, section, name)
        item = self._file(target)
        self.require_edit(target.space, section, item.author_id)
        new_name = check_name(self.field(self.json_body(), "name", max_len=255))
        exact, alike = vol.find_entry(target.entries, new_name)
        clash = exact or alike
        if clash is not None and clash is not target.entry:
            raise APIError(409, f"'{clash['name']}' is already here: choose another name.")
        base = space_dir(self, target.space)
        old = inside(base, target.entry["path"])
        new = inside(base, vol.shared_file(section, new_name))
        old_name, item.name, item.updated_at = item.name, new_name, utcnow()
        self.record(target.space, "file.rename", section, obj=item,
                    summary=f"{old_name} → {new_name}")
        self.db.flush()
        os.rename(old, new)
        try:
            self.commit(f"space:{target.space.id}")
        except BaseException:
            os.rename(new, old)
            raise
        fresh = VolumeTarget(self, slug, section, new_name)
        self.write_json(fresh.entry)

    def delete(self, slug, section, name):
        """Delete a shared file: its author or a moderator; not pages."""
        target = self._existing(slug, section, name)
        item = self._file(target)
        self.require_edit(target.space, section, item.author_id)
        path = inside(space_dir(self, target.space), target.entry["path"])
        self.record(target.space, "file.delete", section, summary=item.name)
        self.db.delete(item)
        self.commit(f"space:{target.space.id}")
        path.unlink(missing_ok=True)
        self.no_content()

    def _existing(self, slug, section, name) -> VolumeTarget:
        target = VolumeTarget(self, slug, section, name)
        if target.entry is None:
            raise APIError(404, f"There is no '{name}' in this section.")
        if target.is_page:
            raise APIError(403, USE_MANAGE_PAGES)
        if target.space.state != "open":
            raise APIError(403, rights.explain(target.role, "upload", section,
                                               state=target.space.state))
        return target


default_handlers = [
    (r"/volume", VolumeHandler),
    (r"/volume/(?P<slug>[^/]+)/(?P<section>[^/]+)/(?P<name>[^/]+)", VolumeFileHandler),
]
