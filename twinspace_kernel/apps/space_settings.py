"""Space settings (F2, F30): a space's name, its state and whether it is public."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..i18n import _
from .base import TwinSpaceApp, action, escape, role_label

HIDDEN = "none"
STATES = ("open", "archived", "closed")


def _show(widget: widgets.Widget, visible: bool) -> None:
    widget.layout.display = "" if visible else HIDDEN


def state_label(state: str) -> str:
    return {"open": _("Open (in use)"), "archived": _("Archived (read-only)"),
            "closed": _("Closed (teacher administrators only)")}.get(state, state)


def state_meaning(state: str) -> str:
    """What a state means for the space's members, in one sentence."""
    return {
        "open": _("Members read and take part as their role allows."),
        "archived": _("The space becomes read-only for everyone: members can still read "
                      "everything, but nobody can post, comment, upload, chat or change "
                      "pages. Public pages stay public. You can reopen it at any time."),
        "closed": _("Only teacher administrators can see the space: other members no "
                    "longer find it in their spaces, and its public pages are taken "
                    "offline. You can reopen it at any time."),
    }.get(state, "")


def state_now(state: str) -> str:
    return {"open": _("This space is open."), "archived": _("This space is archived."),
            "closed": _("This space is closed.")}.get(state, state)


def state_question(state: str) -> str:
    return {"open": _("Reopen this space?"), "archived": _("Archive this space?"),
            "closed": _("Close this space?")}.get(state, state)


def state_done(state: str) -> str:
    return {"open": _("The space is open again."), "archived": _("The space is now archived."),
            "closed": _("The space is now closed.")}.get(state, state)


def public_meaning(public: bool) -> str:
    if public:
        return _("This space is public: anyone can read its Home page and its published "
                 "pages, without logging in. Pupils are shown by first name only.")
    return _("This space is private: only its members see it.")


class PublicSwitch(widgets.HBox):
    """Make a space public or private (F30): what that means, and one button.

    Shared by Space settings and Manage pages. Shown to those who may publish (teacher
    administrators); the service decides all the same. Notices go to `owner`'s banner.
    """

    def __init__(self, owner: TwinSpaceApp, space_slug: str) -> None:
        self.owner = owner
        self.space_slug = space_slug
        self.public = False
        self.label = widgets.HTML()
        self.button = widgets.Button(
            tooltip=_("A public space shows its Home page and its published pages to "
                      "anyone, without logging in."),
            layout=widgets.Layout(width="auto"))
        self.button.on_click(self.toggle)
        super().__init__([self.label, self.button], layout=widgets.Layout(display=HIDDEN))
        self.add_class("twinspace-public-switch")

    def show(self, public: bool, may_publish: bool) -> None:
        self.public = bool(public)
        self.label.value = escape(public_meaning(self.public))
        if self.public:
            self.button.description = _("Make this space private")
            self.button.icon = "lock"
        else:
            self.button.description = _("Make this space public")
            self.button.icon = "globe"
        _show(self.button, may_publish)
        _show(self, True)

    def toggle(self, button: widgets.Button | None = None) -> None:
        self.button.disabled = True
        try:
            self.owner.clear_notice()
            space = self.owner.guard(self.owner.client.patch, f"spaces/{self.space_slug}",
                                     {"public": not self.public})
        finally:
            self.button.disabled = False
        if space is None:
            return
        self.show(space["public"], True)
        if space["public"]:
            self.owner.notice(_("The space is now public."), "success")
        else:
            self.owner.notice(_("The space is now private."), "success")


