"""The member view's handlers: landing, a space's sections, and pages rendered by Voila.

Every page has its own address (`<base>/twinspace/page/<id>`), so links, bookmarks and the
browser's Back button work. Who may see a page is the service's answer to `GET pages/<id>`
with the server's own token (the member's identity); the notebook is then read from the
shared volume by this server, which runs as the member, so OS permissions apply as well.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from urllib.parse import urlencode

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from traitlets import Bool, Float, Unicode, default
from traitlets.config import LoggingConfigurable
from voila.handler import VoilaHandler

from twinspace_kernel import page_view, rights
from twinspace_kernel.i18n import LANGUAGES, pick_language

from . import messages as msg
from .service import ServiceError, ViewService

SETTINGS_KEY = "twinspace_view"
# JupyterLab's language setting (in its user settings) and its locale for ours.
LAB_TRANSLATION_SETTINGS = "@jupyterlab/translation-extension/plugin.jupyterlab-settings"
LAB_LOCALES = {"en": "en", "fr": "fr_FR", "de": "de_DE"}
NAVIGATION_TAG = "twinspace-navigation"


class MemberView(LoggingConfigurable):
    """Settings of the member view (`c.MemberView.<name>` in the server's config)."""

    spaces_dir = Unicode(
        config=True,
        help="""The shared volume of page notebooks, <spaces_dir>/<slug>/<section>/<page>.ipynb
        ($TWINSPACE_SPACES_DIR, which the hub's spawner sets).""",
    )

    @default("spaces_dir")
    def _default_spaces_dir(self):
        return os.environ.get("TWINSPACE_SPACES_DIR", "")

    state_file = Unicode(
        config=True,
        help="""Where the member's last used space is remembered (in their own home):
        /twinspace/ lands on its Home page.""",
    )

    @default("state_file")
    def _default_state_file(self):
        return str(Path.home() / ".local" / "share" / "twinspace" / "member-view.json")

    api_url = Unicode(
        config=True,
        help="The TwinSpace API root ($TWINSPACE_API_URL, set by the hub's spawner).",
    )

    @default("api_url")
    def _default_api_url(self):
        return os.environ.get("TWINSPACE_API_URL", "")

    api_timeout = Float(20.0, config=True, help="Seconds to wait for the TwinSpace service.")

    shell = Bool(
        True, config=True,
        help="""Pages open in a shell that moves between them in place (one kernel for the
        open view; twinspace_kernel/apps/shell.py); False renders every page on its own.""",
    )

    def follow_in_jupyterlab(self, language: str) -> None:
        """JupyterLab's own language setting follows the member's (from their next opening
        of JupyterLab), where a language pack is installed."""
        from jupyterlab.commands import get_user_settings_dir

        path = Path(get_user_settings_dir()) / LAB_TRANSLATION_SETTINGS
        wanted = LAB_LOCALES.get(language, "default")
        try:
            settings = json.loads(path.read_text())
        except FileNotFoundError:
            settings = {}
        except (OSError, ValueError):
            return  # edited by hand (comments) or unreadable: the member's own choice stays
        if not isinstance(settings, dict) or settings.get("locale") == wanted:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps({**settings, "locale": wanted}, indent=2))
            tmp.replace(path)
        except OSError as e:
            self.log.warning("Could not set JupyterLab's language in %s: %s", path, e)

    def last_space(self) -> str | None:
        try:
            return json.loads(Path(self.state_file).read_text()).get("space")
        except (OSError, ValueError, AttributeError):
            return None

    def remember_space(self, slug: str) -> None:
        if self.last_space() == slug:
            return
        path = Path(self.state_file)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps({"space": slug}))
            tmp.replace(path)
        except OSError as e:
            # Only a convenience: the page still opens.
            self.log.warning("Could not remember the last space in %s: %s", path, e)


