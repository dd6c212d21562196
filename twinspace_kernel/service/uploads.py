"""Upload handling: file-name cleaning, magic-byte sniffing and an atomic on-disk blob store."""

from __future__ import annotations

import io
import math
import os
import re
import tempfile
import unicodedata
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

__all__ = [
    "DOCUMENT_TYPES",
    "IMAGE_TYPES",
    "FileStore",
    "InvalidKey",
    "StoredFile",
    "UploadRejected",
    "safe_filename",
    "sniff",
]

MIB = 1024 * 1024
KIB = 1024

OCTET_STREAM = "application/octet-stream"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"

# Sniffed types that mark something runnable; these are refused before the allowlist so the
# user gets a specific message.
EXECUTABLE_TYPES: frozenset[str] = frozenset(
    {"application/x-executable", "application/x-msdownload", "application/x-mach-binary",
     "text/x-script"}
)  # fmt: skip

IMAGE_TYPES: frozenset[str] = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

DOCUMENT_TYPES: frozenset[str] = IMAGE_TYPES | frozenset(
    {
        "application/pdf", DOCX, XLSX, PPTX, ODT, ODS, ODP, "application/zip",
        "audio/mpeg", "audio/ogg", "audio/wav", "audio/mp4", "video/mp4", "text/plain",
    }
)  # fmt: skip

DOCUMENT_TYPES_HUMAN = (
    "PDF, Word, Excel, PowerPoint, OpenDocument, ZIP, images (PNG, JPEG, GIF, WebP), "
    "audio (MP3, OGG, WAV, M4A), MP4 video and plain text"
)

# Pillow's own bomb guard only *warns* below 2x MAX_IMAGE_PIXELS; we refuse explicitly from
# the header, before any pixels are decoded. 50 MP covers every phone camera in a school.
MAX_IMAGE_PIXELS = 50_000_000

# Keys are random (uuid4 hex), never derived from the user's file name or content: a content
# hash would make two uploads share one blob, so deleting one would break the other.
KEY_PATTERN = re.compile(r"[0-9a-f]{32}")

# Output formats for re-encoded images: (Pillow format, content type, extension).
_OUTPUT = {
    "image/jpeg": ("JPEG", "image/jpeg", ".jpg"),
    "image/png": ("PNG", "image/png", ".png"),
    "image/gif": ("PNG", "image/png", ".png"),  # first frame only; avoids GIF quirks
    "image/webp": ("WEBP", "image/webp", ".webp"),
}
_PIL_FORMAT_FOR_SNIFF = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}


class UploadRejected(Exception):
    """An upload the service refuses; ``status`` is the HTTP status, ``message`` is for humans."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidKey(FileNotFoundError):
    """A storage key that is not well-formed.

    Subclasses FileNotFoundError so a handler that maps "not found" to 404 also covers
    garbage (or traversal attempts) in the URL without leaking why.
    """


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    content_type: str
    size: int
    filename: str
    width: int | None = None
    height: int | None = None
    thumb_key: str | None = None


# --------------------------------------------------------------------------- file names

_FILENAME_MAX = 120
_EXT_RE = re.compile(r"\.[^\W_]{1,10}$")
_UNSAFE_CHARS_RE = re.compile(r"[^\w .()\-+,&'!@#~\[\]]")


def safe_filename(name: str) -> str:
    """Turn a client-supplied name into a display/download name safe for Content-Disposition.

    It is never used as a path on disk, but it still must not carry directories, control or
    bidi characters (which can disguise "gpj.exe" as "exe.jpg"), or leading dots.
    """
    name = unicodedata.normalize("NFC", name or "")
    # Browsers on Windows send "C:\\Users\\x\\file.txt": treat both separators as directories.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Unicode category C* = control, format (incl. bidi overrides), surrogate, private, unassigned.
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = _UNSAFE_CHARS_RE.sub("_", name)
    name = re.sub(r"\.{2,}", ".", name)  # no ".." anywhere
    name = " ".join(name.split())
    name = name.lstrip(". ").rstrip(". ")  # no hidden files; Windows drops trailing dots
    if not name:
        return "file"
    return _truncate_keeping_extension(name, _FILENAME_MAX)


def _truncate_keeping_extension(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    match = _EXT_RE.search(name)
    ext = match.group(0) if match and match.start() > 0 else ""
    stem = name[: limit - len(ext)].rstrip(". ")
    return (stem or "file") + ext


def _with_extension(filename: str, ext: str, accepted: tuple[str, ...]) -> str:
    """Make the name's extension match what we actually stored (e.g. a GIF saved as PNG)."""
    if filename.lower().endswith(accepted):
        return filename
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    return _truncate_keeping_extension((stem or "file") + ext, _FILENAME_MAX)


# --------------------------------------------------------------------------- sniffing


