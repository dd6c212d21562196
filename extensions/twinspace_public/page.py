"""Runs in a public kernel: shows the published page the reader asked for, and only while it is.

The public notebook calls `show_requested_page()`. In a preheated kernel it waits for the
reader's request (`voila.utils.get_query_string()`), then asks the TwinSpace API (with the
public token) for the page: only a page the public may read comes back. The page is built
from its published copy under $TWINSPACE_PUBLIC_DIR (never the shared volume): text cells
as sanitized HTML, application cells as the apps themselves (each calling the API as the
public), teachers' own cells run with their output shown and their source and errors
hidden. Everything sits in one widget, so when the page stops being public (checked every
few seconds) the reader's view is emptied at once.
"""

from __future__ import annotations

import html
import logging
import os
import threading
from pathlib import Path
from urllib.parse import parse_qs

import ipywidgets as widgets
from IPython.display import display

from twinspace_kernel import page_view
from twinspace_kernel.apps import show
from twinspace_kernel.client import (
    Forbidden,
    NotFound,
    ServiceUnavailable,
    TwinSpaceClient,
    TwinSpaceError,
    Unauthorized,
)
from twinspace_kernel.i18n import _, set_language
from twinspace_kernel.service.sanitize import render_markdown

log = logging.getLogger("twinspace.public")

# Applications that are never for the public (the service refuses them anyway).
PRIVATE_KINDS = frozenset({"members", "mailbox", "profile", "chat"})
RECHECK_SECONDS = float(os.environ.get("TWINSPACE_PUBLIC_RECHECK_SECONDS", "2"))
GONE = (Unauthorized, Forbidden, NotFound)


def requested() -> dict[str, str]:
    """The reader's query (?page=<id>&lang=<code>), waited for in a preheated kernel."""
    from voila.utils import get_query_string

    query = parse_qs(get_query_string() or "")
    return {key: values[0] for key, values in query.items() if values}


def show_requested_page() -> PublicPage:
    query = requested()
    set_language(query.get("lang") or "en")
    view = PublicPage(query.get("page", ""))
    display(view)
    view.watch()
    return view


def base_url() -> str:
    return os.environ.get("VOILA_BASE_URL", "/services/public/")


def page_link(page_id: int) -> str:
    return f"{base_url()}view?page={int(page_id)}"


