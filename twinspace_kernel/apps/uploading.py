"""What the document library and the gallery share: upload limits, sizes and browser links."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import ipywidgets as widgets

from ..client import ServiceUnavailable, TwinSpaceClient, TwinSpaceError
from ..i18n import _, ngettext
from .base import refusal_text

KIB = 1024
MIB = 1024 * 1024


def _number(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def human_size(size: int) -> str:
    """A size as people read it: "800 bytes", "12 KB", "1.5 MB"."""
    if size >= MIB:
        return _("{n} MB").format(n=_number(size / MIB))
    if size >= KIB:
        return _("{n} KB").format(n=_number(size / KIB))
    return ngettext("{n} byte", "{n} bytes", size).format(n=size)


def _in_unit(size: int, limit: int, *, up: bool) -> str:
    """`size` in the unit of `limit` (as the service writes it); rounded up if `up`."""
    if limit >= MIB:
        scale, unit = MIB, _("{n} MB")
    elif limit >= KIB:
        scale, unit = KIB, _("{n} KB")
    else:
        return ngettext("{n} byte", "{n} bytes", size).format(n=size)
    value = math.ceil(size * 10 / scale) / 10 if up else size / scale
    return unit.format(n=_number(value))


def limit_text(limit: int) -> str:
    """ "Largest file: 20 MB" """
    return _("Largest file: {limit}").format(limit=_in_unit(limit, limit, up=False))


def too_large_message(size: int, limit: int) -> str:
    """ "The file is 2.1 MB; the limit is 2 MB." — the service's own wording, checked before
    sending: the size is rounded *up*, so a file just over the limit never reads as the limit."""
    return _("The file is {size}; the limit is {limit}.").format(
        size=_in_unit(size, limit, up=True), limit=_in_unit(limit, limit, up=False)
    )


def short_date(value: str | None) -> str:
    """ "2026-05-01T14:03:22+00:00" -> "2026-05-01 14:03" (UTC, as the service stores it)."""
    if not value:
        return ""
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return when.strftime("%Y-%m-%d %H:%M")


def author_name(author: dict | None) -> str:
    if not author:
        return _("(deleted account)")
    return author.get("display_name") or author.get("name") or ""


def browser_url(client: TwinSpaceClient, path: str) -> str:
    """The address of an API resource as the member's *browser* must use it.

    The kernel's client may reach the service by an address the browser cannot (inside
    the machine), and its token must never be put in a page. So links keep only the
    client's *path* (…/services/twinspace/api/v1/) and drop scheme and host: the browser
    resolves them against the hub it is looking at, goes through the hub's proxy to the
    service, and sends the hub's OAuth cookie for the service with them.
    """
    return urlsplit(client.url).path.rstrip("/") + "/" + path.lstrip("/")


def all_items(client: TwinSpaceClient, path: str, *, pages: int = 10, **params: Any) -> list:
    """Every item of a short list (folders, albums), following its `next` cursor."""
    items: list = []
    cursor = None
    for _page in range(pages):
        answer = client.get(path, limit=100, before=cursor, **params)
        items += answer["items"]
        cursor = answer.get("next")
        if cursor is None:
            break
    return items


def upload_limit(client: TwinSpaceClient) -> int:
    """The largest upload the service accepts, in bytes (`GET limits`)."""
    return int(client.get("limits")["upload_limit"])


def selected_files(value: Any) -> list[tuple[str, bytes]]:
    """(name, bytes) of each file in a FileUpload value (ipywidgets 8: a tuple of dicts)."""
    files = []
    for item in value or ():
        content = item.get("content", b"")
        files.append((str(item.get("name") or "file"), bytes(content)))
    return files


def upload_widget(accept: str = "") -> widgets.FileUpload:
    return widgets.FileUpload(
        accept=accept,
        multiple=True,
        description=_("Upload"),
        icon="upload",
        tooltip=_("Choose files to upload"),
    )


def send_files(app: Any, upload: widgets.FileUpload, limit: int,
               send: Callable[[bytes, str], Any]) -> list[Any]:
    """Check and send each file picked in `upload`, then clear it so it can be used again.

    Files over `limit` are not sent at all; the service's refusals (413, 415, 403…) are
    shown with its message. Returns what the service answered for the files it kept.
    """
    files = selected_files(upload.value)
    if not files:
        return []
    done, problems = [], []
    try:
        app.clear_notice()
        for name, data in files:
            if limit and len(data) > limit:
                problems.append(f"{name}: {too_large_message(len(data), limit)}")
                continue
            try:
                done.append(send(data, name))
            except ServiceUnavailable as e:
                app.show_unavailable(e)
                return done
            except TwinSpaceError as e:
                problems.append(f"{name}: {refusal_text(e)}")
    finally:
        # An emptied widget is ready for the next choice, whatever happened above.
        upload.value = ()
    if problems:
        app.notice(" ".join(problems), "error")
    elif done:
        app.notice(
            ngettext("Uploaded {n} file.", "Uploaded {n} files.", len(done)).format(n=len(done)),
            "success",
        )
    return done
