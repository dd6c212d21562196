"""Members (F3–F9): the members list, invitations, roles, and pupils' accounts and sheets."""

from __future__ import annotations

import base64
from typing import Any

import ipywidgets as widgets

from ..client import TwinSpaceError
from ..i18n import _, ngettext
from ..sheets import credentials_sheet
from .base import TwinSpaceApp, action, built, escape, on_demand, profile_link, role_label

ROLE_ORDER = ("teacher_admin", "teacher", "pupil_admin", "pupil", "visitor")
INVITABLE_ROLES = ("teacher_admin", "teacher", "visitor")
PHOTO_SIZE = "48px"
# Muted text with enough contrast on white (F37).
MUTED = "color:#4a4a4a"
# A member row's text parts: no shrinking, a widget's margin.
CELL = "flex:none;margin:2px"
NO_PHOTO = (f'<div aria-hidden="true" style="width:{PHOTO_SIZE};height:{PHOTO_SIZE};'
            f'border-radius:4px;background:#d7dde5;{CELL}"></div>')


def group_label(role: str, n: int) -> str:
    labels = {
        "teacher_admin": ngettext("{n} teacher administrator", "{n} teacher administrators", n),
        "teacher": ngettext("{n} teacher", "{n} teachers", n),
        "pupil_admin": ngettext("{n} pupil administrator", "{n} pupil administrators", n),
        "pupil": ngettext("{n} pupil", "{n} pupils", n),
        "visitor": ngettext("{n} visitor", "{n} visitors", n),
    }
    return labels.get(role, "{n} " + role).format(n=n)


def home_rights(app: TwinSpaceApp) -> dict[str, bool]:
    """What the reader may do in the space's Home section, where members, profiles, walls
    and mail live (the app itself may sit on another page: its own `may` is that page's)."""
    if app.info.get("section") == "home":
        return app.may
    return app.client.get(f"spaces/{app.space}").get("may", {})


def sheet_link(sheet: str, slug: str) -> str:
    """An <a> that downloads `sheet` (an HTML page) without going through any server."""
    data = base64.b64encode(sheet.encode("utf-8")).decode("ascii")
    return (
        f'<a download="pupils-{escape(slug)}.html" href="data:text/html;base64,{data}" '
        f'style="font-weight:bold;color:#0b3d91">'
        f"{escape(_('Download the credentials sheet'))}</a>"
    )


class MemberRow:
    """One line of the members list: photo, name, school/country, role (and admin tools)."""

    def __init__(self, app: Members, member: dict, photo: bytes | None, admin: bool) -> None:
        self.name = member["name"]
        self.member = member
        where = ", ".join(p for p in (member.get("school"), member.get("country")) if p)
        # A name opens the member's profile, for those who may see it (pupils' profiles:
        # not visitors).
        linked = member.get("kind") != "pupil" or app.may.get("view_pupil_profile", False)
        shown_name = member.get("display_name") or self.name
        person = (
            f"<b>{profile_link(app.space, self.name if linked else None, shown_name)}</b> "
            f'<span style="{MUTED}">({escape(self.name)})</span><br>'
            f'<span style="{MUTED}">{escape(where)}</span>'
        )
        self.photo: widgets.Image | None = None
        if photo:
            self.photo = widgets.Image(
                value=photo, layout=widgets.Layout(width=PHOTO_SIZE, height=PHOTO_SIZE,
                                                   object_fit="cover"),
            )
        # The placeholder of a missing photo, the name and, for readers who may not change
        # it, the role are text only: one HTML widget, laid out as the widgets they were
        # (each its width and a widget's margin), not three.
        parts = [] if photo else [NO_PHOTO]
        parts.append(f'<div style="width:340px;{CELL}">{person}</div>')
        if not admin:
            parts.append(f'<div style="width:170px;{CELL}">'
                         f"<span>{escape(role_label(member['role']))}</span></div>")
        self.info = widgets.HTML(
            '<div style="display:flex;align-items:center">' + "".join(parts) + "</div>",
            layout=widgets.Layout(margin="0"),
        )
        self.app = app
        items: list[widgets.Widget] = [self.photo] if self.photo else []
        items.append(self.info)
        if admin:
            items += [self.role, self.save, self.remove]
        self.box: widgets.Widget = (
            widgets.HBox(items, layout=widgets.Layout(align_items="center"))
            if len(items) > 1 else self.info
        )

    # The role tools, made only in an administrator's row (or when code asks for them).
    role = on_demand("build_role_tools")
    save = on_demand("build_role_tools")
    remove = on_demand("build_role_tools")

    def build_role_tools(self) -> None:
        app = self.app
        self.role = widgets.Dropdown(
            options=[(role_label(r), r) for r in ROLE_ORDER], value=self.member["role"],
            description=_("Role"), layout=widgets.Layout(width="260px"),
        )
        self.save = widgets.Button(description=_("Save role"), icon="save",
                                   tooltip=_("Save the new role of {name}").format(name=self.name))
        self.save.on_click(lambda button: app.save_role(button, self.name))
        self.remove = widgets.Button(
            description=_("Remove"), icon="user-times", button_style="danger",
            tooltip=_("Remove {name} from the space").format(name=self.name),
        )
        self.remove.on_click(lambda button: app.ask_remove(button, self.name))


