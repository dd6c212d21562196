"""The document library (F21) and the image gallery (F22): folders, files, albums, photos."""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..store import models as m
from .base import APIError, APIHandler, UploadHandler
from .uploads import safe_filename

log = logging.getLogger("twinspace.service")

CHUNK = 64 * 1024
CAPTION_MAX = 500


# --------------------------------------------------------------------------- helpers


def stored_keys_of_apps(db, app_ids: list[int]) -> list[str]:
    """Every stored file of the documents and photos in these applications."""
    docs = db.scalars(select(m.Document.blob_key).where(m.Document.app_id.in_(app_ids)))
    photos = db.execute(
        select(m.Photo.blob_key, m.Photo.thumb_key)
        .join(m.Album, m.Album.id == m.Photo.album_id)
        .where(m.Album.app_id.in_(app_ids))
    )
    return [*docs, *(key for row in photos for key in row)]


def _ascii_fallback(name: str) -> str:
    """An ASCII-only stand-in for `filename=` (old clients ignore `filename*=`)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = "".join(
        ch if 32 <= ord(ch) < 127 and ch not in '"\\;%' else "_" for ch in ascii_name
    )
    return ascii_name.strip() or "file"


def content_disposition(kind: str, filename: str) -> str:
    """RFC 6266/5987: an ASCII `filename=` fallback plus the exact UTF-8 `filename*=`."""
    return (
        f'{kind}; filename="{_ascii_fallback(filename)}"; '
        f"filename*=UTF-8''{quote(filename, safe='')}"
    )


class FilesHandler(APIHandler):
    """Shared loading, rights and JSON for the library and the gallery."""

    def moderated_contents(self, space: m.Space, section: str, items: list) -> None:
        """A moderator's deleted folder or album: log each of others' items that went."""
        if self.may(space, "moderate", section):
            for item in items:
                self.moderated_delete(space, item, item.author_id)

    def _folder_in(self, app: m.AppInstance, folder_id) -> m.Folder:
        folder = self.load(m.Folder, folder_id, "folder")
        if folder.app_id != app.id:
            raise APIError(404, "No such folder.")
        return folder

    def _context_of(self, app_id: int):
        app = self.db.get(m.AppInstance, app_id)
        if app is None:
            raise APIError(404, "No such application.")
        return app, app.page, app.page.space

    def _folder_context(self, folder_id):
        folder = self.load(m.Folder, folder_id, "folder")
        return (folder, *self._context_of(folder.app_id))

    def _doc_context(self, doc_id):
        doc = self.load(m.Document, doc_id, "document")
        return (doc, *self._context_of(doc.app_id))

    def _doc_readable(self, doc_id):
        doc, app, page, space = self._doc_context(doc_id)
        self.require_page(page)
        self._visible(doc, space, page.section)
        return doc, app, page, space

    def _album_context(self, album_id):
        album = self.load(m.Album, album_id, "album")
        return (album, *self._context_of(album.app_id))

    def _photo_context(self, photo_id):
        photo = self.load(m.Photo, photo_id, "photo")
        album = self.db.get(m.Album, photo.album_id)
        _app, page, space = self._context_of(album.app_id)
        return photo, album, page, space

    def _photo_readable(self, photo_id):
        photo, album, page, space = self._photo_context(photo_id)
        self.require_page(page)
        self._visible(photo, space, page.section)
        return photo, album, page, space

    def _is_moderator(self, space: m.Space, section: str) -> bool:
        return self.identity.user is not None and self.may(space, "moderate", section)

    def _own(self, author_id: int | None) -> bool:
        return self.identity.user is not None and author_id == self.identity.user.id

    def _visible(self, item, space: m.Space, section: str) -> None:
        """Hidden (moderated) items exist only for moderators."""
        if item.hidden and not self._is_moderator(space, section):
            raise APIError(404, f"No such {type(item).__tablename__.rstrip('s')}.")

    def _check_free(self, app_id: int, parent_id: int | None, name: str, exclude=None) -> None:
        query = select(m.Folder.id).where(
            m.Folder.app_id == app_id,
            m.Folder.parent_id == parent_id
            if parent_id is not None
            else m.Folder.parent_id.is_(None),
            m.Folder.name == name,
        )
        if exclude is not None:
            query = query.where(m.Folder.id != exclude)
        if self.db.scalar(query) is not None:
            raise APIError(409, f"A folder called {name} already exists here.")

    def _flush_unique(self, name: str) -> None:
        try:
            self.db.flush()
        except IntegrityError:
            self.db.rollback()
            raise APIError(409, f"A folder called {name} already exists here.") from None

    # ---- JSON

    def folder_json(self, folder: m.Folder) -> dict:
        return {
            "id": folder.id,
            "app_id": folder.app_id,
            "parent_id": folder.parent_id,
            "name": folder.name,
            "created_by": self.author(folder.created_by_id),
            "created_at": folder.created_at,
            "own": self._own(folder.created_by_id),
        }

    def document_json(self, doc: m.Document, moderator: bool) -> dict:
        body = {
            "id": doc.id,
            "app_id": doc.app_id,
            "folder_id": doc.folder_id,
            "filename": doc.filename,
            "content_type": doc.content_type,
            "size": doc.size,
            "author": self.author(doc.author_id),
            "created_at": doc.created_at,
            "download_url": f"documents/{doc.id}/download",
            "own": self._own(doc.author_id),
        }
        if moderator:
            body["hidden"] = doc.hidden
        return body

    def album_json(self, album: m.Album, photo_count: int | None = None) -> dict:
        body = {
            "id": album.id,
            "app_id": album.app_id,
            "title": album.title,
            "created_by": self.author(album.created_by_id),
            "created_at": album.created_at,
            "own": self._own(album.created_by_id),
        }
        if photo_count is not None:
            body["photo_count"] = photo_count
        return body

    def photo_json(self, photo: m.Photo, moderator: bool) -> dict:
        body = {
            "id": photo.id,
            "album_id": photo.album_id,
            "caption": photo.caption,
            "filename": photo.filename,
            "content_type": photo.content_type,
            "size": photo.size,
            "width": photo.width,
            "height": photo.height,
            "author": self.author(photo.author_id),
            "created_at": photo.created_at,
            "image_url": f"photos/{photo.id}/image",
            "thumbnail_url": f"photos/{photo.id}/thumbnail",
            "own": self._own(photo.author_id),
        }
        if moderator:
            body["hidden"] = photo.hidden
        return body

    # ---- writing stored files

    async def send_blob(self, key: str, content_type: str, disposition: str) -> None:
        """Stream a stored file with headers that stop browsers rendering it as a page."""
        try:
            path: Path = self.ctx.files.open(key)
        except FileNotFoundError:
            raise APIError(404, "The file is missing from the store.") from None
        etag = f'"{key}"'  # blobs never change once stored: the key is a strong validator
        self.set_header("Content-Type", content_type)
        self.set_header("Content-Disposition", disposition)
        self.set_header("Cache-Control", "private")  # nosniff and the sandbox: every answer
        self.set_header("Etag", etag)
        if etag in (self.request.headers.get("If-None-Match") or ""):
            self.set_status(304)
            self.clear_header("Content-Type")
            self.finish()
            return
        self.set_header("Content-Length", path.stat().st_size)
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish()

    def compute_etag(self) -> None:
        return None

# --------------------------------------------------------------------------- document library


class FoldersHandler(FilesHandler):
    def get(self, app_id):
        """Folders of a document library, in `?parent=` (the top level when absent)."""
        app, page, _space = self.app_context(app_id, "documents")
        self.require_page(page)
        parent = self.int_arg("parent")
        query = select(m.Folder).where(m.Folder.app_id == app.id)
        if parent is not None:
            self._folder_in(app, parent)
            query = query.where(m.Folder.parent_id == parent)
        else:
            query = query.where(m.Folder.parent_id.is_(None))
        rows, cursor = self.keyset(query, m.Folder.id)
        self.write_json({"items": [self.folder_json(f) for f in rows], "next": cursor})

    def post(self, app_id):
        """Create a folder (upload right); names are unique within their parent."""
        app, page, space = self.app_context(app_id, "documents")
        self.require(space, "upload", page.section)
        body = self.json_body()
        name = safe_filename(self.field(body, "name", max_len=120))
        parent_id = self.field(body, "parent_id", int, default=None)
        if parent_id is not None:
            self._folder_in(app, parent_id)
        self._check_free(app.id, parent_id, name)
        folder = m.Folder(app_id=app.id, parent_id=parent_id, name=name, created_by_id=self.me.id)
        self.db.add(folder)
        self._flush_unique(name)
        self.record(space, "folder.create", page.section, page=page, obj=folder, summary=name)
        self.commit(f"space:{space.id}")
        self.write_json(self.folder_json(folder), 201)


class FolderHandler(FilesHandler):
    def get(self, folder_id):
        """A folder, with the path of folders leading to it (for breadcrumbs)."""
        folder, _app, page, _space = self._folder_context(folder_id)
        self.require_page(page)
        path, parent_id, seen = [], folder.parent_id, set()
        while parent_id is not None and parent_id not in seen:
            seen.add(parent_id)
            parent = self.db.get(m.Folder, parent_id)
            if parent is None:
                break
            path.insert(0, {"id": parent.id, "name": parent.name})
            parent_id = parent.parent_id
        self.write_json({**self.folder_json(folder), "path": path})

    def patch(self, folder_id):
        """Rename a folder (its creator or a moderator)."""
        folder, _app, page, space = self._folder_context(folder_id)
        self.require_edit(space, page.section, folder.created_by_id)
        body = self.json_body()
        name = safe_filename(self.field(body, "name", max_len=120))
        self._check_free(folder.app_id, folder.parent_id, name, exclude=folder.id)
        folder.name = name
        self._flush_unique(name)
        self.record(space, "folder.rename", page.section, page=page, obj=folder, summary=name)
        self.commit(f"space:{space.id}")
        self.write_json(self.folder_json(folder))

    def delete(self, folder_id):
        """Delete a folder with its sub-folders and documents (creator or moderator)."""
        folder, _app, page, space = self._folder_context(folder_id)
        self.require_edit(space, page.section, folder.created_by_id)
        ids, frontier = [folder.id], [folder.id]
        while frontier:
            frontier = list(
                self.db.scalars(select(m.Folder.id).where(m.Folder.parent_id.in_(frontier)))
            )
            ids.extend(frontier)
        docs = list(self.db.scalars(select(m.Document).where(m.Document.folder_id.in_(ids))))
        keys = [d.blob_key for d in docs]
        for doc in docs:
            self.db.delete(doc)
        self.db.flush()
        # Children first, so the tree goes even where the database does not cascade.
        for fid in reversed(ids):
            self.db.delete(self.db.get(m.Folder, fid))
            self.db.flush()
        self.moderated_contents(space, page.section, docs)
        self.record(space, "folder.delete", page.section, page=page, summary=folder.name)
        self.commit(f"space:{space.id}")
        self.delete_blobs(keys)  # only once the rows are gone
        self.no_content()


class DocumentsHandler(UploadHandler, FilesHandler):
    def check_upload(self, app_id) -> None:
        _app, page, space = self.app_context(app_id, "documents")
        self.require(space, "upload", page.section)

    def get(self, app_id):
        """Documents in `?folder=` (the top level when absent), newest first."""
        app, page, space = self.app_context(app_id, "documents")
        self.require_page(page)
        moderator = self._is_moderator(space, page.section)
        folder = self.int_arg("folder")
        query = select(m.Document).where(m.Document.app_id == app.id)
        if folder is not None:
            self._folder_in(app, folder)
            query = query.where(m.Document.folder_id == folder)
        else:
            query = query.where(m.Document.folder_id.is_(None))
        if not moderator:
            query = query.where(m.Document.hidden.is_(False))
        rows, cursor = self.keyset(query, m.Document.id)
        self.write_json({"items": [self.document_json(d, moderator) for d in rows], "next": cursor})

    async def post(self, app_id):
        """Upload a document: the raw file as the body, `?filename=` and optional `?folder=`."""
        self.raise_refusal()
        app, page, space = self.app_context(app_id, "documents")
        self.require(space, "upload", page.section)
        folder = self.int_arg("folder")
        if folder is not None:
            self._folder_in(app, folder)
        filename = self.upload_filename()
        data = self.upload_bytes
        self.db.rollback()  # no transaction held open while the file is written
        stored = await self.store("store_document", data, filename)
        try:
            doc = m.Document(
                app_id=app.id,
                folder_id=folder,
                filename=stored.filename,
                content_type=stored.content_type,
                size=stored.size,
                blob_key=stored.key,
                author_id=self.me.id,
            )
            self.db.add(doc)
            self.db.flush()
            self.record(
                space, "document.upload", page.section, page=page, obj=doc, summary=stored.filename
            )
        except BaseException:
            self.db.rollback()
            self.delete_blobs([stored.key])
            raise
        self.commit_or_forget([stored.key], f"space:{space.id}")
        self.write_json(self.document_json(doc, self._is_moderator(space, page.section)), 201)


class DocumentHandler(FilesHandler):
    def get(self, doc_id):
        """A document's metadata."""
        doc, _app, page, space = self._doc_readable(doc_id)
        self.write_json(self.document_json(doc, self._is_moderator(space, page.section)))

    def patch(self, doc_id):
        """Rename a document or move it to another folder (`folder_id`: null = top level)."""
        doc, app, page, space = self._doc_context(doc_id)
        self.require_edit(space, page.section, doc.author_id)
        self._visible(doc, space, page.section)
        body = self.json_body()
        if not {"filename", "folder_id"} & body.keys():
            raise APIError(400, "Nothing to change: send 'filename' or 'folder_id'.")
        if "filename" in body:
            doc.filename = safe_filename(self.field(body, "filename", max_len=160))
        if "folder_id" in body:
            folder_id = self.field(body, "folder_id", int, default=None)
            if folder_id is not None:
                self._folder_in(app, folder_id)
            doc.folder_id = folder_id
        self.record(
            space, "document.update", page.section, page=page, obj=doc, summary=doc.filename
        )
        self.commit(f"space:{space.id}")
        self.write_json(self.document_json(doc, self._is_moderator(space, page.section)))

    def delete(self, doc_id):
        """Delete a document and its file (uploader or moderator)."""
        doc, _app, page, space = self._doc_context(doc_id)
        self.require_edit(space, page.section, doc.author_id)
        key = doc.blob_key
        self.record(space, "document.delete", page.section, page=page, summary=doc.filename)
        self.db.delete(doc)
        self.db.flush()
        self.moderated_delete(space, doc, doc.author_id)
        self.commit(f"space:{space.id}")
        self.delete_blobs([key])
        self.no_content()


