"""The TwinSpace applications (ipywidgets): one module each, one registry line each."""

from __future__ import annotations

from concurrent.futures import Future
from importlib import import_module

from ..client import TwinSpaceClient, TwinSpaceError
from ..i18n import _
from .base import TwinSpaceApp

# Not application kinds (no registry line): the section tools that page notebooks show.
from .manage_pages import AddApplication as AddApplication
from .manage_pages import ManagePages as ManagePages
from .manage_pages import page_tools as page_tools

# kind -> "module:Class" (imported on first use, so a page loads only the apps it shows).
APPS: dict[str, str] = {
    "members": "members:Members",
    "profile": "profile:Profile",
    "web_content": "web_content:WebContent",
    "blog": "blog:Blog",
    "forum": "forum:Forum",
    "wiki": "wiki:Wiki",
    "documents": "documents:Documents",
    "gallery": "gallery:Gallery",
    "calendar": "calendar:Calendar",
    "chat": "chat:Chat",
    "activity": "activity:LatestActivities",
    "mailbox": "mailbox:Mailbox",
}

# Tools: pages of the member view that are not notebooks of the space
# (`<server>/twinspace/tool/<name>/<space>`). Each class is built as Tool(space, **params),
# params from the address's query string; the navigation bar links to those a role may use.
TOOLS: dict[str, str] = {
    "profile": "profile:ProfileTool",
    "moderation": "moderation:ModerationQueue",
    "report": "quality:QualityReport",
    "settings": "space_settings:SpaceSettings",
    "new-space": "new_space:NewSpace",
}


def _load(registry: dict[str, str], name: str, what: str) -> type[TwinSpaceApp]:
    if name not in registry:
        raise KeyError(f"Unknown TwinSpace {what} {name!r}; known: {', '.join(registry)}")
    module, _, class_name = registry[name].partition(":")
    return getattr(import_module(f"{__name__}.{module}"), class_name)


def app_class(kind: str) -> type[TwinSpaceApp]:
    return _load(APPS, kind, "application")


def tool_class(name: str) -> type[TwinSpaceApp]:
    return _load(TOOLS, name, "tool")


class MissingTool(TwinSpaceApp):
    """What an address naming no tool shows (a mistyped or outdated link)."""

    def refresh(self) -> None:
        self.notice(_("This page does not exist (any more). It may have been deleted or "
                      "moved."), "error")


def show_tool(name: str, space: str, **params: str) -> TwinSpaceApp:
    """The member view's tool `name` for `space` (what a tool page's cell calls)."""
    if name not in TOOLS:
        return MissingTool()
    return tool_class(name)(space, **params)


class PendingApp(TwinSpaceApp):
    """An application whose kind could not be read (refused, deleted, service down).

    It shows why, politely, like any app; once its context loads (Retry after the
    service came back) it shows the application itself.
    """

    def refresh(self) -> None:
        kind = self.info["kind"]
        if kind not in APPS:
            self.notice(_("This application cannot be shown here."), "error")
            return
        self.title.value = ""
        self.body.children = [app_class(kind)(self.app_id, client=self.client)]


# Contexts of the applications of a page about to be shown, read all at once by whoever
# shows the page (the member view's shell): app id -> the read under way.
contexts_ahead: dict[int, Future] = {}


def show(app_id: int, *, client: TwinSpaceClient | None = None) -> TwinSpaceApp:
    """The application with id `app_id`, whatever its kind (what page cells call)."""
    try:
        client = client or TwinSpaceClient()
        ahead = contexts_ahead.pop(app_id, None)
        context = ahead.result() if ahead is not None else client.get(f"apps/{app_id}")
    except TwinSpaceError:
        return PendingApp(app_id, client=client)
    if context["kind"] not in APPS:
        return PendingApp(app_id, client=client)
    return app_class(context["kind"])(app_id, client=client, context=context)
