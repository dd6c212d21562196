"""What the discussion apps share (blog, forum, wiki): authors, dates, items to edit or report."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ipywidgets as widgets

from ..i18n import _
from .base import TwinSpaceApp, action, built, escape, on_demand, profile_link

META_STYLE = "color:#4a4a4a;font-size:90%"
HIDDEN_STYLE = "background:#fff4e5;color:#6b3a00;padding:1px 6px;border-radius:3px"
QUOTE_STYLE = (
    "border-left:4px solid #8a8a8a;background:#f3f3f3;color:#222;padding:4px 8px;margin:4px 0"
)


def tag(name: str, text: str) -> str:
    """`text` (escaped) in an HTML element: `tag("h4", _("New page"))`."""
    return f"<{name}>{escape(text)}</{name}>"


def note(text: str) -> str:
    """A quiet italic line ("Nothing here yet.")."""
    return "<p>" + tag("i", text) + "</p>"


def when(value: Any) -> str:
    """An ISO 8601 time from the service as people read it (UTC, to the minute)."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def author_name(author: dict | None) -> str:
    """Who wrote something, as plain text: name, then school and country when known."""
    if not author:
        return _("Someone")
    name = author.get("display_name") or author.get("name") or _("Someone")
    where = ", ".join(part for part in (author.get("school"), author.get("country")) if part)
    return f"{name} ({where})" if where else name


def author_html(author: dict | None, space: str | None = None) -> str:
    """The author in bold; with `space`, a link to their profile there."""
    name = (author or {}).get("name")
    return f"<b>{profile_link(space, name, author_name(author))}</b>"


def meta_html(author: dict | None, created: Any, *, hidden: bool = False,
              extra: str = "", space: str | None = None) -> str:
    """The 'who, when' line of an item (escaped); moderators see a 'Hidden' mark.

    With `space`, the author's name opens their profile (the member view's Profile)."""
    parts = [author_html(author, space), escape(when(created))]
    if extra:
        parts.append(escape(extra))
    hidden_word = escape(_("Hidden"))
    mark = f' <span style="{HIDDEN_STYLE}">{hidden_word}</span>' if hidden else ""
    return f'<div style="{META_STYLE}">{" · ".join(p for p in parts if p)}{mark}</div>'


def button(description: str, icon: str = "", style: str = "", tooltip: str = "",
           callback=None) -> widgets.Button:
    b = widgets.Button(description=description, icon=icon, button_style=style,
                       tooltip=tooltip or description)
    if callback is not None:
        b.on_click(callback)
    return b


def show(widget: widgets.Widget, visible: bool = True) -> None:
    widget.layout.display = "" if visible else "none"


def shown(widget: widgets.Widget) -> bool:
    return widget.layout.display != "none"