class DocumentDownloadHandler(FilesHandler):
    browser_link = True

    async def get(self, doc_id):
        """Download a document's bytes (always as an attachment, never rendered)."""
        doc, _app, _page, _space = self._doc_readable(doc_id)
        key, content_type, filename = doc.blob_key, doc.content_type, doc.filename
        self.db.rollback()
        await self.send_blob(key, content_type, content_disposition("attachment", filename))


# --------------------------------------------------------------------------- image gallery


class AlbumsHandler(FilesHandler):
    def get(self, app_id):
        """Albums of an image gallery, newest first, with their photo counts."""
        app, page, space = self.app_context(app_id, "gallery")
        self.require_page(page)
        rows, cursor = self.keyset(select(m.Album).where(m.Album.app_id == app.id), m.Album.id)
        counts = {}
        if rows:
            query = select(m.Photo.album_id, func.count()).where(
                m.Photo.album_id.in_([a.id for a in rows])
            )
            if not self._is_moderator(space, page.section):
                query = query.where(m.Photo.hidden.is_(False))
            counts = dict(self.db.execute(query.group_by(m.Photo.album_id)).all())
        self.write_json(
            {"items": [self.album_json(a, counts.get(a.id, 0)) for a in rows], "next": cursor}
        )

    def post(self, app_id):
        """Create an album (upload right)."""
        app, page, space = self.app_context(app_id, "gallery")
        self.require(space, "upload", page.section)
        title = self.field(self.json_body(), "title", max_len=200)
        album = m.Album(app_id=app.id, title=title, created_by_id=self.me.id)
        self.db.add(album)
        self.db.flush()
        self.record(space, "album.create", page.section, page=page, obj=album, summary=title)
        self.commit(f"space:{space.id}")
        self.write_json(self.album_json(album, 0), 201)


