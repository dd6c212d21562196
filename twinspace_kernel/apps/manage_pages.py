"""Manage pages (F16) and Add application (F17): the administrators' tools of a section.

Not applications placed on a page: `ManagePages(space, section)` works on a whole section
and `AddApplication(page_id)` on one page; `page_tools()` (what a page's tools cell calls)
shows both to those who may manage the section's pages and nothing to anyone else.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..i18n import _
from .base import TwinSpaceApp, action, escape
from .space_settings import PublicSwitch

HIDDEN = "none"


# Where Add application also offers the Profile app (profiles, walls, mail): the guide
# puts profiles on Home ("Get to know each other") and the getting-to-know-each-other
# work in Project Activities.
PROFILE_SECTIONS = ("home", "activities")


def _kind_labels(section: str | None = None) -> dict[str, str]:
    labels = {
        "blog": _("Blog"),
        "forum": _("Forum"),
        "wiki": _("Wiki"),
        "documents": _("Document library"),
        "gallery": _("Image gallery"),
        "web_content": _("Web content"),
    }
    if section in PROFILE_SECTIONS:
        labels["profile"] = _("Profile")
    return labels


def _show(widget: widgets.Widget, visible: bool) -> None:
    widget.layout.display = "" if visible else HIDDEN


class PageRow:
    """One page in the Manage pages list and its buttons."""

    def __init__(self, owner: ManagePages, page: dict) -> None:
        self.page = page
        published = page.get("published", False)
        status = f" <small>({escape(_('public'))})</small>" if published else ""
        self.label = widgets.HTML(f"<b>{escape(page['title'])}</b>{status}")
        self.title = widgets.Text(value=page["title"], placeholder=_("Page title"),
                                  description=_("Title"), layout=widgets.Layout(width="280px"))
        self.rename_button = widgets.Button(description=_("Rename"), icon="pencil",
                                            tooltip=_("Save the new title"))
        self.up_button = widgets.Button(description=_("Up"), icon="arrow-up",
                                        tooltip=_("Move this page up"))
        self.down_button = widgets.Button(description=_("Down"), icon="arrow-down",
                                          tooltip=_("Move this page down"))
        self.publish_button = widgets.Button(
            description=_("Unpublish") if published else _("Publish"),
            icon="eye-slash" if published else "globe",
            tooltip=_("Anyone may read a published page without logging in."),
        )
        self.delete_button = widgets.Button(description=_("Delete"), icon="trash",
                                            button_style="danger")
        self.confirm_button = widgets.Button(description=_("Yes, delete"), icon="trash",
                                             button_style="danger")
        self.cancel_button = widgets.Button(description=_("Cancel"), icon="times")
        self.confirm_box = widgets.HBox([
            widgets.HTML(escape(_("Delete “{title}” and everything on it?").format(
                title=page["title"]))),
            self.confirm_button, self.cancel_button,
        ], layout=widgets.Layout(display=HIDDEN))
        self.rename_button.on_click(lambda b: owner.rename(b, self))
        self.up_button.on_click(lambda b: owner.move(b, self, -1))
        self.down_button.on_click(lambda b: owner.move(b, self, +1))
        self.publish_button.on_click(lambda b: owner.toggle_publish(b, self))
        self.delete_button.on_click(lambda _b: _show(self.confirm_box, True))
        self.cancel_button.on_click(lambda _b: _show(self.confirm_box, False))
        self.confirm_button.on_click(lambda b: owner.delete(b, self))
        self.controls = widgets.HBox([
            self.title, self.rename_button, self.up_button, self.down_button,
            self.publish_button, self.delete_button,
        ])
        self.box = widgets.VBox([self.label, self.controls, self.confirm_box])


class ManagePages(TwinSpaceApp):
    """The pages of one section of a space: rename, reorder, publish, delete, create."""

    kind = "manage_pages"

    def __init__(self, space: str, section: str, **kwargs: Any) -> None:
        self.space_slug = space
        self.section = section
        self.rows: list[PageRow] = []
        self.list_box = widgets.VBox()
        self.new_title = widgets.Text(placeholder=_("Title of the new page"),
                                      description=_("New page"))
        self.template = widgets.Dropdown(description=_("Start from"), options=self._templates())
        self.new_button = widgets.Button(description=_("Create page"), icon="plus",
                                         button_style="primary")
        self.new_button.on_click(self.create)
        self.new_box = widgets.VBox([
            widgets.HTML(f"<b>{escape(_('Add a page'))}</b>"),
            widgets.HBox([self.new_title, self.template, self.new_button]),
        ])
        # Teacher administrators (the publish right) make the whole space public (F30),
        # with the same switch as in Space settings.
        self.public_box = PublicSwitch(self, space)
        self.public_button = self.public_box.button
        super().__init__(None, **kwargs)

    def _templates(self) -> list[tuple[str, str | None]]:
        # Imported here: nbformat pulls in jsonschema's format checkers (over 2 s), which
        # every page's kernel would pay at `import twinspace_kernel.apps`.
        from .. import pages as nbpages

        options: list[tuple[str, str | None]] = [(_("An empty page"), None)]
        names = (nbpages.SECTION_TEMPLATES.get(self.section),
                 *(nbpages.STARTER_TEMPLATES if self.section == "activities" else ()))
        for name in names:
            if name:
                try:
                    options.append((nbpages.load_template(name).title, name))
                except (OSError, ValueError):
                    continue
        return options

    @property
    def pages(self) -> list[dict]:
        return [row.page for row in self.rows]

    def refresh(self) -> None:
        space = self.client.get(f"spaces/{self.space_slug}", section=self.section)
        # Read before taking the context: a member who may not view the section is
        # refused here, and `info` stays empty (page_tools then shows the refusal).
        items = self.client.get(f"spaces/{self.space_slug}/pages", section=self.section)["items"]
        may = dict(space.get("section_may", {}))
        may["publish"] = space.get("may", {}).get("publish", False)
        self.info = {"space": self.space_slug, "section": self.section, "role": space["role"],
                     "may": may}
        self.title.value = f"<h3>{escape(_('Manage pages'))}</h3>"
        self.show_space_public(space.get("public", False))
        managing = self.may.get("manage_pages", False)
        self.rows = [PageRow(self, page) for page in items]
        for row in self.rows:
            _show(row.controls, managing)
            _show(row.publish_button, self.may.get("publish", False))
        if self.rows:
            self.rows[0].up_button.disabled = True
            self.rows[-1].down_button.disabled = True
        self.list_box.children = [row.box for row in self.rows] or [
            widgets.HTML(f"<p><i>{escape(_('No pages yet.'))}</i></p>")
        ]
        top = [self.public_box, self.list_box]
        self.body.children = top + [self.new_box] if managing else top

    @property
    def space_public(self) -> bool:
        return self.public_box.public

    def show_space_public(self, public: bool) -> None:
        may_publish = self.may.get("publish", False)
        self.public_box.show(public, may_publish)
        _show(self.public_box, may_publish)

    @action
    def create(self) -> None:
        body: dict[str, Any] = {"section": self.section}
        if self.new_title.value.strip():
            body["title"] = self.new_title.value
        if self.template.value:
            body["template"] = self.template.value
        page = self.client.post(f"spaces/{self.space_slug}/pages", body)
        self.new_title.value = ""
        self.refresh()
        self.notice(_("Page “{title}” created.").format(title=page["title"]), "success")

    @action
    def rename(self, row: PageRow) -> None:
        page = self.client.patch(f"pages/{row.page['id']}", {"title": row.title.value})
        self.refresh()
        self.notice(_("Renamed to “{title}”.").format(title=page["title"]), "success")

    @action
    def move(self, row: PageRow, step: int) -> None:
        ids = [page["id"] for page in self.pages]
        i = ids.index(row.page["id"])
        j = i + step
        if not 0 <= j < len(ids):
            return
        ids[i], ids[j] = ids[j], ids[i]
        self.client.put(f"spaces/{self.space_slug}/pages/order",
                        {"section": self.section, "ids": ids})
        self.refresh()

    @action
    def toggle_publish(self, row: PageRow) -> None:
        page = self.client.patch(f"pages/{row.page['id']}",
                                 {"published": not row.page.get("published", False)})
        self.refresh()
        if page["published"]:
            self.notice(_("“{title}” is now public.").format(title=page["title"]), "success")
        else:
            self.notice(_("“{title}” is no longer public.").format(title=page["title"]),
                        "success")

    @action
    def delete(self, row: PageRow) -> None:
        self.client.delete(f"pages/{row.page['id']}")
        self.refresh()
        self.notice(_("Page “{title}” deleted.").format(title=row.page["title"]), "success")


class AppRow:
    """One application of the page and its Remove button (with a confirm step)."""

    def __init__(self, owner: AddApplication, app: dict) -> None:
        self.app = app
        kind = _kind_labels("home").get(app["kind"], app["kind"])
        self.label = widgets.HTML(f"<b>{escape(app['title'])}</b> <small>({escape(kind)})</small>")
        self.remove_button = widgets.Button(description=_("Remove"), icon="trash",
                                            tooltip=_("Remove this application and its content"))
        self.confirm_button = widgets.Button(description=_("Yes, remove"), icon="trash",
                                             button_style="danger")
        self.cancel_button = widgets.Button(description=_("Cancel"), icon="times")
        self.confirm_box = widgets.HBox([
            widgets.HTML(escape(_("Remove “{title}” and all its content?").format(
                title=app["title"]))),
            self.confirm_button, self.cancel_button,
        ], layout=widgets.Layout(display=HIDDEN))
        self.remove_button.on_click(lambda _b: _show(self.confirm_box, True))
        self.cancel_button.on_click(lambda _b: _show(self.confirm_box, False))
        self.confirm_button.on_click(lambda b: owner.remove(b, self))
        self.box = widgets.VBox([widgets.HBox([self.label, self.remove_button]),
                                 self.confirm_box])


class AddApplication(TwinSpaceApp):
    """The applications of one page, with Remove, and the "Add application" form."""

    kind = "add_application"

    def __init__(self, page_id: int, **kwargs: Any) -> None:
        self.page_id = page_id
        self.page: dict = {}
        self.rows: list[AppRow] = []
        self.list_box = widgets.VBox()
        self.kind_choice = widgets.Dropdown(
            description=_("Application"),
            options=[(label, kind) for kind, label in _kind_labels().items()],
        )
        self.new_title = widgets.Text(placeholder=_("Title (optional)"), description=_("Title"))
        self.add_button = widgets.Button(description=_("Add application"), icon="plus",
                                         button_style="primary")
        self.add_button.on_click(self.add)
        self.add_box = widgets.HBox([self.kind_choice, self.new_title, self.add_button])
        super().__init__(None, **kwargs)

    def refresh(self) -> None:
        page = self.client.get(f"pages/{self.page_id}")
        self.page = page
        self.info = {"space": page["space"], "section": page["section"],
                     "role": page.get("role"), "may": page.get("may", {})}
        offered = [(label, kind) for kind, label in _kind_labels(page["section"]).items()]
        if offered != list(self.kind_choice.options):
            chosen = self.kind_choice.value
            self.kind_choice.options = offered
            if chosen in {kind for _label, kind in offered}:
                self.kind_choice.value = chosen
        self.title.value = f"<h3>{escape(_('Applications on this page'))}</h3>"
        managing = self.may.get("manage_pages", False)
        self.rows = [AppRow(self, app) for app in page["apps"]]
        for row in self.rows:
            _show(row.remove_button, managing)
        self.list_box.children = [row.box for row in self.rows] or [
            widgets.HTML(f"<p><i>{escape(_('No applications on this page yet.'))}</i></p>")
        ]
        self.body.children = [self.list_box, self.add_box] if managing else [self.list_box]

    @action
    def add(self) -> None:
        body = {"kind": self.kind_choice.value}
        if self.new_title.value.strip():
            body["title"] = self.new_title.value
        app = self.client.post(f"pages/{self.page_id}/apps", body)
        self.new_title.value = ""
        self.refresh()
        self.notice(_("“{title}” added: reload the page to use it.").format(title=app["title"]),
                    "success")

    @action
    def remove(self, row: AppRow) -> None:
        self.client.delete(f"apps/{row.app['id']}")
        self.refresh()
        self.notice(_("“{title}” removed.").format(title=row.app["title"]), "success")


def page_tools(space: str, section: str, page_id: int, **kwargs: Any) -> widgets.Widget:
    """Manage pages and Add application for those who may manage the section's pages;
    an empty box for everyone else (what a page's tools cell shows)."""
    manage = ManagePages(space, section, **kwargs)
    if not manage.info:
        # Refused, gone or the service is down: Manage pages says so (with Retry).
        return manage
    if not manage.may.get("manage_pages", False):
        return widgets.VBox()
    add = AddApplication(page_id, client=manage.client)
    tools = widgets.Accordion(children=[manage, add])
    tools.set_title(0, _("Manage pages"))
    tools.set_title(1, _("Add application"))
    tools.selected_index = None
    return tools