class SpaceSettings(TwinSpaceApp):
    """The settings of one space: teacher administrators change them, others read them.

    `transfer_box` holds the export of the space and Use as template (apps/transfer.py).
    """

    kind = "settings"

    def __init__(self, space: str, *, client=None, **params: Any) -> None:
        self.space_slug = space
        self.params = params
        self.current: dict[str, Any] = {}

        self.title_text = widgets.Text(description=_("Title"),
                                       layout=widgets.Layout(width="520px"))
        self.description_text = widgets.Textarea(
            description=_("Description"), layout=widgets.Layout(width="520px", height="90px"))
        self.save_button = widgets.Button(description=_("Save title and description"),
                                          icon="save", button_style="primary",
                                          layout=widgets.Layout(width="auto"))
        self.save_button.on_click(self.save)
        self.about_box = widgets.VBox([
            widgets.HTML(f"<h4>{escape(_('Name and description'))}</h4>"),
            self.title_text, self.description_text, self.save_button,
        ])

        self.state_now = widgets.HTML()
        self.state_choice = widgets.RadioButtons(
            options=[(state_label(s), s) for s in STATES], description=_("State"))
        self.state_meanings = widgets.HTML(self._meanings_html())
        self.state_button = widgets.Button(description=_("Change the state…"),
                                           icon="exchange", layout=widgets.Layout(width="auto"))
        self.state_button.on_click(self.ask_state)
        self.confirm_text = widgets.HTML()
        self.confirm_button = widgets.Button(description=_("Yes, change it"), icon="check",
                                             button_style="warning",
                                             layout=widgets.Layout(width="auto"))
        self.confirm_button.on_click(self.change_state)
        self.cancel_button = widgets.Button(description=_("Cancel"), icon="times")
        self.cancel_button.on_click(lambda _b: _show(self.confirm_box, False))
        self.confirm_box = widgets.VBox(
            [self.confirm_text, widgets.HBox([self.confirm_button, self.cancel_button])],
            layout=widgets.Layout(display=HIDDEN, border="1px solid #e0a800", padding="6px"))
        self.confirm_box.add_class("twinspace-confirm")
        self.state_box = widgets.VBox([
            widgets.HTML(f"<h4>{escape(_('State of the space'))}</h4>"),
            self.state_now, self.state_choice, self.state_meanings, self.state_button,
            self.confirm_box,
        ])

        for widget, name in ((self.title_text, "title"), (self.description_text, "description"),
                             (self.state_choice, "state"), (self.state_button, "state-button"),
                             (self.confirm_text, "confirm-text"),
                             (self.confirm_button, "confirm")):
            widget.add_class(f"ts-settings-{name}")
        self.public_switch = PublicSwitch(self, space)
        self.public_note = widgets.HTML()
        self.public_box = widgets.VBox([
            widgets.HTML(f"<h4>{escape(_('Public or private'))}</h4>"), self.public_switch,
            self.public_note,
        ])
        # Another tool's panel goes here: the export of the whole space (F34).
        self.transfer_box = widgets.VBox()
        super().__init__(None, client=client)

    @staticmethod
    def _meanings_html() -> str:
        items = "".join(f"<li><b>{escape(state_label(s))}</b>: {escape(state_meaning(s))}</li>"
                        for s in STATES)
        return f'<ul style="margin:4px 0 8px 0">{items}</ul>'

    def refresh(self) -> None:
        space = self.client.get(f"spaces/{self.space_slug}")
        self.current = space
        self.info = {"space": space["slug"], "role": space.get("role"),
                     "may": space.get("may", {})}
        heading = _("Space settings: {title}").format(title=space["title"])
        self.title.value = f"<h3>{escape(heading)}</h3>"
        state = space.get("state", "open")
        self.state_now.value = (f"<p><b>{escape(state_now(state))}</b> "
                                f"{escape(state_meaning(state))}</p>")
        administer = self.may.get("administer", False)
        may_publish = self.may.get("publish", False)
        self.public_switch.show(space.get("public", False), may_publish)
        notes = []
        if state == "closed":
            notes.append(_("While the space is closed, the public sees none of it."))
        if administer and not may_publish:
            notes.append(_("Reopen the space to make it public or private."))
        self.public_note.value = "".join(f"<p><i>{escape(n)}</i></p>" for n in notes)
        if not administer:
            self.body.children = [self._read_only(space), self.public_box]
            self.notice(_("Only the teacher administrators of this space can change its "
                          "settings."), "info")
            return
        self.title_text.value = space["title"]
        self.description_text.value = space.get("description") or ""
        self.state_choice.value = state
        _show(self.confirm_box, False)
        self._fill_transfer()
        self.body.children = [self.about_box, self.state_box, self.public_box,
                              self.transfer_box]

    def _read_only(self, space: dict) -> widgets.HTML:
        description = escape(space.get("description") or "").replace("\n", "<br>")
        role = role_label(space.get("role") or "")
        return widgets.HTML(
            f"<p><b>{escape(space['title'])}</b></p><p>{description}</p>"
            f"<p>{escape(_('Your role here: {role}.').format(role=role))}</p>")

    def _fill_transfer(self) -> None:
        if self.transfer_box.children:
            return
        # Imported here: every page's kernel imports this module (Manage pages shares its
        # public switch) and should not pay for the export's imports.
        from .transfer import ExportPanel

        self.transfer_box.children = [ExportPanel(self.space_slug, client=self.client)]

    @action
    def save(self) -> None:
        title = self.title_text.value.strip()
        if not title:
            self.notice(_("A space needs a title."), "error")
            return
        space = self.client.patch(f"spaces/{self.space_slug}",
                                  {"title": title, "description": self.description_text.value})
        self.refresh()
        self.notice(_("Saved: the space is now called “{title}”.").format(title=space["title"]),
                    "success")

    def ask_state(self, _button: widgets.Button | None = None) -> None:
        """Say what the chosen state means before changing anything."""
        wanted = self.state_choice.value
        if wanted == self.current.get("state"):
            self.notice(state_now(wanted), "info")
            return
        self.clear_notice()
        self.confirm_text.value = (
            f"<p><b>{escape(state_question(wanted))}</b></p>"
            f"<p>{escape(state_meaning(wanted))}</p>")
        _show(self.confirm_box, True)

    @action
    def change_state(self) -> None:
        wanted = self.state_choice.value
        space = self.client.patch(f"spaces/{self.space_slug}", {"state": wanted})
        self.refresh()
        self.notice(state_done(space["state"]), "success")
