"""The TwinSpace applications (ipywidgets): one module each, one registry line each."""

from __future__ import annotations

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


def app_class(kind: str) -> type[TwinSpaceApp]:
    if kind not in APPS:
        raise KeyError(f"Unknown TwinSpace application {kind!r}; known: {', '.join(APPS)}")
    module, _, name = APPS[kind].partition(":")
    return getattr(import_module(f"{__name__}.{module}"), name)


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


def show(app_id: int, *, client: TwinSpaceClient | None = None) -> TwinSpaceApp:
    """The application with id `app_id`, whatever its kind (what page cells call)."""
    try:
        client = client or TwinSpaceClient()
        kind = client.get(f"apps/{app_id}")["kind"]
    except TwinSpaceError:
        return PendingApp(app_id, client=client)
    if kind not in APPS:
        return PendingApp(app_id, client=client)
    return app_class(kind)(app_id, client=client)
