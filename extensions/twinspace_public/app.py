"""The public view's server: a locked-down Voila standalone run as the hub service `public`.

It serves, under /services/public/:

- `/`: the list of public spaces (name, description, links to their Home page and their
  published pages), rendered here from the TwinSpace API (no kernel);
- `/view?page=<id>`: one public page, rendered by Voila from ONE notebook
  (`public.ipynb`) whose kernel reads the page id with `voila.utils.get_query_string()`,
  so every page can use the same pool of preheated kernels;
- what Voila's page needs to run (static files, kernel websocket, shutdown on leave).

Nothing else: Voila's tree, contents API, files, nbconvert and render endpoints are not
routed (404). Sources are stripped and tracebacks hidden. Before a kernel is handed out the
page is checked with the service (unpublished or unknown pages: 404 without a kernel), and
kernels serving readers are capped: over the cap a reader gets a "busy" page (503 with
Retry-After). Idle kernels are culled. The process (and so its kernels) runs as an
unprivileged system user holding only the `public` service token, which the TwinSpace
service treats exactly as the anonymous public.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import html
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlencode, urlparse

from jupyter_server.base.handlers import FileFindHandler
from jupyter_server.services.kernels.handlers import KernelHandler
from jupyter_server.utils import url_path_join
from jupyterlab_server.themes_handler import ThemesHandler
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Float, Integer, Unicode, default
from traitlets.config import Config
from voila.app import Voila
from voila.request_info_handler import RequestInfoSocketHandler
from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
from voila.static_file_handler import MultiStaticFileHandler, TemplateStaticFileHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

from twinspace_kernel.i18n import _, set_language

PACKAGE_DIR = Path(__file__).parent
PUBLIC_NOTEBOOK = PACKAGE_DIR / "public.ipynb"
KERNEL_ID = r"(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)"
PAGE_ID_RE = re.compile(r"^[0-9]{1,12}$")
STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f8fb}
header{background:#0b3d91;color:#fff;padding:14px 24px}
header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:880px;margin:24px auto;padding:0 16px}
.space{background:#fff;border:1px solid #d5dce6;border-radius:6px;padding:14px 18px;
margin-bottom:14px}
.space h2{margin:0 0 6px}.space ul{margin:8px 0 0 18px;padding:0}
"""


def reader_language(handler: web.RequestHandler) -> str:
    """The reader's language (?lang=, else the browser's first choice), set for `_()`."""
    wanted = handler.get_argument("lang", "") or handler.request.headers.get(
        "Accept-Language", "").split(",")[0]
    return set_language(wanted or "en")


def send_page(handler: web.RequestHandler, title: str, body: str, status: int = 200) -> None:
    """A small HTML page of the public view (list, not found, busy)."""
    base = handler.settings["base_url"]
    handler.set_status(status)
    handler.set_header("Content-Type", "text/html; charset=UTF-8")
    handler.set_header("Cache-Control", "no-store")
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.finish(
        f'<!doctype html><html><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<header><a href="{html.escape(base)}">TwinSpace</a> · '
        f"{html.escape(_('Public pages'))}</header><main>{body}</main></body></html>"
    )


class ServiceDown(web.HTTPError):
    """The TwinSpace API did not answer: the reader is told to come back (503)."""

    def __init__(self) -> None:
        super().__init__(503)


def send_error_page(handler: web.RequestHandler, status: int, **kwargs) -> None:
    """Never a traceback: a plain page saying what a reader can do."""
    handler.clear()
    reader_language(handler)
    error = kwargs.get("exc_info", (None, None, None))[1]
    if isinstance(error, ServiceDown):
        handler.set_header("Retry-After", str(handler.settings["twinspace_retry_after"]))
        message = _("TwinSpace is not answering right now.") + " " + _("Try again in a moment.")
        send_page(handler, _("Busy"), f"<p>{html.escape(message)}</p>", 503)
    elif status == 404:
        message = _("This page does not exist or is not public.")
        back = _("See the public spaces")
        send_page(handler, _("Not found"), f"<h1>{html.escape(_('Not found'))}</h1>"
                  f"<p>{html.escape(message)}</p>"
                  f'<p><a href="{html.escape(handler.settings["base_url"])}">'
                  f"{html.escape(back)}</a></p>", 404)
    elif status == 503:
        handler.set_header("Retry-After", str(handler.settings["twinspace_retry_after"]))
        message = _("Many people are reading right now: try again in a moment.")
        send_page(handler, _("Busy"), f"<h1>{html.escape(_('Busy'))}</h1>"
                  f"<p>{html.escape(message)}</p>", 503)
    else:
        send_page(handler, _("Error"), f"<p>{html.escape(_('Something went wrong.'))}</p>",
                  status)


