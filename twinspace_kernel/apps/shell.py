"""The member view's shell: one Voila page per open view whose kernel swaps pages in place.

Voila renders the first page as always, the shell in its first cell (`shell(page_id, ...)`,
with the navigation bar) and the page's own cells after it. The shell's browser side
(shell.js) turns a click on another page's link into {"type": "show", "page", "seq"}; the
kernel asks the service for that page (which decides), builds its cells (Markdown
sanitized, applications shown, teachers' own code run with its output and without its
source or errors), moves the navigation bar, swaps the content and closes every widget the
old page made, which stops the apps' threads. Moving between pages is then the cost of the
new page's widgets, not of a kernel start and a page load. A page the kernel cannot show
answers "failed": the browser loads the address and the server says why, with its status.
"""

from __future__ import annotations

import builtins
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets
from IPython import get_ipython
from IPython.display import clear_output, display
from ipywidgets.widgets.widget import _instances

from .. import page_view
from ..client import TwinSpaceClient, TwinSpaceError
from ..i18n import _
from . import APPS, TOOLS, contexts_ahead
from .base import escape
from .navigation import Navigation, bar_reads

log = logging.getLogger("twinspace.shell")
# To the kernel's own log, never into a page: a cell's output is captured while it runs.
log.addHandler(logging.StreamHandler(sys.__stderr__))
log.propagate = False

# Seconds the browser waits for a page before it loads the address itself (a dead or culled
# kernel never answers; a busy one answers late, so this is generous).
TIMEOUT_MS = int(os.environ.get("TWINSPACE_SHELL_TIMEOUT_MS", "10000"))
# The navigation bar's reads and the applications' contexts, made while a page's cells run.
READS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="twinspace-shell")


def page_title(page: dict) -> str:
    return f"{page['title']} – TwinSpace"