class AlbumHandler(FilesHandler):
    def get(self, album_id):
        """An album."""
        album, _app, page, space = self._album_context(album_id)
        self.require_page(page)
        query = select(func.count()).where(m.Photo.album_id == album.id)
        if not self._is_moderator(space, page.section):
            query = query.where(m.Photo.hidden.is_(False))
        self.write_json(self.album_json(album, self.db.scalar(query)))

    def patch(self, album_id):
        """Rename an album (its creator or a moderator)."""
        album, _app, page, space = self._album_context(album_id)
        self.require_edit(space, page.section, album.created_by_id)
        album.title = self.field(self.json_body(), "title", max_len=200)
        self.record(space, "album.rename", page.section, page=page, obj=album, summary=album.title)
        self.commit(f"space:{space.id}")
        self.write_json(self.album_json(album))

    def delete(self, album_id):
        """Delete an album with its photos (creator or moderator)."""
        album, _app, page, space = self._album_context(album_id)
        self.require_edit(space, page.section, album.created_by_id)
        photos = list(self.db.scalars(select(m.Photo).where(m.Photo.album_id == album.id)))
        keys = [k for p in photos for k in (p.blob_key, p.thumb_key)]
        for photo in photos:
            self.db.delete(photo)
        self.record(space, "album.delete", page.section, page=page, summary=album.title)
        self.db.delete(album)
        self.db.flush()
        self.moderated_contents(space, page.section, photos)
        self.commit(f"space:{space.id}")
        self.delete_blobs(keys)
        self.no_content()