class PublicPage(web.RequestHandler):
    """A page of the public view served without a kernel."""

    def write_error(self, status_code: int, **kwargs) -> None:
        send_error_page(self, status_code, **kwargs)

    async def api(self, path: str, **params: str) -> dict | None:
        """GET the TwinSpace API as the public; None when it refuses (401/403/404)."""
        return await call_api(self.settings, path, **params)


async def call_api(settings: dict, path: str, **params: str) -> dict | None:
    query = urlencode(params)
    url = settings["twinspace_api_url"] + path + (f"?{query}" if query else "")
    request = HTTPRequest(url, headers={"Authorization": f"token {settings['twinspace_token']}"}
                          if settings["twinspace_token"] else {}, request_timeout=15)
    try:
        response = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as e:
        if e.code in (401, 403, 404):
            return None
        raise ServiceDown() from None
    except OSError:
        raise ServiceDown() from None
    return json.loads(response.body)


class IndexHandler(PublicPage):
    """The public spaces: name, description, their Home page and published pages."""

    async def get(self) -> None:
        listing = await self.api("spaces", public="1")
        spaces = (listing or {}).get("items", [])
        pages_of = {}
        for space in spaces:
            found = await self.api(f"spaces/{space['slug']}/pages")
            pages_of[space["slug"]] = (found or {}).get("items", [])
        reader_language(self)
        base = self.settings["base_url"]
        parts = [f"<h1>{html.escape(_('Public spaces'))}</h1>"]
        if not spaces:
            parts.append(f"<p><i>{html.escape(_('No space is public yet.'))}</i></p>")
        for space in spaces:
            links = [
                f'<li><a href="{html.escape(view_url(base, page["id"]))}">'
                f'{html.escape(_("Home") if page["section"] == "home" else page["title"])}'
                f"</a></li>"
                for page in pages_of[space["slug"]]
            ]
            parts.append(
                f'<section class="space"><h2>{html.escape(space["title"])}</h2>'
                f'<p>{html.escape(space.get("description") or "")}</p>'
                f'<ul>{"".join(links)}</ul></section>'
            )
        send_page(self, _("Public spaces"), "".join(parts))


def view_url(base_url: str, page_id: int) -> str:
    return url_path_join(base_url, "view") + f"?page={int(page_id)}"


class NotFoundHandler(PublicPage):
    """Everything that is not routed: Voila's tree, contents, files, nbconvert, render…"""

    def prepare(self) -> None:
        raise web.HTTPError(404)


class NoClimbing:
    """Static files of the page only: a path that climbs (`..`, however encoded) or that a
    handler cannot parse is a plain 404, never an error page from deep inside."""

    def prepare(self):
        for arg in self.path_args:
            if any(part in ("..", ".") or "\\" in part or "\0" in part
                   for part in (arg or "").split("/")):
                raise web.HTTPError(404)
        return super().prepare()

    def write_error(self, status_code: int, **kwargs) -> None:
        send_error_page(self, 404 if status_code in (403, 500) else status_code)


class TemplateStatic(NoClimbing, TemplateStaticFileHandler):
    def parse_url_path(self, path):
        if path.count("/") < 2 or path.split("/", 2)[1] != "static":
            raise web.HTTPError(404)
        return super().parse_url_path(path)


class VoilaStatic(NoClimbing, MultiStaticFileHandler):
    pass


class LabExtensions(NoClimbing, FileFindHandler):
    pass


class Themes(NoClimbing, ThemesHandler):
    pass


class RenderGate:
    """At most `slots` pages rendered at once; up to `max_waiting` readers wait their turn
    for at most `wait_seconds`, the others are told to come back (503) at once.

    Starting and running kernels is what costs: letting a burst start them all together
    would make every reader wait for all the others, and the machine thrash.
    """

    def __init__(self, slots: int, max_waiting: int, wait_seconds: float) -> None:
        self.slots = asyncio.Semaphore(max(1, slots))
        self.max_waiting = max_waiting
        self.wait_seconds = wait_seconds
        self.waiting = 0

    @contextlib.asynccontextmanager
    async def turn(self):
        if self.waiting >= self.max_waiting:
            raise web.HTTPError(503)
        self.waiting += 1
        try:
            await asyncio.wait_for(self.slots.acquire(), self.wait_seconds)
        except TimeoutError:
            raise web.HTTPError(503) from None
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self.slots.release()


