"""Export a space, or start a new space from it as a template (F34): a panel of its settings."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import ipywidgets as widgets

from ..client import Conflict, TwinSpaceClient
from ..i18n import _
from .base import TwinSpaceApp, action, escape, server_prefix
from .downloads import offer_download
from .new_space import slug_problem

# The service builds the whole archive before it sends the first byte.
EXPORT_TIMEOUT = (30, 900)
MUTED = "color:#555"


def archive_filename(slug: str) -> str:
    return f"{slug}-{dt.date.today().isoformat()}.zip"


class ExportPanel(TwinSpaceApp):
    """Export this space (a ZIP in the member's home, then a link) or copy it as a template.

    Embedded in the Space settings tool; for the space's teacher administrators (the
    service decides: others get a polite refusal).
    """

    kind = "export"

    def __init__(self, space: str, *, client: TwinSpaceClient | None = None,
                 **params: Any) -> None:
        self.space_slug = space
        self.params = params
        self.current: dict[str, Any] = {}
        self.export_button = widgets.Button(description=_("Export this space"), icon="download",
                                            layout=widgets.Layout(width="auto"))
        self.export_button.on_click(self.export)
        self.progress = widgets.IntProgress(value=0, min=0, max=1,
                                            description=_("Downloading"),
                                            layout=widgets.Layout(display="none"))
        self.export_result = widgets.HTML()
        self.export_box = widgets.VBox([
            widgets.HTML(f"<h4>{escape(_('Export'))}</h4><p>" + escape(_(
                "A ZIP archive of the whole space: its pages and their notebooks, the "
                "applications' content, files, calendar and chat. Members are not in it. "
                "Import it as a new space from New space.")) + "</p>"),
            self.export_button, self.progress, self.export_result,
        ])
        self.template_title = widgets.Text(description=_("Title"),
                                           layout=widgets.Layout(width="420px"))
        self.template_slug = widgets.Text(description=_("Address"),
                                          placeholder=_("e.g. water-2027"),
                                          layout=widgets.Layout(width="420px"))
        self.template_button = widgets.Button(description=_("Use as template"), icon="copy",
                                              layout=widgets.Layout(width="auto"))
        self.template_button.on_click(self.use_as_template)
        self.template_result = widgets.HTML()
        self.template_box = widgets.VBox([
            widgets.HTML(f"<h4>{escape(_('Use as template'))}</h4><p>" + escape(_(
                "A new space with the same pages, applications, web content and wiki "
                "pages, without posts, files or members. You are its teacher "
                "administrator.")) + "</p>"),
            self.template_title, self.template_slug, self.template_button,
            self.template_result,
        ])
        for widget, name in ((self.export_button, "ts-export-button"),
                             (self.progress, "ts-export-progress"),
                             (self.template_title, "ts-template-title"),
                             (self.template_slug, "ts-template-slug"),
                             (self.template_button, "ts-template-button")):
            widget.add_class(name)  # what tests and styles find it by
        super().__init__(None, client=client)

    def refresh(self) -> None:
        space = self.client.get(f"spaces/{self.space_slug}")
        self.current = space
        self.info = {"space": space["slug"], "role": space.get("role"),
                     "may": space.get("may", {})}
        if not self.may.get("administer", space.get("role") == "teacher_admin"):
            self.body.children = []
            self.notice(_("Only the teacher administrators of this space can export it or "
                          "use it as a template here."), "info")
            return
        if not self.template_title.value:
            self.template_title.value = _("{title} (copy)").format(title=space["title"])
        if not self.template_slug.value:
            self.template_slug.value = f"{space['slug']}-copy"[:63]
        self.body.children = [self.export_box, self.template_box]

    def export(self, button: widgets.Button | None = None) -> None:
        target = offer_download(self, self.export_button, self.progress, self.export_result,
                                f"spaces/{self.space_slug}/export",
                                archive_filename(self.space_slug), EXPORT_TIMEOUT)
        if target is not None:
            self.notice(_("The archive of this space is ready."), "success")

    @action
    def use_as_template(self) -> None:
        self.template_result.value = ""
        slug = self.template_slug.value.strip().lower()
        problem = slug_problem(slug)
        if problem:
            self.notice(problem, "error")
            return
        try:
            space = self.client.post(f"spaces/{self.space_slug}/copy", {
                "slug": slug, "title": self.template_title.value.strip() or None})
        except Conflict:
            self.notice(_("The address {slug} is taken: choose another.").format(slug=slug),
                        "error")
            return
        href = f"{server_prefix()}twinspace/space/{quote(space['slug'], safe='')}"
        self.template_result.value = (
            f'<p><a class="twinspace-new-space" href="{escape(href)}" target="_top" '
            f'style="font-weight:bold;color:#0b3d91">'
            + escape(_("Open {title}").format(title=space["title"])) + "</a></p>")
        self.notice(_("The new space “{title}” is ready: you are its teacher "
                      "administrator.").format(title=space["title"]), "success")
