"""Mailbox (F12, F11): inbox and sent mail, unread count, compose to members, invitations."""

from __future__ import annotations

import ipywidgets as widgets

from ..i18n import _
from .base import TwinSpaceApp, action, built, escape, on_demand
from .live import short_time

PAGE = 30


class Mailbox(TwinSpaceApp):
    """The member's internal mail: Inbox, Sent, Write; open, reply, delete, answer invitations."""

    kind = "mailbox"

    def __init__(self, app_id: int | None = None, **kwargs) -> None:
        self.inbox: list[dict] = []
        self.sent: list[dict] = []
        self.unread = 0
        self.mail: dict | None = None  # the open mail
        self.inbox_list = widgets.VBox()
        self.sent_list = widgets.VBox()
        self.refresh_button = widgets.Button(description=_("Refresh"), icon="refresh",
                                             tooltip=_("Check for new mail"))
        self.refresh_button.on_click(self.reload)

        # The Write tab is filled when first opened (with the members to write to).
        self.compose = widgets.VBox()

        self.tabs = widgets.Tab(children=[self.inbox_list, self.sent_list, self.compose])
        self.tabs.observe(self._tab_opened, names="selected_index")
        super().__init__(app_id, **kwargs)

    # One mail's view (with its reply form, or the answers to an invitation) and the Write
    # tab's form: made when first shown.
    reading = on_demand("build_reading")
    reader = on_demand("build_reading")
    delete_button = on_demand("build_reading")
    close_button = on_demand("build_reading")
    reply_box = on_demand("build_reply_box")
    reply_text = on_demand("build_reply_box")
    reply_button = on_demand("build_reply_box")
    invitation_box = on_demand("build_invitation_box")
    accept_button = on_demand("build_invitation_box")
    decline_button = on_demand("build_invitation_box")
    to = on_demand("build_compose_form")
    subject = on_demand("build_compose_form")
    text = on_demand("build_compose_form")
    send_button = on_demand("build_compose_form")

    def build_reading(self) -> None:
        self.reader = widgets.HTML()
        self.delete_button = widgets.Button(description=_("Delete"), icon="trash",
                                            button_style="danger",
                                            tooltip=_("Remove this mail from your mailbox"))
        self.delete_button.on_click(self.delete_mail)
        self.close_button = widgets.Button(description=_("Back"), icon="arrow-left",
                                           tooltip=_("Back to the list"))
        self.close_button.on_click(lambda _b: self.close_mail())
        self.reading = widgets.VBox(layout=widgets.Layout(display="none"))
        if self.body.children:
            self.body.children = (*self.body.children, self.reading)

    def build_reply_box(self) -> None:
        self.reply_text = widgets.Textarea(placeholder=_("Write your reply"),
                                           description=_("Reply"),
                                           layout=widgets.Layout(width="100%", height="100px"))
        self.reply_button = widgets.Button(description=_("Send reply"), icon="reply",
                                           button_style="primary",
                                           tooltip=_("Answer the sender"))
        self.reply_button.on_click(self.reply)
        self.reply_box = widgets.VBox([self.reply_text, self.reply_button])

    def build_invitation_box(self) -> None:
        self.accept_button = widgets.Button(description=_("Accept"), icon="check",
                                            button_style="success",
                                            tooltip=_("Join the TwinSpace"))
        self.accept_button.on_click(self.accept)
        self.decline_button = widgets.Button(description=_("Decline"), icon="times",
                                             tooltip=_("Decline the invitation"))
        self.decline_button.on_click(self.decline)
        self.invitation_box = widgets.HBox([self.accept_button, self.decline_button])

    def build_compose_form(self) -> None:
        self.to = widgets.SelectMultiple(description=_("To"), options=[], rows=6)
        self.subject = widgets.Text(description=_("Subject"), placeholder=_("Subject"),
                                    layout=widgets.Layout(width="100%"))
        self.text = widgets.Textarea(description=_("Message"), placeholder=_("Your message"),
                                     layout=widgets.Layout(width="100%", height="150px"))
        self.send_button = widgets.Button(description=_("Send"), icon="paper-plane",
                                          button_style="primary",
                                          tooltip=_("Send the mail to the chosen members"))
        self.send_button.on_click(self.send)
        self.compose.children = [
            widgets.HTML(f"<i>{escape(_('Hold Ctrl (or Cmd) to choose several members.'))}</i>"),
            self.to, self.subject, self.text, self.send_button,
        ]
        if self.may.get("send_mail", False):
            self.guard(self.load_recipients)

    def _tab_opened(self, change: dict) -> None:
        if change["new"] == 2 and not built(self, "to"):
            self.build_compose_form()

    def load_recipients(self) -> None:
        members = self.client.get(f"spaces/{self.space}/members")["items"]
        self.to.options = [
            (f"{m['display_name']} ({m['name']})" if m.get("name") else m["display_name"],
             m["name"])
            for m in members if m.get("name")
        ]

    # --- loading ----------------------------------------------------------------------

    def refresh(self) -> None:
        self.inbox = self.client.get("mail/inbox", limit=PAGE)["items"]
        self.sent = self.client.get("mail/sent", limit=PAGE)["items"]
        self.unread = self.client.get("mail/unread")["count"]
        if self.may.get("send_mail", False):
            if built(self, "to"):
                self.load_recipients()
            children = [self.inbox_list, self.sent_list, self.compose]
        else:
            children = [self.inbox_list, self.sent_list]
        self.tabs.children = children
        self._render_lists()
        self.body.children = [widgets.HBox([self.refresh_button]), self.tabs,
                              *([self.reading] if built(self, "reading") else [])]

    @action
    def reload(self) -> None:
        self.refresh()

    def _render_lists(self) -> None:
        titles = [
            _("Inbox ({n} unread)").format(n=self.unread) if self.unread else _("Inbox"),
            _("Sent"),
        ]
        if len(self.tabs.children) > 2:
            titles.append(_("Write"))
        self.tabs.titles = tuple(titles)
        self.inbox_list.children = [self._row(mail, inbox=True) for mail in self.inbox] or [
            widgets.HTML(f"<p><i>{escape(_('Your inbox is empty.'))}</i></p>")
        ]
        self.sent_list.children = [self._row(mail, inbox=False) for mail in self.sent] or [
            widgets.HTML(f"<p><i>{escape(_('You have not sent any mail.'))}</i></p>")
        ]

    def _row(self, mail: dict, *, inbox: bool) -> widgets.Widget:
        if inbox:
            who = (mail.get("sender") or {}).get("display_name") or _("TwinSpace")
            who = _("From {name}").format(name=who)
        else:
            names = ", ".join(p.get("display_name") or "" for p in mail.get("to") or [] if p)
            who = _("To {names}").format(names=names)
        subject = escape(mail["subject"])
        if inbox and not mail.get("read"):
            subject = f"<b>{subject}</b> ({escape(_('unread'))})"
        label = widgets.HTML(
            f"{subject}<br><span style=\"color:#555\">{escape(who)} · "
            f"{escape(short_time(mail.get('created_at')))}</span>",
            layout=widgets.Layout(flex="1"),
        )
        button = widgets.Button(description=_("Open"), icon="envelope-open",
                                tooltip=_("Read this mail"))
        button.on_click(lambda _b, mail_id=mail["id"]: self.open_mail(mail_id))
        return widgets.HBox([label, button])

    # --- reading ----------------------------------------------------------------------

    def open_mail(self, mail_id: int) -> None:
        """Show one mail (which marks it read)."""
        self.clear_notice()
        mail = self.guard(self.client.get, f"mail/{mail_id}")
        if mail is None:
            return
        self.mail = mail
        sender = (mail.get("sender") or {}).get("display_name") or _("TwinSpace")
        to = ", ".join((p or {}).get("display_name") or "" for p in mail.get("to") or [])
        self.reader.value = (
            f"<h4>{escape(mail['subject'])}</h4>"
            f"<p><b>{escape(_('From'))}:</b> {escape(sender)}<br>"
            f"<b>{escape(_('To'))}:</b> {escape(to)}<br>"
            f"<b>{escape(_('Sent'))}:</b> {escape(short_time(mail.get('created_at')))}</p>"
            f'<div style="white-space:pre-wrap;border-top:1px solid #ccc;padding-top:6px">'
            f"{escape(mail['body'])}</div>"
        )
        children = [self.close_button, self.reader]
        mine = mail.get("read") is None  # my own sent mail has no "read"
        if mail.get("invitation_id") and not mine:
            children.append(self.invitation_box)
        if not mine and mail.get("sender") and mail["sender"].get("name"):
            self.reply_text.value = ""
            children.append(self.reply_box)
        children.append(self.delete_button)
        self.reading.children = children
        self.reading.layout.display = ""
        self.tabs.layout.display = "none"
        for item in self.inbox:
            if item["id"] == mail_id and not item.get("read"):
                item["read"] = True
                self.unread = max(0, self.unread - 1)
        self._render_lists()

    def close_mail(self) -> None:
        self.mail = None
        if built(self, "reading"):
            self.reading.layout.display = "none"
        self.tabs.layout.display = ""

    # --- actions ----------------------------------------------------------------------

    @action
    def reply(self) -> None:
        mail = self.mail
        if mail is None:
            return
        text = self.reply_text.value.strip()
        if not text:
            self.notice(_("Write your reply first."), "info")
            return
        subject = mail["subject"]
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        self.client.post("mail", {"space": mail.get("space") or self.space,
                                  "to": [mail["sender"]["name"]],
                                  "subject": subject[:200], "body": text})
        self.reply_text.value = ""
        self.refresh()
        self.notice(_("Your reply is sent."), "success")

    @action
    def send(self) -> None:
        if not self.to.value:
            self.notice(_("Choose at least one member to write to."), "info")
            return
        if not self.subject.value.strip() or not self.text.value.strip():
            self.notice(_("Write a subject and a message."), "info")
            return
        self.client.post("mail", {"space": self.space, "to": list(self.to.value),
                                  "subject": self.subject.value.strip(),
                                  "body": self.text.value})
        self.to.value = ()
        self.subject.value = ""
        self.text.value = ""
        self.refresh()
        self.tabs.selected_index = 1
        self.notice(_("Your mail is sent."), "success")

    @action
    def delete_mail(self) -> None:
        if self.mail is None:
            return
        self.client.delete(f"mail/{self.mail['id']}")
        self.close_mail()
        self.refresh()
        self.notice(_("The mail is deleted."), "success")

    @action
    def accept(self) -> None:
        if self.mail is None or not self.mail.get("invitation_id"):
            return
        joined = self.client.post(f"invitations/{self.mail['invitation_id']}/accept")
        self._answered()
        self.notice(_("Welcome to {title}!").format(title=joined["title"]), "success")

    @action
    def decline(self) -> None:
        if self.mail is None or not self.mail.get("invitation_id"):
            return
        self.client.post(f"invitations/{self.mail['invitation_id']}/decline")
        self._answered()
        self.notice(_("You declined the invitation."), "info")

    def _answered(self) -> None:
        self.reading.children = tuple(
            c for c in self.reading.children if c is not self.invitation_box
        )
