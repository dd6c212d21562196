"""Image gallery (F22): albums, a thumbnail grid with captions, full-size view, uploads."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..i18n import _, ngettext
from .base import TwinSpaceApp, action, built, escape, on_demand
from .uploading import all_items, author_name, limit_text, send_files, upload_limit, upload_widget

THUMB_WIDTH = "160px"


def image_format(content_type: str) -> str:
    """The `format` of an ipywidgets Image for a content type ("image/png" -> "png")."""
    return (content_type or "image/jpeg").split("/", 1)[-1]


class Gallery(TwinSpaceApp):
    """Albums -> one album's thumbnails -> one photo at full size.

    The kernel downloads the image bytes with the member's client and shows them in Image
    widgets (no address of the service is put in the page). Photos were re-encoded by the
    service on upload, so location data (EXIF GPS) never reaches anyone.
    """

    kind = "gallery"

    def __init__(self, app_id: int | None = None, **kwargs: Any) -> None:
        self.album: dict | None = None
        self.photo: dict | None = None
        self.albums: list[dict] = []
        self.photos: list[dict] = []
        self.next_cursor: int | None = None
        self.limit = 0
        # Albums
        self.album_list = widgets.VBox()
        super().__init__(app_id, **kwargs)

    # The new album form (for uploaders), one album's view and one photo's view: made
    # when first shown.
    album_title = on_demand("build_new_album_box")
    album_button = on_demand("build_new_album_box")
    new_album_box = on_demand("build_new_album_box")
    back_button = on_demand("build_album_view")
    heading = on_demand("build_album_view")
    grid = on_demand("build_album_view")
    empty = on_demand("build_album_view")
    more_button = on_demand("build_album_view")
    delete_album_button = on_demand("build_album_view")
    upload = on_demand("build_album_view")
    upload_caption = on_demand("build_album_view")
    limit_label = on_demand("build_album_view")
    upload_box = on_demand("build_album_view")
    album_button_back = on_demand("build_photo_view")
    full_image = on_demand("build_photo_view")
    photo_info = on_demand("build_photo_view")
    caption_editor = on_demand("build_photo_view")
    caption_button = on_demand("build_photo_view")
    delete_photo_button = on_demand("build_photo_view")
    photo_edit_box = on_demand("build_photo_view")

    def build_new_album_box(self) -> None:
        self.album_title = widgets.Text(placeholder=_("Album title"), description=_("New album"))
        self.album_button = widgets.Button(description=_("Create album"), icon="plus",
                                           tooltip=_("Create a new album"))
        self.album_button.on_click(self.create_album)
        self.new_album_box = widgets.HBox([self.album_title, self.album_button])

    def build_album_view(self) -> None:
        self.back_button = widgets.Button(description=_("All albums"), icon="arrow-left")
        self.back_button.on_click(self.show_albums)
        self.heading = widgets.HTML()
        self.grid = widgets.GridBox(layout=widgets.Layout(
            grid_template_columns=f"repeat(auto-fill, minmax({THUMB_WIDTH}, 1fr))",
            grid_gap="12px"))
        self.empty = widgets.HTML()
        self.more_button = widgets.Button(description=_("Show more"), icon="chevron-down")
        self.more_button.on_click(self.show_more)
        self.delete_album_button = widgets.Button(description=_("Delete album"), icon="trash",
                                                  button_style="danger")
        self.delete_album_button.on_click(self.delete_album)
        self.upload = upload_widget(accept="image/*")
        self.upload.observe(self.on_upload, names="value")
        self.upload_caption = widgets.Text(placeholder=_("Caption for the photos (optional)"),
                                           description=_("Caption"))
        self.limit_label = widgets.HTML()
        self.upload_box = widgets.VBox([
            widgets.HBox([self.upload, self.limit_label]), self.upload_caption,
        ])
        if self.limit:
            self.limit_label.value = f"<span>{escape(limit_text(self.limit))}</span>"

    def build_photo_view(self) -> None:
        self.album_button_back = widgets.Button(description=_("Back to the album"),
                                                icon="arrow-left")
        self.album_button_back.on_click(self.close_photo)
        self.full_image = widgets.Image(layout=widgets.Layout(max_width="100%"))
        self.photo_info = widgets.HTML()
        self.caption_editor = widgets.Textarea(placeholder=_("Caption"), description=_("Caption"),
                                               layout=widgets.Layout(width="100%"))
        self.caption_button = widgets.Button(description=_("Save caption"), icon="save",
                                             button_style="primary")
        self.caption_button.on_click(self.save_caption)
        self.delete_photo_button = widgets.Button(description=_("Delete photo"), icon="trash",
                                                  button_style="danger")
        self.delete_photo_button.on_click(self.delete_photo)
        self.photo_edit_box = widgets.VBox([
            self.caption_editor, widgets.HBox([self.caption_button, self.delete_photo_button]),
        ])

    def may_change(self, own: bool | None) -> bool:
        """Own items, or anything for moderators (the service checks again)."""
        return bool(own) or bool(self.may.get("moderate"))

    # --- reading ----------------------------------------------------------------------

    def refresh(self) -> None:
        if self.may.get("upload") and not self.limit:
            self.limit = upload_limit(self.client)
            if built(self, "limit_label"):
                self.limit_label.value = f"<span>{escape(limit_text(self.limit))}</span>"
        if self.photo is not None:
            self.load_photo(self.photo["id"])
        elif self.album is not None:
            self.load_album(self.album["id"])
        else:
            self.load_albums()

    def load_albums(self) -> None:
        self.albums = all_items(self.client, f"apps/{self.app_id}/albums")
        items = []
        for album in self.albums:
            count = album.get("photo_count", 0)
            label = ngettext("{title} ({n} photo)", "{title} ({n} photos)", count).format(
                title=album["title"], n=count)
            button = widgets.Button(description=label, icon="images",
                                    tooltip=_("Open the album {title}").format(
                                        title=album["title"]),
                                    layout=widgets.Layout(width="auto"))
            button.on_click(lambda b, aid=album["id"]: self.open_album(b, aid))
            items.append(button)
        if not items:
            items = [widgets.HTML(f"<p><i>{escape(_('No albums yet.'))}</i></p>")]
        self.album_list.children = items
        children = [widgets.HTML(f"<h4>{escape(_('Albums'))}</h4>"), self.album_list]
        if self.may.get("upload"):
            children.append(self.new_album_box)
        self.body.children = children

    def load_album(self, album_id: int) -> None:
        self.album = self.client.get(f"albums/{album_id}")
        page = self.client.get(f"albums/{album_id}/photos")
        self.photos, self.next_cursor = page["items"], page["next"]
        self.render_album()

    def render_album(self) -> None:
        self.heading.value = f"<h4>{escape(self.album['title'])}</h4>"
        self.grid.children = [self.thumbnail_cell(p) for p in self.photos]
        self.empty.value = "" if self.photos else (
            f"<p><i>{escape(_('No photos in this album yet.'))}</i></p>")
        children = [self.back_button, self.heading, self.grid, self.empty]
        if self.next_cursor is not None:
            children.append(self.more_button)
        if self.may.get("upload"):
            children.append(self.upload_box)
        if self.may_change(self.album.get("own")):
            children.append(self.delete_album_button)
        self.body.children = children

    def thumbnail_cell(self, photo: dict) -> widgets.VBox:
        thumb = self.client.download(f"photos/{photo['id']}/thumbnail")
        image = widgets.Image(value=thumb, format="jpeg",
                              layout=widgets.Layout(width=THUMB_WIDTH, height="auto"))
        caption = photo.get("caption") or ""
        hidden = f" <i>({escape(_('hidden'))})</i>" if photo.get("hidden") else ""
        text = widgets.HTML(f"<div style='color:#222'>{escape(caption)}{hidden}</div>")
        button = widgets.Button(description=_("View"), icon="search-plus",
                                tooltip=_("View {name} at full size").format(
                                    name=caption or photo["filename"]),
                                layout=widgets.Layout(width=THUMB_WIDTH))
        button.on_click(lambda b, pid=photo["id"]: self.open_photo(b, pid))
        cell = widgets.VBox([image, text, button])
        cell.photo_id = photo["id"]
        return cell

    def load_photo(self, photo_id: int) -> None:
        self.photo = self.client.get(f"photos/{photo_id}")
        self.full_image.value = self.client.download(f"photos/{photo_id}/image")
        self.full_image.format = image_format(self.photo["content_type"])
        photo = self.photo
        caption = photo.get("caption") or ""
        self.photo_info.value = (
            f"<p style='color:#222'>{escape(caption)}</p>"
            f"<p style='color:#444'><small>{escape(photo['filename'])} · "
            f"{escape(_('{w} × {h} pixels').format(w=photo['width'], h=photo['height']))} · "
            f"{escape(author_name(photo.get('author')))}</small></p>"
        )
        self.caption_editor.value = caption
        children = [self.album_button_back, self.full_image, self.photo_info]
        if self.may_change(photo.get("own")):
            children.append(self.photo_edit_box)
        self.body.children = children

    # --- actions ----------------------------------------------------------------------

    @action
    def show_albums(self) -> None:
        self.album = self.photo = None
        self.load_albums()

    @action
    def open_album(self, album_id: int) -> None:
        self.photo = None
        self.load_album(album_id)

    @action
    def show_more(self) -> None:
        page = self.client.get(f"albums/{self.album['id']}/photos", before=self.next_cursor)
        self.photos += page["items"]
        self.next_cursor = page["next"]
        self.render_album()

    @action
    def open_photo(self, photo_id: int) -> None:
        self.load_photo(photo_id)

    @action
    def close_photo(self) -> None:
        self.photo = None
        self.load_album(self.album["id"])

    @action
    def create_album(self) -> None:
        title = self.album_title.value.strip()
        if not title:
            self.notice(_("Give the album a title."), "error")
            return
        album = self.client.post(f"apps/{self.app_id}/albums", {"title": title})
        self.album_title.value = ""
        self.photo = None
        self.load_album(album["id"])
        self.notice(_("Album {title} created.").format(title=title), "success")

    @action
    def delete_album(self) -> None:
        self.client.delete(f"albums/{self.album['id']}")
        self.album = self.photo = None
        self.load_albums()
        self.notice(_("Album deleted, with its photos."), "success")

    @action
    def save_caption(self) -> None:
        self.photo = self.client.patch(f"photos/{self.photo['id']}",
                                       {"caption": self.caption_editor.value.strip()})
        self.load_photo(self.photo["id"])
        self.notice(_("Caption saved."), "success")

    @action
    def delete_photo(self) -> None:
        self.client.delete(f"photos/{self.photo['id']}")
        self.photo = None
        self.load_album(self.album["id"])
        self.notice(_("Photo deleted."), "success")

    def on_upload(self, change: dict) -> None:
        if not change["new"]:
            return
        if self.album is None:
            self.upload.value = ()
            return
        album_id = self.album["id"]
        caption = self.upload_caption.value.strip() or None

        def send(data: bytes, name: str) -> Any:
            return self.client.upload(f"albums/{album_id}/photos", data, name, caption=caption)

        if send_files(self, self.upload, self.limit, send):
            self.upload_caption.value = ""
            self.photo = None
            self.guard(self.load_album, album_id)  # keeps the upload's message
