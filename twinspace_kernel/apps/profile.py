"""Profiles and walls (F10, F11): my profile and photo, other members' profiles, walls, mail."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import quote

import ipywidgets as widgets

from ..client import Conflict, Forbidden, NotFound, TwinSpaceClient, TwinSpaceError
from ..i18n import LANGUAGE_NAMES, LANGUAGES, _
from .base import (
    BANNER_STYLES,
    TwinSpaceApp,
    action,
    built,
    escape,
    hub_url,
    on_demand,
    profile_link,
    refusal_text,
    role_label,
    server_prefix,
)
from .downloads import offer_download
from .members import MUTED, home_rights
from .uploading import limit_text, selected_files, short_date, too_large_message, upload_limit

PHOTO_SIZE = "160px"
# Profile fields in the order they are shown, with their editing widget's height.
FIELDS = ("about", "interests", "hobbies", "favourite_food")
# Fields of the account shown and edited with the profile (one line each).
ACCOUNT_FIELDS = ("school", "country")
# Seconds an erasure may take (the service answers once the hub removed the member).
ERASE_TIMEOUT = 300.0


def field_label(name: str) -> str:
    return {
        "about": _("About me"),
        "interests": _("Interests"),
        "hobbies": _("Hobbies"),
        "favourite_food": _("Favourite food"),
    }[name]


def account_label(name: str) -> str:
    return {"school": _("School"), "country": _("Country")}[name]


def multiline(text: str | None) -> str:
    return escape(text).replace("\n", "<br>")


def profile_html(profile: dict) -> str:
    where = ", ".join(p for p in (profile.get("school"), profile.get("country")) if p)
    parts = [
        f"<h4>{escape(profile.get('display_name') or profile.get('name'))}</h4>",
        f'<p style="{MUTED}">{escape(where)}</p>' if where else "",
    ]
    filled = [f for f in FIELDS if profile.get(f)]
    for name in filled:
        parts.append(f"<p><b>{escape(field_label(name))}</b><br>{multiline(profile[name])}</p>")
    if not filled:
        parts.append(f"<p><i>{escape(_('This profile is still empty.'))}</i></p>")
    return "".join(parts)


def logout_url() -> str:
    return hub_url("logout")


def data_filename(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return f"twinspace-{safe}-data-{dt.date.today().isoformat()}.json"


class PersonalData(widgets.VBox):
    """Download and erase one account's personal data (F35): mine, or a pupil's I manage.

    export_path / erase: the service calls; `whose` is the account's username (what the
    confirmation asks for).
    """

    def __init__(self, app: Profile, *, whose: str, export_path: str, erase_path: str,
                 own: bool) -> None:
        super().__init__()
        self.add_class("twinspace-personal-data")
        self.app = app
        self.whose = whose
        self.export_path = export_path
        self.erase_path = erase_path
        self.own = own
        if own:
            heading = _("My data")
            download_text = _("Download my data")
            erase_text = _("Erase my account")
            explain = _(
                "Erasing your account deletes your profile and photo, your memberships, the "
                "mail you received, your wall and your home folder in JupyterLab. What you "
                "wrote for the projects (posts, comments, replies, wiki text, files, chat "
                "messages) stays, without your name. This cannot be undone.")
            confirm_hint = _("Type your username ({name}) to confirm").format(name=whose)
        else:
            heading = _("Personal data of {name}").format(name=whose)
            download_text = _("Download this pupil's data")
            erase_text = _("Erase this pupil's account")
            explain = _(
                "Erasing this pupil's account deletes their profile and photo, memberships, "
                "the mail they received, their wall and their home folder in JupyterLab. "
                "What they wrote for the projects stays, without their name. They can no "
                "longer log in. This cannot be undone.")
            confirm_hint = _("Type their username ({name}) to confirm").format(name=whose)
        self.download_button = widgets.Button(description=download_text, icon="download",
                                              layout=widgets.Layout(width="auto"))
        self.download_button.on_click(lambda b: app.download_data(b, self))
        self.result = widgets.HTML()
        self.confirm = widgets.Text(placeholder=confirm_hint,
                                    layout=widgets.Layout(width="320px"))
        self.confirm.description = _("Username")
        self.erase_button = widgets.Button(description=erase_text, icon="trash",
                                           button_style="danger",
                                           layout=widgets.Layout(width="auto"))
        self.erase_button.on_click(lambda b: app.erase_data(b, self))
        self.download_row = widgets.HBox([self.download_button])
        self.children = [
            widgets.HTML(f"<h4>{escape(heading)}</h4>"),
            self.download_row,
            self.result,
            widgets.HTML(f'<p style="{MUTED}">{escape(explain)}</p>'),
            widgets.HBox([self.confirm, self.erase_button]),
        ]


    # The progress bar, hidden until a download starts: made then.
    progress = on_demand("build_progress")

    def build_progress(self) -> None:
        self.progress = widgets.IntProgress(value=0, min=0, max=1,
                                            description=_("Downloading"),
                                            layout=widgets.Layout(display="none"))
        self.download_row.children = [self.download_button, self.progress]


class Profile(TwinSpaceApp):
    """My profile (edit, photo) and the space's members' profiles, walls and mail."""

    kind = "profile"

    def __init__(self, app_id: int | None = None, *, member: str | None = None,
                 **kwargs: Any) -> None:
        self.start_member = member
        self._quiet = False
        self.home_may: dict[str, bool] = {}
        self.me: dict[str, Any] = {}
        self.limit = 0
        self.current: str | None = None
        self.current_profile: dict[str, Any] = {}
        self.wall_next: int | None = None
        self.wall_rows: dict[int, widgets.HBox] = {}
        self.wall_delete_buttons: dict[int, widgets.Button] = {}

        # --- My profile ---------------------------------------------------------------
        self.editors: dict[str, widgets.Widget] = {}
        for name in FIELDS:
            if name == "favourite_food":
                editor = widgets.Text(placeholder=_("e.g. pancakes"),
                                      layout=widgets.Layout(width="420px"))
            else:
                editor = widgets.Textarea(layout=widgets.Layout(width="420px", height="80px"))
            editor.add_class(f"twinspace-field-{name}")
            self.editors[name] = editor
        self.account_editors = {
            name: widgets.Text(layout=widgets.Layout(width="420px")) for name in ACCOUNT_FIELDS
        }
        for name, editor in self.account_editors.items():
            editor.add_class(f"twinspace-field-{name}")
        self.language = widgets.Dropdown(
            options=[(LANGUAGE_NAMES[code], code) for code in LANGUAGES],
            layout=widgets.Layout(width="200px"))
        self.language.add_class("twinspace-field-language")
        self.language_link = widgets.HTML()
        self.save_button = widgets.Button(description=_("Save my profile"), icon="save",
                                          button_style="primary")
        self.save_button.on_click(self.save)
        self.no_photo = widgets.HTML(f"<i>{escape(_('No photo yet.'))}</i>")
        self.photo_upload = widgets.FileUpload(
            accept="image/*", multiple=False, description=_("Choose a photo"), icon="upload",
            tooltip=_("Upload a photo of yourself (JPEG, PNG…)"),
        )
        self.photo_upload.observe(self._photo_chosen, names="value")
        self.photo_limit = widgets.HTML()
        self.photo_row = widgets.HBox([self.photo_upload])
        my_fields = []
        for name in ACCOUNT_FIELDS:
            my_fields += [widgets.Label(account_label(name)), self.account_editors[name]]
        for name in FIELDS:
            my_fields += [widgets.Label(field_label(name)), self.editors[name]]
        my_fields += [widgets.Label(_("Language")), self.language, self.language_link]
        self.my_data_box = widgets.VBox()
        self.my_box = widgets.VBox([
            widgets.HTML(f"<h4>{escape(_('My photo'))}</h4>"),
            self.no_photo,
            self.photo_row,
            self.photo_limit,
            widgets.HTML(f'<p style="{MUTED}">' + escape(_(
                "Location data is removed from photos. Pupils' profiles are seen only by "
                "the teachers and pupils of your spaces.")) + "</p>"),
            *my_fields,
            self.save_button,
            self.my_data_box,
        ])

        # --- Browse profiles: filled when the tab is first opened (or a member asked for).
        self.member_data: PersonalData | None = None
        self.browse_box = widgets.VBox()

        self.tabs = widgets.Tab(children=[self.my_box, self.browse_box],
                                titles=(_("My profile"), _("Browse profiles")))
        self.tabs.observe(self._tab_opened, names="selected_index")
        super().__init__(app_id, **kwargs)

    # My photo and its Remove button, hidden while I have no photo: made with the first.
    my_photo = on_demand("build_my_photo")
    remove_photo_button = on_demand("build_my_photo")

    def build_my_photo(self) -> None:
        self.my_photo = widgets.Image(layout=widgets.Layout(width=PHOTO_SIZE, height=PHOTO_SIZE,
                                                            display="none"))
        self.remove_photo_button = widgets.Button(description=_("Remove photo"), icon="trash",
                                                  layout=widgets.Layout(display="none"))
        self.remove_photo_button.on_click(self.remove_photo)
        self.photo_row.children = [self.photo_upload, self.remove_photo_button]
        # Above "No photo yet.", where it always was.
        at = list(self.my_box.children).index(self.no_photo)
        self.my_box.children = (*self.my_box.children[:at], self.my_photo,
                                *self.my_box.children[at:])

    picker = on_demand("build_browse")
    member_box = on_demand("build_browse")

    def build_browse(self) -> None:
        """The Browse profiles tab: the members to pick from, then the one picked."""
        self.picker = widgets.Dropdown(description=_("Member"), options=[], value=None,
                                       layout=widgets.Layout(width="420px"))
        self.picker.observe(self._member_picked, names="value")
        self.member_box = widgets.VBox()
        self.browse_box.children = [self.picker, self.member_box]
        if self.client is not None and self.space:
            self.load_members()

    def _tab_opened(self, change: dict) -> None:
        if change["new"] == 1 and not built(self, "picker"):
            self.clear_notice()
            self.guard(self.build_browse)

    def load_members(self) -> None:
        """The space's members in the picker, nobody opened."""
        members = self.client.get(f"spaces/{self.space}/members")["items"]
        options = [
            (f"{m.get('display_name') or m['name']} — {role_label(m['role'])}", m["name"])
            for m in sorted(members, key=lambda x: (x.get("display_name") or "").lower())
            if m.get("name")
        ]
        # New options would select the first member: nobody is opened until asked for.
        self._quiet = True
        try:
            self.picker.options = options
            self.picker.value = None
        finally:
            self._quiet = False
        self.current = None
        self.member_box.children = []

    # A member's card, wall and mail form: made when the first member is opened.
    card = on_demand("build_member_view")
    photo = on_demand("build_member_view")
    wall_list = on_demand("build_member_view")
    wall_text = on_demand("build_member_view")
    wall_button = on_demand("build_member_view")
    wall_more_button = on_demand("build_member_view")
    wall_form = on_demand("build_member_view")
    wall_box = on_demand("build_member_view")
    mail_subject = on_demand("build_member_view")
    mail_body = on_demand("build_member_view")
    mail_button = on_demand("build_member_view")
    mail_title = on_demand("build_member_view")
    mail_box = on_demand("build_member_view")

    def build_member_view(self) -> None:
        self.card = widgets.HTML()
        self.photo = widgets.Image(layout=widgets.Layout(width=PHOTO_SIZE, height=PHOTO_SIZE,
                                                         display="none"))
        self.wall_list = widgets.VBox()
        self.wall_text = widgets.Textarea(placeholder=_("Write on the wall…"),
                                          layout=widgets.Layout(width="420px", height="70px"))
        self.wall_button = widgets.Button(description=_("Post on the wall"), icon="comment",
                                          button_style="primary")
        self.wall_button.on_click(self.post_on_wall)
        self.wall_more_button = widgets.Button(description=_("Older posts"), icon="chevron-down",
                                               layout=widgets.Layout(display="none"))
        self.wall_more_button.on_click(self.more_wall)
        self.wall_form = widgets.VBox([self.wall_text, self.wall_button])
        self.wall_box = widgets.VBox([
            widgets.HTML(f"<h4>{escape(_('Wall'))}</h4>"), self.wall_form, self.wall_list,
            self.wall_more_button,
        ])
        self.mail_subject = widgets.Text(description=_("Subject"),
                                         layout=widgets.Layout(width="420px"))
        self.mail_body = widgets.Textarea(placeholder=_("Your message"),
                                          layout=widgets.Layout(width="420px", height="100px"))
        self.mail_button = widgets.Button(description=_("Send mail"), icon="envelope",
                                          button_style="primary")
        self.mail_button.on_click(self.send_mail)
        self.mail_title = widgets.HTML()
        self.mail_box = widgets.VBox([self.mail_title, self.mail_subject, self.mail_body,
                                      self.mail_button])

    # --- reading ------------------------------------------------------------------------

    def refresh(self) -> None:
        self.home_may = home_rights(self)
        me = self.client.get("me")
        self.me = me.get("user") or {}
        self.limit = self.guard(upload_limit, self.client) or 0
        self.photo_limit.value = (
            f'<span style="{MUTED}">{escape(limit_text(self.limit))}</span>' if self.limit else ""
        )
        self.show_my_profile(self.client.get("me/profile"))
        self.language.value = self.me.get("locale") if self.me.get("locale") in LANGUAGES else "en"
        self.language_link.value = ""
        if self.me.get("name"):
            self.my_data_box.children = [PersonalData(
                self, whose=self.me["name"], export_path="me/export", erase_path="me",
                own=True)]
        wanted = self.current or self.start_member
        self.current = None
        if built(self, "picker"):
            self.load_members()
        elif wanted:
            self.build_browse()
        self.body.children = [self.tabs]
        if not wanted:
            return
        if wanted in {value for _label, value in self.picker.options}:
            self.tabs.selected_index = 1
            self.picker.value = wanted  # opens them through the observer
        else:
            self.notice(_("{name} is not a member of this space.").format(name=wanted), "error")

    def show_my_profile(self, profile: dict) -> None:
        self.fill_editors(profile)
        self.show_my_photo(profile.get("has_photo", False))

    def fill_editors(self, profile: dict) -> None:
        for name in ACCOUNT_FIELDS:
            self.account_editors[name].value = profile.get(name) or ""
        for name in FIELDS:
            self.editors[name].value = profile.get(name) or ""
        self.show_my_photo(profile.get("has_photo", False))

    def show_my_photo(self, has_photo: bool) -> None:
        data = None
        if has_photo and self.me.get("name"):
            try:
                data = self.client.download(
                    f"spaces/{self.space}/members/{self.me['name']}/photo")
            except TwinSpaceError:
                data = None
        if data:
            self.my_photo.value = data
        self.no_photo.layout.display = "none" if data else ""
        if built(self, "my_photo"):
            self.my_photo.layout.display = "" if data else "none"
            self.remove_photo_button.layout.display = "" if has_photo else "none"
        elif has_photo:
            # A photo the service has but could not send: it can still be removed.
            self.remove_photo_button.layout.display = ""

    def _member_picked(self, change: dict) -> None:
        if self._quiet:
            return
        if change["new"]:
            self.clear_notice()
            self.guard(self.open_member, change["new"])
        else:
            self.current = None
            self.member_box.children = []

    def open_member(self, name: str) -> None:
        """Show `name`'s profile, photo, wall and a mail form (what the reader may)."""
        self.current = name
        self.current_profile = {}
        self.photo.layout.display = "none"
        self.mail_title.value = (
            "<h4>" + escape(_("Send mail to {name}").format(name=name)) + "</h4>")
        mail = [self.mail_box] if self.home_may.get("send_mail") else []
        try:
            profile = self.client.get(f"spaces/{self.space}/members/{name}/profile")
        except (Forbidden, NotFound) as e:
            self.card.value = (
                '<p role="status" style="background:#e8f0fe;color:#0b3d91;padding:6px 10px;'
                f'border-radius:4px">{escape(refusal_text(e))}</p>'
            )
            self.member_box.children = [self.card, *mail]
            return
        self.current_profile = profile
        self.card.value = profile_html(profile)
        self.mail_title.value = "<h4>" + escape(_("Send mail to {name}").format(
            name=profile.get("display_name") or name)) + "</h4>"
        if profile.get("has_photo"):
            try:
                self.photo.value = self.client.download(
                    f"spaces/{self.space}/members/{name}/photo")
                self.photo.layout.display = ""
            except TwinSpaceError:
                pass
        self.wall_form.layout.display = "" if self.home_may.get("comment") else "none"
        self.load_wall()
        # A teacher who manages this pupil downloads or erases their data here (F35).
        self.member_data = None
        if profile.get("may_manage_data"):
            self.member_data = PersonalData(
                self, whose=name, export_path=f"spaces/{self.space}/pupils/{name}/export",
                erase_path=f"spaces/{self.space}/pupils/{name}", own=False)
        data = [self.member_data] if self.member_data else []
        self.member_box.children = [widgets.HBox([self.photo, self.card]), self.wall_box, *mail,
                                    *data]

    # --- the wall -----------------------------------------------------------------------

    def load_wall(self, more: bool = False) -> None:
        if not self.current:
            return
        answer = self.client.get(f"spaces/{self.space}/members/{self.current}/wall",
                                 before=self.wall_next if more else None)
        if not more:
            self.wall_rows = {}
            self.wall_delete_buttons = {}
        for post in answer["items"]:
            self.wall_rows[post["id"]] = self.wall_row(post)
        self.wall_next = answer.get("next")
        self.wall_more_button.layout.display = "" if self.wall_next else "none"
        rows = list(self.wall_rows.values())
        self.wall_list.children = rows or [
            widgets.HTML(f"<i>{escape(_('Nothing on this wall yet.'))}</i>")]

    def wall_row(self, post: dict) -> widgets.HBox:
        author = post.get("author") or {}
        hidden = f" <i>({escape(_('hidden'))})</i>" if post.get("hidden") else ""
        who = profile_link(self.space, author.get("name"),
                           author.get("display_name") or _("(deleted account)"))
        text = widgets.HTML(
            f"<b>{who}</b> "
            f'<span style="{MUTED}">{escape(short_date(post.get("created_at")))}</span>{hidden}'
            f"<br>{multiline(post['body'])}",
            layout=widgets.Layout(width="420px"),
        )
        me = self.me.get("name")
        mine = bool(me) and author.get("name") == me
        owner = bool(me) and self.current == me and self.home_may.get("comment", False)
        items: list[widgets.Widget] = [text]
        if mine or owner or self.home_may.get("moderate"):
            delete = widgets.Button(description=_("Delete"), icon="trash",
                                    tooltip=_("Delete this post"))
            delete.on_click(lambda button, i=post["id"]: self.delete_post(button, i))
            self.wall_delete_buttons[post["id"]] = delete
            items.append(delete)
        return widgets.HBox(items, layout=widgets.Layout(align_items="flex-start"))

    @action
    def post_on_wall(self) -> None:
        text = self.wall_text.value.strip()
        if not self.current:
            return
        if not text:
            self.notice(_("Write something first."), "error")
            return
        self.client.post(f"spaces/{self.space}/members/{self.current}/wall", {"body": text})
        self.wall_text.value = ""
        self.load_wall()
        self.notice(_("Posted on the wall."), "success")

    @action
    def more_wall(self) -> None:
        self.load_wall(more=True)

    @action
    def delete_post(self, post_id: int) -> None:
        self.client.delete(f"wall-posts/{post_id}")
        self.load_wall()
        self.notice(_("The post was deleted."), "success")

    # --- mail ---------------------------------------------------------------------------

    @action
    def send_mail(self) -> None:
        if not self.current:
            return
        self.client.post("mail", {
            "space": self.space, "to": [self.current],
            "subject": self.mail_subject.value.strip(), "body": self.mail_body.value,
        })
        self.mail_subject.value = ""
        self.mail_body.value = ""
        name = self.current_profile.get("display_name") or self.current
        self.notice(_("Your mail to {name} was sent.").format(name=name), "success")

    # --- my profile ---------------------------------------------------------------------

    @action
    def save(self) -> None:
        body = {name: self.editors[name].value for name in FIELDS}
        body.update({name: self.account_editors[name].value for name in ACCOUNT_FIELDS})
        profile = self.client.put("me/profile", body)
        self.fill_editors(profile)
        if self.current == self.me.get("name"):
            self.card.value = profile_html(profile)
        language = self.language.value
        if language != (self.me.get("locale") or "en"):
            self.me = self.client.patch("me", {"locale": language})
            # This page was drawn in the old language; the member view draws the next
            # page in the new one.
            self.language_link.value = (
                f'<a href="{escape(self.page_url())}" target="_top">'
                + escape(_("Show this page in {language}").format(
                    language=LANGUAGE_NAMES[language])) + "</a>")
        self.notice(_("Your profile was saved."), "success")

    def page_url(self) -> str:
        """This profile's page in the member view."""
        return f"{server_prefix()}twinspace/tool/profile/{quote(self.space, safe='')}"

    # --- personal data (F35) ------------------------------------------------------------

    def download_data(self, button: widgets.Button, box: PersonalData) -> None:
        offer_download(self, button, box.progress, box.result, box.export_path,
                       data_filename(box.whose))

    @action
    def erase_data(self, box: PersonalData) -> None:
        if box.confirm.value.strip() != box.whose:
            self.notice(_("To erase the account, type the username {name} exactly.").format(
                name=box.whose), "error")
            return
        try:
            # Erasing a pupil waits for the hub to stop their server and remove their home.
            answer = self.client.json("DELETE", box.erase_path, json={"confirm": box.whose},
                                      timeout=ERASE_TIMEOUT)
        except Conflict as e:
            spaces = ", ".join(e.body.get("spaces") or [])
            self.notice(_("You are the last teacher administrator of {spaces}: make another "
                          "teacher an administrator there first.").format(spaces=spaces),
                        "error")
            return
        box.confirm.value = ""
        if box.own:
            # The account is gone: nothing else on this page works any more.
            self.tabs.layout.display = "none"
            self.body.children = [widgets.HTML(
                f'<div role="status" style="{BANNER_STYLES["success"]};padding:10px;'
                f'border-radius:4px">'
                + escape(_("Your account and personal data were erased. Goodbye!"))
                + f' <a href="{escape(logout_url())}" target="_top">{escape(_("Log out"))}</a>'
                + "</div>")]
            return
        self.current = self.start_member = None
        self.refresh()
        if answer and answer.get("hub_user_removed") is False:
            self.notice(_("{name}'s account and personal data were erased, but their "
                          "JupyterLab server and home folder could not be removed: ask the "
                          "hub administrator.").format(name=box.whose), "info")
            return
        self.notice(_("{name}'s account and personal data were erased.").format(
            name=box.whose), "success")

    def _photo_chosen(self, change: dict) -> None:
        if change["new"]:
            self.upload_photo()

    @action
    def upload_photo(self) -> None:
        files = selected_files(self.photo_upload.value)
        if not files:
            return
        name, data = files[0]
        try:
            if self.limit and len(data) > self.limit:
                self.notice(too_large_message(len(data), self.limit), "error")
                return
            profile = self.client.upload("me/profile/photo", data, name, method="PUT")
        finally:
            self.photo_upload.value = ()  # ready for the next choice, whatever happened
        self.show_my_photo(profile.get("has_photo", False))
        self.notice(_("Your photo was saved."), "success")

    @action
    def remove_photo(self) -> None:
        self.client.delete("me/profile/photo")
        self.show_my_photo(False)
        self.notice(_("Your photo was removed."), "success")


class ProfileTool(Profile):
    """The member view's Profile page: a member's profile and wall, or mine (editable).

    Built as ProfileTool(space, member=<username>); no member, or myself: my profile.
    """

    def __init__(self, space: str, *, client: TwinSpaceClient | None = None,
                 member: str = "", **params: Any) -> None:
        self.space_slug = space
        self.params = params
        super().__init__(None, member=member or None, client=client)

    def refresh(self) -> None:
        # The page's first read: a space the member may not view is "not available".
        space = self.client.get(f"spaces/{self.space_slug}")
        self.info = {"space": self.space_slug, "section": "home", "role": space.get("role"),
                     "may": space.get("may", {})}
        super().refresh()
        me = self.me.get("name")
        mine = self.start_member in (None, me)
        if mine:
            self.tabs.selected_index = 0
            if me and self.current is None and me in {
                    value for _label, value in self.picker.options}:
                self.picker.value = me  # my wall, under Browse profiles
        shown = self.current_profile.get("display_name") or self.current
        self.title.value = "<h3>" + escape(
            _("My profile") if mine or not shown
            else _("Profile of {name}").format(name=shown)) + "</h3>"
