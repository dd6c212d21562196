"""The document library (F21) and image gallery (F22) through the real hub and service.

Every endpoint is called by every role (the five member roles, an outsider with an account
and the anonymous public) against an explicit table of expected statuses. The files are
real: a PDF, JPEG and PNG photos carrying GPS EXIF built with Pillow, an HTML page, an ELF
binary and an oversize file one byte over the test hub's 2 MB limit.
"""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

import pytest
import requests
import sqlalchemy as sa
from PIL import Image
from utils import ROLES, image_with_gps

# Activities section, page not published, space not public.
VIEW = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
        "visitor": 200, "outsider": 403, "public": 401}  # fmt: skip
UPLOAD = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 403,
          "visitor": 403, "outsider": 403, "public": 401}  # fmt: skip
# Editing / deleting what the teacher administrator made: moderators only.
EDIT_OTHERS = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 403, "pupil": 403,
               "visitor": 403, "outsider": 403, "public": 401}  # fmt: skip
DELETE_OTHERS = {"teacher_admin": 204, "teacher": 204, "pupil_admin": 403, "pupil": 403,
                 "visitor": 403, "outsider": 403, "public": 401}  # fmt: skip
# A published page of a public space: anyone reads, only members with the right upload.
PUBLISHED_VIEW = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
                  "visitor": 200, "outsider": 200, "public": 200}  # fmt: skip
PUBLISHED_UPLOAD = UPLOAD

MIB = 1024 * 1024
LIMIT = 2 * MIB  # the test hub's upload limit

PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]/Contents 4 0 R"
    b"/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
    b"4 0 obj<</Length 44>>stream\nBT /F1 18 Tf 20 100 Td (Bonjour!) Tj ET\nendstream endobj\n"
    b"5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n"
    b"trailer<</Root 1 0 R/Size 6>>\n%%EOF\n"
)
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def blobs(site) -> set[str]:
    root = site.hub.data_dir / "files"
    return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def sql(db_url: str, statement: str, **params):
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(statement), params)
            return result.all() if result.returns_rows else None
    finally:
        engine.dispose()


def upload(caller, path: str, data: bytes, filename: str, expect=201, **params):
    return caller.post(path, data=data, params={"filename": filename, **params}, expect=expect)


def disposition_name(header: str) -> str:
    match = re.search(r"filename\*=UTF-8''([^;]+)", header)
    assert match, header
    return unquote(match.group(1))


def assert_safe_file_headers(r, kind: str) -> None:
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert r.headers["Cache-Control"] == "private"
    assert r.headers["Content-Disposition"].startswith(f"{kind}; filename=\"")
    assert "text/html" not in r.headers["Content-Type"]


def check(r, expected: int) -> None:
    assert r.status_code == expected, f"{r.request.method} {r.url} -> {r.status_code}: {r.text}"
    if expected >= 400:
        assert r.json()["message"], r.text


# --------------------------------------------------------------------------- rights matrix


@pytest.mark.parametrize("role", ROLES)
def test_document_library_rights(world, site, role):
    ta, me = world.as_("teacher_admin"), world.as_(role)
    app = world.new_app("documents")
    folder = ta.ok("POST", f"apps/{app}/folders", json={"name": "Reports"})["id"]
    doc = upload(ta, f"apps/{app}/documents", PDF, "plan.pdf", folder=folder).json()["id"]
    other = upload(ta, f"apps/{app}/documents", PDF, "other.pdf").json()["id"]

    check(me.get(f"apps/{app}/folders"), VIEW[role])
    check(me.get(f"apps/{app}/folders", params={"parent": folder}), VIEW[role])
    check(me.get(f"folders/{folder}"), VIEW[role])
    check(me.get(f"apps/{app}/documents"), VIEW[role])
    check(me.get(f"apps/{app}/documents", params={"folder": folder}), VIEW[role])
    check(me.get(f"documents/{doc}"), VIEW[role])
    r = me.get(f"documents/{doc}/download")
    check(r, VIEW[role])
    if r.status_code == 200:
        assert r.content == PDF

    check(me.post(f"apps/{app}/folders", json={"name": f"Mine {role}"}), UPLOAD[role])
    r = me.post(f"apps/{app}/documents", data=PDF, params={"filename": "mine.pdf"})
    check(r, UPLOAD[role])
    mine = r.json()["id"] if r.status_code == 201 else None

    check(me.patch(f"documents/{doc}", json={"filename": "renamed.pdf"}), EDIT_OTHERS[role])
    check(me.patch(f"folders/{folder}", json={"name": "Renamed"}), EDIT_OTHERS[role])
    check(me.delete(f"documents/{other}"), DELETE_OTHERS[role])
    before = blobs(site)
    check(me.delete(f"folders/{folder}"), DELETE_OTHERS[role])
    if DELETE_OTHERS[role] == 204:
        # The folder's document went with it, bytes included.
        ta.get(f"documents/{doc}", expect=404)
        assert len(before - blobs(site)) == 1
    else:
        ta.get(f"documents/{doc}", expect=200)

    if mine is not None:  # uploaders edit and delete their own files
        me.ok("PATCH", f"documents/{mine}", json={"filename": "mine-v2.pdf"})
        me.delete(f"documents/{mine}", expect=204)


