"""What every TwinSpace app shares: its client, its context, and errors shown politely."""

from __future__ import annotations

import functools
import html
import logging
import os
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import quote

import ipywidgets as widgets

from ..client import ServiceUnavailable, TwinSpaceClient, TwinSpaceError
from ..i18n import DEFAULT_LANGUAGE, _, current_language

log = logging.getLogger("twinspace.apps")

BANNER_STYLES = {
    "info": "background:#e8f0fe;color:#0b3d91;border:1px solid #9bb8f0",
    "success": "background:#e6f4ea;color:#0d5223;border:1px solid #8cc79b",
    "error": "background:#fdecea;color:#7a1212;border:1px solid #ee9a9a",
}

# ipywidgets gives every Button, ToggleButton and FileUpload one fixed width (148 px) and
# cuts longer labels ("Back to the thr…"), in any language. Ours size to their label:
# one rule for every app's buttons; a button's own Layout(width=...) still wins. Not
# stretched across a column either (a VBox stretches a child whose width is "auto").
BUTTON_STYLE = """<style>
.twinspace-app .widget-button,.twinspace-app .widget-toggle-button,
.twinspace-app .widget-upload{width:fit-content;flex-shrink:0;align-self:flex-start}
</style>"""


def escape(text: Any) -> str:
    """Text from members always goes into HTML widgets escaped."""
    return html.escape("" if text is None else str(text))


def refusal_text(error: TwinSpaceError, *, page: bool = False) -> str:
    """What a member reads when the service says no (401, 403, 404), in their language.

    page: the refusal is of the page itself (the app's context), not of one action.
    The service explains refusals in English; that detail is kept for English readers
    only, after our own translated sentence. Other errors (bad input, conflicts) keep
    the service's message, which says what to change.
    """
    if page:
        sentences = {
            401: _("Your session has expired: log in again."),
            403: _("Sorry, this page is not available to you."),
            404: _("This page does not exist (any more). It may have been deleted or moved."),
        }
    else:
        sentences = {
            401: _("Your session has expired: log in again."),
            403: _("Sorry, you may not do that here."),
            404: _("This is no longer here: it may have been deleted."),
        }
    sentence = sentences.get(error.status)
    if sentence is None:
        return error.message
    if current_language() != DEFAULT_LANGUAGE:
        return sentence
    return f"{sentence} {error.message}" if page else error.message


def role_label(role: str) -> str:
    """A role as people read it, in the member's language."""
    labels = {
        "teacher_admin": _("Teacher administrator"),
        "teacher": _("Teacher"),
        "pupil_admin": _("Pupil administrator"),
        "pupil": _("Pupil"),
        "visitor": _("Visitor"),
    }
    return labels.get(role, role)


def server_prefix() -> str:
    """This member's server address (`/user/<name>/`; "/" outside a member's server)."""
    return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")


def hub_url(*parts: str) -> str:
    """An address of the hub itself (`/hub/...`), under the hub's base URL."""
    return os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/" + "/".join(parts)


def profile_link(space: str | None, name: str | None, display: Any) -> str:
    """`display` (escaped) as a link to member `name`'s profile page in the member view.

    Plain escaped text where there is no member view: outside a member's server (the
    public view's kernels run under /services/public/), or without a name to link to (an
    erased author, a pupil the public may not see).
    """
    prefix = server_prefix()
    if not (space and name and "/user/" in prefix):
        return escape(display)
    href = (f"{prefix.rstrip('/')}/twinspace/tool/profile/{quote(space, safe='')}"
            f"?member={quote(name, safe='')}")
    return (f'<a class="twinspace-profile-link" href="{escape(href)}" target="_top">'
            f"{escape(display)}</a>")


class on_demand:  # noqa: N801 (a descriptor, read like `property`)
    """An attribute made the first time it is read, by the owner's method `builder`,
    which sets it (and the widgets made with it) on the instance.

    Every ipywidgets model (a widget, its Layout, its Style) costs the member view about
    a millisecond each time it shows a page. Forms, dialogs and views that stay hidden
    until a button opens them are therefore made when first needed: a page whose member
    never opens them never pays for them, and code (or a test) that reads one still finds
    it, made on the spot.
    """

    def __init__(self, builder: str) -> None:
        self.builder = builder
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        getattr(instance, self.builder)()
        # The builder set the attribute on the instance, which now hides this descriptor.
        return instance.__dict__[self.name]


def built(instance: Any, name: str) -> bool:
    """Whether the `on_demand` attribute `name` of `instance` was made already."""
    return name in instance.__dict__


