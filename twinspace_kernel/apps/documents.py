"""Document library (F21): folders, files with download links, uploads with a visible limit."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..i18n import _
from .base import TwinSpaceApp, action, built, escape, on_demand
from .uploading import (
    all_items,
    author_name,
    browser_url,
    human_size,
    limit_text,
    send_files,
    short_date,
    upload_limit,
    upload_widget,
)

TYPE_NAMES = {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
    "application/vnd.oasis.opendocument.text": "OpenDocument Text",
    "application/vnd.oasis.opendocument.spreadsheet": "OpenDocument Spreadsheet",
    "application/vnd.oasis.opendocument.presentation": "OpenDocument Presentation",
    "application/zip": "ZIP",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "audio/mpeg": "MP3",
    "audio/ogg": "OGG",
    "audio/wav": "WAV",
    "audio/mp4": "M4A",
    "video/mp4": "MP4",
}
COLUMNS = "minmax(10em, 3fr) 6em minmax(6em, 1fr) minmax(8em, 2fr) 9em minmax(9em, 1.5fr) 6em"
TOP = "top"  # the Move dropdown's value for the top level (None means "don't move")


def type_name(content_type: str) -> str:
    if content_type == "text/plain":
        return _("Text")
    return TYPE_NAMES.get(content_type, content_type)


class Documents(TwinSpaceApp):
    """Folders with breadcrumbs, a list of documents, and (upload right) uploads and folders.

    Download links point at the service through the hub's proxy, as a path without a host
    (see `uploading.browser_url`): the member's browser fetches the file itself with its
    hub login cookie, so no token ever reaches the page and big files never cross the kernel.
    """

    kind = "documents"

    def __init__(self, app_id: int | None = None, **kwargs: Any) -> None:
        self.folder: dict | None = None  # None: the top level
        self.subfolders: list[dict] = []
        self.documents: list[dict] = []
        self.next_cursor: int | None = None
        self.limit = 0
        self.breadcrumbs = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.folder_list = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.table = widgets.GridBox(
            layout=widgets.Layout(grid_template_columns=COLUMNS, grid_gap="4px 8px",
                                  align_items="center")
        )
        self.empty = widgets.HTML()
        super().__init__(app_id, **kwargs)

    # "Show more" (a long folder) and the uploads and new folder form (for uploaders):
    # made when first shown.
    more_button = on_demand("build_more_button")
    folder_name = on_demand("build_upload_box")
    folder_button = on_demand("build_upload_box")
    upload = on_demand("build_upload_box")
    limit_label = on_demand("build_upload_box")
    upload_box = on_demand("build_upload_box")

    def build_more_button(self) -> None:
        self.more_button = widgets.Button(description=_("Show more"), icon="chevron-down")
        self.more_button.on_click(self.show_more)

    def build_upload_box(self) -> None:
        self.folder_name = widgets.Text(placeholder=_("Folder name"),
                                        description=_("New folder"))
        self.folder_button = widgets.Button(description=_("Create folder"), icon="folder",
                                            tooltip=_("Create a folder here"))
        self.folder_button.on_click(self.create_folder)
        self.upload = upload_widget()
        self.upload.observe(self.on_upload, names="value")
        self.limit_label = widgets.HTML()
        self.upload_box = widgets.VBox([
            widgets.HBox([self.upload, self.limit_label]),
            widgets.HBox([self.folder_name, self.folder_button]),
        ])
        if self.limit:
            self.limit_label.value = f"<span>{escape(limit_text(self.limit))}</span>"

    # --- reading ----------------------------------------------------------------------

    @property
    def folder_id(self) -> int | None:
        return self.folder["id"] if self.folder else None

    def refresh(self) -> None:
        if self.may.get("upload") and not self.limit:
            self.limit = upload_limit(self.client)
            if built(self, "limit_label"):
                self.limit_label.value = f"<span>{escape(limit_text(self.limit))}</span>"
        if self.folder_id is not None:
            self.folder = self.client.get(f"folders/{self.folder_id}")
        self.subfolders = sorted(
            all_items(self.client, f"apps/{self.app_id}/folders", parent=self.folder_id),
            key=lambda f: f["name"].lower())
        page = self.client.get(f"apps/{self.app_id}/documents", folder=self.folder_id)
        self.documents, self.next_cursor = page["items"], page["next"]
        self.render()

    def render(self) -> None:
        self.render_breadcrumbs()
        self.render_folders()
        self.render_documents()
        children = [self.breadcrumbs, self.folder_list, self.table, self.empty]
        if self.next_cursor is not None:
            children.append(self.more_button)
        if self.may.get("upload"):
            children.append(self.upload_box)
        self.body.children = children

    def render_breadcrumbs(self) -> None:
        trail = [{"id": None, "name": _("Documents")}]
        if self.folder:
            trail += self.folder.get("path", []) + [
                {"id": self.folder["id"], "name": self.folder["name"]}
            ]
        items: list[widgets.Widget] = []
        for i, crumb in enumerate(trail):
            if i:
                items.append(widgets.HTML("<span aria-hidden='true'>&nbsp;›&nbsp;</span>"))
            if i == len(trail) - 1:
                items.append(widgets.HTML(f"<b aria-current='page'>{escape(crumb['name'])}</b>"))
            else:
                button = widgets.Button(description=crumb["name"], icon="folder-open",
                                        tooltip=_("Open {name}").format(name=crumb["name"]))
                button.on_click(lambda b, fid=crumb["id"]: self.open_folder(b, fid))
                items.append(button)
        self.breadcrumbs.children = items

    def render_folders(self) -> None:
        items = []
        for folder in self.subfolders:
            button = widgets.Button(description=folder["name"], icon="folder",
                                    tooltip=_("Open {name}").format(name=folder["name"]))
            button.on_click(lambda b, fid=folder["id"]: self.open_folder(b, fid))
            row = [button]
            if self.may_change(folder.get("own")):
                delete = widgets.Button(icon="trash", tooltip=_("Delete folder {name}").format(
                    name=folder["name"]), layout=widgets.Layout(width="3em"))
                delete.description = ""
                delete.on_click(lambda b, fid=folder["id"]: self.delete_folder(b, fid))
                row.append(delete)
            items.append(widgets.HBox(row))
        self.folder_list.children = items

    def render_documents(self) -> None:
        cells: list[widgets.Widget] = []
        if self.documents:
            # The headers are made only for a table that is shown.
            headers = [_("Name"), _("Size"), _("Type"), _("Author"), _("Date"), "", ""]
            cells = [widgets.HTML(f"<b>{escape(h)}</b>") for h in headers]
        for doc in self.documents:
            cells += self.document_row(doc)
        self.table.children = cells
        self.empty.value = "" if self.documents else (
            f"<p><i>{escape(_('No documents in this folder yet.'))}</i></p>"
        )

    def document_row(self, doc: dict) -> list[widgets.Widget]:
        url = browser_url(self.client, f"documents/{doc['id']}/download")
        hidden = f" ({escape(_('hidden'))})" if doc.get("hidden") else ""
        link = widgets.HTML(
            f'<a href="{escape(url)}" download="{escape(doc["filename"])}" '
            f'title="{escape(_("Download"))}">{escape(doc["filename"])}</a>{hidden}'
        )
        row: list[widgets.Widget] = [
            link,
            widgets.HTML(escape(human_size(doc["size"]))),
            widgets.HTML(escape(type_name(doc["content_type"]))),
            widgets.HTML(escape(author_name(doc.get("author")))),
            widgets.HTML(escape(short_date(doc.get("created_at")))),
        ]
        if self.may_change(doc.get("own")):
            move = widgets.Dropdown(options=self.move_targets(), value=None,
                                    description="", layout=widgets.Layout(width="auto"))
            move.observe(lambda change, did=doc["id"]: self.on_move(change, did), names="value")
            delete = widgets.Button(description=_("Delete"), icon="trash",
                                    button_style="danger",
                                    tooltip=_("Delete {name}").format(name=doc["filename"]))
            delete.on_click(lambda b, did=doc["id"]: self.delete_document(b, did))
            row += [move, delete]
        else:
            # Nothing in the last two columns: one empty cell across both.
            row.append(widgets.HTML(layout=widgets.Layout(grid_column="span 2")))
        return row

    def may_change(self, own: bool | None) -> bool:
        """Own items, or anything for moderators (the service checks again)."""
        return bool(own) or bool(self.may.get("moderate"))

    def move_targets(self) -> list[tuple[str, Any]]:
        """Where a document here can go: the top level, the folders above, the ones below."""
        targets: list[tuple[str, Any]] = [(_("Move to…"), None)]
        if self.folder is not None:
            targets.append((_("Top level"), TOP))
            for crumb in self.folder.get("path", []):
                targets.append((crumb["name"], crumb["id"]))
        for folder in self.subfolders:
            targets.append((folder["name"], folder["id"]))
        return targets

    # --- actions ----------------------------------------------------------------------

    @action
    def open_folder(self, folder_id: int | None) -> None:
        self.folder = None if folder_id is None else {"id": folder_id}
        self.refresh()

    @action
    def show_more(self) -> None:
        page = self.client.get(f"apps/{self.app_id}/documents", folder=self.folder_id,
                               before=self.next_cursor)
        self.documents += page["items"]
        self.next_cursor = page["next"]
        self.render()

    @action
    def create_folder(self) -> None:
        name = self.folder_name.value.strip()
        if not name:
            self.notice(_("Give the folder a name."), "error")
            return
        body: dict[str, Any] = {"name": name}
        if self.folder_id is not None:
            body["parent_id"] = self.folder_id
        self.client.post(f"apps/{self.app_id}/folders", body)
        self.folder_name.value = ""
        self.refresh()
        self.notice(_("Folder {name} created.").format(name=name), "success")

    @action
    def delete_folder(self, folder_id: int) -> None:
        self.client.delete(f"folders/{folder_id}")
        self.refresh()
        self.notice(_("Folder deleted, with everything in it."), "success")

    @action
    def delete_document(self, doc_id: int) -> None:
        self.client.delete(f"documents/{doc_id}")
        self.refresh()
        self.notice(_("Document deleted."), "success")

    def on_move(self, change: dict, doc_id: int) -> None:
        target = change["new"]
        if target is None:
            return
        self.move_document(None, doc_id, None if target == TOP else target)

    @action
    def move_document(self, doc_id: int, folder_id: int | None) -> None:
        self.client.patch(f"documents/{doc_id}", {"folder_id": folder_id})
        self.refresh()
        self.notice(_("Document moved."), "success")

    def on_upload(self, change: dict) -> None:
        if not change["new"]:
            return
        folder_id = self.folder_id

        def send(data: bytes, name: str) -> Any:
            return self.client.upload(f"apps/{self.app_id}/documents", data, name,
                                      folder=folder_id)

        if send_files(self, self.upload, self.limit, send):
            self.guard(self.refresh)  # keeps the upload's message