class PublicPageHandler(TornadoVoilaHandler):
    """One public page through the public notebook: checked, capped, then rendered by Voila."""

    async def get(self, path=None) -> None:
        page_id = self.get_argument("page", "")
        if not PAGE_ID_RE.match(page_id) or set(self.request.arguments) - {"page", "lang"}:
            raise web.HTTPError(404)
        # Asked of the service with the public token: unpublished or unknown -> no kernel.
        if await call_api(self.settings, f"pages/{page_id}") is None:
            raise web.HTTPError(404)
        if self.readers_kernels() >= self.settings["twinspace_max_kernels"]:
            raise web.HTTPError(503)
        async with self.settings["twinspace_gate"].turn():
            if self.readers_kernels() >= self.settings["twinspace_max_kernels"]:
                raise web.HTTPError(503)
            # The page's "leave" beacon shuts its kernel down with this cookie's token.
            self.xsrf_token  # noqa: B018 - reading it sets the cookie
            await super().get()

    def readers_kernels(self) -> int:
        """Kernels serving readers now: every live kernel but the preheated ones waiting."""
        manager = self.kernel_manager
        waiting = 0
        for pool in getattr(manager, "_pools", {}).values():
            for task in pool:
                if task.done() and not task.cancelled() and task.exception() is None:
                    waiting += 1
        return max(0, len(manager.list_kernel_ids()) - waiting)

    def write_error(self, status_code: int, **kwargs) -> None:
        send_error_page(self, status_code, **kwargs)