@pytest.mark.parametrize("role", ROLES)
def test_gallery_rights(world, role):
    ta, me = world.as_("teacher_admin"), world.as_(role)
    app = world.new_app("gallery")
    album = ta.ok("POST", f"apps/{app}/albums", json={"title": "Trip"})["id"]
    photo = upload(ta, f"albums/{album}/photos", image_with_gps(), "a.jpg", caption="Hi").json()
    other = upload(ta, f"albums/{album}/photos", image_with_gps(), "b.jpg").json()["id"]

    check(me.get(f"apps/{app}/albums"), VIEW[role])
    check(me.get(f"albums/{album}"), VIEW[role])
    check(me.get(f"albums/{album}/photos"), VIEW[role])
    check(me.get(f"photos/{photo['id']}"), VIEW[role])
    check(me.get(f"photos/{photo['id']}/image"), VIEW[role])
    check(me.get(f"photos/{photo['id']}/thumbnail"), VIEW[role])

    r = me.post(f"apps/{app}/albums", json={"title": f"By {role}"})
    check(r, UPLOAD[role])
    own_album = r.json()["id"] if r.status_code == 201 else None
    r = me.post(
        f"albums/{album}/photos", data=image_with_gps(size=(40, 30)), params={"filename": "m.jpg"}
    )
    check(r, UPLOAD[role])
    own_photo = r.json()["id"] if r.status_code == 201 else None

    check(me.patch(f"photos/{photo['id']}", json={"caption": "Changed"}), EDIT_OTHERS[role])
    check(me.patch(f"albums/{album}", json={"title": "Renamed"}), EDIT_OTHERS[role])
    check(me.delete(f"photos/{other}"), DELETE_OTHERS[role])
    check(me.delete(f"albums/{album}"), DELETE_OTHERS[role])

    if own_album is not None:
        me.ok("PATCH", f"albums/{own_album}", json={"title": "Mine"})
        me.delete(f"albums/{own_album}", expect=204)
    if own_photo is not None and DELETE_OTHERS[role] != 204:  # (album still there)
        me.ok("PATCH", f"photos/{own_photo}", json={"caption": "my own"})
        me.delete(f"photos/{own_photo}", expect=204)


@pytest.mark.parametrize("role", ROLES)
def test_published_page_is_public(world, role):
    ta, me = world.as_("teacher_admin"), world.as_(role)
    page = world.add_page("activities", "Open page")
    docs_app = world.add_app(page, "documents")
    gallery = world.add_app(page, "gallery")
    ta.ok("PATCH", f"spaces/{world.slug}", json={"public": True})
    ta.ok("PATCH", f"pages/{page}", json={"published": True})
    doc = upload(ta, f"apps/{docs_app}/documents", PDF, "public.pdf").json()["id"]
    album = ta.ok("POST", f"apps/{gallery}/albums", json={"title": "Open"})["id"]
    photo = upload(ta, f"albums/{album}/photos", image_with_gps(), "p.jpg").json()["id"]

    for path in (
        f"apps/{docs_app}/folders",
        f"apps/{docs_app}/documents",
        f"documents/{doc}",
        f"documents/{doc}/download",
        f"apps/{gallery}/albums",
        f"albums/{album}",
        f"albums/{album}/photos",
        f"photos/{photo}",
        f"photos/{photo}/image",
        f"photos/{photo}/thumbnail",
    ):
        check(me.get(path), PUBLISHED_VIEW[role])
    check(me.post(f"apps/{docs_app}/documents", data=PDF, params={"filename": "x.pdf"}),
          PUBLISHED_UPLOAD[role])  # fmt: skip
    check(me.post(f"apps/{docs_app}/folders", json={"name": "x"}), PUBLISHED_UPLOAD[role])
    check(me.post(f"apps/{gallery}/albums", json={"title": "x"}), PUBLISHED_UPLOAD[role])
    check(me.delete(f"documents/{doc}"), DELETE_OTHERS[role])