class AlbumPhotosHandler(UploadHandler, FilesHandler):
    def check_upload(self, album_id) -> None:
        _album, _app, page, space = self._album_context(album_id)
        self.require(space, "upload", page.section)

    def get(self, album_id):
        """Photos of an album, newest first."""
        album, _app, page, space = self._album_context(album_id)
        self.require_page(page)
        moderator = self._is_moderator(space, page.section)
        query = select(m.Photo).where(m.Photo.album_id == album.id)
        if not moderator:
            query = query.where(m.Photo.hidden.is_(False))
        rows, cursor = self.keyset(query, m.Photo.id)
        self.write_json({"items": [self.photo_json(p, moderator) for p in rows], "next": cursor})

    async def post(self, album_id):
        """Upload a photo (`?filename=`, `?caption=`): re-encoded, location data removed."""
        self.raise_refusal()
        album, _app, page, space = self._album_context(album_id)
        self.require(space, "upload", page.section)
        caption = self.get_argument("caption", "").strip()
        if len(caption) > CAPTION_MAX:
            raise APIError(400, f"'caption' is too long (at most {CAPTION_MAX} characters).")
        filename = self.upload_filename()
        data = self.upload_bytes
        self.db.rollback()
        stored = await self.store("store_image", data, filename)
        keys = [stored.key, stored.thumb_key]
        try:
            photo = m.Photo(
                album_id=album.id,
                caption=caption,
                filename=stored.filename,
                content_type=stored.content_type,
                size=stored.size,
                width=stored.width,
                height=stored.height,
                blob_key=stored.key,
                thumb_key=stored.thumb_key,
                author_id=self.me.id,
            )
            self.db.add(photo)
            self.db.flush()
            self.record(
                space,
                "photo.upload",
                page.section,
                page=page,
                obj=photo,
                summary=caption or stored.filename,
            )
        except BaseException:
            self.db.rollback()
            self.delete_blobs(keys)
            raise
        self.commit_or_forget(keys, f"space:{space.id}")
        self.write_json(self.photo_json(photo, self._is_moderator(space, page.section)), 201)