class PublicPage(widgets.VBox):
    """One published page for the public, emptied as soon as it is no longer public."""

    def __init__(self, page_id: str, *, client: TwinSpaceClient | None = None) -> None:
        super().__init__()
        self.add_class("twinspace-public-page")
        self.page_id = int(page_id) if str(page_id).isdigit() else None
        self.client = client or TwinSpaceClient(retry_seconds=2)
        self.stopped = threading.Event()
        self.children = self.build()

    # --- building -------------------------------------------------------------------

    def build(self) -> list[widgets.Widget]:
        if self.page_id is None:
            return [self.message(_("This page does not exist or is not public."))]
        try:
            page = self.client.get(f"pages/{self.page_id}")
            space = self.client.get(f"spaces/{page['space']}")
            pages = self.client.get(f"spaces/{page['space']}/pages")["items"]
        except GONE:
            return [self.message(_("This page does not exist or is not public."))]
        except TwinSpaceError:
            return [self.message(_("TwinSpace is not answering right now.") + " "
                                 + _("Try again in a moment."))]
        nb = read_copy(page)
        if nb is None:
            return [self.message(_("This page does not exist or is not public."))]
        parts: list[widgets.Widget] = [self.navigation(space, pages, page)]
        if page["section"] == "home":
            parts.append(widgets.HTML(
                f"<h1>{html.escape(space['title'])}</h1>"
                f"<p>{html.escape(space.get('description') or '')}</p>"))
        for cell in page_view.shown_cells(nb):
            part = self.cell_widget(cell)
            if part is not None:
                parts.append(part)
        return parts

    def navigation(self, space: dict, pages: list[dict], current: dict) -> widgets.HTML:
        links = []
        for page in pages:
            title = _("Home") if page["section"] == "home" else page["title"]
            if page["id"] == current["id"]:
                links.append(f"<b>{html.escape(title)}</b>")
            else:
                links.append(f'<a href="{html.escape(page_link(page["id"]))}">'
                             f"{html.escape(title)}</a>")
        return widgets.HTML(
            '<nav class="twinspace-public-nav" style="padding:8px 0;border-bottom:1px solid '
            f'#d5dce6;margin-bottom:12px"><a href="{html.escape(base_url())}">'
            f"{html.escape(_('Public spaces'))}</a> › <b>{html.escape(space['title'])}</b>: "
            + " | ".join(links) + "</nav>"
        )

    def cell_widget(self, cell) -> widgets.Widget | None:
        meta = cell.get("metadata", {}).get("twinspace", {})
        if not isinstance(meta, dict):
            meta = {}
        if cell.get("cell_type") == "markdown":
            return widgets.HTML(render_markdown(page_view.cell_source(cell)))
        if cell.get("cell_type") != "code":
            return None
        if meta.get("kind"):
            return self.app_widget(meta)
        return self.teacher_cell(page_view.cell_source(cell))

    def app_widget(self, meta: dict) -> widgets.Widget | None:
        if meta["kind"] in PRIVATE_KINDS or not isinstance(meta.get("app_id"), int):
            return None
        try:
            return show(meta["app_id"], client=self.client)
        except Exception as e:  # any app failure: say so, never a traceback
            log.warning("Public app %s could not be shown: %s", meta.get("app_id"), e)
            return self.message(_("This part of the page could not be shown."))

    def teacher_cell(self, source: str) -> widgets.Widget:
        """A teacher's own cell (F24): run here, its output shown, its source and errors not."""
        out = widgets.Output()
        with out:
            try:
                page_view.run_cell_quietly(source)
            except Exception as e:  # a broken cell: a neutral line instead of a traceback
                log.warning("A teacher's cell failed on public page %s: %s", self.page_id,
                            type(e).__name__)
                out.clear_output()
                display(self.message(_("This part of the page could not be shown.")))
        return out

    @staticmethod
    def message(text: str) -> widgets.HTML:
        return widgets.HTML(f'<p role="status" class="twinspace-public-message">'
                            f"{html.escape(text)}</p>")

    # --- staying public -------------------------------------------------------------

    def watch(self) -> None:
        """Check every few seconds that the page is still public; empty the view if not."""
        if self.page_id is None:
            return
        threading.Thread(target=self._watch, name="twinspace-public-watch",
                         daemon=True).start()

    def _watch(self) -> None:
        while not self.stopped.wait(RECHECK_SECONDS):
            try:
                self.client.get(f"pages/{self.page_id}")
            except GONE:
                self.gone()
                return
            except (ServiceUnavailable, TwinSpaceError):
                continue  # a restarting service is no reason to hide the page

    def gone(self) -> None:
        old = list(self.children)
        self.children = [widgets.HTML(
            f'<p role="status" class="twinspace-public-gone">'
            f"{html.escape(_('This page is no longer public.'))} "
            f'<a href="{html.escape(base_url())}">{html.escape(_("Public spaces"))}</a></p>'
        )]
        for widget in old:
            page_view.close_all(widget)
        self.stopped.set()


def read_copy(page: dict):
    """The published copy of `page`, or None when there is none (or it is out of the tree)."""
    root = os.environ.get("TWINSPACE_PUBLIC_DIR", "")
    if not root:
        return None
    base = Path(root).resolve()
    path = (base / page["space"] / page["section"] / f"{page['slug']}.ipynb").resolve()
    if base not in path.parents:
        return None
    try:
        return page_view.read_notebook(path)
    except (OSError, ValueError):
        return None
