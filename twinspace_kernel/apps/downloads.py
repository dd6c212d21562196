"""Files the member view hands to a member: kept in their home, offered as a download link."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import ipywidgets as widgets

from ..client import TwinSpaceClient
from ..i18n import _
from .base import TwinSpaceApp, escape, server_prefix

# Where downloads from the member view go, in the member's home.
DOWNLOADS_DIR = "TwinSpace downloads"
CHUNK = 256 * 1024


def write_to_home(filename: str, write: Callable[[Path], None]) -> Path:
    """~/TwinSpace downloads/`filename`, made by `write(partial_path)`.

    Written beside it first and renamed when complete: a failed download never leaves
    half a file under the real name.
    """
    folder = Path.home() / DOWNLOADS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target, partial = folder / filename, folder / f".{filename}.part"
    try:
        write(partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def fetch_to_home(client: TwinSpaceClient, path: str, filename: str,
                  progress: widgets.IntProgress, timeout: float | tuple = 30.0) -> Path:
    """Stream the service's `path` into ~/TwinSpace downloads/`filename`, moving
    `progress` as the bytes come."""
    response = client.request("GET", path, stream=True, timeout=timeout)
    total = int(response.headers.get("Content-Length") or 0)
    progress.max, progress.value = max(total, 1), 0

    def write(partial: Path) -> None:
        done = 0
        with response, partial.open("wb") as out:
            for chunk in response.iter_content(CHUNK):
                out.write(chunk)
                done += len(chunk)
                progress.value = min(done, progress.max)

    target = write_to_home(filename, write)
    progress.value = progress.max
    return target


def download_link(target: Path, text: str) -> str:
    """An <a download> for a file of the member's home, served by their own server."""
    relative = target.relative_to(Path.home()).as_posix()
    href = f"{server_prefix()}files/{quote(relative)}"
    return (f'<a class="twinspace-download" href="{escape(href)}" download="{escape(target.name)}"'
            f' style="font-weight:bold;color:#0b3d91">{escape(text)}</a>')


def saved_html(target: Path) -> str:
    """The link to a file just saved in the home, and where else to find it."""
    return (download_link(target, _("Save {file}").format(file=target.name))
            + ' <span style="color:#555">'
            + escape(_("(also in your home folder: {folder})").format(folder=DOWNLOADS_DIR))
            + "</span>")


def offer_download(app: TwinSpaceApp, button: widgets.Button, progress: widgets.IntProgress,
                   result: widgets.HTML, path: str, filename: str,
                   timeout: float | tuple = 30.0) -> Path | None:
    """What a Download button does: the service's `path` fetched into the home with
    `progress` shown (`button` disabled meanwhile), then its link in `result`.

    None when it failed: the app says why (a refusal, a full disk, a cut connection).
    """
    button.disabled = True
    progress.layout.display = ""
    result.value = ""
    target = None
    try:
        app.clear_notice()
        target = app.guard(fetch_to_home, app.client, path, filename, progress, timeout)
    except OSError as e:  # a full disk, a connection cut in the middle (requests' too)
        app.notice(_("The download did not complete: {error}").format(error=e), "error")
    finally:
        button.disabled = False
        progress.layout.display = "none"
    if target is not None:
        result.value = saved_html(target)
    return target
