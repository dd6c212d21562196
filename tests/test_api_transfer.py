"""Space export/import and copying a public space as a template (F34), through the real hub.

Every endpoint is called by every role (the five member roles, an outsider teacher and the
anonymous public) against explicit tables of expected statuses. The round trip uses real
files (a PDF, a Pillow JPEG); malicious archives must be refused with a message and leave
no space and no stored file behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from utils import ROLES, unique

from twinspace_kernel.service.transfer import snapshot_session
from twinspace_kernel.store import models as m
from twinspace_kernel.store.db import new_engine

# GET /spaces/{slug}/export: teacher administrators only (pupils' data is personal).
EXPORT = {"teacher_admin": 200, "teacher": 403, "pupil_admin": 403, "pupil": 403,
          "visitor": 403, "outsider": 403, "public": 401}  # fmt: skip
# POST /spaces/import: any teacher account (the outsider is a teacher account).
IMPORT = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 403, "pupil": 403,
          "visitor": 403, "outsider": 201, "public": 401}  # fmt: skip
# POST /spaces/{slug}/copy of a PUBLIC space: any teacher.
COPY_PUBLIC = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 403, "pupil": 403,
               "visitor": 403, "outsider": 201, "public": 401}  # fmt: skip
# POST /spaces/{slug}/copy of a PRIVATE space: its teacher administrators only.
COPY_PRIVATE = {"teacher_admin": 201, "teacher": 403, "pupil_admin": 403, "pupil": 403,
                "visitor": 403, "outsider": 403, "public": 401}  # fmt: skip

LIMIT = 2 * 1024 * 1024  # the test hub's upload limit

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


def jpeg(size=(640, 480)) -> bytes:
    image = Image.new("RGB", size, (30, 120, 200))
    image.paste((250, 200, 0), (0, 0, size[0] // 2, size[1]))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def blobs(site) -> set[str]:
    root = site.hub.data_dir / "files"
    return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def check(r, expected: int) -> None:
    assert r.status_code == expected, f"{r.request.method} {r.url} -> {r.status_code}: {r.text}"
    if expected >= 400:
        assert r.json()["message"], r.text


def export(world) -> bytes:
    r = world.as_("teacher_admin").get(f"spaces/{world.slug}/export", expect=200)
    return r.content


def import_zip(caller, data: bytes, slug: str | None = None, **params):
    return caller.post("spaces/import", data=data,
                       params={"slug": slug or unique("imp"), **params})


def space_exists(site, slug: str) -> bool:
    return site.admin.get(f"spaces/{slug}").status_code != 404


def pages_with_apps(caller, slug: str) -> list[dict]:
    pages = caller.ok("GET", f"spaces/{slug}/pages")["items"]
    return [caller.ok("GET", f"pages/{p['id']}") for p in pages]


def shape(pages: list[dict]) -> list:
    """What must survive a round trip: pages in order and their applications."""
    return sorted(
        (p["section"], p["slug"], p["title"], p["position"], p["published"],
         tuple((a["kind"], a["title"], a["position"]) for a in p["apps"]))
        for p in pages
    )  # fmt: skip


def app_of(pages: list[dict], section: str, title: str, kind: str) -> int:
    for page in pages:
        if page["section"] == section and page["title"] == title:
            for app in page["apps"]:
                if app["kind"] == kind:
                    return app["id"]
    raise LookupError((section, title, kind))


def rich_space(world, site) -> dict:
    """A space with a blog post + comment, a forum thread with replies, a wiki page with 3
    revisions, a document (PDF), a photo (JPEG) and web content; returns their ids."""
    ta, teacher, pupil = world.as_("teacher_admin"), world.as_("teacher"), world.as_("pupil")
    page = world.add_page("activities", "Exchange")
    ids = {"page": page}
    blog = world.add_app(page, "blog", "Diary")
    post = teacher.ok("POST", f"apps/{blog}/posts", json={"title": "Hello", "body": "**Hi** all"})
    pupil.ok("POST", f"posts/{post['id']}/comments", json={"body": "Hi from class 3"})
    forum = world.add_app(page, "forum", "Talk")
    thread = ta.ok("POST", f"apps/{forum}/threads", json={"title": "Food", "body": "Favourite?"})
    first = thread["replies"]["items"][0]["id"]
    pupil.ok("POST", f"threads/{thread['id']}/replies", json={"body": "Pizza", "quote_id": first})
    teacher.ok("POST", f"threads/{thread['id']}/replies", json={"body": "Paella"})
    wiki_app = world.add_app(page, "wiki", "Glossary")
    wiki = ta.ok("POST", f"apps/{wiki_app}/wiki", json={"title": "Words", "text": "one"})
    teacher.ok("PUT", f"wiki/{wiki['id']}", json={"text": "one two", "base_revision": 1})
    pupil.ok("PUT", f"wiki/{wiki['id']}", json={"text": "one two three", "base_revision": 2,
                                                "summary": "more"})
    docs = world.add_app(page, "documents", "Library")
    folder = ta.ok("POST", f"apps/{docs}/folders", json={"name": "Plans"})
    ta.post(f"apps/{docs}/documents", data=PDF,
            params={"filename": "plan.pdf", "folder": folder["id"]}, expect=201)
    gallery = world.add_app(page, "gallery", "Photos")
    album = ta.ok("POST", f"apps/{gallery}/albums", json={"title": "Trip"})
    photo = ta.post(f"albums/{album['id']}/photos", data=jpeg(),
                    params={"filename": "trip.jpg", "caption": "At the lake"}, expect=201).json()
    ids["photo_image"] = ta.get(f"photos/{photo['id']}/image", expect=200).content
    web = world.add_app(page, "web_content", "Intro")
    ta.ok("PUT", f"apps/{web}/content",
          json={"html": "<p>Welcome <script>x()</script><b>partners</b></p>"})
    ids["web_html"] = ta.ok("GET", f"apps/{web}/content")["html"]
    ta.ok("PATCH", f"pages/{page}", json={"published": True})
    ta.ok("POST", f"spaces/{world.slug}/events",
          json={"kind": "deadline", "title": "Hand in", "starts_at": "2030-01-10"})
    room = ta.ok("GET", f"spaces/{world.slug}/rooms")["items"][0]["id"]
    pupil.ok("POST", f"rooms/{room}/messages", json={"body": "Hello chat"})
    secret = world.add_page("teachers_room", "Staff only")
    secret_web = world.add_app(secret, "web_content", "Plans", section="teachers_room")
    ta.ok("PUT", f"apps/{secret_web}/content", json={"html": "<p>secret marks</p>"})
    return ids


# --------------------------------------------------------------------------- rights matrix


@pytest.mark.parametrize("role", ROLES)
def test_export_rights(world, role):
    r = world.as_(role).get(f"spaces/{world.slug}/export")
    check(r, EXPORT[role])
    if r.status_code == 200:
        assert r.headers["Content-Type"] == "application/zip"
        assert r.headers["Content-Disposition"] == (
            f'attachment; filename="{world.slug}-export.zip"'
        )
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            manifest = json.loads(zf.read("space.json"))
        assert manifest["version"] == 1
        assert {(p["section"], p["slug"]) for p in manifest["pages"]} >= {
            ("home", "home"), ("chat", "chat")}


@pytest.mark.parametrize("role", ROLES)
def test_import_rights(world, role):
    data = export(world)
    slug = unique("imp")
    r = import_zip(world.as_(role), data, slug)
    check(r, IMPORT[role])
    if r.status_code == 201:
        body = r.json()
        assert body["slug"] == slug and body["role"] == "teacher_admin"
        # The importer is its only member: members are never imported.
        members = world.as_(role).ok("GET", f"spaces/{slug}/members")["items"]
        assert [m["name"] for m in members] == [world.as_(role).name]
    else:
        assert not space_exists(world.site, slug)


@pytest.mark.parametrize("role", ROLES)
def test_copy_public_space_rights(world, role):
    world.as_("teacher_admin").ok("PATCH", f"spaces/{world.slug}", json={"public": True})
    slug = unique("cpy")
    r = world.as_(role).post(f"spaces/{world.slug}/copy", json={"slug": slug, "title": "Mine"})
    check(r, COPY_PUBLIC[role])
    if r.status_code == 201:
        assert r.json()["slug"] == slug and r.json()["title"] == "Mine"
    else:
        assert not space_exists(world.site, slug)


@pytest.mark.parametrize("role", ROLES)
def test_copy_private_space_rights(world, role):
    slug = unique("cpy")
    r = world.as_(role).post(f"spaces/{world.slug}/copy", json={"slug": slug})
    check(r, COPY_PRIVATE[role])
    if r.status_code == 201:
        assert r.json()["title"] == world.as_("teacher_admin").ok(
            "GET", f"spaces/{world.slug}")["title"]
    else:
        assert not space_exists(world.site, slug)


# --------------------------------------------------------------------------- round trip


def test_export_import_round_trip(world, site):
    ids = rich_space(world, site)
    ta = world.as_("teacher_admin")
    data = export(world)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("space.json"))
    # Every stored blob travels: the PDF, the photo and its thumbnail.
    assert len([n for n in names if n.startswith("files/")]) == 3
    assert set(manifest["files"]) == {n.split("/")[1] for n in names if n.startswith("files/")}
    assert world.as_("pupil").name in manifest["authors"]

    importer = site.account("teacher", prefix="imp")
    before = blobs(site)
    slug = unique("imp")
    r = import_zip(importer, data, slug, title="Imported copy")
    check(r, 201)
    body = r.json()
    assert body["title"] == "Imported copy"
    assert body["imported"]["documents"] == 1 and body["imported"]["photos"] == 1
    assert body["authors_matched"] is True
    assert len(blobs(site) - before) == 3

    old, new = pages_with_apps(ta, world.slug), pages_with_apps(importer, slug)
    assert shape(new) == shape(old)
    # Every imported page has its notebook in the shared volume.
    spaces = Path(site.hub.data_dir) / "spaces" / slug
    notebooks = sorted(p.relative_to(spaces).as_posix() for p in spaces.rglob("*.ipynb"))
    assert len(notebooks) == len(new) and "home/home.ipynb" in notebooks

    # Blog post and comment, with their authors matched by username.
    blog = app_of(new, "activities", "Exchange", "blog")
    posts = importer.ok("GET", f"apps/{blog}/posts")["items"]
    assert [(p["title"], p["body"]) for p in posts] == [("Hello", "**Hi** all")]
    assert "<strong>Hi</strong>" in posts[0]["body_html"]
    assert posts[0]["author"]["name"] == world.as_("teacher").name
    comments = importer.ok("GET", f"posts/{posts[0]['id']}/comments")["items"]
    assert [c["body"] for c in comments] == ["Hi from class 3"]
    assert comments[0]["author"]["name"] == world.as_("pupil").name

    # Forum thread with its three replies, the quote pointing into the new thread.
    forum = app_of(new, "activities", "Exchange", "forum")
    threads = importer.ok("GET", f"apps/{forum}/threads")["items"]
    assert [(t["title"], t["reply_count"]) for t in threads] == [("Food", 3)]
    replies = importer.ok("GET", f"threads/{threads[0]['id']}/replies")["items"]
    assert [r["body"] for r in replies] == ["Favourite?", "Pizza", "Paella"]
    assert replies[1]["quote"]["id"] == replies[0]["id"]
    assert threads[0]["last_post_id"] == replies[-1]["id"]

    # Wiki with all three revisions.
    wiki_app = app_of(new, "activities", "Exchange", "wiki")
    wikis = importer.ok("GET", f"apps/{wiki_app}/wiki")["items"]
    assert [w["title"] for w in wikis] == ["Words"]
    wiki = importer.ok("GET", f"wiki/{wikis[0]['id']}")
    assert (wiki["revision"], wiki["text"]) == (3, "one two three")
    revisions = importer.ok("GET", f"wiki/{wikis[0]['id']}/revisions")["items"]
    assert [r["number"] for r in revisions] == [3, 2, 1]
    assert [r["author"]["name"] for r in revisions] == [
        world.as_("pupil").name, world.as_("teacher").name, ta.name]
    assert importer.ok("GET", f"wiki/{wikis[0]['id']}/revisions/1")["text"] == "one"
    # The wiki still refuses lost updates after the import.
    importer.put(f"wiki/{wikis[0]['id']}", json={"text": "x", "base_revision": 2}, expect=409)

    # Document in its folder: the same bytes come back.
    docs = app_of(new, "activities", "Exchange", "documents")
    folders = importer.ok("GET", f"apps/{docs}/folders")["items"]
    assert [f["name"] for f in folders] == ["Plans"]
    documents = importer.ok("GET", f"apps/{docs}/documents",
                            params={"folder": folders[0]["id"]})["items"]
    assert [(d["filename"], d["content_type"]) for d in documents] == [
        ("plan.pdf", "application/pdf")]
    assert importer.get(f"documents/{documents[0]['id']}/download", expect=200).content == PDF

    # Photo: the already re-encoded blob is kept as it is, with its thumbnail.
    gallery = app_of(new, "activities", "Exchange", "gallery")
    albums = importer.ok("GET", f"apps/{gallery}/albums")["items"]
    assert [(a["title"], a["photo_count"]) for a in albums] == [("Trip", 1)]
    photos = importer.ok("GET", f"albums/{albums[0]['id']}/photos")["items"]
    assert (photos[0]["caption"], photos[0]["width"], photos[0]["height"]) == (
        "At the lake", 640, 480)
    assert importer.get(f"photos/{photos[0]['id']}/image", expect=200).content == ids[
        "photo_image"]
    thumb = importer.get(f"photos/{photos[0]['id']}/thumbnail", expect=200).content
    assert Image.open(io.BytesIO(thumb)).format == "JPEG"

    # Web content, still sanitized.
    web = app_of(new, "activities", "Exchange", "web_content")
    assert importer.ok("GET", f"apps/{web}/content")["html"] == ids["web_html"]
    assert "script" not in ids["web_html"]

    # The calendar and the chat travel too.
    events = importer.ok("GET", f"spaces/{slug}/events",
                         params={"from": "2030-01-01", "to": "2030-02-01"})["items"]
    assert [(e["title"], e["starts_at"]) for e in events] == [("Hand in", "2030-01-10")]
    rooms = importer.ok("GET", f"spaces/{slug}/rooms")["items"]
    assert [r["name"] for r in rooms] == ["General"]
    messages = importer.ok("GET", f"rooms/{rooms[0]['id']}/messages")["items"]
    assert [(m["body"], m["author"]["name"]) for m in messages] == [
        ("Hello chat", world.as_("pupil").name)]

    # The import is in the new space's journal; the new space starts private.
    activity = importer.ok("GET", f"spaces/{slug}/activity")["items"]
    assert [a["verb"] for a in activity] == ["space.import"]
    assert importer.ok("GET", f"spaces/{slug}")["public"] is False
    # Changing the copy leaves the original alone.
    importer.ok("PUT", f"apps/{web}/content", json={"html": "<p>changed</p>"})
    old_web = app_of(old, "activities", "Exchange", "web_content")
    assert ta.ok("GET", f"apps/{old_web}/content")["html"] == ids["web_html"]


def test_forged_archive_does_not_borrow_authors(world, site):
    """An archive whose space.json was changed (no valid signature) keeps its content but
    attributes it to nobody: a forged export cannot put words in a member's mouth."""
    teacher = world.as_("teacher")
    page = world.add_page("activities", "Journal")
    blog = world.add_app(page, "blog")
    teacher.ok("POST", f"apps/{blog}/posts", json={"title": "Mine", "body": "by me"})
    manifest, files = read_zip(export(world))
    for p in manifest["pages"]:
        for app in p["apps"]:
            for post in (app.get("content") or {}).get("posts", []):
                post["body"] = "words I never wrote"
    importer = site.account("teacher", prefix="imp")
    slug = unique("imp")
    r = import_zip(importer, make_zip(manifest, files), slug)
    check(r, 201)
    assert r.json()["authors_matched"] is False
    new = pages_with_apps(importer, slug)
    posts = importer.ok("GET", f"apps/{app_of(new, 'activities', 'Journal', 'blog')}/posts")
    assert [(p["body"], p["author"]) for p in posts["items"]] == [("words I never wrote", None)]