class Members(TwinSpaceApp):
    """The members of the space; administrators invite and manage, teachers make pupils."""

    kind = "members"

    def __init__(self, app_id: int | None = None, **kwargs: Any) -> None:
        self.rows: dict[str, MemberRow] = {}
        self.photos: dict[str, bytes | None] = {}
        self.members_box = widgets.VBox()
        self.removing: str | None = None
        self.last_sheet = ""
        self.home_may: dict[str, bool] = {}
        self.pupil_buttons: dict[str, widgets.Button] = {}

        super().__init__(app_id, **kwargs)

    # The confirmation of a removal, the invitations (teacher administrators) and the
    # pupils' accounts (teachers): made when first shown, for those who may use them.
    confirm_text = on_demand("build_confirm_box")
    confirm_remove_button = on_demand("build_confirm_box")
    cancel_remove_button = on_demand("build_confirm_box")
    confirm_box = on_demand("build_confirm_box")
    invite_who = on_demand("build_invite_panel")
    invite_role = on_demand("build_invite_panel")
    invite_button = on_demand("build_invite_panel")
    invite_result = on_demand("build_invite_panel")
    invitations_box = on_demand("build_invite_panel")
    invite_panel = on_demand("build_invite_panel")
    pupil_names = on_demand("build_pupils_panel")
    create_from_names_button = on_demand("build_pupils_panel")
    pupil_count = on_demand("build_pupils_panel")
    create_from_count_button = on_demand("build_pupils_panel")
    created = on_demand("build_pupils_panel")
    sheet_link = on_demand("build_pupils_panel")
    show_sheet_button = on_demand("build_pupils_panel")
    sheet_view = on_demand("build_pupils_panel")
    reset_password = on_demand("build_pupils_panel")
    reset_result = on_demand("build_pupils_panel")
    pupils_box = on_demand("build_pupils_panel")
    pupils_panel = on_demand("build_pupils_panel")

    def build_confirm_box(self) -> None:
        self.confirm_text = widgets.HTML()
        self.confirm_remove_button = widgets.Button(description=_("Yes, remove"),
                                                    button_style="danger", icon="check")
        self.confirm_remove_button.on_click(self.confirm_remove)
        self.cancel_remove_button = widgets.Button(description=_("Cancel"), icon="times")
        self.cancel_remove_button.on_click(lambda _button: self.hide_confirm())
        self.confirm_box = widgets.HBox(
            [self.confirm_text, self.confirm_remove_button, self.cancel_remove_button],
            layout=widgets.Layout(display="none"),
        )

    def build_invite_panel(self) -> None:
        self.invite_who = widgets.Text(
            description=_("Who"), placeholder=_("Username or e-mail address"),
            layout=widgets.Layout(width="360px"),
        )
        self.invite_role = widgets.Dropdown(
            options=[(role_label(r), r) for r in INVITABLE_ROLES], value="teacher",
            description=_("Role"),
        )
        self.invite_button = widgets.Button(description=_("Invite"), icon="envelope",
                                            button_style="primary")
        self.invite_button.on_click(self.invite)
        self.invite_result = widgets.HTML()
        self.invitations_box = widgets.VBox()
        self.invite_panel = widgets.VBox([
            widgets.HTML(f"<h4>{escape(_('Invite a teacher or a visitor'))}</h4>"),
            widgets.HTML(f'<span style="{MUTED}">' + escape(_(
                "Members of TwinSpace find the invitation in their mailbox; someone new "
                "gets a link to create their account.")) + "</span>"),
            widgets.HBox([self.invite_who, self.invite_role, self.invite_button]),
            self.invite_result,
            widgets.HTML(f"<h4>{escape(_('Pending invitations'))}</h4>"),
            self.invitations_box,
        ])

    def build_pupils_panel(self) -> None:
        self.pupil_names = widgets.Textarea(
            placeholder=_("One pupil's name per line, e.g. Ana Lopez"),
            layout=widgets.Layout(width="360px", height="120px"),
        )
        self.create_from_names_button = widgets.Button(
            description=_("Create accounts"), icon="user-plus", button_style="primary",
            tooltip=_("Create one account per name"),
        )
        self.create_from_names_button.on_click(self.create_from_names)
        self.pupil_count = widgets.BoundedIntText(value=1, min=1, max=500,
                                                  description=_("How many"))
        self.create_from_count_button = widgets.Button(
            description=_("Create numbered accounts"), icon="user-plus",
            tooltip=_("Create accounts named Pupil 01, Pupil 02…"),
        )
        self.create_from_count_button.on_click(self.create_from_count)
        self.created = widgets.HTML()
        self.sheet_link = widgets.HTML()
        self.show_sheet_button = widgets.Button(
            description=_("Show the sheet to print"), icon="print",
            layout=widgets.Layout(display="none"),
        )
        self.show_sheet_button.on_click(lambda _button: self.show_sheet())
        self.sheet_view = widgets.HTML()
        self.reset_password = widgets.Text(
            description=_("New password"),
            placeholder=_("5 to 8 letters or digits; empty: a new one is made"),
            layout=widgets.Layout(width="420px"),
        )
        self.reset_result = widgets.HTML()
        self.pupils_box = widgets.VBox()
        self.pupils_panel = widgets.VBox([
            widgets.HTML(f"<h4>{escape(_('Pupil accounts'))}</h4>"),
            widgets.HTML(f'<span style="{MUTED}">' + escape(_(
                "Pupils have no e-mail: their usernames and passwords are made here and "
                "shown once. Print the sheet and hand each pupil their slip.")) + "</span>"),
            widgets.Label(_("Pupils' names")),
            self.pupil_names,
            self.create_from_names_button,
            widgets.HBox([self.pupil_count, self.create_from_count_button]),
            self.created,
            self.sheet_link,
            self.show_sheet_button,
            self.sheet_view,
            widgets.HTML(f"<h4>{escape(_('Reset a pupil password'))}</h4>"),
            self.reset_password,
            self.reset_result,
            self.pupils_box,
        ])

    # --- reading ------------------------------------------------------------------------

    def refresh(self) -> None:
        self.home_may = home_rights(self)
        self.photos.clear()
        self.show_members()
        children: list[widgets.Widget] = [self.members_box]
        if built(self, "confirm_box"):
            children.append(self.confirm_box)
        if self.home_may.get("invite"):
            self.load_invitations()
            children.append(self.invite_panel)
        if self.home_may.get("manage_pupils"):
            self.load_pupils()
            children.append(self.pupils_panel)
        self.body.children = children

    def show_members(self) -> None:
        members = self.client.get(f"spaces/{self.space}/members")["items"]
        admin = bool(self.home_may.get("invite"))
        by_role: dict[str, list[dict]] = {}
        for member in members:
            by_role.setdefault(member["role"], []).append(member)
        self.rows = {}
        boxes: list[widgets.Widget] = [widgets.HTML(
            "<p>" + escape(ngettext("{n} member", "{n} members", len(members))
                           .format(n=len(members))) + "</p>")]
        for role in sorted(by_role, key=lambda r: ROLE_ORDER.index(r) if r in ROLE_ORDER else 9):
            group = sorted(by_role[role],
                           key=lambda x: ((x.get("display_name") or "").lower(), x["name"]))
            boxes.append(widgets.HTML(f"<h4>{escape(group_label(role, len(group)))}</h4>"))
            for member in group:
                row = MemberRow(self, member, self.photo(member), admin)
                self.rows[member["name"]] = row
                boxes.append(row.box)
        self.members_box.children = boxes

    def photo(self, member: dict) -> bytes | None:
        """The member's photo, fetched only when they have one and the reader may see it."""
        name = member["name"]
        if not member.get("has_photo") or not name:
            return None
        if member.get("kind") == "pupil" and not self.home_may.get("view_pupil_profile"):
            return None
        if name not in self.photos:
            try:
                self.photos[name] = self.client.download(
                    f"spaces/{self.space}/members/{name}/photo")
            except TwinSpaceError:
                # A missing photo is not worth a banner: show the placeholder.
                self.photos[name] = None
        return self.photos[name]

    def load_invitations(self) -> None:
        items = self.client.get(f"spaces/{self.space}/invitations", limit=100)["items"]
        if not items:
            self.invitations_box.children = [
                widgets.HTML(f"<i>{escape(_('No invitation is waiting.'))}</i>")]
            return
        rows = []
        for item in items:
            who = item.get("username") or item.get("email") or ""
            if item.get("user"):
                who = item["user"].get("display_name") or who
            text = _("{who} as {role}, until {date}").format(
                who=who, role=role_label(item["role"]), date=(item.get("expires_at") or "")[:10])
            cancel = widgets.Button(description=_("Cancel"), icon="times",
                                    tooltip=_("Cancel the invitation of {who}").format(who=who))
            cancel.on_click(lambda button, i=item["id"]: self.cancel_invitation(button, i))
            rows.append(widgets.HBox([widgets.HTML(escape(text)), cancel],
                                     layout=widgets.Layout(align_items="center")))
        self.invitations_box.children = rows

    def load_pupils(self) -> None:
        items: list[dict] = []
        after = None
        for _page in range(20):
            answer = self.client.get(f"spaces/{self.space}/pupils", after=after, limit=100)
            items += answer["items"]
            after = answer.get("next")
            if not after:
                break
        self.pupil_buttons = {}
        if not items:
            self.pupils_box.children = [
                widgets.HTML(f"<i>{escape(_('No pupil account yet.'))}</i>")]
            return
        rows = []
        for pupil in items:
            creator = (pupil.get("created_by") or {}).get("display_name") or "—"
            info = widgets.HTML(
                f"<b>{escape(pupil.get('display_name'))}</b> ({escape(pupil['name'])}) "
                f'<span style="{MUTED}">'
                + escape(_("created by {who}").format(who=creator)) + "</span>",
                layout=widgets.Layout(width="420px"),
            )
            button = widgets.Button(
                description=_("Reset password"), icon="key",
                tooltip=_("Give {name} a new password").format(name=pupil["name"]),
                # Only your own pupils (the service decides; this is a courtesy).
                layout=widgets.Layout(display="" if pupil.get("can_reset") else "none"),
            )
            button.on_click(lambda b, n=pupil["name"]: self.reset(b, n))
            self.pupil_buttons[pupil["name"]] = button
            rows.append(widgets.HBox([info, button], layout=widgets.Layout(align_items="center")))
        self.pupils_box.children = rows

    # --- administrators: invitations, roles, removal --------------------------------------

    @action
    def invite(self) -> None:
        who = self.invite_who.value.strip()
        if not who:
            self.notice(_("Write a username or an e-mail address."), "error")
            return
        body: dict[str, Any] = {"role": self.invite_role.value}
        body["email" if "@" in who else "username"] = who
        answer = self.client.post(f"spaces/{self.space}/invitations", body)
        if answer.get("existing"):
            name = (answer.get("user") or {}).get("display_name") or who
            self.invite_result.value = "<p>" + escape(_(
                "{name} is invited as {role}: the invitation is in their TwinSpace mailbox."
            ).format(name=name, role=role_label(answer["role"]))) + "</p>"
        else:
            link = answer.get("link", "")
            note = _("Send this link to {who}. It works once, until {date}: they choose "
                     "their username and password with it.").format(
                who=who, date=(answer.get("expires_at") or "")[:10])
            if answer.get("mailed"):
                note += " " + _("It was also sent by e-mail.")
            elif answer.get("mail_error"):
                note += " " + answer["mail_error"]
            self.invite_result.value = (
                f"<p>{escape(note)}</p>"
                f'<p><a href="{escape(link)}" target="_blank" rel="noopener" '
                f'style="color:#0b3d91">{escape(link)}</a></p>'
            )
        self.invite_who.value = ""
        self.notice(_("Invitation made."), "success")
        self.load_invitations()

    @action
    def cancel_invitation(self, invitation_id: int) -> None:
        self.client.delete(f"invitations/{invitation_id}")
        self.notice(_("The invitation was cancelled."), "success")
        self.load_invitations()

    @action
    def save_role(self, name: str) -> None:
        row = self.rows[name]
        answer = self.client.patch(f"spaces/{self.space}/members/{name}",
                                   {"role": row.role.value})
        self.show_members()
        self.notice(_("{name} is now {role}.").format(
            name=answer.get("display_name") or name, role=role_label(answer["role"])), "success")

    @action
    def ask_remove(self, name: str) -> None:
        self.removing = name
        self.confirm_text.value = "<b>" + escape(
            _("Remove {name} from the space?").format(name=name)) + "</b>"
        self.confirm_box.layout.display = ""
        if self.confirm_box not in self.body.children:
            # Under the list, where it always was (made on the first Remove).
            shown = list(self.body.children)
            at = shown.index(self.members_box) + 1 if self.members_box in shown else len(shown)
            self.body.children = (*self.body.children[:at], self.confirm_box,
                                  *self.body.children[at:])

    def hide_confirm(self) -> None:
        self.removing = None
        if built(self, "confirm_box"):
            self.confirm_box.layout.display = "none"

    @action
    def confirm_remove(self) -> None:
        name = self.removing
        if not name:
            return
        self.client.delete(f"spaces/{self.space}/members/{name}")
        self.hide_confirm()
        self.show_members()
        self.notice(_("{name} is no longer a member.").format(name=name), "success")

    # --- teachers: pupils' accounts ------------------------------------------------------

    @action
    def create_from_names(self) -> None:
        names = [line.strip() for line in self.pupil_names.value.splitlines() if line.strip()]
        if not names:
            self.notice(_("Write the pupils' names, one per line."), "error")
            return
        self.create_pupils({"names": names})
        self.pupil_names.value = ""

    @action
    def create_from_count(self) -> None:
        self.create_pupils({"count": int(self.pupil_count.value)})

    def create_pupils(self, body: dict) -> None:
        answer = self.client.post(f"spaces/{self.space}/pupils", body)
        pupils = answer["items"]
        rows = "".join(
            f"<tr><td>{escape(p['display_name'])}</td><td><code>{escape(p['name'])}</code></td>"
            f"<td><code>{escape(p['password'])}</code></td></tr>"
            for p in pupils
        )
        self.created.value = (
            '<p role="alert" style="color:#7a1212"><b>'
            + escape(_("Write these passwords down or print the sheet now: "
                       "they are shown only once.")) + "</b></p>"
            '<table style="border-collapse:collapse"><thead><tr>'
            f"<th>{escape(_('Name'))}</th><th>{escape(_('Username'))}</th>"
            f"<th>{escape(_('Password'))}</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        self.last_sheet = credentials_sheet(
            pupils, hub_url=answer.get("hub_url", ""),
            space_title=self.info.get("space_title") or self.space,
        )
        self.sheet_link.value = sheet_link(self.last_sheet, self.space)
        self.show_sheet_button.layout.display = ""
        self.sheet_view.value = ""
        self.notice(ngettext("{n} pupil account was created.", "{n} pupil accounts were created.",
                             len(pupils)).format(n=len(pupils)), "success")
        self.load_pupils()
        self.show_members()

    def show_sheet(self) -> None:
        """The sheet in a frame of its own (its print styles stay out of this page)."""
        if self.last_sheet:
            self.sheet_view.value = (
                f'<iframe title="{escape(_("Credentials sheet"))}" '
                f'srcdoc="{escape(self.last_sheet)}" '
                'style="width:100%;height:600px;border:1px solid #9ab"></iframe>'
            )

    @action
    def reset(self, name: str) -> None:
        self.reset_result.value = ""
        password = self.reset_password.value.strip()
        answer = self.client.post(f"spaces/{self.space}/pupils/{name}/password",
                                  {"password": password} if password else {})
        self.reset_password.value = ""
        self.reset_result.value = (
            "<p>" + escape(_("New password of {name}:").format(name=answer["name"]))
            + f" <code><b>{escape(answer['password'])}</b></code> "
            + escape(_("(shown only now)")) + "</p>"
        )
        self.notice(_("The password was changed."), "success")