def sniff(data: bytes) -> str:
    """Content type from magic bytes only (never the name).

    Markup (HTML, SVG, XML, JS) is deliberately reported as text/plain: the service must never
    hand out user bytes with a type a browser would render or execute.
    """
    head = data[:64]
    for check in (_sniff_executable, _sniff_image, _sniff_media, _sniff_container):
        found = check(head)
        if found:
            if found == "application/zip":
                return _sniff_zip(data)
            return found
    return _sniff_text(data)


def _sniff_executable(head: bytes) -> str | None:
    if head.startswith(b"\x7fELF"):
        return "application/x-executable"
    if head.startswith(b"MZ"):
        return "application/x-msdownload"
    if head[:4] in {b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
                    b"\xcf\xfa\xed\xfe"}:  # fmt: skip
        return "application/x-mach-binary"
    # Shebang scripts are valid UTF-8 and would otherwise pass as text; a UTF-8 BOM in front
    # doesn't stop some loaders, so look past it.
    if head.removeprefix(b"\xef\xbb\xbf").startswith(b"#!"):
        return "text/x-script"
    return None


def _sniff_image(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in {b"GIF87a", b"GIF89a"}:
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _sniff_media(head: bytes) -> str | None:
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in {b"M4A ", b"M4B "}:
            return "audio/mp4"
        if brand == b"qt  ":
            return "video/quicktime"
        return "video/mp4"
    if head.startswith(b"ID3") or _is_mpeg_audio_frame(head):
        return "audio/mpeg"
    return None


def _is_mpeg_audio_frame(head: bytes) -> bool:
    # 11 sync bits, then version != reserved (01) and layer != reserved (00). The layer check
    # also excludes ADTS AAC (layer 00), which looks similar.
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate = head[2] >> 4
    return version != 0b01 and layer != 0b00 and bitrate != 0b1111


def _sniff_container(head: bytes) -> str | None:
    if head[:4] in {b"PK\x03\x04", b"PK\x05\x06"}:
        return "application/zip"
    return None


def _sniff_zip(data: bytes) -> str:
    """Tell Office/OpenDocument files apart from plain ZIPs by their member names."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                # ODF stores its type as the first, uncompressed member; read a bounded amount
                # so a hostile archive can't make us inflate gigabytes.
                with archive.open("mimetype") as member:
                    declared = member.read(100).decode("ascii", "replace").strip()
                if declared in {ODT, ODS, ODP}:
                    return declared
            if "[Content_Types].xml" in names:
                prefixes = {name.split("/", 1)[0] for name in names if "/" in name}
                for prefix, content_type in (("word", DOCX), ("xl", XLSX), ("ppt", PPTX)):
                    if prefix in prefixes:
                        return content_type
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError):
        # A corrupt central directory: still a ZIP by its magic, just not an Office file.
        pass
    return "application/zip"


def _sniff_text(data: bytes) -> str:
    if b"\x00" in data:
        return OCTET_STREAM
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return OCTET_STREAM
    return "text/plain"


# --------------------------------------------------------------------------- sizes


def too_large_message(size: int, limit: int) -> str:
    """ "The file is 2.1 MB; the limit is 2 MB." (the size rounded up, never to the limit)"""
    size_text, limit_text = _human_sizes(size, limit)
    return f"The file is {size_text}; the limit is {limit_text}."


def _human_sizes(size: int, limit: int) -> tuple[str, str]:
    """Format both numbers in the limit's unit, rounding the file size *up*.

    Rounding up guarantees a file 1 byte over a 20 MB limit reads "20.1 MB", not "20 MB".
    """
    if limit >= MIB:
        unit, scale = "MB", MIB
    elif limit >= KIB:
        unit, scale = "KB", KIB
    else:
        return f"{size} bytes", f"{limit} bytes"

    def fmt(value: float) -> str:
        text = f"{value:.1f}"
        return text[:-2] if text.endswith(".0") else text

    return f"{fmt(math.ceil(size * 10 / scale) / 10)} {unit}", f"{fmt(limit / scale)} {unit}"


# --------------------------------------------------------------------------- store


class FileStore:
    """Blob store under ``root/<2 hex>/<32 hex>``; names on disk never come from users."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.root = Path(root)
        self.max_bytes = max_bytes

    # ---- public API

    def store_document(self, data: bytes, filename: str) -> StoredFile:
        """Store any allowed file as uploaded, except that images lose where they were
        taken (GPS) and their embedded XMP; their pixels are kept bit for bit."""
        self._check_size(data)
        content_type = sniff(data)
        if content_type in EXECUTABLE_TYPES:
            raise UploadRejected(415, "Programs and scripts can't be uploaded.")
        if content_type not in DOCUMENT_TYPES:
            raise UploadRejected(
                415, f"This type of file can't be uploaded. Accepted: {DOCUMENT_TYPES_HUMAN}."
            )
        filename = safe_filename(filename)
        if content_type in IMAGE_TYPES:
            data = strip_location(data, content_type)
            if sniff(data) != content_type:  # a GIF re-encoded as PNG says so
                content_type = sniff(data)
                filename = _with_extension(filename, ".png", (".png",))
        key = self._write_new(data)
        return StoredFile(
            key=key, content_type=content_type, size=len(data), filename=filename
        )

    def store_image(
        self, data: bytes, filename: str, *, thumb_size: tuple[int, int] = (320, 320)
    ) -> StoredFile:
        """Validate, re-encode without metadata, thumbnail (always JPEG) and store an image.

        CPU-heavy (decode + encode): call it from an executor, not the event loop.
        """
        if len(thumb_size) != 2 or min(thumb_size) < 1:
            raise ValueError("thumb_size must be two positive integers")
        self._check_size(data)
        sniffed = sniff(data)
        if sniffed not in IMAGE_TYPES:
            raise UploadRejected(415, "The file is not a PNG, JPEG, GIF or WebP image.")
        image = _decode_image(data, sniffed)
        pil_format, content_type, ext = _OUTPUT[sniffed]
        main_bytes = _encode(image, pil_format)
        thumb_bytes = _make_thumbnail(image, thumb_size)
        # Everything is encoded in memory first, so an encoder error leaves nothing on disk.
        key = self._write_new(main_bytes)
        try:
            thumb_key = self._write_new(thumb_bytes)
        except BaseException:
            self.delete(key)  # never leave a main image without its thumbnail
            raise
        accepted = (".jpg", ".jpeg") if ext == ".jpg" else (ext,)
        return StoredFile(
            key=key,
            content_type=content_type,
            size=len(main_bytes),
            filename=_with_extension(safe_filename(filename), ext, accepted),
            width=image.width,
            height=image.height,
            thumb_key=thumb_key,
        )

    def store_blob(self, data: bytes) -> str:
        """Store bytes exactly as given (no sniffing, no re-encoding); return the new key.

        Only for trusted re-imports of blobs this store produced (a space export's
        already re-encoded photos and thumbnails): the caller checks what the bytes are.
        """
        self._check_size(data)
        return self._write_new(data)

    def open(self, key: str) -> Path:
        """Path of a stored blob; InvalidKey for malformed keys, FileNotFoundError if absent."""
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path

    def delete(self, key: str) -> None:
        """Remove a blob; deleting something already gone is not an error."""
        path = self._path(key)  # outside the try: InvalidKey is a FileNotFoundError too
        try:
            path.unlink()
        except FileNotFoundError:
            pass

    # ---- internals

    def _path(self, key: str) -> Path:
        # fullmatch on a fixed alphabet: no "/", "..", NUL or absolute paths can get through.
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            raise InvalidKey(f"invalid storage key: {key!r}")
        return self.root / key[:2] / key

    def _check_size(self, data: bytes) -> None:
        if len(data) > self.max_bytes:
            raise UploadRejected(413, too_large_message(len(data), self.max_bytes))
        if not data:
            raise UploadRejected(400, "The file is empty.")

    def _write_new(self, data: bytes) -> str:
        key = uuid.uuid4().hex
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _atomic_target(path) as handle:
            handle.write(data)
        return key


@contextmanager
def _atomic_target(path: Path) -> Iterator[io.BufferedWriter]:
    """Write to a temp file beside ``path``, fsync, then rename: readers never see half a file.

    The temp name starts with "." so it can never match a key and be served.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable across a crash; not possible on every platform.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- images

GPS_IFD = 0x8825
_XMP_SIGNATURES = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")


def strip_location(data: bytes, content_type: str) -> bytes:
    """`data` without its location: the EXIF GPS block and XMP (which may repeat it) go,
    everything else (pixels, orientation, camera) stays as uploaded.

    An image this cannot rewrite safely is re-encoded without any metadata, as the
    gallery does: a stored image never keeps a position.
    """
    try:
        if content_type == "image/jpeg":
            cleaned = _jpeg_without_location(data)
        elif content_type == "image/png":
            cleaned = _png_without_metadata(data)
        elif content_type == "image/webp":
            cleaned = _webp_without_metadata(data)
        else:  # GIF has no EXIF; application data (XMP) goes with a re-encode
            cleaned = data if not _gif_has_extensions(data) else None
        if cleaned is not None and not _has_location(cleaned):
            return cleaned
    except (ValueError, IndexError, KeyError, OSError, SyntaxError, TypeError):
        pass
    image = _decode_image(data, content_type)
    return _encode(image, _OUTPUT[content_type][0] if content_type != "image/gif" else "PNG")


def _has_location(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        if image.getexif().get_ifd(GPS_IFD):
            return True
        return any(k in image.info for k in ("xmp", "XML:com.adobe.xmp"))


def _jpeg_without_location(data: bytes) -> bytes:
    """JPEG segments up to the image data, the Exif APP1 rewritten without GPS, XMP out."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    out = [data[:2]]
    pos = 2
    while True:
        if data[pos] != 0xFF:
            raise ValueError("broken JPEG marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or 0xD0 <= marker <= 0xD9 or marker == 0x01:
            out.append(data[pos:])  # the scan and everything after it, unchanged
            return b"".join(out)
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2:
            raise ValueError("broken JPEG segment")
        payload = data[pos + 4:pos + 2 + length]
        exif = Image.Exif()
        if marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            exif.load(payload)
        if GPS_IFD in exif:  # rewritten without it; an Exif block without GPS stays as is
            del exif[GPS_IFD]
            payload = exif.tobytes()
            out.append(b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload)
        elif not (marker == 0xE1 and payload.startswith(_XMP_SIGNATURES)):
            out.append(data[pos:pos + 2 + length])
        pos += 2 + length


# PNG chunks that carry metadata (EXIF, XMP and free text, where a position may hide).
_PNG_METADATA = {b"eXIf", b"tEXt", b"zTXt", b"iTXt"}


def _png_without_metadata(data: bytes) -> bytes:
    signature = b"\x89PNG\r\n\x1a\n"
    if not data.startswith(signature):
        raise ValueError("not a PNG")
    out, pos = [signature], len(signature)
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("truncated PNG chunk")
        if kind not in _PNG_METADATA:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _webp_without_metadata(data: bytes) -> bytes:
    """The RIFF chunks without EXIF and XMP, and the VP8X flags saying so."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP")
    out, pos = [], 12
    while pos + 8 <= len(data):
        kind = data[pos:pos + 4]
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        end = pos + 8 + size + (size & 1)
        chunk = data[pos:min(end, len(data))]
        if kind == b"VP8X":
            flags = chunk[8] & ~0x0C  # neither EXIF (0x08) nor XMP (0x04) any more
            chunk = chunk[:8] + bytes([flags]) + chunk[9:]
        if kind not in (b"EXIF", b"XMP "):
            out.append(chunk)
        pos = end
    body = b"WEBP" + b"".join(out)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def _gif_has_extensions(data: bytes) -> bool:
    """Whether a GIF carries XMP or other application data than looping."""
    with Image.open(io.BytesIO(data)) as image:
        return bool(image.info.get("xmp") or image.info.get("extension"))


def _decode_image(data: bytes, sniffed: str) -> Image.Image:
    """Fully decode the (first frame of the) image, upright, as a metadata-free copy."""
    unreadable = UploadRejected(400, "The file is not a readable image.")
    try:
        with Image.open(io.BytesIO(data), formats=[_PIL_FORMAT_FOR_SNIFF[sniffed]]) as image:
            # Header-only so far: refuse pixel bombs before allocating anything.
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise UploadRejected(
                    400,
                    f"The image is {image.width}×{image.height} pixels; "
                    f"the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels.",
                )
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            return _strip_metadata(upright)
    except UploadRejected:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
            KeyError, IndexError, TypeError, MemoryError) as exc:  # fmt: skip
        # Pillow surfaces corrupt input through many exception types.
        raise unreadable from exc


def _strip_metadata(image: Image.Image) -> Image.Image:
    """Copy pixels into a brand-new image whose ``info`` is empty.

    Some Pillow encoders fall back to ``image.info`` for ICC profiles and comments, so just
    not passing ``exif=`` is not enough; a fresh image carries no EXIF, GPS, XMP, ICC or text.
    """
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if image.mode in {"RGB", "RGBA", "L", "LA"} and "transparency" not in image.info:
        pixels = image
    else:
        pixels = image.convert("RGBA" if has_alpha else "RGB")
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    return clean


def _encode(image: Image.Image, pil_format: str) -> bytes:
    out = io.BytesIO()
    if pil_format == "JPEG":
        if image.mode not in {"RGB", "L"}:
            image = _flatten(image)
        image.save(out, "JPEG", quality=88, optimize=True)
    elif pil_format == "WEBP":
        if image.mode not in {"RGB", "RGBA"}:
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        image.save(out, "WEBP", quality=88)
    else:
        image.save(out, "PNG")
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """Composite onto white: JPEG has no alpha and black backgrounds look broken."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _make_thumbnail(image: Image.Image, size: tuple[int, int]) -> bytes:
    """Always a JPEG (alpha flattened onto white), so thumbnails have one known type."""
    thumb = image.copy()
    thumb.thumbnail(size, Image.Resampling.LANCZOS)
    return _encode(thumb, "JPEG")