class Shell(anywidget.AnyWidget):
    """The hidden widget that talks to shell.js, and the pages it shows under the bar."""

    _esm = (Path(__file__).with_name("shell.js")).read_text(encoding="utf-8")
    page = traitlets.Int().tag(sync=True)
    prefix = traitlets.Unicode().tag(sync=True)
    timeout_ms = traitlets.Int(TIMEOUT_MS).tag(sync=True)

    def __init__(self, page_id: int | None, *, space: str, section: str, base_url: str,
                 hub_url: str, tool: str = "", member: str = "",
                 client: TwinSpaceClient | None = None, spaces_dir: str | None = None) -> None:
        # page 0: a tool of the view (`tool`), whose own cell follows the shell's.
        super().__init__(page=int(page_id or 0),
                         prefix=base_url.rstrip("/") + "/twinspace/page/")
        self.client = client or TwinSpaceClient()
        self.volume = page_view.volume_root(spaces_dir)
        self.nav = Navigation(page_id, space=space, section=section, tool=tool, member=member,
                              base_url=base_url, hub_url=hub_url, client=self.client)
        self.content = widgets.VBox()
        self.content.add_class("ts-shell-content")
        self.box = widgets.VBox([self, self.nav, self.content])
        self.namespace: dict[str, Any] = {}
        # Every widget alive now is the shell's (or a module's): never closed by a swap.
        self.keep = set(_instances)
        self.on_msg(self._on_message)

    def _on_message(self, _widget, content: dict, _buffers) -> None:
        if content.get("type") != "show":
            return
        seq = content.get("seq")
        try:
            page_id = int(content["page"])
            shown = self.show(page_id)
        except Exception:
            log.exception("could not show page %r", content.get("page"))
            shown = None
        if shown is None:
            self.send({"type": "failed", "seq": seq})
            return
        page, old = shown
        self.send({"type": "shown", "seq": seq, "page": page_id, "title": page_title(page)})
        self.close_old(old)

    def show(self, page_id: int) -> tuple[dict, set[str]] | None:
        """Show page `page_id` in place of the current one: the page, and the old page's
        widgets, to be closed once the browser has the new page's title. None when it
        cannot be shown here (refused, gone, no notebook yet): the server then answers the
        address."""
        old = set(_instances) - self.keep
        try:
            page = self.client.get(f"pages/{page_id}")
            notebook = page_view.read_page_notebook(page, self.client, self.volume)
        except (TwinSpaceError, OSError, ValueError) as e:
            log.info("page %s is not shown in place: %s", page_id, e)
            return None
        # The bar's reads go out while the page's cells run.
        bar = [READS.submit(self.client.get, path, **params)
               for path, params in bar_reads(page["space"])]
        children = self.build(page, notebook)
        # The bar first: its current link is right when the new content appears.
        self.nav.go(page, started_reads=bar)
        self.content.children = children
        self.page = page_id
        return page, old

    def close_old(self, old: set[str]) -> None:
        """Close what the old page made (its apps, their inner widgets, widgets its callbacks
        made since): the browser drops their models and the apps stop their threads."""
        for model_id in old:
            widget = _instances.get(model_id)
            if widget is not None:
                widget.close()

    # --- a page's cells ---------------------------------------------------------------

    def build(self, page: dict, notebook: dict) -> list[widgets.Widget]:
        """The widgets of a page's cells, in order. Each page's code runs in a fresh
        namespace: what one page defined is not there for the next."""
        self.namespace = {"__name__": "__main__", "__builtins__": builtins,
                          "display": display, "get_ipython": get_ipython}
        self.enter_folder(page)
        # The page's applications read their contexts at once, not one after another.
        contexts_ahead.update({app["id"]: READS.submit(self.client.get, f"apps/{app['id']}")
                               for app in page.get("apps", [])})
        children: list[widgets.Widget] = []
        try:
            for cell in page_view.shown_cells(notebook):
                source = page_view.cell_source(cell)
                if cell.get("cell_type") == "markdown":
                    children.append(markdown_widget(source))
                elif cell.get("cell_type") == "code" and source.strip():
                    children.append(self.code_widget(page, source))
        finally:
            contexts_ahead.clear()  # an application the notebook does not show
        return children

    def code_widget(self, page: dict, source: str) -> widgets.Output:
        """A code cell's output. The Output widget routes what the cell displays or prints
        in the browser (by this message's id), so the cell's own Output widgets (interact's)
        keep theirs."""
        out = widgets.Output()
        failure = None
        with out:
            try:
                page_view.run_cell_quietly(source, self.namespace)
            except Exception as e:  # a broken cell: a neutral line instead of a traceback
                failure = e
                clear_output()
                display(widgets.HTML(
                    f'<p role="status" class="twinspace-cell-failed">'
                    f"{escape(_('This part of the page could not be shown.'))}</p>"))
        if failure is not None:  # logged once the capture is over
            log.warning("a cell of page %s failed: %s: %s", page["id"],
                        type(failure).__name__, failure)
        return out

    def enter_folder(self, page: dict) -> None:
        """A teacher's cell opening a file next to its page finds it, as in a full render."""
        if self.volume:
            try:
                os.chdir(Path(self.volume) / page["space"] / page["section"])
            except OSError:
                pass


def markdown_widget(source: str) -> widgets.HTML:
    """A Markdown cell, sanitized, with JupyterLab's Markdown styles (headings, tables)."""
    html = page_view.markdown_html(source)
    widget = widgets.HTML(f'<div class="twinspace-markdown">{html}</div>')
    widget.add_class("jp-RenderedHTMLCommon")
    widget.add_class("jp-RenderedMarkdown")
    return widget


def import_apps() -> None:
    """Every application and tool module, imported before the shell notes which widgets
    are its own: a widget a module made on import must never be closed with a page."""
    for registry in (APPS, TOOLS):
        for target in registry.values():
            import_module(f"{__package__}.{target.partition(':')[0]}")


def shell(page_id: int | None, *, space: str, section: str, base_url: str, hub_url: str,
          tool: str = "", member: str = "") -> widgets.VBox:
    """The member view's first cell: the navigation of page `page_id` (or of `tool`) and
    the shell.

    The page's own cells (or the tool's) follow in Voila's render, as without the shell;
    the first move to a page replaces them (the browser drops their cells, the kernel their
    widgets).
    """
    import_apps()
    return Shell(page_id, space=space, section=section, tool=tool, member=member,
                 base_url=base_url, hub_url=hub_url).box