class ViewHandler(JupyterHandler):
    """What the member view's handlers share: the service, the member, polite pages."""

    @property
    def view(self) -> MemberView:
        return self.settings[SETTINGS_KEY]["view"]

    @property
    def service(self) -> ViewService:
        return self.settings[SETTINGS_KEY]["service"]

    def view_url(self, *parts: str) -> str:
        """An address of the view; with no parts its landing, `<base>/twinspace/`."""
        return url_path_join(self.base_url, "twinspace", *parts) if parts else \
            url_path_join(self.base_url, "twinspace/")

    @property
    def logout_url(self) -> str:
        return url_path_join(os.environ.get("JUPYTERHUB_BASE_URL", "/"), "hub", "logout")

    async def member(self) -> dict:
        return await self.service.get("me")

    @staticmethod
    def language_of(me: dict | None) -> str:
        return pick_language(((me or {}).get("user") or {}).get("locale"))

    def polite(self, status: int, language: str | None, title: str, sentence: str,
               links: list[tuple[str, str]] | None = None) -> None:
        """Finish with one of the view's own pages (never a traceback)."""
        if links is None:
            links = [(msg.HOME_LINK, self.view_url()), (msg.LOGOUT_LINK, self.logout_url)]
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(msg.message_page(language, title, sentence, links))

    def refused(self, error: ServiceError, language: str | None) -> None:
        """The polite page for an error the service answered (or its silence)."""
        if error.status == 403:
            self.polite(403, language, msg.FORBIDDEN_TITLE, msg.FORBIDDEN)
        elif error.status == 404:
            self.polite(404, language, msg.NOT_FOUND_TITLE, msg.NOT_FOUND)
        elif error.status == 401:
            self.polite(401, language, msg.SESSION_TITLE, msg.SESSION,
                        [(msg.LOGOUT_LINK, self.logout_url)])
        else:
            self.log.warning("TwinSpace service: %s %s", error.status, error.message)
            self.polite(503, language, msg.UNAVAILABLE_TITLE, msg.UNAVAILABLE)

    async def language(self) -> str | None:
        try:
            return self.language_of(await self.member())
        except ServiceError:
            return None

    async def first_page(self, slug: str, section: str, language: str | None) -> bool:
        """Go to the first page of `section` of space `slug`, or say why not.

        False (nothing sent) when the section has no page yet.
        """
        try:
            items = (await self.service.get(f"spaces/{slug}/pages", section=section))["items"]
        except ServiceError as e:
            self.refused(e, language)
            return True
        if not items:
            return False
        self.view.remember_space(slug)
        self.redirect(self.view_url("page", str(items[0]["id"])))
        return True

    def no_pages(self, slug: str, language: str | None) -> None:
        self.polite(200, language, msg.EMPTY_SECTION_TITLE, msg.EMPTY_SECTION,
                    [(msg.HOME_LINK, self.view_url("space", slug)),
                     (msg.LOGOUT_LINK, self.logout_url)])

    async def switch_language(self, wanted: str) -> None:
        """`?lang=`: the member's language changes (PATCH me); the same address again."""
        # Only from the view's own links: another site's link changes nothing.
        site = self.request.headers.get("Sec-Fetch-Site", "same-origin")
        if wanted in LANGUAGES and site in ("same-origin", "none"):
            try:
                await self.service.patch("me", {"locale": wanted})
            except ServiceError as e:
                self.refused(e, None)
                return
            self.view.follow_in_jupyterlab(wanted)
        # The same address without `lang` (a profile keeps whose it is: `?member=`).
        kept = {name: values[-1].decode() for name, values in self.request.arguments.items()
                if name != "lang"}
        self.redirect(self.request.path + (f"?{urlencode(kept)}" if kept else ""))


class LandingHandler(ViewHandler):
    """`/twinspace/`: the Home page of the member's last used space (else their first)."""

    @web.authenticated
    async def get(self):
        try:
            me = await self.member()
        except ServiceError as e:
            self.refused(e, None)
            return
        language = self.language_of(me)
        slugs = [space["slug"] for space in me.get("spaces", [])]
        if not slugs:
            self.polite(200, language, msg.NO_SPACE_TITLE, msg.NO_SPACE,
                        [(msg.LOGOUT_LINK, self.logout_url)])
            return
        last = self.view.last_space()
        slug = last if last in slugs else slugs[0]
        if not await self.first_page(slug, "home", language):
            self.no_pages(slug, language)


def navigation_source(target: str, language: str, base_url: str, hub_url: str, *,
                      entry: str = "navigation") -> str:
    """The hidden first cell of every page: the member's language, then the navigation
    (`target`: the arguments naming the page, or the space and section); with
    entry="shell", the shell, which shows the page itself under the navigation."""
    return (
        "from twinspace_kernel.i18n import set_language\n"
        f"set_language({language!r})\n"
        f"from twinspace_kernel.apps.{entry} import {entry}\n"
        f"{entry}({target}, base_url={base_url!r}, hub_url={hub_url!r})"
    )