# --------------------------------------------------------------------------- real files


def test_pdf_download_headers_and_non_ascii_name(world, site, db_url):
    ta, pupil = world.as_("teacher_admin"), world.as_("pupil")
    app = world.new_app("documents")
    body = upload(ta, f"apps/{app}/documents", PDF, "résumé.pdf").json()
    assert body["filename"] == "résumé.pdf"
    assert body["content_type"] == "application/pdf"
    assert body["size"] == len(PDF)
    assert body["download_url"] == f"documents/{body['id']}/download"
    assert body["author"]["name"] == ta.name

    r = pupil.get(body["download_url"], expect=200)
    assert r.content == PDF
    assert r.headers["Content-Type"] == "application/pdf"
    assert_safe_file_headers(r, "attachment")
    header = r.headers["Content-Disposition"]
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9.pdf" in header
    assert 'filename="resume.pdf"' in header
    assert disposition_name(header) == "résumé.pdf"

    # Stored files never change: the blob key is the validator.
    again = pupil.get(body["download_url"], headers={"If-None-Match": r.headers["Etag"]})
    assert again.status_code == 304 and not again.content

    verbs = sql(
        db_url,
        "SELECT verb FROM activity_events WHERE object_type = 'documents' AND object_id = :i"
        " AND space_id = (SELECT id FROM spaces WHERE slug = :s)",
        i=body["id"],
        s=world.slug,
    )
    assert [v for (v,) in verbs] == ["document.upload"]


