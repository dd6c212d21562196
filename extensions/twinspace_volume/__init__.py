"""The shared-volume extension: members see their spaces' pages in JupyterLab, with role rights.

`TwinSpaceContentsManager` is the members' servers' contents manager (set by the hub's
server config): the home folder as usual, plus a virtual `TwinSpace/` folder
(`TwinSpace/<space>/<section>/<entry>`, names from `twinspace_kernel.volume`):

- listings come from the service's `GET volume` (cached a few seconds, so a role change
  shows within seconds, without a restart);
- files are read straight from the shared volume on disk ($TWINSPACE_SPACES_DIR) as the
  member, so the OS permissions set by the service apply too;
- saves, renames and deletes go to the service with the server's own token: the service
  is the only writer of the volume and checks every change against `rights.py`;
- checkpoints of TwinSpace files are kept in the member's home, never in the volume.

Every refusal is a `web.HTTPError` whose message JupyterLab shows to the member.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import nbformat
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupyter_server.services.contents.manager import AsyncContentsManager
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Float, Unicode, default

from twinspace_kernel.volume import NOTEBOOK_SUFFIX, ROOT_FOLDER

UNREACHABLE = "The TwinSpace service cannot be reached just now; try again in a moment."
NO_FOLDERS = ("Folders cannot be made in TwinSpace: save your files directly in a section "
              "folder (e.g. Pupils' Corner).")
FIXED_FOLDERS = ("The TwinSpace folders follow your spaces and sections: they cannot be "
                 "renamed, moved or deleted.")
NO_MOVING = ("Files cannot be moved into, out of or between TwinSpace folders: copy them "
             "(or download and upload) instead.")
CHECKPOINT_ID = "checkpoint"


def refuse(status: int, message: str) -> web.HTTPError:
    """An error whose message JupyterLab shows as it is."""
    return web.HTTPError(status, message.replace("%", "%%"))


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class TwinSpaceContentsManager(AsyncLargeFileManager):
    """The member's home folder, plus the virtual `TwinSpace/` folder of their spaces."""

    api_url = Unicode(
        config=True,
        help="The TwinSpace API root (…/api/v1/); default $TWINSPACE_API_URL.",
    )
    api_token = Unicode(
        config=True,
        help="The token the server calls the service with; default $JUPYTERHUB_API_TOKEN.",
    )
    spaces_dir = Unicode(
        config=True,
        help="The shared volume, read directly (as the member); default $TWINSPACE_SPACES_DIR.",
    )
    listing_seconds = Float(
        3.0,
        config=True,
        help="How long a listing from the service is reused: a role change shows after it.",
    )
    checkpoints_dir = Unicode(
        config=True,
        help="Where checkpoints of TwinSpace files are kept (default ~/.twinspace-checkpoints).",
    )

    @default("api_url")
    def _default_api_url(self):
        return os.environ.get("TWINSPACE_API_URL", "")

    @default("api_token")
    def _default_api_token(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    @default("spaces_dir")
    def _default_spaces_dir(self):
        return os.environ.get("TWINSPACE_SPACES_DIR", "")

    @default("checkpoints_dir")
    def _default_checkpoints_dir(self):
        return str(Path(self.root_dir) / ".twinspace-checkpoints")

    _listing: tuple[float, dict] | None = None

    # --- paths ----------------------------------------------------------------------------

    @staticmethod
    def parts(path: str) -> list[str] | None:
        """The parts of `path` below `TwinSpace/`, or None when it is a home path."""
        path = path.strip("/")
        head, _, rest = path.partition("/")
        if head != ROOT_FOLDER:
            return None
        return [p for p in rest.split("/") if p] if rest else []

    async def tree(self) -> dict:
        if self._listing and time.monotonic() - self._listing[0] < self.listing_seconds:
            return self._listing[1]
        body = await self.call("GET", "volume")
        self._listing = (time.monotonic(), body)
        return body

    @staticmethod
    def too_large(limit: int) -> str:
        return f"The file is over {limit / 2**20:.0f} MB, the largest TwinSpace accepts."

    async def upload_limit(self) -> int:
        if getattr(self, "_upload_limit", None) is None:
            self._upload_limit = int((await self.call("GET", "limits"))["upload_limit"])
        return self._upload_limit

    def forget_listing(self) -> None:
        self._listing = None

    async def call(self, method: str, path: str, body: bytes | None = None, *,
                   raw: bool = False):
        """Call the service as this server's member; its refusals become HTTPErrors.

        Returns the JSON answer, or the body's bytes with `raw`.
        """
        if not self.api_url:
            raise refuse(503, "TwinSpace is not set up in this server ($TWINSPACE_API_URL).")
        request = HTTPRequest(
            self.api_url + path, method=method, body=body,
            headers={"Authorization": f"token {self.api_token}",
                     "Content-Type": "application/octet-stream"},
            request_timeout=60, allow_nonstandard_methods=True,
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, HTTPClientError):
            raise refuse(503, UNREACHABLE) from None
        if response.code == 599:
            raise refuse(503, UNREACHABLE)
        if raw and response.code < 400:
            return response.body
        try:
            answer = json.loads(response.body) if response.body else {}
        except ValueError:
            answer = {}
        if response.code >= 400:
            message = answer.get("message") or f"TwinSpace said no ({response.code})."
            raise refuse(response.code, message)
        return answer

    async def locate(self, parts: list[str]):
        """(space, section, entry) named by `parts` (the missing ones None); 404 if absent."""
        space = section = entry = None
        if len(parts) > 3:
            raise refuse(404, f"No such file or folder: {ROOT_FOLDER}/{'/'.join(parts)}")
        tree = await self.tree()
        if parts:
            space = next((s for s in tree["spaces"] if s["folder"] == parts[0]), None)
            if space is None:
                raise refuse(404, f"You have no space called {parts[0]!r}.")
        if len(parts) > 1:
            section = next((s for s in space["sections"] if s["folder"] == parts[1]), None)
            if section is None:
                raise refuse(404, f"There is no section {parts[1]!r} in {parts[0]} for you.")
        if len(parts) > 2:
            entry = next((e for e in section["entries"] if e["name"] == parts[2]), None)
            if entry is None:
                raise refuse(404, f"There is no {parts[2]!r} in {parts[0]} / {parts[1]}.")
        return space, section, entry

    def disk_path(self, space: dict, entry: dict) -> Path:
        """Where an entry's bytes are; never outside the space's folder on disk."""
        if not self.spaces_dir:
            raise refuse(503, "TwinSpace is not set up in this server ($TWINSPACE_SPACES_DIR).")
        base = os.path.realpath(os.path.join(self.spaces_dir, space["slug"]))
        path = os.path.realpath(os.path.join(base, entry["path"]))
        if not path.startswith(base + os.sep):
            raise refuse(403, "This file is not inside its space's folder.")
        return Path(path)

    # --- reading --------------------------------------------------------------------------

    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        parts = self.parts(path)
        if parts is None:
            model = await super().get(path, content=content, type=type, format=format,
                                      require_hash=require_hash)
            if model["type"] == "directory" and not path.strip("/") and content:
                # The virtual folder takes the place of any real one called the same.
                model["content"] = [m for m in model["content"] if m["name"] != ROOT_FOLDER]
                model["content"].append(self.folder_model(ROOT_FOLDER, None))
            return model
        space, section, entry = await self.locate(parts)
        if entry is None:
            if type not in (None, "directory"):
                raise refuse(400, f"{path} is a folder, not a {type}.")
            return self.folder_listing(parts, space, section, content)
        if type == "directory":
            raise refuse(400, f"{path} is not a folder.")
        data = await self.read_entry(space, section, entry) if content or require_hash else None
        return self.entry_model(path.strip("/"), space, entry, data=data, content=content,
                                type=type, format=format, require_hash=require_hash)

    def folder_model(self, path: str, when, content=None) -> dict:
        when = when or datetime.now(UTC)
        return {"name": path.rsplit("/", 1)[-1], "path": path, "type": "directory",
                "writable": False, "created": when, "last_modified": when,
                "content": content, "format": "json" if content is not None else None,
                "mimetype": None, "size": None, "hash": None, "hash_algorithm": None}

    def folder_listing(self, parts, space, section, content) -> dict:
        path = "/".join([ROOT_FOLDER, *parts])
        if not content:
            return self.folder_model(path, None)
        if space is None:
            children = [self.folder_model(f"{path}/{s['folder']}", None)
                        for s in (self._listing[1]["spaces"] if self._listing else [])]
        elif section is None:
            children = [self.folder_model(f"{path}/{s['folder']}", None)
                        for s in space["sections"]]
        else:
            children = []
            for entry in section["entries"]:
                try:
                    children.append(self.entry_model(f"{path}/{entry['name']}", space, entry,
                                                     content=False))
                except web.HTTPError as e:
                    # Deleted since the service listed it: it is gone, so not shown. Any
                    # other trouble shows when the member opens it.
                    if e.status_code != 404:
                        children.append(self.listed_model(f"{path}/{entry['name']}", entry))
        return self.folder_model(path, None, children)

    @staticmethod
    def listed_model(path: str, entry: dict) -> dict:
        """An entry as the service describes it (when the file itself cannot be looked at)."""
        when = datetime.fromisoformat(entry["updated_at"]) if entry.get("updated_at") else None
        when = when or datetime.now(UTC)
        is_notebook = entry["name"].endswith(NOTEBOOK_SUFFIX)
        return {"name": entry["name"], "path": path,
                "type": "notebook" if is_notebook else "file",
                "writable": bool(entry["writable"]), "created": when, "last_modified": when,
                "content": None, "format": None, "mimetype": None, "size": entry.get("size"),
                "hash": None, "hash_algorithm": None}

    async def read_entry(self, space: dict, section: dict, entry: dict) -> bytes:
        """An entry's bytes: from disk as the member, else through the service.

        The service answers when this server's Unix groups are older than the member's
        new role (they are set when the server starts); it checks the rights itself.
        """
        try:
            return self.disk_path(space, entry).read_bytes()
        except PermissionError:
            return await self.call("GET", self.service_path(space, section, entry["name"]),
                                   raw=True)
        except FileNotFoundError:
            raise refuse(404, f"{entry['name']} is not in the shared folder any more.") from None

    def entry_model(self, path, space, entry, *, data: bytes | None = None, content=True,
                    type=None, format=None, require_hash=False) -> dict:
        """A contents model of an entry; `data`: its bytes, read already when wanted."""
        is_notebook = entry["name"].endswith(NOTEBOOK_SUFFIX) and type != "file"
        disk = self.disk_path(space, entry)
        try:
            info = disk.stat()
        except PermissionError:  # groups older than the role: as the service describes it
            model = self.listed_model(path, entry)
        except FileNotFoundError:
            raise refuse(404, f"{entry['name']} is not in the shared folder any more.") from None
        else:
            model = {
                "name": entry["name"], "path": path,
                "type": "notebook" if is_notebook else "file",
                "writable": bool(entry["writable"]),
                "created": _utc(info.st_ctime), "last_modified": _utc(info.st_mtime),
                "content": None, "format": None, "mimetype": None,
                "size": info.st_size, "hash": None, "hash_algorithm": None,
            }
        model["type"] = "notebook" if is_notebook else "file"
        if not is_notebook:
            model["mimetype"] = mimetypes.guess_type(entry["name"])[0] or "text/plain"
        if data is None:
            return model
        if require_hash:
            model["hash"], model["hash_algorithm"] = hashlib.sha256(data).hexdigest(), "sha256"
        if not content:
            return model
        if is_notebook:
            try:
                nb = nbformat.reads(data.decode("utf-8"), as_version=4)
            except Exception as e:  # not a notebook after all: say which
                raise refuse(400, f"{entry['name']} is not a notebook Jupyter can read: "
                                  f"{str(e)[:200]}") from None
            self.mark_trusted_cells(nb, path)
            model.update(content=nb, format="json")
            self.validate_notebook_model(model)
            return model
        if format != "base64":
            try:
                model.update(content=data.decode("utf-8"), format="text")
                return model
            except UnicodeDecodeError:
                if format == "text":
                    raise refuse(400, f"{entry['name']} is not UTF-8 text.") from None
        model.update(content=base64.b64encode(data).decode("ascii"), format="base64",
                     mimetype=mimetypes.guess_type(entry["name"])[0]
                     or "application/octet-stream")
        return model

    async def dir_exists(self, path):
        parts = self.parts(path)
        if parts is None:
            return await super().dir_exists(path)
        try:
            _space, _section, entry = await self.locate(parts)
        except web.HTTPError as e:
            if e.status_code == 404:
                return False
            raise
        return entry is None

    async def file_exists(self, path):
        parts = self.parts(path)
        if parts is None:
            return await super().file_exists(path)
        if len(parts) != 3:
            return False
        try:
            await self.locate(parts)
        except web.HTTPError as e:
            if e.status_code == 404:
                return False
            raise
        return True

    def exists(self, path):
        # Synchronous for home paths, as the file manager's own get() calls it; a coroutine
        # for TwinSpace paths (every other caller awaits it through ensure_async).
        if self.parts(path) is None:
            return super().exists(path)
        return self._exists_in_volume(path)

    async def _exists_in_volume(self, path):
        return await self.dir_exists(path) or await self.file_exists(path)

    async def is_hidden(self, path):
        if self.parts(path) is None:
            return await super().is_hidden(path)
        return False

    # --- writing: through the service ---------------------------------------------------

    async def save(self, model, path=""):
        parts = self.parts(path)
        if parts is None:
            return await super().save(model, path)
        if model.get("type") == "directory" or len(parts) < 3:
            if len(parts) < 3 and model.get("type") == "directory":
                await self.locate(parts)  # it exists: nothing to make
                return await self.get(path, content=False)
            raise refuse(403, NO_FOLDERS)
        if len(parts) > 3:
            raise refuse(403, NO_FOLDERS)
        data = self.model_bytes(model)
        chunk = model.get("chunk")
        if chunk is not None:  # a large upload arrives in pieces: send it once whole
            pieces = self.__dict__.setdefault("_chunks", {})
            if chunk == 1:
                pieces[path] = bytearray()
            elif pieces.get(path, b"") is None:  # already refused: the rest is dropped too
                if chunk == -1:
                    del pieces[path]
                raise refuse(413, self.too_large(await self.upload_limit()))
            pieces.setdefault(path, bytearray()).extend(data)
            limit = await self.upload_limit()
            if len(pieces[path]) > limit:
                pieces[path] = None  # nothing of it is kept; the service says the same
                if chunk == -1:
                    del pieces[path]
                raise refuse(413, self.too_large(limit))
            if chunk != -1:
                return {"name": parts[2], "path": path.strip("/"), "type": "file",
                        "writable": True, "created": datetime.now(UTC),
                        "last_modified": datetime.now(UTC), "content": None, "format": None,
                        "mimetype": None, "size": len(pieces[path]), "hash": None,
                        "hash_algorithm": None}
            data = bytes(pieces.pop(path))
        space, section, _entry = await self.locate(parts[:2])
        await self.call("PUT", self.service_path(space, section, parts[2]), data)
        self.forget_listing()
        saved = await self.get(path, content=False)
        self.emit(data={"action": "save", "path": path.strip("/")})
        return saved

    @staticmethod
    def model_bytes(model: dict) -> bytes:
        if "content" not in model:
            raise refuse(400, "No file content provided.")
        content = model["content"]
        if model.get("type") == "notebook":
            nb = nbformat.from_dict(content)
            return nbformat.writes(nb, version=nbformat.NO_CONVERT).encode("utf-8")
        if model.get("format") == "base64":
            try:
                return base64.b64decode(content or "")
            except ValueError:
                raise refuse(400, "The file's content is not valid base64.") from None
        return (content or "").encode("utf-8")

    @staticmethod
    def service_path(space: dict, section: dict, name: str) -> str:
        return f"volume/{quote(space['slug'], safe='')}/{section['section']}/{quote(name, safe='')}"

    async def delete_file(self, path):
        parts = self.parts(path)
        if parts is None:
            return await super().delete_file(path)
        if len(parts) < 3:
            raise refuse(403, FIXED_FOLDERS)
        space, section, entry = await self.locate(parts)
        await self.call("DELETE", self.service_path(space, section, entry["name"]))
        self.forget_listing()
        self._drop_checkpoint(path)

    async def rename_file(self, old_path, new_path):
        old, new = self.parts(old_path), self.parts(new_path)
        if old is None and new is None:
            return await super().rename_file(old_path, new_path)
        if old is None or new is None or len(old) < 3 or len(new) != 3 or old[:2] != new[:2]:
            raise refuse(403, FIXED_FOLDERS if old and len(old) < 3 else NO_MOVING)
        space, section, entry = await self.locate(old)
        body = json.dumps({"name": new[2]}).encode()
        await self.call("PATCH", self.service_path(space, section, entry["name"]), body)
        self.forget_listing()
        self._drop_checkpoint(old_path)

    async def delete(self, path):
        if self.parts(path) is None:
            return await super().delete(path)
        await self.delete_file(path)  # its checkpoint (in the home) goes with it
        self.emit(data={"action": "delete", "path": path.strip("/")})

    async def rename(self, old_path, new_path):
        if self.parts(old_path) is None and self.parts(new_path) is None:
            return await super().rename(old_path, new_path)
        await self.rename_file(old_path, new_path)
        self.emit(data={"action": "rename", "path": new_path, "source_path": old_path})

    async def copy(self, from_path, to_path=None):
        if self.parts(from_path) is None and (to_path is None or self.parts(to_path) is None):
            return await super().copy(from_path, to_path)
        # Into or out of TwinSpace: read the model and save it, each side its own way.
        return await AsyncContentsManager.copy(self, from_path, to_path)

    async def get_kernel_path(self, path, model=None):
        if self.parts(path) is not None:
            return ""  # kernels of TwinSpace notebooks start in the member's home
        return await super().get_kernel_path(path, model)

    # --- checkpoints: in the member's home -------------------------------------------------

    def _checkpoint_file(self, path: str) -> Path:
        digest = hashlib.sha256(path.strip("/").encode()).hexdigest()[:32]
        return Path(self.checkpoints_dir) / digest

    def _checkpoint_model(self, file: Path) -> dict:
        return {"id": CHECKPOINT_ID, "last_modified": _utc(file.stat().st_mtime)}

    def _drop_checkpoint(self, path: str) -> None:
        self._checkpoint_file(path).unlink(missing_ok=True)

    async def create_checkpoint(self, path):
        if self.parts(path) is None:
            return await super().create_checkpoint(path)
        space, section, entry = await self.locate(self.parts(path))
        data = await self.read_entry(space, section, entry)
        file = self._checkpoint_file(path)
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        file.write_bytes(data)
        return self._checkpoint_model(file)

    async def list_checkpoints(self, path):
        if self.parts(path) is None:
            return await super().list_checkpoints(path)
        file = self._checkpoint_file(path)
        return [self._checkpoint_model(file)] if file.exists() else []

    async def restore_checkpoint(self, checkpoint_id, path):
        if self.parts(path) is None:
            return await super().restore_checkpoint(checkpoint_id, path)
        file = self._checkpoint_file(path)
        if checkpoint_id != CHECKPOINT_ID or not file.exists():
            raise refuse(404, f"No checkpoint {checkpoint_id} for {path}.")
        parts = self.parts(path)
        space, section, _entry = await self.locate(parts[:2])
        await self.call("PUT", self.service_path(space, section, parts[2]), file.read_bytes())
        self.forget_listing()

    async def delete_checkpoint(self, checkpoint_id, path):
        if self.parts(path) is None:
            return await super().delete_checkpoint(checkpoint_id, path)
        self._drop_checkpoint(path)