def tool_source(tool: str, space: str, params: dict[str, str]) -> str:
    """The cell of a tool page: the tool, built for the space with the address's params."""
    arguments = "".join(f", {name}={value!r}" for name, value in sorted(params.items()))
    return ("from twinspace_kernel.apps import show_tool\n"
            f"show_tool({tool!r}, {space!r}{arguments})")


def sanitized_markdown(cell):
    """A Markdown cell as HTML cleaned by the service's sanitizer (a second wall: Voila's
    renderer passes raw HTML through, so a title or text that slipped past escaping
    could run script in every reader's browser). Other cells are left as they are."""
    if cell.get("cell_type") != "markdown":
        return cell
    rendered = page_view.markdown_html(page_view.cell_source(cell))
    # One line inside one block tag: Voila's Markdown renderer passes it through whole
    # (a blank line would end the HTML block and hand the rest back to Markdown).
    cell.source = f'<div class="twinspace-markdown">{rendered.replace(chr(10), "&#10;")}</div>'
    return cell


def add_navigation(handler, notebook, cwd):
    """Voila's prelaunch hook: the navigation cell first, the page's tools cell out
    (on a tool page, the tool's cell after the navigation)."""
    page = getattr(handler, "twinspace_page", None)
    if page is None:
        return None
    import nbformat

    # Without a page id: a section without pages yet, whose navigation holds Manage pages,
    # or a tool page.
    page_id = str(int(page["id"])) if page.get("id") is not None else "None"
    target = f"{page_id}, space={page['space']!r}, section={page['section']!r}"
    tool = page.get("tool")
    if tool:
        target += f", tool={tool!r}"
        if page["params"].get("member"):
            target += f", member={page['params']['member']!r}"
    # A page or a tool opened in the shell, which shows the next pages in place (its first
    # cell); a section without pages keeps its own render (its Manage pages makes the first).
    in_shell = bool(page.get("shell")) and (page.get("id") is not None or bool(tool))
    cell = nbformat.v4.new_code_cell(navigation_source(
        target, page["language"], handler.base_url,
        url_path_join(os.environ.get("JUPYTERHUB_BASE_URL", "/"), "hub/"),
        entry="shell" if in_shell else "navigation",
    ))
    cell.metadata["tags"] = [NAVIGATION_TAG]
    cell.metadata["jupyter"] = {"source_hidden": True}
    kept = [sanitized_markdown(c) for c in page_view.shown_cells(notebook)]
    if tool:
        kept = [nbformat.v4.new_code_cell(tool_source(tool, page["space"], page["params"]))]
    notebook.cells = [cell, *kept]
    # The browser tab and history show the page's title (Voila's template reads it).
    notebook.metadata["title"] = f"{page['title']} – TwinSpace"
    return notebook


class PageHandler(VoilaHandler, ViewHandler):
    """`/twinspace/page/<id>`: one page, rendered by Voila with the navigation bar.

    `?lang=fr` changes the member's language (PATCH me) and reloads the page without it.
    """

    # The page's notebook as the service sent it, when this server cannot read the volume.
    notebook_from_service: dict | None = None

    @property
    def contents_manager(self):
        if self.notebook_from_service is not None:
            return InMemoryNotebook(self.notebook_from_service)
        # The shared volume, not the member's home: page paths are relative to it.
        return self.settings[SETTINGS_KEY]["contents_manager"]()

    @web.authenticated
    async def get(self, page_id: str):
        wanted = self.get_argument("lang", None)
        if wanted is not None:
            await self.switch_language(wanted)
            return
        try:
            page, me = await asyncio.gather(self.service.get(f"pages/{page_id}"), self.member())
        except ServiceError as e:
            self.refused(e, await self.language())
            return
        language = self.language_of(me)
        # The language may have changed elsewhere (the profile, another device).
        self.view.follow_in_jupyterlab(language)
        if not self.view.spaces_dir:
            self.polite(503, language, msg.UNAVAILABLE_TITLE, msg.UNAVAILABLE)
            return
        os_path = Path(self.view.spaces_dir) / page_view.page_path(page)
        try:
            with open(os_path, "rb"):
                pass
        except PermissionError:
            # The service (which decides) said yes, but this server's Unix groups are the
            # ones it started with: a space made or a role given since is not in them
            # until it restarts. The service's copy of the notebook, then.
            try:
                self.notebook_from_service = await self.service.get(
                    f"pages/{page['id']}/notebook")
            except ServiceError as e:
                self.refused(e, language)
                return
        except OSError:
            self.polite(404, language, msg.NOT_FOUND_TITLE, msg.NOT_READY)
            return
        self.twinspace_page = {**page, "language": language, "shell": self.view.shell}
        self.view.remember_space(page["space"])
        async for html in self.get_generator(path=page_view.page_path(page)):
            self.write(html)
            self.flush()


