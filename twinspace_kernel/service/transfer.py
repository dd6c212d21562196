"""Export and import a whole space, and copy a public space as a template (F34).

The export is a ZIP: `space.json` (format version 1, below), `space.json.sig` (an HMAC
of space.json with this service's own key), `files/<key>` for every stored blob
(documents, photos and their thumbnails) and `notebooks/<section>/<page-slug>.ipynb`, each
page's notebook from the shared volume (teachers' own cells, F24). space.json holds:

- `space`: slug, title, description, founder, whether it was public (an import always
  starts private);
- `pages`: every page (section, slug, title, position, published) with its applications
  (kind, title, position, settings) and their content: blog posts with comments, forum
  threads with replies (quotes kept), wiki pages with ALL revisions, document folders
  and documents, albums and photos, web content HTML;
- `events` (the calendar) and `chat_rooms` with their messages: the chat is part of the
  project's exchanges, and the export is for the space's teacher administrators only;
- `authors`: username -> display name, kind, school and country of everyone named;
  content names its author by username;
- `files`: key -> size and SHA-256 of each blob.

Members, invitations, mail, profiles, reports and the activity journal are not exported:
they belong to people, not to the project.

In the archive a notebook's application cells carry no app id (like a page template's):
ids are this hub's. An import checks every notebook (nbformat) before creating anything,
then, once the space is committed, writes each one back with its application cells
re-pointed, in order, at the new applications of their kind; a page without a notebook in
the archive gets a fresh one. A copy as a template carries its pages' notebooks the same
way. Importing makes the importer the author of the notebooks' cells, as if they had
saved them: only teachers import.

An import creates a NEW space owned by the importer. Authors are matched to this hub's
accounts by username only when the archive carries a valid signature of this hub (a
forged or foreign archive could otherwise put words in anyone's mouth); other authors
are left empty (the content stays, attributed to nobody).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import hmac
import io
import json
import logging
import os
import re
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
from PIL import Image
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import pages as nbpages
from .. import rights
from ..store import models as m
from . import notebooks
from .base import APIError, APIHandler, UploadHandler, activity_event, as_utc, utcnow
from .calendar import EVENT_KINDS
from .pages import APP_KINDS
from .sanitize import clean_html, render_markdown
from .spaces import HOME_APPS, check_slug, space_json
from .uploads import IMAGE_TYPES, MAX_IMAGE_PIXELS, FileStore, UploadRejected, sniff

log = logging.getLogger("twinspace.service")

FORMAT = "twinspace-space-export"
VERSION = 1
MANIFEST = "space.json"
SIGNATURE = "space.json.sig"
FILE_ENTRY_RE = re.compile(r"files/([0-9a-f]{32})")
PAGE_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
NOTEBOOK_ENTRY_RE = re.compile(r"notebooks/([a-z_]{1,40})/([a-z0-9][a-z0-9-]{0,79})\.ipynb")
NOTEBOOK_FOLDER_RE = re.compile(r"notebooks/([a-z_]{1,40}/)?")
# A page notebook is text and small widgets; anything bigger is not one of ours.
NOTEBOOK_MAX = 10 * 1024 * 1024
USERNAME_MAX = 64
# An archive may unpack to at most this many times the upload limit (zip bombs).
UNPACK_FACTOR = 10
MAX_ENTRIES = 50_000
CHUNK = 64 * 1024
# An export is sent in bigger pieces: fewer turns of the event loop for 200 MB.
SEND_CHUNK = 512 * 1024
TEXT_MAX = 200_000
# Stored files whose bytes deflate well; every other blob goes into the ZIP as it is.
COMPRESSIBLE_TYPES = frozenset({"text/plain", "audio/wav"})
# Image metadata our own re-encoding never leaves in a photo.
IMAGE_METADATA = {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "photoshop"}


class Invalid(Exception):
    """A refused archive; the message says what is wrong (answered as 400)."""


# --------------------------------------------------------------------------- signing key


_KEYS: dict[Path, bytes] = {}


def signing_key(data_dir: Path) -> bytes:
    """This service's export-signing key, made once and kept in its data directory."""
    path = Path(data_dir) / "export-signing.key"
    if path in _KEYS:
        return _KEYS[path]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
    else:
        key = os.urandom(32)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
    if len(key) < 32:  # a half-written key from a crash: not worth trusting
        raise RuntimeError(f"{path} is damaged; delete it to make a new one.")
    _KEYS[path] = key
    return key


