"""The image gallery app driven through its widgets against the real service."""

from __future__ import annotations

import datetime as dt
import io

from PIL import Image
from utils import image_with_gps

from twinspace_kernel.apps import show
from twinspace_kernel.apps.gallery import Gallery

MIB = 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def choose(upload, *files: tuple[str, bytes], kind: str = "image/jpeg") -> None:
    """What the browser does: the widget's value becomes the chosen files (ipywidgets 8)."""
    upload.value = tuple(
        {"name": name, "type": kind, "size": len(data), "content": memoryview(data),
         "last_modified": dt.datetime.now(dt.UTC)}
        for name, data in files
    )


def photos(world, album_id: int) -> list[dict]:
    return world.as_("teacher_admin").ok("GET", f"albums/{album_id}/photos")["items"]


def new_album(world, role: str = "pupil_admin") -> tuple[int, Gallery]:
    app_id = world.new_app("gallery")
    app = Gallery(app_id, client=world.client(role))
    app.album_title.value = "Our trip"
    app.album_button.click()
    return app_id, app


def test_uploader_makes_an_album_uploads_and_edits_captions(world):
    app_id = world.new_app("gallery")
    app = show(app_id, client=world.client("pupil_admin"))
    assert isinstance(app, Gallery)
    assert app.new_album_box in app.body.children
    assert "No albums yet" in app.album_list.children[0].value
    app.album_title.value = "Our trip"
    app.album_button.click()
    assert "Album Our trip created" in app.banner.value
    assert app.upload_box in app.body.children
    assert "Largest file: 2 MB" in app.limit_label.value
    assert app.upload.accept == "image/*" and app.upload.multiple
    album_id = app.album["id"]

    app.upload_caption.value = "Our school"
    choose(app.upload, ("school.jpg", image_with_gps("JPEG", (800, 500))))
    assert "Uploaded 1 file" in app.banner.value
    [photo] = photos(world, album_id)
    assert photo["caption"] == "Our school"
    # The thumbnail shows, downloaded by the client; the location data is gone.
    [cell] = app.grid.children
    image, caption, view = cell.children
    thumb = Image.open(io.BytesIO(image.value))
    assert thumb.format == "JPEG" and max(thumb.size) <= 320
    assert not thumb.getexif().get_ifd(0x8825)
    assert "Our school" in caption.value

    view.click()
    full = Image.open(io.BytesIO(app.full_image.value))
    assert full.size == (800, 500) and not full.getexif().get_ifd(0x8825)
    assert app.full_image.format == "jpeg"
    assert app.photo_edit_box in app.body.children
    app.caption_editor.value = "Our school <b>in May</b>"
    app.caption_button.click()
    assert "Caption saved" in app.banner.value
    assert photos(world, album_id)[0]["caption"] == "Our school <b>in May</b>"
    assert "&lt;b&gt;in May&lt;/b&gt;" in app.photo_info.value  # member text is escaped

    app.album_button_back.click()
    assert len(app.grid.children) == 1
    app.back_button.click()
    assert app.album_list.children[0].description == "Our trip (1 photo)"
    app.album_list.children[0].click()
    app.grid.children[0].children[2].click()
    app.delete_photo_button.click()
    assert "Photo deleted" in app.banner.value
    assert photos(world, album_id) == []
    assert "No photos in this album yet" in app.empty.value


def test_over_limit_and_refused_type_leave_the_widget_working(world):
    _app_id, app = new_album(world, "teacher")
    album_id = app.album["id"]
    big = image_with_gps()
    big += b"\0" * (2 * MIB + 50_000 - len(big))
    choose(app.upload, ("huge.jpg", big))
    assert "huge.jpg: The file is 2.1 MB; the limit is 2 MB." in app.banner.value
    assert photos(world, album_id) == []
    assert app.upload.value == ()
    choose(app.upload, ("small.jpg", image_with_gps("JPEG", (200, 100))))
    assert "Uploaded 1 file" in app.banner.value
    assert len(photos(world, album_id)) == 1
    assert len(app.grid.children) == 1
    # Not an image: the service's 415 message.
    choose(app.upload, ("fake.jpg", PDF))
    assert "fake.jpg: The file is not a PNG, JPEG, GIF or WebP image." in app.banner.value
    choose(app.upload, ("second.jpg", image_with_gps("JPEG", (120, 90))))
    assert len(photos(world, album_id)) == 2


def test_refused_role_views_but_cannot_change(world):
    app_id, owner = new_album(world)
    choose(owner.upload, ("school.jpg", image_with_gps()))
    album_id = owner.album["id"]
    pupil = Gallery(app_id, client=world.client("pupil"))
    assert pupil.new_album_box not in pupil.body.children
    pupil.album_list.children[0].click()
    assert pupil.upload_box not in pupil.body.children
    assert pupil.delete_album_button not in pupil.body.children
    assert len(pupil.grid.children) == 1
    # Forced upload: refused by the service, the widget is emptied and still there.
    choose(pupil.upload, ("mine.jpg", image_with_gps()))
    assert "A pupil may not upload files in the activities section." in pupil.banner.value
    assert pupil.upload.value == ()
    assert len(photos(world, album_id)) == 1
    # The full-size view has no editor; forcing the caption save is refused.
    pupil.grid.children[0].children[2].click()
    assert pupil.photo_edit_box not in pupil.body.children
    pupil.caption_editor.value = "vandalism"
    pupil.caption_button.click()
    assert "You may only edit or delete your own content." in pupil.banner.value
    assert photos(world, album_id)[0]["caption"] == ""
    # Forced album creation is refused too.
    pupil.back_button.click()
    pupil.album_title.value = "Mine"
    pupil.album_button.click()
    assert "A pupil may not upload files in the activities section." in pupil.banner.value


def test_moderator_edits_and_deletes_others_photos(world):
    app_id, owner = new_album(world)
    choose(owner.upload, ("school.jpg", image_with_gps()))
    teacher = Gallery(app_id, client=world.client("teacher"))
    teacher.album_list.children[0].click()
    assert teacher.delete_album_button in teacher.body.children
    teacher.grid.children[0].children[2].click()
    assert teacher.photo_edit_box in teacher.body.children
    teacher.caption_editor.value = "Checked"
    teacher.caption_button.click()
    assert "Caption saved" in teacher.banner.value
    teacher.album_button_back.click()
    teacher.delete_album_button.click()
    assert "Album deleted" in teacher.banner.value
    assert world.as_("teacher_admin").ok("GET", f"apps/{app_id}/albums")["items"] == []