def test_large_document_streams_intact(world):
    ta = world.as_("teacher_admin")
    app = world.new_app("documents")
    data = PDF + bytes(range(256)) * (LIMIT // 256 - 8)  # close to the limit: many chunks
    doc = upload(ta, f"apps/{app}/documents", data, "big.pdf").json()
    assert doc["size"] == len(data)
    r = ta.get(doc["download_url"], expect=200)
    assert r.content == data
    assert r.headers["Content-Length"] == str(len(data))


def test_html_downloads_as_plain_text_attachment(world):
    ta = world.as_("teacher_admin")
    app = world.new_app("documents")
    doc = upload(ta, f"apps/{app}/documents", HTML, "page.html").json()
    assert doc["content_type"] == "text/plain"
    r = world.as_("visitor").get(doc["download_url"], expect=200)
    assert r.headers["Content-Type"] == "text/plain"
    assert_safe_file_headers(r, "attachment")
    assert disposition_name(r.headers["Content-Disposition"]) == "page.html"
    assert r.content == HTML


def test_oversize_upload_is_413_and_nothing_stored(world, site):
    ta = world.as_("teacher_admin")
    app = world.new_app("documents")
    album = ta.ok("POST", f"apps/{world.new_app('gallery')}/albums", json={"title": "A"})["id"]
    before_files, before_list = blobs(site), ta.ok("GET", f"apps/{app}/documents")
    data = PDF + b"\0" * (LIMIT + 1 - len(PDF))
    assert len(data) == 2 * MIB + 1
    for path in (f"apps/{app}/documents", f"albums/{album}/photos"):
        r = upload(ta, path, data, "huge.pdf", expect=413)
        assert r.json()["error"] == "too_large"
        assert r.json()["message"] == "The file is 2.1 MB; the limit is 2 MB."
    # Streamed without a Content-Length (chunked): refused as the bytes arrive.
    chunks = (data[i : i + 65536] for i in range(0, len(data), 65536))
    r = ta.post(f"apps/{app}/documents", data=chunks, params={"filename": "c.pdf"}, expect=413)
    assert r.json()["message"] == "The file is 2.1 MB; the limit is 2 MB."
    assert ta.ok("GET", f"apps/{app}/documents") == before_list
    assert blobs(site) == before_files
    # Exactly at the limit is fine.
    upload(ta, f"apps/{app}/documents", data[:LIMIT], "just-fits.pdf", expect=201)


def test_refused_types_and_names(world, site):
    ta = world.as_("teacher_admin")
    app = world.new_app("documents")
    album = ta.ok("POST", f"apps/{world.new_app('gallery')}/albums", json={"title": "A"})["id"]
    before = blobs(site)
    r = upload(ta, f"apps/{app}/documents", ELF, "game.pdf", expect=415)
    assert r.json()["error"] == "unsupported_type"
    assert "Programs" in r.json()["message"]
    r = upload(ta, f"albums/{album}/photos", PDF, "cat.jpg", expect=415)
    assert "image" in r.json()["message"]
    upload(ta, f"apps/{app}/documents", b"", "empty.pdf", expect=400)
    ta.post(f"apps/{app}/documents", data=PDF, expect=400)  # no filename
    assert blobs(site) == before
    assert ta.ok("GET", f"apps/{app}/documents")["items"] == []

    doc = upload(ta, f"apps/{app}/documents", b"root:x:0:0\n", "../../etc/passwd").json()
    assert doc["filename"] == "passwd"
    doc = upload(ta, f"apps/{app}/documents", PDF, "C:\\Users\\x\\..\\evil\u202egpj.pdf").json()
    assert "/" not in doc["filename"] and "\\" not in doc["filename"]
    assert "\u202e" not in doc["filename"] and not doc["filename"].startswith(".")
    r = ta.patch(f"documents/{doc['id']}", json={"filename": "../x/.hidden.pdf"}, expect=200)
    assert r.json()["filename"] == "hidden.pdf"


def test_folders_names_nesting_and_moves(world):
    ta, teacher = world.as_("teacher_admin"), world.as_("teacher")
    app = world.new_app("documents")
    other_app = world.new_app("documents")
    top = ta.ok("POST", f"apps/{app}/folders", json={"name": "../Unit 1"})
    assert top["name"] == "Unit 1" and top["parent_id"] is None
    ta.post(f"apps/{app}/folders", json={"name": "Unit 1"}, expect=409)
    ta.post(f"apps/{app}/folders", json={"name": "  "}, expect=400)
    ta.post(f"apps/{app}/folders", json={"name": "x", "parent_id": 10**9}, expect=404)
    sub = ta.ok("POST", f"apps/{app}/folders", json={"name": "Unit 1", "parent_id": top["id"]})
    deep = teacher.ok("POST", f"apps/{app}/folders", json={"name": "Deep", "parent_id": sub["id"]})
    assert ta.ok("GET", f"folders/{deep['id']}")["path"] == [
        {"id": top["id"], "name": "Unit 1"},
        {"id": sub["id"], "name": "Unit 1"},
    ]
    listed = ta.ok("GET", f"apps/{app}/folders", params={"parent": top["id"]})["items"]
    assert [f["id"] for f in listed] == [sub["id"]]
    # A folder of another library is not this one's.
    ta.get(f"apps/{other_app}/documents", params={"folder": top["id"]}, expect=404)
    second = ta.ok("POST", f"apps/{app}/folders", json={"name": "Unit 2"})
    ta.patch(f"folders/{second['id']}", json={"name": "Unit 1"}, expect=409)

    doc = upload(ta, f"apps/{app}/documents", PDF, "a.pdf", folder=deep["id"]).json()
    assert doc["folder_id"] == deep["id"]
    moved = ta.ok("PATCH", f"documents/{doc['id']}", json={"folder_id": None})
    assert moved["folder_id"] is None
    ta.patch(f"documents/{doc['id']}", json={"folder_id": 10**9}, expect=404)
    ta.patch(f"documents/{doc['id']}", json={}, expect=400)
    ta.ok("PATCH", f"documents/{doc['id']}", json={"folder_id": deep["id"]})
    # Deleting the top folder takes the whole tree and its document.
    ta.delete(f"folders/{top['id']}", expect=204)
    for path in (f"folders/{sub['id']}", f"folders/{deep['id']}", f"documents/{doc['id']}"):
        ta.get(path, expect=404)
    # The teacher made "Deep" but a pupil admin may not rename a teacher's folder.
    mine = world.as_("pupil_admin").ok("POST", f"apps/{app}/folders", json={"name": "PA"})
    world.as_("pupil_admin").ok("PATCH", f"folders/{mine['id']}", json={"name": "PA2"})
    world.as_("pupil_admin").patch(f"folders/{second['id']}", json={"name": "z"}, expect=403)


def test_document_list_keyset(world):
    ta = world.as_("teacher_admin")
    app = world.new_app("documents")
    ids = [upload(ta, f"apps/{app}/documents", PDF, f"{i}.pdf").json()["id"] for i in range(3)]
    first = ta.ok("GET", f"apps/{app}/documents", params={"limit": 2})
    assert [d["id"] for d in first["items"]] == ids[::-1][:2]
    assert first["next"] is not None
    rest = ta.ok("GET", f"apps/{app}/documents", params={"limit": 2, "before": first["next"]})
    assert [d["id"] for d in rest["items"]] == [ids[0]] and rest["next"] is None


@pytest.mark.parametrize("fmt,ext,ctype", [("JPEG", "jpg", "image/jpeg"),
                                           ("PNG", "png", "image/png")])  # fmt: skip
def test_photo_location_stripped_and_thumbnail(world, site, db_url, fmt, ext, ctype):
    ta, visitor = world.as_("teacher_admin"), world.as_("visitor")
    album = ta.ok("POST", f"apps/{world.new_app('gallery')}/albums", json={"title": "Paris"})
    original = image_with_gps(fmt)
    before = blobs(site)
    photo = upload(
        ta, f"albums/{album['id']}/photos", original, f"tour.{ext}", caption="La tour Eiffel"
    ).json()
    assert len(blobs(site) - before) == 2  # image + thumbnail
    assert (photo["width"], photo["height"]) == (1000, 600)
    assert photo["caption"] == "La tour Eiffel"
    assert photo["content_type"] == ctype
    assert photo["image_url"] == f"photos/{photo['id']}/image"
    assert photo["thumbnail_url"] == f"photos/{photo['id']}/thumbnail"
    seen = visitor.ok("GET", f"photos/{photo['id']}")
    assert seen["own"] is False and "hidden" not in seen  # only moderators see the flag
    assert {k: v for k, v in seen.items() if k != "own"} == {
        k: v for k, v in photo.items() if k not in ("own", "hidden")
    }

    r = visitor.get(photo["image_url"], expect=200)
    assert r.headers["Content-Type"] == ctype
    assert_safe_file_headers(r, "inline")
    assert disposition_name(r.headers["Content-Disposition"]) == f"tour.{ext}"
    image = Image.open(io.BytesIO(r.content))
    assert image.format == fmt and image.size == (1000, 600)
    assert not image.getexif() and not image.getexif().get_ifd(0x8825)
    assert "exif" not in image.info and b"SchoolCam" not in r.content

    r = visitor.get(photo["thumbnail_url"], expect=200)
    assert r.headers["Content-Type"] == "image/jpeg"
    assert_safe_file_headers(r, "inline")
    thumb = Image.open(io.BytesIO(r.content))
    assert max(thumb.size) <= 320 and thumb.format == "JPEG"
    assert not thumb.getexif()

    listed = visitor.ok("GET", f"albums/{album['id']}/photos")["items"]
    assert [p["id"] for p in listed] == [photo["id"]]
    assert visitor.ok("GET", f"albums/{album['id']}")["photo_count"] == 1
    verbs = sql(
        db_url,
        "SELECT verb FROM activity_events WHERE object_type = 'photos' AND object_id = :i"
        " AND space_id = (SELECT id FROM spaces WHERE slug = :s)",
        i=photo["id"],
        s=world.slug,
    )
    assert [v for (v,) in verbs] == ["photo.upload"]

    ta.delete(f"photos/{photo['id']}", expect=204)
    assert blobs(site) == before
    visitor.get(photo["image_url"], expect=404)


def test_album_delete_removes_photo_files(world, site):
    ta = world.as_("teacher_admin")
    album = ta.ok("POST", f"apps/{world.new_app('gallery')}/albums", json={"title": "A"})["id"]
    before = blobs(site)
    for i in range(2):
        upload(ta, f"albums/{album}/photos", image_with_gps(size=(50, 40)), f"{i}.jpg")
    assert len(blobs(site) - before) == 4
    ta.delete(f"albums/{album}", expect=204)
    assert blobs(site) == before
    ta.get(f"albums/{album}", expect=404)


def test_hidden_items_only_for_moderators(world, db_url):
    ta, pupil = world.as_("teacher_admin"), world.as_("pupil")
    app = world.new_app("documents")
    doc = upload(ta, f"apps/{app}/documents", PDF, "a.pdf").json()["id"]
    album = ta.ok("POST", f"apps/{world.new_app('gallery')}/albums", json={"title": "A"})["id"]
    photo = upload(ta, f"albums/{album}/photos", image_with_gps(size=(20, 20)), "p.jpg")
    photo = photo.json()["id"]
    # What the moderation module does when a moderator hides an item.
    sql(db_url, "UPDATE documents SET hidden = :t WHERE id = :i", t=True, i=doc)
    sql(db_url, "UPDATE photos SET hidden = :t WHERE id = :i", t=True, i=photo)

    assert pupil.ok("GET", f"apps/{app}/documents")["items"] == []
    pupil.get(f"documents/{doc}", expect=404)
    pupil.get(f"documents/{doc}/download", expect=404)
    assert pupil.ok("GET", f"albums/{album}/photos")["items"] == []
    assert pupil.ok("GET", f"albums/{album}")["photo_count"] == 0
    for path in (f"photos/{photo}", f"photos/{photo}/image", f"photos/{photo}/thumbnail"):
        pupil.get(path, expect=404)

    items = world.as_("teacher").ok("GET", f"apps/{app}/documents")["items"]
    assert [(d["id"], d["hidden"]) for d in items] == [(doc, True)]
    assert ta.ok("GET", f"photos/{photo}")["hidden"] is True
    ta.get(f"documents/{doc}/download", expect=200)


def test_wrong_kind_and_missing(world):
    ta = world.as_("teacher_admin")
    blog = world.new_app("blog")
    ta.get(f"apps/{blog}/documents", expect=404)
    ta.get(f"apps/{blog}/albums", expect=404)
    ta.post(f"apps/{blog}/documents", data=PDF, params={"filename": "a.pdf"}, expect=404)
    for path in ("documents/999999999", "documents/999999999/download", "folders/999999999",
                 "albums/999999999", "photos/999999999/image"):  # fmt: skip
        ta.get(path, expect=404)
    ta.post("albums/999999999/photos", data=PDF, params={"filename": "a.jpg"}, expect=404)


def test_browser_link_without_cookie_goes_through_the_hub_login(world, site):
    """A member's browser following a download link logs in through the hub (OAuth)."""
    app = world.new_app("documents")
    doc = world.as_("teacher_admin").ok(
        "POST", f"apps/{app}/documents", params={"filename": "notes.txt"}, data=b"Notes\n"
    )
    browser_headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    r = world.as_("public").get(f"documents/{doc['id']}/download", headers=browser_headers,
                                allow_redirects=False)
    assert r.status_code == 302
    assert "/hub/api/oauth2/authorize" in r.headers["Location"]
    assert "client_id=service-twinspace" in r.headers["Location"]
    # A script without a token still gets the plain JSON refusal.
    world.as_("public").get(f"documents/{doc['id']}/download", expect=401)


# Early answers on streaming routes: the proxy keeps its connections to the service alive,
# so an answer sent before the body was read must also close that connection cleanly, or
# the proxy hands the spoiled connection to the next request (someone else's) and answers
# it with an HTML 503.
EARLY_ANSWERS = {
    "unknown method with a body": ("QUERY", "mine", 405),
    "TRACE with a body": ("TRACE", "mine", 405),
    "anonymous upload": ("POST", "anonymous", 401),
    "upload to an app that does not exist": ("POST", "missing", 404),
}


@pytest.mark.parametrize("case", EARLY_ANSWERS)
def test_early_answers_do_not_break_the_next_request(world, case):
    method, target, status = EARLY_ANSWERS[case]
    ta = world.as_("teacher_admin")
    app = world.new_app("documents")
    url = ta.base + f"apps/{999999 if target == 'missing' else app}/documents?filename=a.pdf"
    headers = {} if target == "anonymous" else {"Authorization": f"token {ta._token}"}
    other = world.as_("pupil")
    for _ in range(20):
        r = requests.request(method, url, data=b"x" * 256 * 1024, headers=headers, timeout=30)
        assert r.status_code == status, r.text[:300]
        # Someone else's requests right after, through the same proxy.
        for _ in range(3):
            assert other.ok("GET", f"apps/{app}/documents")["items"] == []