class InMemoryNotebook:
    """What Voila loads when the notebook is not a file this server reads: given (a page
    sent by the service), or empty (a section without pages, a tool page: the prelaunch
    hook gives it its cells)."""

    NAME = "section.ipynb"

    def __init__(self, notebook: dict | None = None) -> None:
        self.notebook = notebook

    def get(self, path: str, content: bool = True, **kwargs) -> dict:
        import nbformat

        if self.notebook is not None:
            # As read from a file: multi-line sources come as lists of lines.
            nb = nbformat.reads(json.dumps(self.notebook), as_version=4)
        else:
            nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
                "name": "python3", "display_name": "Python 3 (ipykernel)",
                "language": "python"}})
        name = path.rsplit("/", 1)[-1] if self.notebook is not None else self.NAME
        return {"name": name, "path": path if self.notebook is not None else self.NAME,
                "type": "notebook", "content": nb, "format": "json"}

    def file_exists(self, path: str) -> bool:
        return False


class SectionHandler(VoilaHandler, ViewHandler):
    """`/twinspace/space/<slug>[/<section>]`: the first page of a section (Home by default).

    A section without pages shows, to those who may manage its pages, the navigation with
    Manage pages (to make the first one); to everyone else a short "no pages yet" page.
    """

    @property
    def contents_manager(self):
        return InMemoryNotebook()

    @web.authenticated
    async def get(self, slug: str, section: str | None = None):
        wanted = self.get_argument("lang", None)
        if wanted is not None:
            await self.switch_language(wanted)
            return
        language = await self.language()
        section = section or "home"
        if section not in rights.SECTIONS:
            self.polite(404, language, msg.NOT_FOUND_TITLE, msg.NOT_FOUND)
            return
        if await self.first_page(slug, section, language):
            return
        try:
            space = await self.service.get(f"spaces/{slug}", section=section)
        except ServiceError as e:
            self.refused(e, language)
            return
        if not space.get("section_may", {}).get("manage_pages", False):
            self.no_pages(slug, language)
            return
        self.twinspace_page = {"id": None, "space": slug, "section": section,
                               "title": space["title"], "language": language}
        self.view.remember_space(slug)
        async for html in self.get_generator(path=InMemoryNotebook.NAME):
            self.write(html)
            self.flush()


# The query parameters a tool page passes on to its tool (all strings).
TOOL_PARAMS = ("member",)


class ToolHandler(VoilaHandler, ViewHandler):
    """`/twinspace/tool/<tool>/<slug>`: a tool of the member view (profile, space settings,
    moderation, quality report, new space) for space `slug`, under the navigation bar.

    The tool itself (twinspace_kernel.apps.TOOLS) reads what it shows from the service,
    which decides; here only membership of the space is checked, for a polite refusal.
    """

    @property
    def contents_manager(self):
        return InMemoryNotebook()

    @web.authenticated
    async def get(self, tool: str, slug: str):
        wanted = self.get_argument("lang", None)
        if wanted is not None:
            await self.switch_language(wanted)
            return
        try:
            space, me = await asyncio.gather(
                self.service.get(f"spaces/{slug}", section="home"), self.member())
        except ServiceError as e:
            self.refused(e, await self.language())
            return
        if space.get("role") is None:
            # A hub administrator sees every space; the view is for its members.
            self.polite(403, self.language_of(me), msg.FORBIDDEN_TITLE, msg.FORBIDDEN)
            return
        params = {name: self.get_argument(name) for name in TOOL_PARAMS
                  if self.get_argument(name, "")}
        if params.get("member") == me.get("name"):
            del params["member"]  # their own profile: "My profile" is the current tool
        self.twinspace_page = {"id": None, "space": slug, "section": "home", "tool": tool,
                               "params": params, "title": space["title"],
                               "language": self.language_of(me), "shell": self.view.shell}
        async for html in self.get_generator(path=InMemoryNotebook.NAME):
            self.write(html)
            self.flush()