def sign(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- export


def _iso(value: dt.datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


class _People:
    """Usernames for user ids, remembering who was named for the `authors` table."""

    def __init__(self, db) -> None:
        self.db = db
        self.users: dict[int, m.User | None] = {}

    def __call__(self, user_id: int | None) -> str | None:
        if not user_id:
            return None
        if user_id not in self.users:
            self.users[user_id] = self.db.get(m.User, user_id)
        user = self.users[user_id]
        return user.name if user is not None else None

    def table(self) -> dict:
        return {
            u.name: {"display_name": u.display_name, "kind": u.kind, "school": u.school,
                     "country": u.country}
            for u in self.users.values() if u is not None
        }  # fmt: skip


def build_manifest(db, space: m.Space, files: FileStore | None, *, structure_only=False,
                   page_visible=None, copier: str | None = None,
                   with_rooms: bool = True) -> tuple[dict, list[str]]:
    """space.json as a dict, and the keys of the blobs it names.

    structure_only (copying as a template): pages, applications, web content and each
    wiki page's current text (as revision 1 by `copier`); nothing else.
    """
    who = _People(db)
    keys: list[str] = []
    pages = []
    query = select(m.Page).where(m.Page.space_id == space.id)
    for page in db.scalars(query.order_by(m.Page.section, m.Page.position, m.Page.id)):
        if page_visible is not None and not page_visible(page):
            continue
        apps = []
        for app in page.apps:
            item = {"kind": app.kind, "title": app.title, "position": app.position,
                    "settings": app.settings or {}}
            if structure_only:
                content = _template_content(db, app, copier)
            else:
                content = _export_content(db, app, who, files, keys)
            if content is not None:
                item["content"] = content
            apps.append(item)
        pages.append({
            "section": page.section, "slug": page.slug, "title": page.title,
            "position": page.position, "published": page.published,
            "created_by": None if structure_only else who(page.created_by_id),
            "created_at": None if structure_only else _iso(page.created_at),
            "apps": apps,
        })  # fmt: skip
    events, rooms = [], []
    if not structure_only:
        for e in db.scalars(select(m.Event).where(m.Event.space_id == space.id)
                            .order_by(m.Event.id)):
            events.append({
                "kind": e.kind, "title": e.title, "description": e.description,
                "starts_at": _iso(e.starts_at), "ends_at": _iso(e.ends_at),
                "all_day": e.all_day, "author": who(e.author_id), "created_at": _iso(e.created_at),
            })  # fmt: skip
    if with_rooms:
        for room in db.scalars(select(m.ChatRoom).where(m.ChatRoom.space_id == space.id)
                               .order_by(m.ChatRoom.id)):
            item = {"name": room.name, "supervised": room.supervised}
            if not structure_only:
                item["created_by"] = who(room.created_by_id)
                item["created_at"] = _iso(room.created_at)
                item["messages"] = [
                    {"body": msg.body, "author": who(msg.author_id), "hidden": msg.hidden,
                     "created_at": _iso(msg.created_at)}
                    for msg in db.scalars(select(m.ChatMessage)
                                          .where(m.ChatMessage.room_id == room.id)
                                          .order_by(m.ChatMessage.id))
                ]  # fmt: skip
            rooms.append(item)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _iso(utcnow()),
        "space": {"slug": space.slug, "title": space.title, "description": space.description,
                  "public": space.public,
                  # Whom `twinspace space import` suggests as the owner of an import.
                  "founder": None if structure_only else who(space.created_by_id)},
        "pages": pages,
        "events": events,
        "chat_rooms": rooms,
        "authors": who.table(),
        "files": {},
    }
    return manifest, keys


def _have(files: FileStore, key: str | None) -> bool:
    try:
        files.open(key)
    except FileNotFoundError:
        log.warning("Export: stored file %s is missing; its item is left out.", key)
        return False
    return True


def _export_content(db, app: m.AppInstance, who, files: FileStore, keys: list[str]):
    if app.kind == "blog":
        posts = []
        for post in db.scalars(select(m.BlogPost).where(m.BlogPost.app_id == app.id)
                               .order_by(m.BlogPost.id)):
            comments = [
                {"body": c.body, "author": who(c.author_id), "hidden": c.hidden,
                 "created_at": _iso(c.created_at)}
                for c in db.scalars(select(m.Comment).where(m.Comment.post_id == post.id)
                                    .order_by(m.Comment.id))
            ]  # fmt: skip
            posts.append({
                "title": post.title, "body": post.body, "author": who(post.author_id),
                "hidden": post.hidden, "created_at": _iso(post.created_at),
                "updated_at": _iso(post.updated_at), "comments": comments,
            })  # fmt: skip
        return {"posts": posts}
    if app.kind == "forum":
        threads = []
        for thread in db.scalars(select(m.ForumThread).where(m.ForumThread.app_id == app.id)
                                 .order_by(m.ForumThread.id)):
            replies = [
                {"id": r.id, "body": r.body, "author": who(r.author_id), "quote": r.quote_id,
                 "hidden": r.hidden, "created_at": _iso(r.created_at),
                 "updated_at": _iso(r.updated_at)}
                for r in db.scalars(select(m.ForumReply)
                                    .where(m.ForumReply.thread_id == thread.id)
                                    .order_by(m.ForumReply.id))
            ]  # fmt: skip
            threads.append({
                "title": thread.title, "author": who(thread.author_id), "hidden": thread.hidden,
                "created_at": _iso(thread.created_at), "replies": replies,
            })  # fmt: skip
        return {"threads": threads}
    if app.kind == "wiki":
        wikis = []
        for wiki in db.scalars(select(m.WikiPage).where(m.WikiPage.app_id == app.id)
                               .order_by(m.WikiPage.id)):
            revisions = [
                {"number": r.number, "text": r.text, "author": who(r.author_id),
                 "summary": r.summary, "reverted_from": r.reverted_from,
                 "created_at": _iso(r.created_at)}
                for r in db.scalars(select(m.WikiRevision).where(m.WikiRevision.wiki_id == wiki.id)
                                    .order_by(m.WikiRevision.number))
            ]  # fmt: skip
            wikis.append({"title": wiki.title, "created_at": _iso(wiki.created_at),
                          "revisions": revisions})
        return {"pages": wikis}
    if app.kind == "documents":
        folders = [
            {"id": f.id, "parent": f.parent_id, "name": f.name, "created_by": who(f.created_by_id),
             "created_at": _iso(f.created_at)}
            for f in db.scalars(select(m.Folder).where(m.Folder.app_id == app.id)
                                .order_by(m.Folder.id))
        ]  # fmt: skip
        documents = []
        for d in db.scalars(select(m.Document).where(m.Document.app_id == app.id)
                            .order_by(m.Document.id)):
            if not _have(files, d.blob_key):
                continue
            keys.append(d.blob_key)
            documents.append({
                "folder": d.folder_id, "filename": d.filename, "content_type": d.content_type,
                "size": d.size, "file": d.blob_key, "author": who(d.author_id),
                "hidden": d.hidden, "created_at": _iso(d.created_at),
            })  # fmt: skip
        return {"folders": folders, "documents": documents}
    if app.kind == "gallery":
        albums = []
        for album in db.scalars(select(m.Album).where(m.Album.app_id == app.id)
                                .order_by(m.Album.id)):
            photos = []
            for p in db.scalars(select(m.Photo).where(m.Photo.album_id == album.id)
                                .order_by(m.Photo.id)):
                if not (_have(files, p.blob_key) and _have(files, p.thumb_key)):
                    continue
                keys.extend([p.blob_key, p.thumb_key])
                photos.append({
                    "caption": p.caption, "filename": p.filename, "content_type": p.content_type,
                    "size": p.size, "width": p.width, "height": p.height, "file": p.blob_key,
                    "thumbnail": p.thumb_key, "author": who(p.author_id), "hidden": p.hidden,
                    "created_at": _iso(p.created_at),
                })  # fmt: skip
            albums.append({"title": album.title, "created_by": who(album.created_by_id),
                           "created_at": _iso(album.created_at), "photos": photos})
        return {"albums": albums}
    if app.kind == "web_content":
        content = db.get(m.WebContent, app.id)
        if content is None:
            return {"html": ""}
        return {"html": content.html, "updated_by": who(content.updated_by_id),
                "updated_at": _iso(content.updated_at)}
    return None


def _template_content(db, app: m.AppInstance, copier: str | None):
    if app.kind == "web_content":
        content = db.get(m.WebContent, app.id)
        return {"html": content.html if content else "", "updated_by": copier}
    if app.kind == "wiki":
        wikis = []
        for wiki in db.scalars(select(m.WikiPage).where(m.WikiPage.app_id == app.id)
                               .order_by(m.WikiPage.id)):
            current = db.scalar(select(m.WikiRevision.text).where(
                m.WikiRevision.wiki_id == wiki.id, m.WikiRevision.number == wiki.current_revision))
            wikis.append({"title": wiki.title, "revisions": [
                {"number": 1, "text": current or "", "author": copier,
                 "summary": "Copied from a template"}]})
        return {"pages": wikis}
    return None


def notebook_entry(section: str, page_slug: str) -> str:
    return f"notebooks/{section}/{page_slug}.ipynb"


def portable_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """`nb` without this hub's ids: application cells become placeholders (kind only).

    Placeholders are re-pointed, in order, at the applications of their kind when the
    notebook is synchronised with its new page (`twinspace_kernel.pages.sync_notebook`).
    """
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        twinspace = cell.get("metadata", {}).get("twinspace")
        if nbpages.is_app_cell(cell):
            kind = twinspace["kind"]
            cell.metadata["twinspace"] = {"kind": kind}
            # As in a page template; syncing with the new page writes its `show(id)`.
            cell.source = f"# {kind} (placeholder: the page shows the app here)"
            cell.outputs = []  # the widget of an application of another space
            cell.execution_count = None
        elif isinstance(twinspace, dict) and twinspace.get("role") == "tools":
            cell.source = "# Manage pages (the page shows its tools here)"
            cell.outputs = []
            cell.execution_count = None
    twinspace = nb.metadata.get("twinspace")
    if isinstance(twinspace, dict):
        nb.metadata["twinspace"] = {k: v for k, v in twinspace.items()
                                    if k not in ("space", "page_id")}
    return nb


def read_page_notebooks(spaces_dir: str | None, space_slug: str,
                        pages: list[dict]) -> dict[tuple[str, str], nbformat.NotebookNode]:
    """The portable notebook of each of `pages` found in the shared volume (blocking).

    A missing or unreadable notebook is left out: the page gets a fresh one on import.
    """
    found = {}
    if spaces_dir is None:
        return found
    for page in pages:
        path = Path(spaces_dir) / space_slug / page["section"] / f"{page['slug']}.ipynb"
        try:
            nb = nbpages.reads(path.read_text(encoding="utf-8"))
            nbformat.validate(nb)
        except FileNotFoundError:
            continue
        except Exception as e:  # any unreadable notebook: the page is exported without it
            log.warning("Export: the notebook %s cannot be read (%s); left out.", path, e)
            continue
        found[(page["section"], page["slug"])] = portable_notebook(nb)
    return found


def add_notebooks(manifest: dict, spaces_dir: str | None) -> dict[str, str]:
    """The archive entries of the manifest's page notebooks; names them in its pages."""
    found = read_page_notebooks(spaces_dir, manifest["space"]["slug"], manifest["pages"])
    entries = {}
    for page in manifest["pages"]:
        nb = found.get((page["section"], page["slug"]))
        if nb is not None:
            page["notebook"] = notebook_entry(page["section"], page["slug"])
            entries[page["notebook"]] = nbformat.writes(nb, version=4)
    return entries


def _deflated_blobs(manifest: dict) -> set[str]:
    """Keys of the blobs worth compressing: text and raw audio. Photos, office files, PDFs,
    audio and video are compressed already; deflating them again costs seconds of CPU per
    hundred megabytes and saves nothing, so they are stored as they are."""
    return {
        d["file"]
        for page in manifest["pages"] for app in page["apps"]
        for d in (app.get("content") or {}).get("documents", ())
        if d["content_type"] in COMPRESSIBLE_TYPES
    }


def snapshot_session(sessions) -> Session:
    """A session whose reads all see one moment of the database (blocking to open).

    An export read in a worker thread may interleave with the service's writes: on
    PostgreSQL the transaction is REPEATABLE READ; SQLite's driver reads outside any
    transaction unless one is begun explicitly, so BEGIN starts a WAL read snapshot.
    Only reads are made; close (or roll back) it soon: a snapshot holds back SQLite's
    checkpoints.
    """
    db = sessions()
    try:
        if db.get_bind().dialect.name == "sqlite":
            db.connection().exec_driver_sql("BEGIN")
        else:
            db.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    except BaseException:
        db.close()
        raise
    return db


def read_space_manifest(sessions, space_id: int, files: FileStore) -> tuple[dict, list[str]]:
    """build_manifest on a snapshot session of its own (blocking: run it in a thread)."""
    with snapshot_session(sessions) as db:
        try:
            space = db.get(m.Space, space_id)
            if space is None:  # deleted since the rights check
                raise APIError(404, "No such space.")
            return build_manifest(db, space, files)
        finally:
            db.rollback()


# Zipping, unzipping, hashing and storing hundreds of megabytes: at most two at a time,
# so big transfers never fill the default executor that password hashing and image
# encoding wait on. No database transaction is ever open in these threads. (A lower
# thread priority was tried: on a busy machine it made a 200 MB export three times
# slower and did not help the other requests' p95; see docs/performance.md.)
BULK = ThreadPoolExecutor(max_workers=2, thread_name_prefix="twinspace-bulk")


async def in_bulk_thread(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(BULK, functools.partial(fn, *args))


def write_archive(manifest: dict, keys: list[str], files: FileStore, key: bytes,
                  spaces_dir: str | None = None) -> str:
    """Write the export ZIP to a temporary file (blocking: run it in an executor)."""
    fd, path = tempfile.mkstemp(prefix="twinspace-export-", suffix=".zip")
    deflated = _deflated_blobs(manifest)
    try:
        notebook_entries = add_notebooks(manifest, spaces_dir)
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text in notebook_entries.items():
                zf.writestr(name, text.encode("utf-8"))
            for blob in dict.fromkeys(keys):
                digest, size = hashlib.sha256(), 0
                info = zipfile.ZipInfo(f"files/{blob}", date_time=(2000, 1, 1, 0, 0, 0))
                info.compress_type = (zipfile.ZIP_DEFLATED if blob in deflated
                                      else zipfile.ZIP_STORED)
                with files.open(blob).open("rb") as src, zf.open(info, "w") as dst:
                    while chunk := src.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        dst.write(chunk)
                manifest["files"][blob] = {"size": size, "sha256": digest.hexdigest()}
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            zf.writestr(MANIFEST, data)
            zf.writestr(SIGNATURE, sign(key, data))
    except BaseException:
        os.unlink(path)
        raise
    return path


# --------------------------------------------------------------------------- reading


def _entry_unsafe(name: str) -> bool:
    parts = name.split("/")
    return (
        not name or name.startswith("/") or "\\" in name or "\x00" in name or ":" in name
        or any(part in ("..", ".") for part in parts)
    )


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """An entry's bytes, never more than it declares (a lying header cannot bomb us)."""
    try:
        with zf.open(info) as handle:
            data = handle.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        raise Invalid(f"The archive entry {info.filename} is damaged ({e}).") from None
    if len(data) != info.file_size:
        raise Invalid(f"The archive entry {info.filename} is damaged (wrong size).")
    return data


def open_archive(data, limit: int) -> tuple[zipfile.ZipFile, dict, dict]:
    """Check the ZIP's entries and read space.json: (zip, manifest, {key: ZipInfo}).

    `data`: the archive's bytes, or a binary file open on it.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes | bytearray) else data)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise Invalid(f"The upload is not a readable ZIP archive ({e}).") from None
    if len(infos) > MAX_ENTRIES:
        raise Invalid(f"The archive has {len(infos)} entries; at most {MAX_ENTRIES} are read.")
    cap, total = UNPACK_FACTOR * limit, 0
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if _entry_unsafe(name):
            raise Invalid(f"The archive contains an unsafe path: {name!r}.")
        if info.flag_bits & 0x1:
            raise Invalid(f"The archive entry {name} is encrypted.")
        if info.is_dir():
            if name != "files/" and not NOTEBOOK_FOLDER_RE.fullmatch(name):
                raise Invalid(f"The archive contains an unexpected folder: {name!r}.")
            continue
        if name not in (MANIFEST, SIGNATURE) and not FILE_ENTRY_RE.fullmatch(name) \
                and not NOTEBOOK_ENTRY_RE.fullmatch(name):
            raise Invalid(f"The archive contains an unexpected entry: {name!r}.")
        if name in entries:
            raise Invalid(f"The archive contains {name} twice.")
        entries[name] = info
        total += info.file_size
        if total > cap:
            raise Invalid(
                f"The archive would unpack to more than {cap // (1024 * 1024)} MB "
                f"({UNPACK_FACTOR} times the upload limit); it is refused."
            )
    if MANIFEST not in entries:
        raise Invalid("The archive has no space.json: it is not a TwinSpace space export.")
    raw = _read_entry(zf, entries[MANIFEST])
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise Invalid(f"space.json is not valid JSON: {e}.") from None
    signature = None
    if SIGNATURE in entries:
        signature = _read_entry(zf, entries[SIGNATURE]).decode("ascii", "replace").strip()
    files = {FILE_ENTRY_RE.fullmatch(n).group(1): i for n, i in entries.items()
             if n.startswith("files/")}
    notebooks = {n: i for n, i in entries.items() if n.startswith("notebooks/")}
    return zf, {"manifest": manifest, "raw": raw, "signature": signature,
                "notebooks": notebooks}, files


# --------------------------------------------------------------------------- validation


def _where(where: str, what: str) -> Invalid:
    return Invalid(f"space.json: {where} {what}.")


def _dict(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise _where(where, "must be an object")
    return value


def _list(d: dict, key: str, where: str) -> list[tuple[str, dict]]:
    value = d.get(key, [])
    if value is None:
        value = []
    if not isinstance(value, list):
        raise _where(f"{where}.{key}" if where else key, "must be a list")
    base = f"{where}.{key}" if where else key
    return [(f"{base}[{i}]", _dict(v, f"{base}[{i}]")) for i, v in enumerate(value)]


def _text(d: dict, key: str, where: str, max_len: int, *, default: str | None = "",
          nonempty: bool = False) -> str:
    value = d.get(key)
    if value is None:
        if default is None:
            raise _where(f"{where}.{key}", "is required")
        value = default
    if not isinstance(value, str):
        raise _where(f"{where}.{key}", "must be a string")
    if nonempty and not value.strip():
        raise _where(f"{where}.{key}", "must not be empty")
    if len(value) > max_len:
        raise _where(f"{where}.{key}", f"is too long (at most {max_len} characters)")
    return value


def _flag(d: dict, key: str, where: str) -> bool:
    value = d.get(key, False)
    if not isinstance(value, bool):
        raise _where(f"{where}.{key}", "must be true or false")
    return value


def _num(d: dict, key: str, where: str, *, default: int | None = 0, low: int = -(2**31),
         high: int = 2**31 - 1) -> int | None:
    value = d.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _where(f"{where}.{key}", f"must be a whole number from {low} to {high}")
    return value


def _time(d: dict, key: str, where: str, *, required: bool = False) -> dt.datetime | None:
    value = d.get(key)
    if value is None:
        if required:
            raise _where(f"{where}.{key}", "is required")
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise _where(f"{where}.{key}", "must be an ISO 8601 date and time") from None
    if when.tzinfo is None:
        raise _where(f"{where}.{key}", "needs a time zone offset")
    return when.astimezone(dt.UTC)


class _Parser:
    """Checks a space.json and turns it into plain records ready to insert."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.documents: list[dict] = []
        self.photos: list[dict] = []

    def who(self, d: dict, key: str, where: str) -> str | None:
        value = d.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not 0 < len(value) <= USERNAME_MAX:
            raise _where(f"{where}.{key}", "must be a username")
        self.names.add(value)
        return value

    def parse(self, manifest) -> dict:
        manifest = _dict(manifest, "the document")
        if manifest.get("format") != FORMAT:
            raise Invalid("space.json is not a TwinSpace space export (unknown 'format').")
        version = manifest.get("version")
        if version != VERSION:
            raise Invalid(f"space.json has format version {version!r}; this TwinSpace reads "
                          f"version {VERSION} only.")
        space = _dict(manifest.get("space"), "space")
        plan: dict[str, Any] = {
            "title": _text(space, "title", "space", 200, default=None, nonempty=True).strip(),
            "description": _text(space, "description", "space", 5000),
            "pages": [], "events": [], "rooms": [],
        }
        seen_pages: set[tuple[str, str]] = set()
        for where, p in _list(manifest, "pages", ""):
            section = p.get("section")
            if section not in rights.SECTIONS:
                raise _where(f"{where}.section", f"must be one of {', '.join(rights.SECTIONS)}")
            slug = _text(p, "slug", where, 80, default=None)
            if not PAGE_SLUG_RE.match(slug):
                raise _where(f"{where}.slug", "must be lowercase letters, digits and '-'")
            if (section, slug) in seen_pages:
                raise _where(where, f"repeats the page {section}/{slug}")
            seen_pages.add((section, slug))
            page = {
                "section": section, "slug": slug,
                "title": _text(p, "title", where, 200, default=None, nonempty=True),
                "position": _num(p, "position", where), "published": _flag(p, "published", where),
                "created_by": self.who(p, "created_by", where),
                "created_at": _time(p, "created_at", where), "apps": [],
                "notebook": None,
            }  # fmt: skip
            notebook = p.get("notebook")
            if notebook is not None and notebook != notebook_entry(section, slug):
                raise _where(f"{where}.notebook", f"must be {notebook_entry(section, slug)}")
            page["notebook"] = notebook
            for awhere, a in _list(p, "apps", where):
                kind = a.get("kind")
                if kind not in APP_KINDS:
                    raise _where(f"{awhere}.kind", f"must be one of {', '.join(APP_KINDS)}")
                settings = a.get("settings") or {}
                if not isinstance(settings, dict) or len(json.dumps(settings)) > 10_000:
                    raise _where(f"{awhere}.settings", "must be an object (at most 10 kB)")
                content = a.get("content")
                page["apps"].append({
                    "kind": kind, "title": _text(a, "title", awhere, 200),
                    "position": _num(a, "position", awhere), "settings": settings,
                    "content": None if content is None
                    else self.content(kind, _dict(content, f"{awhere}.content"),
                                      f"{awhere}.content"),
                })  # fmt: skip
            plan["pages"].append(page)
        for where, e in _list(manifest, "events", ""):
            if e.get("kind") not in EVENT_KINDS:
                raise _where(f"{where}.kind", f"must be one of {', '.join(EVENT_KINDS)}")
            starts = _time(e, "starts_at", where, required=True)
            ends = _time(e, "ends_at", where) or starts
            if ends < starts:
                raise _where(where, "ends before it starts")
            plan["events"].append({
                "kind": e["kind"], "title": _text(e, "title", where, 200, default=None),
                "description": _text(e, "description", where, 5000), "starts_at": starts,
                "ends_at": ends, "all_day": _flag(e, "all_day", where),
                "author": self.who(e, "author", where), "created_at": _time(e, "created_at", where),
            })  # fmt: skip
        room_names: set[str] = set()
        for where, r in _list(manifest, "chat_rooms", ""):
            name = _text(r, "name", where, 120, default=None, nonempty=True)
            if name in room_names:
                raise _where(where, f"repeats the chat room {name!r}")
            room_names.add(name)
            plan["rooms"].append({
                "name": name, "supervised": _flag(r, "supervised", where),
                "created_by": self.who(r, "created_by", where),
                "created_at": _time(r, "created_at", where),
                "messages": [
                    {"body": _text(msg, "body", mw, 2000, default=None),
                     "author": self.who(msg, "author", mw), "hidden": _flag(msg, "hidden", mw),
                     "created_at": _time(msg, "created_at", mw)}
                    for mw, msg in _list(r, "messages", where)
                ],
            })  # fmt: skip
        checksums = _dict(manifest.get("files") or {}, "files")
        plan["files"] = {}
        for item in (*self.documents, *self.photos):
            for key in (item["file"], item.get("thumbnail")):
                if key is None:
                    continue
                info = _dict(checksums.get(key), f"files[{key!r}]")
                size = _num(info, "size", f"files[{key!r}]", default=None, low=1)
                digest = _text(info, "sha256", f"files[{key!r}]", 64, default=None)
                if size is None or not re.fullmatch(r"[0-9a-f]{64}", digest):
                    raise _where(f"files[{key!r}]", "needs its size and sha256")
                plan["files"][key] = {"size": size, "sha256": digest}
        plan["names"] = self.names
        plan["documents"], plan["photos"] = self.documents, self.photos
        return plan

    def file_key(self, d: dict, key: str, where: str) -> str:
        value = d.get(key)
        if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{32}", value):
            raise _where(f"{where}.{key}", "must be a stored file's key")
        return value

    def content(self, kind: str, c: dict, where: str):
        if kind == "blog":
            return {"posts": [{
                "title": _text(p, "title", pw, 200, default=None, nonempty=True),
                "body": _text(p, "body", pw, 50_000, default=None),
                "author": self.who(p, "author", pw), "hidden": _flag(p, "hidden", pw),
                "created_at": _time(p, "created_at", pw), "updated_at": _time(p, "updated_at", pw),
                "comments": [
                    {"body": _text(x, "body", cw, 10_000, default=None),
                     "author": self.who(x, "author", cw), "hidden": _flag(x, "hidden", cw),
                     "created_at": _time(x, "created_at", cw)}
                    for cw, x in _list(p, "comments", pw)
                ],
            } for pw, p in _list(c, "posts", where)]}  # fmt: skip
        if kind == "forum":
            threads = []
            for tw, t in _list(c, "threads", where):
                replies = []
                for rw, r in _list(t, "replies", tw):
                    replies.append({
                        "ref": _num(r, "id", rw, default=None),
                        "quote": _num(r, "quote", rw, default=None),
                        "body": _text(r, "body", rw, 20_000, default=None),
                        "author": self.who(r, "author", rw), "hidden": _flag(r, "hidden", rw),
                        "created_at": _time(r, "created_at", rw),
                        "updated_at": _time(r, "updated_at", rw),
                    })  # fmt: skip
                if not replies:
                    raise _where(tw, "has no replies (a thread opens with its first post)")
                threads.append({
                    "title": _text(t, "title", tw, 200, default=None, nonempty=True),
                    "author": self.who(t, "author", tw), "hidden": _flag(t, "hidden", tw),
                    "created_at": _time(t, "created_at", tw), "replies": replies,
                })  # fmt: skip
            return {"threads": threads}
        if kind == "wiki":
            pages, titles = [], set()
            for ww, w in _list(c, "pages", where):
                title = _text(w, "title", ww, 200, default=None, nonempty=True)
                if title in titles:
                    raise _where(ww, f"repeats the wiki page {title!r}")
                titles.add(title)
                revisions, numbers = [], set()
                for rw, r in _list(w, "revisions", ww):
                    number = _num(r, "number", rw, default=None, low=1)
                    if number is None or number in numbers:
                        raise _where(f"{rw}.number", "must be a new revision number")
                    numbers.add(number)
                    reverted = _num(r, "reverted_from", rw, default=None, low=1)
                    revisions.append({
                        "number": number, "text": _text(r, "text", rw, TEXT_MAX, default=None),
                        "author": self.who(r, "author", rw),
                        "summary": _text(r, "summary", rw, 200), "reverted_from": reverted,
                        "created_at": _time(r, "created_at", rw),
                    })  # fmt: skip
                if not revisions:
                    raise _where(ww, "has no revisions")
                pages.append({"title": title, "created_at": _time(w, "created_at", ww),
                              "revisions": revisions})
            return {"pages": pages}
        if kind == "documents":
            folders, ids, names = [], set(), set()
            for fw, f in _list(c, "folders", where):
                ref = _num(f, "id", fw, default=None)
                if ref is None or ref in ids:
                    raise _where(f"{fw}.id", "must be a number naming one folder")
                ids.add(ref)
                folder = {"ref": ref, "parent": _num(f, "parent", fw, default=None),
                          "name": _text(f, "name", fw, 120, default=None, nonempty=True),
                          "created_by": self.who(f, "created_by", fw),
                          "created_at": _time(f, "created_at", fw)}
                if (folder["parent"], folder["name"]) in names:
                    raise _where(fw, f"repeats the folder {folder['name']!r}")
                names.add((folder["parent"], folder["name"]))
                folders.append(folder)
            for f in folders:
                if f["parent"] is not None and f["parent"] not in ids:
                    raise _where(where, f"names a missing parent folder {f['parent']}")
            _check_tree(folders, where)
            documents = []
            for dw, d in _list(c, "documents", where):
                folder = _num(d, "folder", dw, default=None)
                if folder is not None and folder not in ids:
                    raise _where(f"{dw}.folder", "names a missing folder")
                doc = {
                    "folder": folder, "file": self.file_key(d, "file", dw),
                    "filename": _text(d, "filename", dw, 160, default=None, nonempty=True),
                    "author": self.who(d, "author", dw), "hidden": _flag(d, "hidden", dw),
                    "created_at": _time(d, "created_at", dw),
                }  # fmt: skip
                documents.append(doc)
                self.documents.append(doc)
            return {"folders": folders, "documents": documents}
        if kind == "gallery":
            albums = []
            for aw, a in _list(c, "albums", where):
                photos = []
                for pw, p in _list(a, "photos", aw):
                    content_type = p.get("content_type")
                    if content_type not in IMAGE_TYPES:
                        raise _where(f"{pw}.content_type", "must be an image type")
                    photo = {
                        "caption": _text(p, "caption", pw, 500),
                        "filename": _text(p, "filename", pw, 160, default=None, nonempty=True),
                        "content_type": content_type,
                        "width": _num(p, "width", pw, default=None, low=1),
                        "height": _num(p, "height", pw, default=None, low=1),
                        "file": self.file_key(p, "file", pw),
                        "thumbnail": self.file_key(p, "thumbnail", pw),
                        "author": self.who(p, "author", pw), "hidden": _flag(p, "hidden", pw),
                        "created_at": _time(p, "created_at", pw),
                    }  # fmt: skip
                    photos.append(photo)
                    self.photos.append(photo)
                albums.append({
                    "title": _text(a, "title", aw, 200, default=None, nonempty=True),
                    "created_by": self.who(a, "created_by", aw),
                    "created_at": _time(a, "created_at", aw), "photos": photos,
                })  # fmt: skip
            return {"albums": albums}
        if kind == "web_content":
            return {"html": _text(c, "html", where, 200_000),
                    "updated_by": self.who(c, "updated_by", where),
                    "updated_at": _time(c, "updated_at", where)}
        return None


def _check_tree(folders: list[dict], where: str) -> None:
    parent = {f["ref"]: f["parent"] for f in folders}
    for ref in parent:
        seen, node = set(), ref
        while node is not None:
            if node in seen:
                raise _where(where, "has folders inside themselves (a cycle)")
            seen.add(node)
            node = parent.get(node)


def read_export(data, limit: int, key: bytes) -> dict:
    """Open, check and parse an uploaded export (blocking: run it in an executor)."""
    zf, raw, entries = open_archive(data, limit)
    plan = _Parser().parse(raw["manifest"])
    signature = raw["signature"] or ""
    plan["signed"] = hmac.compare_digest(signature.encode(), sign(key, raw["raw"]).encode())
    for blob, expected in plan["files"].items():
        info = entries.get(blob)
        if info is None:
            raise Invalid(f"The archive lacks files/{blob}, which space.json refers to.")
        if info.file_size != expected["size"]:
            raise Invalid(f"files/{blob} does not have the size space.json gives.")
    plan["zip"], plan["entries"] = zf, entries
    plan["notebooks"] = read_notebooks(zf, plan["pages"], raw["notebooks"])
    return plan


def read_notebooks(zf: zipfile.ZipFile, pages: list[dict],
                   entries: dict[str, zipfile.ZipInfo]) -> dict[tuple[str, str], Any]:
    """Check every page notebook of the archive: {(section, page slug): portable notebook}."""
    named = {p["notebook"]: p for p in pages if p["notebook"] is not None}
    for name in entries:
        if name not in named:
            raise Invalid(f"The archive's {name} belongs to no page of space.json.")
    found = {}
    for name, page in named.items():
        info = entries.get(name)
        if info is None:
            raise Invalid(f"The archive lacks {name}, which space.json refers to.")
        if info.file_size > NOTEBOOK_MAX:
            raise Invalid(f"{name} is too large for a page notebook "
                          f"(at most {NOTEBOOK_MAX // (1024 * 1024)} MB).")
        try:
            nb = nbformat.reads(_read_entry(zf, info).decode("utf-8"), as_version=4)
            nbformat.validate(nb)
        except Invalid:
            raise
        except Exception as e:  # JSON, Unicode, schema: all mean "not a notebook"
            raise Invalid(f"{name} is not a notebook Jupyter can read: "
                          f"{str(e).splitlines()[0][:200] if str(e) else type(e).__name__}."
                          ) from None
        found[(page["section"], page["slug"])] = portable_notebook(nb)
    return found


def _blob(plan: dict, blob: str) -> bytes:
    data = _read_entry(plan["zip"], plan["entries"][blob])
    if hashlib.sha256(data).hexdigest() != plan["files"][blob]["sha256"]:
        raise Invalid(f"files/{blob} is damaged: its checksum does not match space.json.")
    return data


def _check_photo(data: bytes, content_type: str, what: str) -> tuple[int, int]:
    if sniff(data) != content_type:
        raise Invalid(f"{what} is not the {content_type} image space.json says it is.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            size = image.size
            meta = IMAGE_METADATA & set(image.info) or image.getexif()
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise Invalid(f"{what} is not a readable image ({e}).") from None
    if size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise Invalid(f"{what} is too large ({size[0]}×{size[1]} pixels).")
    if meta:
        raise Invalid(f"{what} carries metadata (EXIF/location): it is not a photo this "
                      "service stored; upload it to a gallery instead.")
    return size


def store_files(plan: dict, files: FileStore, written: list[str]) -> None:
    """Store every blob again under new keys, appending each to `written` (blocking)."""
    for doc in plan["documents"]:
        data = _blob(plan, doc["file"])
        try:
            stored = files.store_document(data, doc["filename"])
        except UploadRejected as e:
            raise Invalid(f"The document {doc['filename']!r} in the archive is refused: "
                          f"{e.message}") from None
        written.append(stored.key)
        doc["stored"] = stored
    for photo in plan["photos"]:
        what = f"The photo {photo['filename']!r}"
        data = _blob(plan, photo["file"])
        width, height = _check_photo(data, photo["content_type"], what)
        thumb = _blob(plan, photo["thumbnail"])
        _check_photo(thumb, "image/jpeg", f"{what}'s thumbnail")
        try:
            photo["key"] = files.store_blob(data)
            written.append(photo["key"])
            photo["thumb_key"] = files.store_blob(thumb)
            written.append(photo["thumb_key"])
        except UploadRejected as e:
            raise Invalid(f"{what} in the archive is refused: {e.message}") from None
        photo["size"], photo["width"], photo["height"] = len(data), width, height


# --------------------------------------------------------------------------- inserting


def insert_space(db, plan: dict, space: m.Space, users: dict[str, int]) -> dict:
    """Create the plan's pages, applications, content, events and rooms in `space`."""
    now = utcnow()

    def uid(name: str | None) -> int | None:
        return users.get(name) if name else None

    counts = {"pages": 0, "apps": 0, "posts": 0, "threads": 0, "wiki_pages": 0,
              "documents": 0, "photos": 0, "events": 0, "chat_rooms": 0}
    for p in plan["pages"]:
        page = m.Page(space_id=space.id, section=p["section"], slug=p["slug"], title=p["title"],
                      position=p["position"], published=p["published"],
                      created_by_id=uid(p["created_by"]), created_at=p["created_at"] or now,
                      updated_at=now)
        db.add(page)
        db.flush()
        counts["pages"] += 1
        for a in p["apps"]:
            app = m.AppInstance(page_id=page.id, kind=a["kind"], title=a["title"],
                                position=a["position"], settings=a["settings"])
            db.add(app)
            db.flush()
            counts["apps"] += 1
            _insert_content(db, app, a["content"], uid, counts, now)
    keys = {(p["section"], p["slug"]) for p in plan["pages"]}
    founder = space.created_by_id
    if ("home", "home") not in keys:
        home = m.Page(space_id=space.id, section="home", slug="home", title="Home",
                      position=-1, created_by_id=founder)
        home.apps = [m.AppInstance(kind=k, title=t, position=i)
                     for i, (k, t) in enumerate(HOME_APPS)]
        db.add(home)
    if ("chat", "chat") not in keys:
        chat = m.Page(space_id=space.id, section="chat", slug="chat", title="Chat",
                      position=-1, created_by_id=founder)
        chat.apps = [m.AppInstance(kind="chat", title="Chat", position=0)]
        db.add(chat)
    for e in plan["events"]:
        db.add(m.Event(space_id=space.id, kind=e["kind"], title=e["title"],
                       description=e["description"], starts_at=e["starts_at"],
                       ends_at=e["ends_at"], all_day=e["all_day"], author_id=uid(e["author"]),
                       created_at=e["created_at"] or now))
        counts["events"] += 1
    rooms = plan["rooms"] or [{"name": "General", "supervised": False, "created_by": None,
                               "created_at": None, "messages": []}]
    for r in rooms:
        room = m.ChatRoom(space_id=space.id, name=r["name"], supervised=r["supervised"],
                          created_by_id=uid(r["created_by"]) or founder,
                          created_at=r["created_at"] or now)
        db.add(room)
        db.flush()
        counts["chat_rooms"] += 1
        for msg in r.get("messages", ()):
            db.add(m.ChatMessage(room_id=room.id, body=msg["body"], author_id=uid(msg["author"]),
                                 hidden=msg["hidden"], created_at=msg["created_at"] or now))
    db.flush()
    return counts


def _insert_content(db, app: m.AppInstance, content: dict | None, uid, counts, now) -> None:
    if app.kind == "web_content":
        content = content or {}
        db.add(m.WebContent(app_id=app.id, html=content["clean_html"] if "clean_html" in content
                            else clean_html(content.get("html", "")),
                            updated_by_id=uid(content.get("updated_by")),
                            updated_at=content.get("updated_at") or now))
        return
    if content is None:
        return
    if app.kind == "blog":
        for p in content["posts"]:
            html = p.get("body_html") or render_markdown(p["body"])
            post = m.BlogPost(app_id=app.id, author_id=uid(p["author"]), title=p["title"],
                              body=p["body"], body_html=html,
                              hidden=p["hidden"], created_at=p["created_at"] or now,
                              updated_at=p["updated_at"] or p["created_at"] or now)
            db.add(post)
            db.flush()
            counts["posts"] += 1
            for c in p["comments"]:
                db.add(m.Comment(post_id=post.id, author_id=uid(c["author"]), body=c["body"],
                                 body_html=c.get("body_html") or render_markdown(c["body"]),
                                 hidden=c["hidden"],
                                 created_at=c["created_at"] or now))
    elif app.kind == "forum":
        for t in content["threads"]:
            new_ids: dict[int, int] = {}  # quotes stay within their thread
            thread = m.ForumThread(app_id=app.id, author_id=uid(t["author"]), title=t["title"],
                                   hidden=t["hidden"], created_at=t["created_at"] or now,
                                   last_post_id=0, reply_count=0)
            db.add(thread)
            db.flush()
            counts["threads"] += 1
            last = 0
            for r in t["replies"]:
                reply = m.ForumReply(
                    thread_id=thread.id, author_id=uid(r["author"]), body=r["body"],
                    body_html=r.get("body_html") or render_markdown(r["body"]),
                    quote_id=new_ids.get(r["quote"]) if r["quote"] is not None else None,
                    hidden=r["hidden"], created_at=r["created_at"] or now,
                    updated_at=r["updated_at"] or r["created_at"] or now,
                )
                db.add(reply)
                db.flush()
                if r["ref"] is not None:
                    new_ids[r["ref"]] = reply.id
                last = reply.id
            thread.reply_count = len(t["replies"])
            thread.last_post_id = last
    elif app.kind == "wiki":
        for w in content["pages"]:
            wiki = m.WikiPage(app_id=app.id, title=w["title"],
                              current_revision=max(r["number"] for r in w["revisions"]),
                              created_at=w["created_at"] or now)
            db.add(wiki)
            db.flush()
            counts["wiki_pages"] += 1
            for r in w["revisions"]:
                db.add(m.WikiRevision(wiki_id=wiki.id, number=r["number"], text=r["text"],
                                      author_id=uid(r["author"]), summary=r["summary"],
                                      reverted_from=r["reverted_from"],
                                      created_at=r["created_at"] or now))
    elif app.kind == "documents":
        folder_ids: dict[int, int] = {}
        pending = list(content["folders"])
        while pending:  # parents before children (the tree was checked for cycles)
            ready = [f for f in pending if f["parent"] is None or f["parent"] in folder_ids]
            for f in ready:
                folder = m.Folder(app_id=app.id, parent_id=folder_ids.get(f["parent"]),
                                  name=f["name"], created_by_id=uid(f["created_by"]),
                                  created_at=f["created_at"] or now)
                db.add(folder)
                db.flush()
                folder_ids[f["ref"]] = folder.id
            pending = [f for f in pending if f["ref"] not in folder_ids]
        for d in content["documents"]:
            stored = d["stored"]
            db.add(m.Document(app_id=app.id, folder_id=folder_ids.get(d["folder"]),
                              filename=stored.filename, content_type=stored.content_type,
                              size=stored.size, blob_key=stored.key, author_id=uid(d["author"]),
                              hidden=d["hidden"], created_at=d["created_at"] or now))
            counts["documents"] += 1
    elif app.kind == "gallery":
        for a in content["albums"]:
            album = m.Album(app_id=app.id, title=a["title"], created_by_id=uid(a["created_by"]),
                            created_at=a["created_at"] or now)
            db.add(album)
            db.flush()
            for p in a["photos"]:
                db.add(m.Photo(album_id=album.id, caption=p["caption"], filename=p["filename"],
                               content_type=p["content_type"], size=p["size"], width=p["width"],
                               height=p["height"], blob_key=p["key"], thumb_key=p["thumb_key"],
                               author_id=uid(p["author"]), hidden=p["hidden"],
                               created_at=p["created_at"] or now))
                counts["photos"] += 1


# --------------------------------------------------------------------------- new spaces


def create_space(db, owner_id: int, slug: str, title: str, description: str) -> m.Space:
    """A new space row with its owner as teacher administrator (not committed)."""
    space = m.Space(slug=slug, title=title, description=description, created_by_id=owner_id)
    db.add(space)
    db.flush()
    db.add(m.Membership(space_id=space.id, user_id=owner_id, role=rights.TA))
    return space


def user_ids(db, names) -> dict[str, int]:
    """{username: id} of the `names` that have an account here."""
    names, found = sorted(names), {}
    for i in range(0, len(names), 500):
        found.update(db.execute(
            select(m.User.name, m.User.id).where(m.User.name.in_(names[i:i + 500]))
        ).all())
    return found


def commit_new_space(ctx, db, slug: str, page_notebooks: dict | None = None) -> None:
    """Commit the new space, then write its page notebooks into the shared volume.

    page_notebooks: {(section, page slug): portable notebook} to start pages from
    (their own cells kept); other pages get a fresh notebook. Wakes no long-poll: nobody
    watches a space that did not exist.
    """
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        if db.scalar(select(m.Space.id).where(m.Space.slug == slug)):
            raise APIError(409, f"A space called {slug} already exists.") from None
        raise APIError(400, "The space could not be created: two of its items clash.") \
            from None
    space = db.scalar(select(m.Space).where(m.Space.slug == slug))
    pages = list(db.scalars(select(m.Page).where(m.Page.space_id == space.id)))
    for page in pages:
        nb = (page_notebooks or {}).get((page.section, page.slug))
        if nb is not None:
            start_notebook(ctx, db, page, nb)
    notebooks.write_pages(ctx, db, pages)


def start_notebook(ctx, db, page: m.Page, nb) -> None:
    """Put a page's notebook from an archive or a template in place, re-pointed at the
    page's applications; `notebooks.write_page` then secures and publishes it."""
    path = notebooks.page_path(ctx, page.space.slug, page.section, page.slug)
    if path is None:
        return
    try:
        nb = nbpages.sync_notebook(nb, notebooks.page_record(db, page))
        notebooks.write_text_atomic(path, nbpages.writes(nb))
    except (OSError, ValueError) as e:  # the page still gets a fresh notebook
        log.error("Could not write the notebook of page %s (%s): %s", page.id, path, e)


def render_plan(plan: dict) -> None:
    """Render the plan's Markdown and clean its HTML ahead of the insert, so the write
    transaction (SQLite's one writer at a time) holds for the inserts alone."""
    for page in plan["pages"]:
        for app in page["apps"]:
            content = app["content"]
            if content is None:
                continue
            if app["kind"] == "blog":
                for post in content["posts"]:
                    post["body_html"] = render_markdown(post["body"])
                    for comment in post["comments"]:
                        comment["body_html"] = render_markdown(comment["body"])
            elif app["kind"] == "forum":
                for thread in content["threads"]:
                    for reply in thread["replies"]:
                        reply["body_html"] = render_markdown(reply["body"])
            elif app["kind"] == "web_content":
                content["clean_html"] = clean_html(content.get("html", ""))


def import_space(ctx, plan: dict, owner_id: int, actor_id: int | None, slug: str,
                 title: str) -> tuple[int, dict, dict[str, int]]:
    """Create the imported space from a checked plan whose files are stored, on a session
    of its own (blocking: run it in a worker thread). (space id, counts, matched authors).

    The rights were checked by the handler; the slug is checked again by the database.
    """
    render_plan(plan)
    with ctx.sessions() as db:
        try:
            users = user_ids(db, plan["names"]) if plan["signed"] else {}
            space = create_space(db, owner_id, slug, title or plan["title"],
                                 plan["description"])
            counts = insert_space(db, plan, space, users)
            db.add(activity_event(space.id, actor_id, "space.import", "home", obj=space,
                                  summary=f"{space.title} (imported)"))
            space_id = space.id
            commit_new_space(ctx, db, slug, plan["notebooks"])
        except BaseException:
            db.rollback()
            raise
    return space_id, counts, users


def spool(chunks: list[bytes]):
    """An upload's chunks in an anonymous temporary file, read from its start (blocking).

    Each write lets go of the GIL; joining a few hundred megabytes in memory would not.
    """
    handle = tempfile.TemporaryFile(prefix="twinspace-import-")
    try:
        for chunk in chunks:
            handle.write(chunk)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle


# --------------------------------------------------------------------------- handlers


class TransferBase(APIHandler):
    def new_space_fields(self, slug: str, title: str | None, default_title: str):
        slug = check_slug((slug or "").strip().lower())
        title = (title or "").strip() or default_title
        if len(title) > 200:
            raise APIError(400, "'title' is too long (at most 200 characters).")
        return slug, title

    def require_free(self, slug: str) -> None:
        if self.db.scalar(select(m.Space.id).where(m.Space.slug == slug)):
            raise APIError(409, f"A space called {slug} already exists.")

    def require_teacher(self, what: str) -> m.User:
        user = self.me
        if user.kind != "teacher":
            raise APIError(403, f"Only teachers can {what}.")
        return user

    @property
    def hub_side(self) -> bool:
        """A hub administrator or the hub's own `twinspace` command (not a space member)."""
        return self.identity.hub_admin or self.is_trusted_service

    def importing_teacher(self) -> m.User:
        """Who will own an imported space: the caller, or `?owner=` named by the hub side."""
        owner = (self.get_argument("owner", "") or "").strip()
        caller = self.identity.user
        if not owner:
            if self.hub_side and (caller is None or caller.kind != "teacher"):
                raise APIError(400, "Say which teacher will own the imported space: "
                                    "?owner=USERNAME.")
            return self.require_teacher("import a space")
        if not self.hub_side:
            raise APIError(403, "Only hub administrators may import a space for someone else.")
        user = self.load_user(owner)
        if user.kind != "teacher":
            raise APIError(400, f"{user.name} is a {user.kind}: a space's owner must be a "
                                "teacher.")
        return user

    def create_space(self, user: m.User, slug: str, title: str, description: str) -> m.Space:
        return create_space(self.db, user.id, slug, title, description)

    def commit_new_space(self, slug: str, page_notebooks: dict | None = None) -> None:
        """Commit the new space, then write its page notebooks into the shared volume.

        page_notebooks: {(section, page slug): portable notebook} to start pages from
        (their own cells kept); other pages get a fresh notebook.
        """
        commit_new_space(self.ctx, self.db, slug, page_notebooks)


class ExportHandler(TransferBase):
    browser_link = True

    async def get(self, slug):
        """Download the whole space as a ZIP (teacher administrators): pages, content, files."""
        space = self.load_space(slug)
        if not self.hub_side:
            self.require(space, "administer", "home")
        slug, space_id = space.slug, space.id
        self.db.rollback()
        files = self.ctx.files
        key = signing_key(files.root.parent)
        try:
            # Reading the space (one snapshot, its own session) and writing the ZIP both
            # happen in worker threads: the other members' requests go on meanwhile.
            manifest, keys = await self.in_thread(read_space_manifest, self.ctx.sessions,
                                                  space_id, files)
            path = await in_bulk_thread(write_archive, manifest, keys, files, key,
                                        self.ctx.spaces_dir)
        except FileNotFoundError:
            raise APIError(409, "A file was deleted while the export was made; try again.") \
                from None
        try:
            self.set_header("Content-Type", "application/zip")
            self.set_header("Content-Disposition", f'attachment; filename="{slug}-export.zip"')
            self.set_header("Content-Length", os.path.getsize(path))
            self.set_header("Cache-Control", "no-store")
            with open(path, "rb") as handle:
                while chunk := handle.read(SEND_CHUNK):
                    self.write(chunk)
                    await self.flush()
            self.finish()
        finally:
            os.unlink(path)

    def compute_etag(self) -> None:
        return None


class ImportHandler(UploadHandler, TransferBase):
    async def upload_file(self):
        """The upload (refusals raised) as a temporary file, written in a worker thread."""
        chunks = self.take_chunks()
        if not chunks:
            raise APIError(400, "The upload is empty.")
        return await in_bulk_thread(spool, chunks)

    def check_upload(self) -> None:
        self.importing_teacher()
        slug, _ = self.new_space_fields(self.get_argument("slug", ""),
                                        self.get_argument("title", None), "x")
        self.require_free(slug)

    async def post(self):
        """Import a space export (the ZIP as the body) as a NEW space: `?slug=`, `?title=`.

        Any teacher may import; they become its teacher administrator. Hub administrators
        (and the `twinspace` command) import for a teacher named by `?owner=`. Members are
        not imported. A refused archive (a bad notebook too) creates nothing.
        """
        self.raise_refusal()
        user = self.importing_teacher()
        slug, title = self.new_space_fields(self.get_argument("slug", ""),
                                            self.get_argument("title", None), "x")
        wanted_title = (self.get_argument("title", "") or "").strip()
        self.require_free(slug)
        owner_id = user.id
        actor_id = self.identity.user.id if self.identity.user is not None else None
        body = await self.upload_file()
        self.db.rollback()
        files = self.ctx.files
        key = signing_key(files.root.parent)
        written: list[str] = []
        try:
            # Reading, checking and storing the archive, then creating the space (its own
            # session, one short write transaction) all run in a worker thread.
            plan = await in_bulk_thread(read_export, body, self.ctx.upload_limit, key)
            await in_bulk_thread(store_files, plan, files, written)
            space_id, counts, users = await self.in_thread(
                import_space, self.ctx, plan, owner_id, actor_id, slug, wanted_title)
        except Invalid as e:
            self.delete_blobs(written)
            raise APIError(400, str(e)) from None
        except BaseException:
            self.delete_blobs(written)
            raise
        finally:
            body.close()
        space = self.load(m.Space, space_id, "space")
        unmatched = sorted(plan["names"] - users.keys())
        self.write_json({**space_json(space, rights.TA), "imported": counts,
                         "authors_matched": plan["signed"], "unmatched_authors": unmatched}, 201)


class CopyHandler(TransferBase):
    def post(self, slug):
        """Copy a public space (or one you administer) as a template: `{slug, title}`.

        The copy holds the structure only: pages, applications, web content and wiki
        pages' current text; no posts, threads, files, events or members.
        """
        user = self.require_teacher("copy a space as a template")
        source = self.load_space(slug)
        admin = self.may(source, "administer", "home")
        if not admin and not (source.public and source.state != "closed"):
            self.require(source, "administer", "home")
            raise APIError(403, "Only public spaces can be copied as templates.")
        body = self.json_body()
        new_slug = self.field(body, "slug", max_len=63)
        title = self.field(body, "title", default=None, max_len=200)
        new_slug, title = self.new_space_fields(new_slug, title, source.title)
        self.require_free(new_slug)

        def visible(page: m.Page) -> bool:
            if admin:
                return True
            return rights.allowed("public", "view", page.section, state=source.state,
                                  published=self.page_published(page, source))

        manifest, _keys = build_manifest(self.db, source, None, structure_only=True,
                                         page_visible=visible, copier=user.name,
                                         with_rooms=admin)
        try:
            plan = _Parser().parse(manifest)
        except Invalid as e:  # the source itself holds something we cannot copy
            raise APIError(400, str(e)) from None
        # The pages' notebooks, read before anything changes (a copy is one request).
        page_notebooks = read_page_notebooks(self.ctx.spaces_dir, source.slug, manifest["pages"])
        space = self.create_space(user, new_slug, title, source.description)
        insert_space(self.db, plan, space, {user.name: user.id})
        self.record(space, "space.copy", "home", obj=space,
                    summary=f"{space.title} (from {source.title})")
        self.commit_new_space(new_slug, page_notebooks)
        self.write_json(space_json(space, rights.TA), 201)


default_handlers = [
    # Before spaces' /spaces/{slug}: this path would match it too.
    (r"/spaces/import", ImportHandler),
    (r"/spaces/(?P<slug>[^/]+)/export", ExportHandler),
    (r"/spaces/(?P<slug>[^/]+)/copy", CopyHandler),
]