class PublicView(Voila):
    """Voila standalone for the public: one notebook, a small kernel pool, nothing else."""

    name = "twinspace-public"
    description = __doc__
    aliases = {
        **Voila.aliases,
        "api-url": "PublicView.service_api_url",
        "public-dir": "PublicView.public_dir",
        "max-kernels": "PublicView.max_kernels",
        "pool-size": "PublicView.pool_size",
        "cull-idle": "PublicView.cull_idle_seconds",
        "ip": "Voila.ip",
    }

    service_api_url = Unicode(
        config=True,
        help="The TwinSpace API root (…/api/v1/); default $TWINSPACE_API_URL.",
    )
    public_dir = Unicode(
        config=True,
        help="""The published copies (<slug>/<section>/<page>.ipynb) pages are rendered from;
        default $TWINSPACE_PUBLIC_DIR. Never the shared volume.""",
    )
    max_kernels = Integer(
        config=True,
        help="""Most kernels serving readers at once ($TWINSPACE_PUBLIC_MAX_KERNELS, 16).

        Over it a reader gets a "busy" page (503, Retry-After). The preheated kernels
        waiting in the pool (pool_size) come on top.""",
    )
    pool_size = Integer(
        config=True,
        help="Preheated kernels kept waiting for readers ($TWINSPACE_PUBLIC_POOL_SIZE, 2).",
    )
    cull_idle_seconds = Float(
        config=True,
        help="""Seconds after which a kernel nobody uses is shut down, even with its page
        still open ($TWINSPACE_PUBLIC_CULL_IDLE, 300).""",
    )
    retry_after = Integer(10, config=True, help="Seconds a busy reader is told to wait.")
    max_rendering = Integer(
        config=True,
        help="""Pages rendered at once ($TWINSPACE_PUBLIC_MAX_RENDERING, the number of CPUs);
        the next readers wait their turn.""",
    )
    max_waiting = Integer(
        config=True,
        help="""Readers who may wait for their turn ($TWINSPACE_PUBLIC_MAX_WAITING, 16);
        more get the busy page at once.""",
    )
    wait_seconds = Float(
        config=True,
        help="""Longest wait for a turn before the busy page ($TWINSPACE_PUBLIC_WAIT_SECONDS,
        10).""",
    )

    @default("max_rendering")
    def _default_max_rendering(self):
        return int(os.environ.get("TWINSPACE_PUBLIC_MAX_RENDERING", os.cpu_count() or 2))

    @default("max_waiting")
    def _default_max_waiting(self):
        return int(os.environ.get("TWINSPACE_PUBLIC_MAX_WAITING", "16"))

    @default("wait_seconds")
    def _default_wait_seconds(self):
        return float(os.environ.get("TWINSPACE_PUBLIC_WAIT_SECONDS", "10"))

    @default("service_api_url")
    def _default_api_url(self):
        return os.environ.get("TWINSPACE_API_URL", "")

    @default("public_dir")
    def _default_public_dir(self):
        return os.environ.get("TWINSPACE_PUBLIC_DIR", "")

    @default("max_kernels")
    def _default_max_kernels(self):
        return int(os.environ.get("TWINSPACE_PUBLIC_MAX_KERNELS", "16"))

    @default("pool_size")
    def _default_pool_size(self):
        return int(os.environ.get("TWINSPACE_PUBLIC_POOL_SIZE", "2"))

    @default("cull_idle_seconds")
    def _default_cull_idle(self):
        return float(os.environ.get("TWINSPACE_PUBLIC_CULL_IDLE", "300"))

    @default("notebook_path")
    def _default_notebook_path(self):
        # A private copy: the kernels' working directory is an empty folder of our own,
        # and rebuilding the environment never pulls the notebook from under a render.
        work = Path(tempfile.mkdtemp(prefix="twinspace-public-"))
        atexit.register(shutil.rmtree, work, ignore_errors=True)
        return str(Path(shutil.copy(PUBLIC_NOTEBOOK, work)))

    @default("base_url")
    def _default_base_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/public/")

    @default("port")
    def _default_port(self):
        return urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).port or 10102

    @default("ip")
    def _default_ip(self):
        return urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).hostname or "127.0.0.1"

    @default("open_browser")
    def _default_open_browser(self):
        return False

    @default("port_retries")
    def _default_port_retries(self):
        return 0  # the hub's proxy points at this port and no other

    def initialize(self, argv=None):
        super().initialize(argv)
        if not self.service_api_url:
            raise SystemExit("The public view needs the TwinSpace API: set TWINSPACE_API_URL.")
        voila = self.voila_configuration
        # Not configurable: what keeps the public view public.
        voila.strip_sources = True
        voila.show_tracebacks = False
        voila.preheat_kernel = True
        voila.default_pool_size = max(self.pool_size, 0)
        voila.progressive_rendering = False
        voila.allow_template_override = "NO"
        voila.allow_theme_override = "NO"
        voila.http_header_envs = []
        voila.file_allowlist = []
        voila.file_denylist = [".*"]
        culling = Config()
        culling.MappingKernelManager.cull_idle_timeout = int(self.cull_idle_seconds)
        culling.MappingKernelManager.cull_interval = max(5, int(self.cull_idle_seconds // 4))
        culling.MappingKernelManager.cull_connected = True
        culling.MappingKernelManager.cull_busy = False
        # Refill the pool at once: in a burst every second of delay is a reader waiting.
        culling.VoilaKernelManager.fill_delay = 0
        self.update_config(culling)
        # The kernels find the API, the copies and the public token in their environment.
        os.environ["TWINSPACE_API_URL"] = self.service_api_url
        if self.public_dir:
            os.environ["TWINSPACE_PUBLIC_DIR"] = self.public_dir

    def __init__(self, placeholder=None, **kwargs):
        super().__init__(**kwargs)
        self.placeholder = placeholder  # answering on our port until we listen

    def listen(self):
        if self.placeholder is not None:
            self.placeholder.stop()
            self.placeholder = None
        super().listen()

    def init_settings(self):
        settings = super().init_settings()
        settings.update(
            twinspace_api_url=self.service_api_url.rstrip("/") + "/",
            twinspace_token=os.environ.get("JUPYTERHUB_API_TOKEN", ""),
            twinspace_max_kernels=self.max_kernels,
            twinspace_retry_after=self.retry_after,
            twinspace_gate=RenderGate(self.max_rendering, self.max_waiting, self.wait_seconds),
            serve_traceback=False,
            # The page's cookie stays ours: at "/" it would reach the hub's and members'
            # servers, whose own `_xsrf` cookies it would shadow.
            xsrf_cookie_kwargs={"path": self.base_url},
        )
        return settings

    def init_handlers(self):
        """Only what a reader needs; everything else answers 404."""
        url = self.server_url
        voila_conf = {"voila_configuration": self.voila_configuration}
        return [
            (url, IndexHandler),
            (url_path_join(url, "view"), PublicPageHandler, {
                "notebook_path": os.path.relpath(self.notebook_path, self.root_dir),
                "template_paths": self.template_paths,
                "config": self.config,
                **voila_conf,
            }),
            # The page reads its kernel's model, then talks to it over the websocket.
            (url_path_join(url, "/api/kernels/" + KERNEL_ID), KernelHandler),
            (url_path_join(url, "/api/kernels/" + KERNEL_ID + "/channels"),
             VoilaKernelWebsocketHandler),
            (url_path_join(url, r"/voila/templates/(.*)"), TemplateStatic),
            (url_path_join(url, r"/voila/static/(.*)"), VoilaStatic,
             {"paths": self.static_paths, "default_filename": "index.html"}),
            (url_path_join(url, r"/voila/labextensions/(.*)"), LabExtensions,
             {"path": self.labextensions_path, "no_cache_paths": ["/"]}),
            (url_path_join(url, r"/voila/api/themes/(.*)"), Themes, {
                "themes_url": "/voila/api/themes",
                "path": self.themes_dir,
                "labextensions_path": self.labextensions_path,
                "no_cache_paths": ["/"],
            }),
            (url_path_join(url, r"/voila/api/shutdown/(.*)"), VoilaShutdownKernelHandler),
            (url_path_join(url, "/voila/query/" + KERNEL_ID),
             RequestInfoSocketHandler),
            (r".*", NotFoundHandler),
        ]


def main(argv=None, placeholder=None) -> None:
    PublicView.launch_instance(argv, placeholder=placeholder)


if __name__ == "__main__":
    main()