class PhotoHandler(FilesHandler):
    def get(self, photo_id):
        """A photo's metadata: caption, size in pixels, image and thumbnail addresses."""
        photo, _album, page, space = self._photo_readable(photo_id)
        self.write_json(self.photo_json(photo, self._is_moderator(space, page.section)))

    def patch(self, photo_id):
        """Change a photo's caption (uploader or moderator)."""
        photo, _album, page, space = self._photo_context(photo_id)
        self.require_edit(space, page.section, photo.author_id)
        self._visible(photo, space, page.section)
        photo.caption = self.field(
            self.json_body(), "caption", max_len=CAPTION_MAX, allow_empty=True
        )
        self.record(
            space,
            "photo.update",
            page.section,
            page=page,
            obj=photo,
            summary=photo.caption or photo.filename,
        )
        self.commit(f"space:{space.id}")
        self.write_json(self.photo_json(photo, self._is_moderator(space, page.section)))

    def delete(self, photo_id):
        """Delete a photo and its image files (uploader or moderator)."""
        photo, _album, page, space = self._photo_context(photo_id)
        self.require_edit(space, page.section, photo.author_id)
        keys = [photo.blob_key, photo.thumb_key]
        self.record(
            space, "photo.delete", page.section, page=page, summary=photo.caption or photo.filename
        )
        self.db.delete(photo)
        self.db.flush()
        self.moderated_delete(space, photo, photo.author_id)
        self.commit(f"space:{space.id}")
        self.delete_blobs(keys)
        self.no_content()