# --------------------------------------------------------------------------- malicious archives


def read_zip(data: bytes) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("space.json"))
        files = {n: zf.read(n) for n in zf.namelist() if n.startswith(("files/", "notebooks/"))}
    return manifest, files


def make_zip(manifest: dict | None, files: dict[str, bytes], extra=()) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        if manifest is not None:
            zf.writestr("space.json", json.dumps(manifest))
        for name, data in files.items():
            zf.writestr(name, data)
        for name, data in extra:
            zf.writestr(name, data)
    return out.getvalue()


def _bomb(manifest, files):
    # 21 MB of zeros (over 10 x the 2 MB limit) compresses to about 20 kB.
    return make_zip(manifest, files, [("files/" + "0" * 32, b"\0" * (21 * 1024 * 1024))])


def _drop_referenced_file(manifest, files):
    pdf = next(n for n, d in files.items() if d == PDF)
    return make_zip(manifest, {n: d for n, d in files.items() if n != pdf})


def _wrong_version(manifest, files):
    return make_zip({**manifest, "version": 2}, files)


def _bad_page(manifest, files):
    manifest["pages"][0]["section"] = "attic"
    return make_zip(manifest, files)


def _exif_photo(manifest, files):
    # A "photo" carrying GPS data: it must not slip past the stripping via an import.
    exif = Image.Exif()
    exif.get_ifd(0x8825)[0x0001] = "N"
    out = io.BytesIO()
    Image.new("RGB", (64, 64)).save(out, "JPEG", exif=exif.tobytes())
    data = out.getvalue()
    for p in manifest["pages"]:
        for app in p["apps"]:
            for album in (app.get("content") or {}).get("albums", []):
                for photo in album["photos"]:
                    files[f"files/{photo['file']}"] = data
                    manifest["files"][photo["file"]] = {
                        "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return make_zip(manifest, files)


def _damaged_file(manifest, files):
    pdf = next(n for n, d in files.items() if d == PDF)
    files[pdf] = PDF.replace(b"Bonjour", b"Hacked!")
    return make_zip(manifest, files)


MALICIOUS = {
    "path traversal": (lambda mf, f: make_zip(mf, f, [("../evil", b"x")]), "unsafe path"),
    "absolute path": (lambda mf, f: make_zip(mf, f, [("/etc/evil", b"x")]), "unsafe path"),
    "zip bomb": (_bomb, "unpack to more than"),
    "no space.json": (lambda mf, f: make_zip(None, f), "no space.json"),
    "not json": (lambda mf, f: make_zip(None, f, [("space.json", b"{nope")]), "not valid JSON"),
    "wrong version": (_wrong_version, "version 2"),
    "bad section": (_bad_page, "section"),
    "referenced file missing": (_drop_referenced_file, "lacks files/"),
    "file damaged": (_damaged_file, "checksum"),
    "photo with location data": (_exif_photo, "metadata"),
    "not a zip": (lambda mf, f: PDF, "not a readable ZIP"),
    "notebook not JSON": (lambda mf, f: make_zip(mf, _notebook(f, b"{not json")),
                          "not a notebook Jupyter can read"),
    "notebook not nbformat": (lambda mf, f: make_zip(mf, _notebook(f, b'{"cells": 3}')),
                              "not a notebook Jupyter can read"),
    "notebook of no page": (lambda mf, f: make_zip(mf, f, [
        ("notebooks/activities/nowhere.ipynb", next(iter(_notebook(f, None).values())))]),
        "belongs to no page"),
    "notebook missing": (lambda mf, f: make_zip(mf, {
        n: d for n, d in f.items() if n != "notebooks/home/home.ipynb"}), "lacks notebooks/"),
}


def _notebook(files, data):
    """The Exchange page's notebook replaced by `data` (None: just that entry)."""
    name = "notebooks/activities/exchange.ipynb"
    if data is None:
        return {name: files[name]}
    return {**files, name: data}


@pytest.mark.parametrize("case", MALICIOUS)
def test_malicious_archive_is_refused_and_leaves_nothing(world, site, case):
    rich_space(world, site)
    manifest, files = read_zip(export(world))
    build, message = MALICIOUS[case]
    data = build(manifest, files)
    assert len(data) < LIMIT
    importer = site.account("teacher", prefix="imp")
    before = blobs(site)
    slug = unique("bad")
    r = import_zip(importer, data, slug)
    check(r, 400)
    assert message in r.json()["message"], r.json()["message"]
    assert not space_exists(site, slug)
    assert blobs(site) == before
    assert importer.ok("GET", "spaces")["items"] == []


def test_import_limits_and_conflicts(world, site):
    data = export(world)
    importer = site.account("teacher", prefix="imp")
    # The slug is taken: 409, nothing created.
    check(import_zip(importer, data, world.slug), 409)
    # A bad slug, and no slug at all.
    check(import_zip(importer, data, "Not A Slug"), 400)
    check(importer.post("spaces/import", data=data), 400)
    # An empty body, and an archive over the upload limit.
    check(import_zip(importer, b""), 400)
    check(import_zip(importer, b"PK" + b"\0" * LIMIT), 413)
    # Import twice from one archive: two independent spaces.
    first, second = unique("imp"), unique("imp")
    check(import_zip(importer, data, first), 201)
    check(import_zip(importer, data, second), 201)
    check(import_zip(importer, data, second), 409)


# --------------------------------------------------------------------------- templates


def test_copy_public_space_as_template(world, site):
    ids = rich_space(world, site)
    ta = world.as_("teacher_admin")
    ta.ok("PATCH", f"spaces/{world.slug}", json={"public": True})
    outsider = world.as_("outsider")
    before = blobs(site)
    slug = unique("tpl")
    r = outsider.post(f"spaces/{world.slug}/copy", json={"slug": slug, "title": "Template"})
    check(r, 201)
    assert r.json()["role"] == "teacher_admin"
    assert blobs(site) == before  # no files in a template

    new = pages_with_apps(outsider, slug)
    # Only what the public could see (the published page), plus the fixed Home and Chat.
    assert {(p["section"], p["title"]) for p in new} == {
        ("home", "Home"), ("chat", "Chat"), ("activities", "Exchange")}
    old = pages_with_apps(ta, world.slug)
    exchange = [p for p in old if p["title"] == "Exchange"]
    assert shape([p for p in new if p["title"] == "Exchange"]) == shape(exchange)

    web = app_of(new, "activities", "Exchange", "web_content")
    assert outsider.ok("GET", f"apps/{web}/content")["html"] == ids["web_html"]
    wiki_app = app_of(new, "activities", "Exchange", "wiki")
    wikis = outsider.ok("GET", f"apps/{wiki_app}/wiki")["items"]
    wiki = outsider.ok("GET", f"wiki/{wikis[0]['id']}")
    assert (wiki["revision"], wiki["text"]) == (1, "one two three")
    assert wiki["author"]["name"] == outsider.name
    # No posts, threads, documents, photos, events; only the copier is a member.
    assert outsider.ok("GET", f"apps/{app_of(new, 'activities', 'Exchange', 'blog')}/posts")[
        "items"] == []
    assert outsider.ok("GET",
                       f"apps/{app_of(new, 'activities', 'Exchange', 'forum')}/threads")[
        "items"] == []
    assert outsider.ok("GET",
                       f"apps/{app_of(new, 'activities', 'Exchange', 'documents')}/documents")[
        "items"] == []
    assert outsider.ok("GET",
                       f"apps/{app_of(new, 'activities', 'Exchange', 'gallery')}/albums")[
        "items"] == []
    assert outsider.ok("GET", f"spaces/{slug}/events",
                       params={"from": "2030-01-01", "to": "2030-02-01"})["items"] == []
    assert [m["name"] for m in outsider.ok("GET", f"spaces/{slug}/members")["items"]] == [
        outsider.name]
    assert [r["name"] for r in outsider.ok("GET", f"spaces/{slug}/rooms")["items"]] == ["General"]
    activity = outsider.ok("GET", f"spaces/{slug}/activity")["items"]
    assert [a["verb"] for a in activity] == ["space.copy"]
    # The Teachers' Room of the source never reaches an outsider's copy.
    assert "secret" not in json.dumps(new)


def test_copy_by_its_administrator_keeps_every_page(world, site):
    rich_space(world, site)
    ta = world.as_("teacher_admin")
    slug = unique("tpl")
    check(ta.post(f"spaces/{world.slug}/copy", json={"slug": slug}), 201)
    old, new = pages_with_apps(ta, world.slug), pages_with_apps(ta, slug)
    assert shape(new) == shape(old)
    check(ta.post(f"spaces/{world.slug}/copy", json={"slug": slug}), 409)
    check(ta.post(f"spaces/{world.slug}/copy", json={}), 400)
    check(ta.post("spaces/no-such-space-here/copy", json={"slug": unique("tpl")}), 404)


# --------------------------------------------------------------------------- page notebooks


def page_notebook_path(site, slug: str, section: str, page_slug: str) -> Path:
    return Path(site.hub.data_dir) / "spaces" / slug / section / f"{page_slug}.ipynb"


def add_own_cells(caller, site, slug: str, page: dict) -> None:
    """A teacher saves the page notebook with their own cells (as JupyterLab does)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell

    from twinspace_kernel.volume import safe_name

    path = page_notebook_path(site, slug, page["section"], page["slug"])
    nb = nbformat.read(path, as_version=4)
    first_app = next(i for i, c in enumerate(nb.cells) if "app_id" in c.metadata.get(
        "twinspace", {}))
    nb.cells.insert(first_app + 1, new_markdown_cell(f"Between apps on **{page['title']}**."))
    nb.cells.append(new_code_cell(f"print('teacher code of {page['title']}')"))
    name = safe_name(page["title"]) + ".ipynb"
    caller.ok("PUT", f"volume/{slug}/{page['section']}/{name}", data=nbformat.writes(nb).encode())


def notebook_content(site, slug: str, page: dict) -> list:
    """The notebook as members see it, up to ids: app cells by kind, other cells as they are."""
    import nbformat

    nb = nbformat.read(page_notebook_path(site, slug, page["section"], page["slug"]),
                       as_version=4)
    assert nb.metadata["twinspace"]["page_id"] == page["id"]
    assert nb.metadata["twinspace"]["space"] == slug
    apps = iter(page["apps"])
    content = []
    for cell in nb.cells:
        meta = cell.metadata.get("twinspace", {})
        if "app_id" in meta:
            app = next(apps)  # application cells point at this page's own apps, in order
            assert (meta["app_id"], meta["kind"]) == (app["id"], app["kind"])
            assert f"show({app['id']})" in cell.source
            content.append(("app", meta["kind"]))
        elif meta.get("role") == "tools":
            assert f"'{slug}'" in cell.source and str(page["id"]) in cell.source
            content.append(("tools",))
        else:
            content.append((cell.cell_type, cell.source))
    assert next(apps, None) is None
    return content


def test_round_trip_keeps_teachers_own_cells_in_page_notebooks(world, site):
    """Export, then import as another slug: pages, applications, content and every page
    notebook (teachers' own cells in place, app cells re-pointed) come back equal."""
    import nbformat

    rich_space(world, site)
    ta = world.as_("teacher_admin")
    old = pages_with_apps(ta, world.slug)
    edited = [p for p in old if p["title"] in ("Exchange", "Staff only", "Home")]
    for page in edited:
        add_own_cells(ta, site, world.slug, page)
    data = export(world)

    manifest, entries = read_zip(data)
    exchange = next(p for p in manifest["pages"] if p["title"] == "Exchange")
    assert exchange["notebook"] == "notebooks/activities/exchange.ipynb"
    archived = nbformat.reads(entries[exchange["notebook"]].decode(), as_version=4)
    # No id of this hub travels in a notebook: they are placeholders, like a template's.
    assert all("app_id" not in c.metadata.get("twinspace", {}) for c in archived.cells)
    assert "print('teacher code of Exchange')" in [c.source for c in archived.cells]
    assert {n for n in entries if n.startswith("notebooks/")} == {
        f"notebooks/{p['section']}/{p['slug']}.ipynb" for p in old}

    importer = site.account("teacher", prefix="imp")
    slug = unique("imp")
    body = check_created(import_zip(importer, data, slug))
    assert body["imported"]["pages"] == len(old)
    new = pages_with_apps(importer, slug)
    assert shape(new) == shape(old)

    def by_key(pages):
        return {(p["section"], p["slug"]): p for p in pages}

    olds, news = by_key(old), by_key(new)
    for key, page in olds.items():
        assert notebook_content(site, slug, news[key]) == notebook_content(
            site, world.slug, page), key
    own = notebook_content(site, slug, news[("activities", "exchange")])
    assert own.index(("markdown", "Between apps on **Exchange**.")) == 2  # title, 1st app
    assert own[-2:] == [("tools",), ("code", "print('teacher code of Exchange')")]

    # The content itself, up to ids and owners' memberships.
    def content(caller, pages):
        out = {}
        for page in pages:
            for app in page["apps"]:
                key = (page["section"], page["slug"], app["position"], app["kind"])
                if app["kind"] == "blog":
                    out[key] = [(p["title"], p["body"], [c["body"] for c in caller.ok(
                        "GET", f"posts/{p['id']}/comments")["items"]])
                        for p in caller.ok("GET", f"apps/{app['id']}/posts")["items"]]
                elif app["kind"] == "forum":
                    out[key] = [(t["title"], [r["body"] for r in caller.ok(
                        "GET", f"threads/{t['id']}/replies")["items"]])
                        for t in caller.ok("GET", f"apps/{app['id']}/threads")["items"]]
                elif app["kind"] == "wiki":
                    out[key] = [(w["title"], caller.ok("GET", f"wiki/{w['id']}")["text"])
                                for w in caller.ok("GET", f"apps/{app['id']}/wiki")["items"]]
                elif app["kind"] == "web_content":
                    out[key] = caller.ok("GET", f"apps/{app['id']}/content")["html"]
        return out

    assert content(importer, new) == content(ta, old)
    assert content(ta, old)  # (it compared something)

    # Export the import again: the same notebooks come out.
    again = importer.get(f"spaces/{slug}/export", expect=200).content
    _, entries_again = read_zip(again)
    for name, data_ in entries.items():
        if name.startswith("notebooks/"):
            first = nbformat.reads(data_.decode(), as_version=4)
            second = nbformat.reads(entries_again[name].decode(), as_version=4)
            assert [(c.cell_type, c.source) for c in second.cells] == [
                (c.cell_type, c.source) for c in first.cells], name


def check_created(r) -> dict:
    check(r, 201)
    return r.json()


def test_template_copy_keeps_the_pages_notebooks(world, site):
    rich_space(world, site)
    ta = world.as_("teacher_admin")
    old = pages_with_apps(ta, world.slug)
    exchange = next(p for p in old if p["title"] == "Exchange")
    add_own_cells(ta, site, world.slug, exchange)
    slug = unique("tpl")
    check_created(ta.post(f"spaces/{world.slug}/copy", json={"slug": slug, "title": "Copy"}))
    new = pages_with_apps(ta, slug)
    copied = next(p for p in new if p["title"] == "Exchange")
    assert notebook_content(site, slug, copied) == notebook_content(site, world.slug, exchange)


def test_hub_side_export_and_import_for_a_teacher(world, site):
    """The `twinspace` command's service exports any space and imports for a named teacher."""
    data = site.admin.get(f"spaces/{world.slug}/export", expect=200).content
    assert read_zip(data)[0]["space"]["founder"]
    slug = unique("imp")
    r = site.admin.post("spaces/import", data=data, params={"slug": slug})
    check(r, 400)
    assert "?owner=" in r.json()["message"]
    owner = site.account("teacher", prefix="own")
    body = check_created(site.admin.post("spaces/import", data=data,
                                         params={"slug": slug, "owner": owner.name}))
    assert body["slug"] == slug
    assert [m["name"] for m in owner.ok("GET", f"spaces/{slug}/members")["items"]] == [owner.name]
    pupil = world.as_("pupil")
    check(site.admin.post("spaces/import", data=data,
                          params={"slug": unique("imp"), "owner": pupil.name}), 400)
    # A teacher may not import in someone else's name.
    check(import_zip(world.as_("teacher"), data, unique("imp"), owner=owner.name), 403)


# --------------------------------------------------------------------------- off the loop
# The export reads the space in a worker thread on a session of its own, while the
# service goes on answering (and writing for) other members.


def blog_posts(manifest: dict, app_title: str) -> list[dict]:
    return next(a["content"]["posts"] for p in manifest["pages"] for a in p["apps"]
                if a["title"] == app_title)


def test_export_while_a_member_writes_is_one_moment(world, site):
    """Exports taken while a teacher keeps posting (in blog B, then blog A, over and over)
    each show one moment: B never runs more than one post ahead of A, although A is read
    well before B."""
    ta, teacher = world.as_("teacher_admin"), world.as_("teacher")
    first = world.add_page("activities", "First")
    blog_a = world.add_app(first, "blog", "Diary A")
    for i in range(30):  # A's older posts, each with its comments query, come before B
        post = teacher.ok("POST", f"apps/{blog_a}/posts", json={"title": f"Old {i}",
                                                                  "body": "x"})
        ta.ok("POST", f"posts/{post['id']}/comments", json={"body": "seen"})
    blog_b = world.add_app(world.add_page("activities", "Second"), "blog", "Diary B")
    stop, rounds = threading.Event(), []

    def write() -> None:
        while not stop.is_set() and len(rounds) < 300:
            n = len(rounds)
            teacher.ok("POST", f"apps/{blog_b}/posts", json={"title": f"B {n}", "body": "b"})
            teacher.ok("POST", f"apps/{blog_a}/posts", json={"title": f"A {n}", "body": "a"})
            rounds.append(n)

    writer = threading.Thread(target=write)
    writer.start()
    seen = []
    try:
        for _ in range(6):
            manifest = read_zip(export(world))[0]
            a = [p for p in blog_posts(manifest, "Diary A") if p["title"].startswith("A ")]
            b = [p for p in blog_posts(manifest, "Diary B") if p["title"].startswith("B ")]
            assert len(b) - len(a) in (0, 1), (len(a), len(b))
            assert all(len(p["comments"]) == 1 for p in blog_posts(manifest, "Diary A")
                       if p["title"].startswith("Old "))
            seen.append(len(b))
    finally:
        stop.set()
        writer.join()
    assert rounds and seen[-1] > 0  # the exports really ran among the writes


def test_snapshot_session_sees_one_moment(world, site, db_url):
    """The export's session (SQLite and PostgreSQL): a write committed meanwhile is not
    seen until the snapshot ends."""
    blog = world.new_app("blog")
    teacher = world.as_("teacher")
    teacher.ok("POST", f"apps/{blog}/posts", json={"title": "Before", "body": "x"})
    engine = new_engine(db_url)
    count = select(func.count()).select_from(m.BlogPost).where(m.BlogPost.app_id == blog)
    try:
        db = snapshot_session(sessionmaker(engine))
        with db:
            assert db.scalar(count) == 1
            teacher.ok("POST", f"apps/{blog}/posts", json={"title": "During", "body": "y"})
            assert db.scalar(count) == 1
            db.rollback()
            assert db.scalar(count) == 2
    finally:
        engine.dispose()


def test_export_stores_compressed_files_as_they_are(world, site):
    """Photos and PDFs go into the ZIP stored (deflating them again only costs CPU), text
    deflated; the archive still imports."""
    ta = world.as_("teacher_admin")
    page = world.add_page("activities", "Files")
    docs = world.add_app(page, "documents", "Library")
    text = b"Spring words, spring words, spring words.\n" * 200
    ta.post(f"apps/{docs}/documents", data=text, params={"filename": "words.txt"}, expect=201)
    ta.post(f"apps/{docs}/documents", data=PDF, params={"filename": "plan.pdf"}, expect=201)
    album = ta.ok("POST", f"apps/{world.add_app(page, 'gallery', 'Photos')}/albums",
                  json={"title": "Trip"})
    ta.post(f"albums/{album['id']}/photos", data=jpeg(), params={"filename": "t.jpg"},
            expect=201)
    data = export(world)
    manifest = read_zip(data)[0]
    content = {a["title"]: a.get("content") for p in manifest["pages"] for a in p["apps"]}
    stored = {d["filename"]: d["file"] for d in content["Library"]["documents"]}
    photo = content["Photos"]["albums"][0]["photos"][0]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        kind = {n.removeprefix("files/"): zf.getinfo(n).compress_type for n in zf.namelist()}
    assert kind[stored["words.txt"]] == zipfile.ZIP_DEFLATED
    assert kind[stored["plan.pdf"]] == zipfile.ZIP_STORED
    assert kind[photo["file"]] == kind[photo["thumbnail"]] == zipfile.ZIP_STORED
    imported = check_created(import_zip(ta, data))
    assert imported["imported"]["documents"] == 2 and imported["imported"]["photos"] == 1
