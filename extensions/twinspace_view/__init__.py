"""The member view: a member's own server shows their space's pages through Voila."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

VIEW_ROUTES = (
    (r"/twinspace/?", "LandingHandler"),
    (r"/twinspace/space/(?P<slug>[^/]+)/?", "SectionHandler"),
    (r"/twinspace/space/(?P<slug>[^/]+)/(?P<section>[^/]+)/?", "SectionHandler"),
    (r"/twinspace/page/(?P<page_id>\d+)/?", "PageHandler"),
    (r"/twinspace/tool/(?P<tool>[a-z-]+)/(?P<slug>[^/]+)/?", "ToolHandler"),
)


def _jupyter_server_extension_points():
    return [{"module": "twinspace_view"}]


def _load_jupyter_server_extension(serverapp) -> None:
    """Add the member view's handlers, with Voila's settings for rendering pages.

    Voila's own server extension (enabled beside this one) serves the page's static
    files, its kernels' shutdown on leaving a page, and the template environment.
    """
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from jupyter_server.utils import url_path_join
    from voila.configuration import VoilaConfiguration
    from voila.paths import collect_template_paths
    from voila.server_extension import load_config_file

    from . import handlers
    from .service import ViewService

    view = handlers.MemberView(parent=serverapp)
    voila_configuration = VoilaConfiguration(parent=serverapp)
    local = load_config_file()
    if local is not None:
        voila_configuration.update_config(local)
    # Pages show what their cells display, never their code or a traceback.
    voila_configuration.strip_sources = True
    voila_configuration.show_tracebacks = False
    voila_configuration.prelaunch_hook = handlers.add_navigation
    template_paths = collect_template_paths(["voila", "nbconvert"], voila_configuration.template)

    @cache
    def contents_manager() -> FileContentsManager:
        # Made on first use: the volume may appear after this server started.
        return FileContentsManager(root_dir=str(Path(view.spaces_dir)), log=serverapp.log)

    web_app = serverapp.web_app
    web_app.settings[handlers.SETTINGS_KEY] = {
        "view": view,
        "service": ViewService(view.api_url, timeout=view.api_timeout),
        "contents_manager": contents_manager,
    }
    base_url = web_app.settings["base_url"]
    config = copy.deepcopy(serverapp.config)
    # A teacher's own cell that fails (its error hidden) does not stop the page's apps.
    config.VoilaExecutor.allow_errors = True
    config.VoilaExecutor.cell_error_instruction = ""
    voila_kwargs = {"config": config, "template_paths": template_paths,
                    "voila_configuration": voila_configuration}
    routes = []
    for pattern, name in VIEW_ROUTES:
        handler = getattr(handlers, name)
        kwargs = voila_kwargs if name != "LandingHandler" else {}
        routes.append((url_path_join(base_url, pattern), handler, kwargs))
    web_app.add_handlers(".*$", routes)
    serverapp.log.info("TwinSpace member view at %stwinspace/", base_url)


# The name older servers look for.
load_jupyter_server_extension = _load_jupyter_server_extension