class PhotoImageHandler(FilesHandler):
    browser_link = True

    async def get(self, photo_id):
        """The photo itself (re-encoded, without EXIF or GPS data)."""
        photo, _album, _page, _space = self._photo_readable(photo_id)
        key, content_type, filename = photo.blob_key, photo.content_type, photo.filename
        self.db.rollback()
        await self.send_blob(key, content_type, content_disposition("inline", filename))


class PhotoThumbnailHandler(FilesHandler):
    browser_link = True

    async def get(self, photo_id):
        """The photo's thumbnail: a JPEG at most 320 pixels on its longer side."""
        photo, _album, _page, _space = self._photo_readable(photo_id)
        key = photo.thumb_key
        stem = photo.filename.rsplit(".", 1)[0] if "." in photo.filename else photo.filename
        self.db.rollback()
        await self.send_blob(
            key, "image/jpeg", content_disposition("inline", f"{stem or 'photo'}-thumbnail.jpg")
        )


default_handlers = [
    (r"/apps/(?P<app_id>\d+)/folders", FoldersHandler),
    (r"/folders/(?P<folder_id>\d+)", FolderHandler),
    (r"/apps/(?P<app_id>\d+)/documents", DocumentsHandler),
    (r"/documents/(?P<doc_id>\d+)", DocumentHandler),
    (r"/documents/(?P<doc_id>\d+)/download", DocumentDownloadHandler),
    (r"/apps/(?P<app_id>\d+)/albums", AlbumsHandler),
    (r"/albums/(?P<album_id>\d+)", AlbumHandler),
    (r"/albums/(?P<album_id>\d+)/photos", AlbumPhotosHandler),
    (r"/photos/(?P<photo_id>\d+)", PhotoHandler),
    (r"/photos/(?P<photo_id>\d+)/image", PhotoImageHandler),
    (r"/photos/(?P<photo_id>\d+)/thumbnail", PhotoThumbnailHandler),
]