class ItemView(widgets.VBox):
    """One post, comment or reply: its text, and Edit / Delete / Report when allowed.

    `path` is the item's API path ("posts/5", "comments/7", "replies/9"); editing sends
    PATCH there, deleting DELETE, reporting POST reports with `object_type`. The app
    (a DiscussionApp) runs the calls, so errors become its notices.
    """

    # What a subclass shows under the item and its forms (a post's comments).
    below: tuple[widgets.Widget, ...] = ()

    def __init__(self, app: DiscussionApp, item: dict, *, path: str, object_type: str,
                 with_title: bool = False, deletable: bool = True,
                 extra_buttons: list[widgets.Button] | None = None) -> None:
        super().__init__()
        self.add_class("twinspace-item")
        self.app = app
        self.item = item
        self.path = path
        self.object_type = object_type
        self.with_title = with_title
        self.header = widgets.HTML()
        self.content = widgets.HTML()

        may_edit = bool(item.get("may_edit"))
        buttons = list(extra_buttons or [])
        if may_edit:
            buttons.append(self.edit_button)
            if deletable:
                buttons.append(self.delete_button)
        if app.may.get("report"):
            buttons.append(self.report_button)
        self.actions = widgets.HBox(buttons)
        self.layout.border = "1px solid #d0d0d0"
        self.layout.padding = "6px"
        self.layout.margin = "4px 0"
        self.render()
        self.place_boxes()

    # Each item's buttons and the forms they open are made when first needed: a thread
    # of twenty replies would otherwise make some fifty models per reply.
    after_content = on_demand("build_after_content")
    edit_button = on_demand("build_edit_button")
    delete_button = on_demand("build_delete_button")
    report_button = on_demand("build_report_button")
    edit_box = on_demand("build_edit_box")
    title_input = on_demand("build_edit_box")
    body_input = on_demand("build_edit_box")
    save_button = on_demand("build_edit_box")
    cancel_button = on_demand("build_edit_box")
    confirm_box = on_demand("build_confirm_box")
    confirm_yes = on_demand("build_confirm_box")
    confirm_no = on_demand("build_confirm_box")
    report_box = on_demand("build_report_box")
    reason_input = on_demand("build_report_box")
    send_report_button = on_demand("build_report_box")
    report_cancel = on_demand("build_report_box")

    def build_after_content(self) -> None:
        """A place under the text for what a subclass adds (empty, it shows nothing)."""
        self.after_content = widgets.VBox()
        self.place_boxes()

    def build_edit_button(self) -> None:
        self.edit_button = button(_("Edit"), "pencil", callback=lambda _b: self.start_edit())

    def build_delete_button(self) -> None:
        self.delete_button = button(_("Delete"), "trash", "danger",
                                    callback=lambda _b: show(self.confirm_box))

    def build_report_button(self) -> None:
        self.report_button = button(_("Report"), "flag", tooltip=_("Report to the moderators"),
                                    callback=lambda _b: show(self.report_box))

    def build_edit_box(self) -> None:
        app = self.app
        self.title_input = widgets.Text(description=_("Title"), placeholder=_("Title"))
        self.body_input = widgets.Textarea(
            placeholder=_("Text (Markdown)"), layout=widgets.Layout(width="100%", height="120px")
        )
        self.body_input.description = _("Text")
        self.save_button = button(_("Save"), "save", "primary",
                                  callback=lambda b: app.save_item(b, self))
        self.cancel_button = button(_("Cancel"), "times",
                                    callback=lambda _b: show(self.edit_box, False))
        self.edit_box = widgets.VBox(
            ([self.title_input] if self.with_title else [])
            + [self.body_input, widgets.HBox([self.save_button, self.cancel_button])],
            layout=widgets.Layout(display="none"),
        )
        self.place_boxes()

    def build_confirm_box(self) -> None:
        app = self.app
        self.confirm_yes = button(_("Yes, delete"), "trash", "danger",
                                  callback=lambda b: app.delete_item(b, self))
        self.confirm_no = button(_("Keep it"), "times",
                                 callback=lambda _b: show(self.confirm_box, False))
        self.confirm_box = widgets.HBox([
            widgets.Label(_("Delete this for good?")), self.confirm_yes, self.confirm_no,
        ], layout=widgets.Layout(display="none"))
        self.place_boxes()

    def build_report_box(self) -> None:
        app = self.app
        self.reason_input = widgets.Text(
            description=_("Reason"), placeholder=_("Why should a moderator look at this?")
        )
        self.send_report_button = button(_("Send report"), "flag", "warning",
                                         callback=lambda b: app.send_report(b, self))
        self.report_cancel = button(_("Cancel"), "times",
                                    callback=lambda _b: show(self.report_box, False))
        self.report_box = widgets.HBox(
            [self.reason_input, self.send_report_button, self.report_cancel],
            layout=widgets.Layout(display="none"),
        )
        self.place_boxes()

    def place_boxes(self) -> None:
        """The item, then the forms made so far (hidden until their button opens them)."""
        after = [self.after_content] if built(self, "after_content") else []
        boxes = [self.__dict__[name] for name in ("edit_box", "confirm_box", "report_box")
                 if built(self, name)]
        self.children = [self.header, self.content, *after, self.actions, *boxes, *self.below]

    def render(self) -> None:
        item = self.item
        title = f"<h4>{escape(item['title'])}</h4>" if self.with_title else ""
        self.header.value = title + meta_html(item.get("author"), item.get("created_at"),
                                              hidden=bool(item.get("hidden")),
                                              space=self.app.space)
        # body_html was sanitized by the service: shown as is.
        self.content.value = item.get("body_html") or ""

    def start_edit(self) -> None:
        self.title_input.value = self.item.get("title", "") if self.with_title else ""
        self.body_input.value = self.item.get("body", "")
        show(self.edit_box)

    def changes(self) -> dict:
        fields = {"body": self.body_input.value}
        if self.with_title:
            fields["title"] = self.title_input.value
        return fields

    def update(self, item: dict) -> None:
        self.item = {**self.item, **item}
        self.render()


class DiscussionApp(TwinSpaceApp):
    """An app made of ItemViews: saves, deletes and reports them through the service."""

    def item_saved(self, view: ItemView) -> None:
        """Hook: after an item was edited."""

    def item_deleted(self, view: ItemView) -> None:
        """Hook: after an item was deleted (remove it from the view)."""

    @action
    def save_item(self, view: ItemView) -> None:
        item = self.client.patch(view.path, view.changes())
        view.update(item)
        show(view.edit_box, False)
        self.item_saved(view)
        self.notice(_("Saved."), "success")

    @action
    def delete_item(self, view: ItemView) -> None:
        self.client.delete(view.path)
        show(view.confirm_box, False)
        self.item_deleted(view)
        self.notice(_("Deleted."), "success")

    @action
    def send_report(self, view: ItemView) -> None:
        self.client.post("reports", {
            "object_type": view.object_type,
            "object_id": view.item["id"],
            "reason": view.reason_input.value,
        })
        view.reason_input.value = ""
        show(view.report_box, False)
        self.notice(_("Thank you: the moderators will look at it."), "success")


def without(box: widgets.Box, child: widgets.Widget) -> None:
    """Remove `child` from `box`'s children."""
    box.children = tuple(c for c in box.children if c is not child)