class TwinSpaceApp(widgets.VBox):
    """One application on a page, built from its app id; it renders itself when displayed.

    Subclasses set `kind` and implement `refresh()` (read from the service and rebuild
    `self.body`). Everything that calls the service goes through `guard()` or the
    `action` decorator, so a refusal becomes a polite message and a dead service a
    banner with a Retry button, never a traceback. What the member may do comes from
    the service (`self.may`); hiding a button is a courtesy, the service decides.
    """

    kind: ClassVar[str] = ""

    def __init__(self, app_id: int | None = None, *, client: TwinSpaceClient | None = None,
                 context: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The app's context as the caller has just read it (`show`): not read twice.
        self.known_context = context
        self.add_class("twinspace-app")
        self.add_class(f"twinspace-{self.kind or 'app'}")
        self.app_id = app_id
        self.info: dict[str, Any] = {}
        self.title = widgets.HTML()
        self.banner = widgets.HTML(layout=widgets.Layout(display="none"))
        self.body = widgets.VBox()
        # A <style> applies wherever it sits: hidden, it takes no room.
        self.button_style = widgets.HTML(BUTTON_STYLE, layout=widgets.Layout(display="none"))
        self.banner_row = widgets.HBox([self.banner, self.button_style])
        self.children = [self.title, self.banner_row, self.body]
        self.client: TwinSpaceClient | None = None
        try:
            self.client = client or TwinSpaceClient()
        except ServiceUnavailable as e:
            self.show_unavailable(e)
            return
        self.load()

    # Made when the service first fails to answer: most pages never need it.
    retry_button = on_demand("build_retry_button")

    def build_retry_button(self) -> None:
        self.retry_button = widgets.Button(
            description=_("Retry"), icon="refresh", layout=widgets.Layout(display="none")
        )
        self.retry_button.on_click(lambda _button: self.load())
        self.banner_row.children = [self.banner, self.retry_button, self.button_style]

    # --- context ----------------------------------------------------------------------

    @property
    def may(self) -> dict[str, bool]:
        """What the member may do in this app's section (from the service)."""
        return self.info.get("may", {})

    @property
    def space(self) -> str:
        return self.info.get("space", "")

    def load(self) -> None:
        """(Re)load the app's context and content; safe to call again after an error."""
        self.clear_notice()
        if self.client is None:
            return
        if self.app_id is None:
            # Tools without an app (Manage pages, the navigation bar) read their page or
            # section first in refresh(): its refusal is the page's.
            self.guard_page(self.refresh)
            return
        info, self.known_context = self.known_context, None
        if info is None:
            info = self.guard_page(self.client.get, f"apps/{self.app_id}")
        if info is None:
            return
        if self.kind and info["kind"] != self.kind:
            self.notice(_("This page's application is not a {kind}.").format(kind=self.kind),
                        "error")
            return
        self.info = info
        self.title.value = f"<h3>{escape(info['title'])}</h3>"
        self.guard(self.refresh)

    def refresh(self) -> None:
        raise NotImplementedError

    # --- errors and notices -----------------------------------------------------------

    def guard(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Call `fn`; show what went wrong instead of raising. Returns None on error."""
        return self._guarded(False, fn, *args, **kwargs)

    def guard_page(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """`guard` for reading the app's page: a refusal says the page is not for you."""
        return self._guarded(True, fn, *args, **kwargs)

    def _guarded(self, page: bool, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ServiceUnavailable as e:
            self.show_unavailable(e)
        except TwinSpaceError as e:
            self.notice(refusal_text(e, page=page), "error")
        return None

    def show_unavailable(self, error: TwinSpaceError) -> None:
        self.notice(
            _("TwinSpace is not answering right now.") + " " + _("Try again in a moment."),
            "error",
        )
        self.retry_button.layout.display = ""
        log.warning("TwinSpace service unavailable: %s", error.message)

    def notice(self, text: str, kind: str = "info") -> None:
        self.banner.value = (
            f'<div role="status" style="{BANNER_STYLES[kind]};padding:6px 10px;'
            f'border-radius:4px">{escape(text)}</div>'
        )
        self.banner.layout.display = ""

    def clear_notice(self) -> None:
        self.banner.value = ""
        self.banner.layout.display = "none"
        if built(self, "retry_button"):
            self.retry_button.layout.display = "none"


def action(method: Callable) -> Callable:
    """Wrap a button callback: errors become notices, the button is disabled meanwhile."""

    @functools.wraps(method)
    def wrapper(self: TwinSpaceApp, button: widgets.Button | None = None, *args: Any) -> Any:
        if button is not None and hasattr(button, "disabled"):
            button.disabled = True
        try:
            self.clear_notice()
            return self.guard(method, self, *args)
        finally:
            if button is not None and hasattr(button, "disabled"):
                button.disabled = False

    return wrapper
