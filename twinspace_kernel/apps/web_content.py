"""Web content (F23): a rich text area, sanitized by the service, edited by administrators."""

from __future__ import annotations

import ipywidgets as widgets

from ..i18n import _
from .base import TwinSpaceApp, action, built, on_demand


class WebContent(TwinSpaceApp):
    """Shows the page's HTML; administrators of the section get an editor."""

    kind = "web_content"

    def __init__(self, app_id: int | None = None, **kwargs) -> None:
        self.view = widgets.HTML()
        self.html = ""  # the content as stored (what the editor starts from)
        super().__init__(app_id, **kwargs)

    # The editor, for those who manage the section's pages: made when shown.
    edit_box = on_demand("build_edit_box")
    editor = on_demand("build_edit_box")
    save_button = on_demand("build_edit_box")

    def build_edit_box(self) -> None:
        self.editor = widgets.Textarea(
            value=self.html,
            placeholder=_("Write HTML: headings, paragraphs, lists, links, images…"),
            layout=widgets.Layout(width="100%", height="200px"),
        )
        self.save_button = widgets.Button(description=_("Save"), button_style="primary",
                                          icon="save")
        self.save_button.on_click(self.save)
        self.edit_box = widgets.VBox([
            widgets.Label(_("Edit the content")), self.editor, self.save_button,
        ])

    def refresh(self) -> None:
        content = self.client.get(f"apps/{self.app_id}/content")
        # The service sanitized this HTML on the way in; it is safe to show as is.
        self.view.value = content["html"] or f"<p><i>{_('Nothing here yet.')}</i></p>"
        self.html = content["html"]
        if built(self, "editor"):
            self.editor.value = self.html
        editing = self.may.get("manage_pages", False)
        self.body.children = [self.view, self.edit_box] if editing else [self.view]

    @action
    def save(self) -> None:
        content = self.client.put(f"apps/{self.app_id}/content", {"html": self.editor.value})
        self.view.value = self.html = content["html"]
        self.editor.value = content["html"]
        self.notice(_("Saved."), "success")
