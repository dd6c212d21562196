"""The moderation queue (F32): open reports in context, Hide, Unhide, Delete, Dismiss; the log."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..client import Conflict, NotFound, TwinSpaceClient
from ..i18n import _, ngettext
from .base import TwinSpaceApp, action, escape, server_prefix
from .discussion import (
    HIDDEN_STYLE,
    META_STYLE,
    QUOTE_STYLE,
    author_name,
    button,
    note,
    show,
    tag,
    when,
)

TABLE_STYLE = "border-collapse:collapse;width:100%"
CELL_STYLE = "border-bottom:1px solid #d0d0d0;padding:4px 8px;text-align:left;vertical-align:top"


def type_label(object_type: str) -> str:
    """What kind of item was reported, as people say it."""
    labels = {
        "blog_post": _("Blog post"),
        "comment": _("Blog comment"),
        "forum_thread": _("Forum thread"),
        "forum_reply": _("Forum reply"),
        "wiki_page": _("Wiki page"),
        "document": _("Document"),
        "photo": _("Photo"),
        "chat_message": _("Chat message"),
        "wall_post": _("Wall post"),
        "event": _("Calendar event"),
    }
    return labels.get(object_type, object_type.replace("_", " "))


def action_label(name: str) -> str:
    """A moderator's action as the log shows it."""
    labels = {
        "hide": _("Hidden"),
        "unhide": _("Shown again"),
        "delete": _("Deleted"),
        "dismiss": _("Reports dismissed"),
    }
    return labels.get(name, name)


def section_label(section: str | None) -> str:
    from .navigation import section_labels

    return section_labels().get(section or "", section or "")


def within_text(within: dict | None) -> str:
    """What an item belongs to: the thread of a reply, the post of a comment, … (plain)."""
    if not within:
        return ""
    kind = within.get("type")
    title = within.get("title") or ""
    if kind == "forum_thread" and within.get("opening"):
        return _("the opening message of the thread “{title}”").format(title=title)
    sentences = {
        "blog_post": _("on the blog post “{title}”"),
        "forum_thread": _("in the thread “{title}”"),
        "album": _("in the album “{title}”"),
        "chat_room": _("in the chat room “{title}”"),
    }
    if kind == "wall":
        return _("on the wall of {name}").format(name=author_name(within.get("member")))
    return sentences[kind].format(title=title) if kind in sentences else ""


def where_html(context: dict | None, base_url: str) -> str:
    """Where an item is, escaped: what it belongs to, its application, its page and section."""
    if not context:
        return ""
    parts = []
    within = within_text(context.get("within"))
    if within:
        parts.append(escape(within))
    if context.get("app_title"):
        parts.append(escape(_("application “{title}”").format(title=context["app_title"])))
    section = section_label(context.get("section"))
    if context.get("page_id"):
        page = escape(_("page “{title}”").format(title=context.get("page_title") or ""))
        link = f"{base_url}twinspace/page/{int(context['page_id'])}"
        parts.append(f'<a href="{escape(link)}">{page}</a> ({escape(section)})')
    elif section:
        parts.append(escape(section))
    return " · ".join(parts)


class ReportedItem(widgets.VBox):
    """One reported item: its text in context, its open reports, the moderator's buttons."""

    def __init__(self, queue: ModerationQueue, reports: list[dict]) -> None:
        super().__init__()
        self.add_class("twinspace-report")
        self.queue = queue
        self.reports = reports
        first = reports[0]
        self.object_type = first["object_type"]
        self.object_id = first["object_id"]
        self.exists = bool(first.get("exists"))
        self.hidden = bool(first.get("hidden"))
        context = first.get("context") or {}
        within = context.get("within") or {}

        self.description = widgets.HTML(self.describe(first, queue.base_url))
        self.note_input = widgets.Text(
            description=_("Note"), placeholder=_("Why? (kept in the moderation log)"),
            layout=widgets.Layout(width="100%"),
        )
        self.hide_button = button(_("Hide"), "eye-slash", "warning",
                                  tooltip=_("Only moderators will see it"),
                                  callback=lambda b: queue.moderate(b, self, "hide"))
        self.unhide_button = button(_("Unhide"), "eye",
                                    tooltip=_("Members will see it again"),
                                    callback=lambda b: queue.moderate(b, self, "unhide"))
        self.delete_button = button(_("Delete"), "trash", "danger",
                                    tooltip=_("Delete it for good"),
                                    callback=lambda _b: show(self.confirm_box))
        self.dismiss_button = button(_("Dismiss"), "check",
                                     tooltip=_("Close the reports and leave it as it is"),
                                     callback=lambda b: queue.dismiss(b, self))
        buttons = []
        if self.exists:
            # Wiki pages are reverted or deleted, not hidden (the service says the same).
            if self.object_type != "wiki_page":
                buttons.append(self.unhide_button if self.hidden else self.hide_button)
            if not within.get("opening"):
                buttons.append(self.delete_button)
        buttons.append(self.dismiss_button)
        self.actions = widgets.HBox(buttons)

        self.confirm_yes = button(_("Yes, delete"), "trash", "danger",
                                  callback=lambda b: queue.moderate(b, self, "delete"))
        self.confirm_no = button(_("Keep it"), "times",
                                 callback=lambda _b: show(self.confirm_box, False))
        self.confirm_box = widgets.HBox([
            widgets.Label(_("Delete this for good?")), self.confirm_yes, self.confirm_no,
        ])
        show(self.confirm_box, False)
        self.layout.border = "1px solid #d0d0d0"
        self.layout.padding = "6px"
        self.layout.margin = "4px 0"
        self.children = [self.description]
        if self.exists:
            self.children += (self.note_input,)
        self.children += (self.actions, self.confirm_box)

    def describe(self, first: dict, base_url: str) -> str:
        kind = escape(type_label(self.object_type))
        if not self.exists:
            head = (f"<div><b>{kind}</b> <i>"
                    f"{escape(_('It was deleted since: only its reports are left.'))}</i></div>")
        else:
            author = escape(_("by {name}").format(name=author_name(first.get("author"))))
            mark = (f' <span style="{HIDDEN_STYLE}">{escape(_("Hidden"))}</span>'
                    if self.hidden else "")
            where = where_html(first.get("context"), base_url)
            text = escape(first.get("text") or first.get("excerpt") or "")
            head = (f"<div><b>{kind}</b> {author}{mark}</div>"
                    f'<div style="{META_STYLE}">{where}</div>'
                    f'<blockquote style="{QUOTE_STYLE};white-space:pre-wrap">{text}</blockquote>')
        count = len(self.reports)
        heading = ngettext("{n} open report", "{n} open reports", count).format(n=count)
        lines = []
        for report in self.reports:
            reason = report.get("reason")
            said = f"“{escape(reason)}”" if reason else tag("i", _("No reason given."))
            who = escape(_("Reported by {name}").format(name=author_name(report.get("reporter"))))
            lines.append(f"<li>{who} · {escape(when(report.get('created_at')))} · {said}</li>")
        return (f"{head}<div><b>{escape(heading)}</b>"
                f'<ul style="margin:2px 0">{"".join(lines)}</ul></div>')

    @property
    def note(self) -> str:
        return self.note_input.value.strip()


class ModerationQueue(TwinSpaceApp):
    """The member view's Moderation tool for a space: the open reports, then the log.

    Everyone who may moderate a section sees the reports on it; the moderation log is for
    teacher administrators. The service refuses the others, and the refusal is the page's.
    """

    kind = "moderation"
    page_size = 50

    def __init__(self, space: str, *, client: TwinSpaceClient | None = None,
                 **params: Any) -> None:
        self.space_slug = space
        self.params = params
        self.base_url = server_prefix()
        self.reports: list[dict] = []
        self.reports_next: int | None = None
        self.entries: list[dict] = []
        self.log_next: int | None = None
        self.items: list[ReportedItem] = []

        self.intro = widgets.HTML()
        self.reports_heading = widgets.HTML(tag("h4", _("Open reports")))
        self.reports_box = widgets.VBox()
        self.reports_box.add_class("twinspace-reports")
        self.more_reports_button = button(_("More reports"), "chevron-down",
                                          callback=self.load_more_reports)
        self.reports_part = widgets.VBox([self.intro, self.reports_heading, self.reports_box,
                                          self.more_reports_button])
        self.log_table = widgets.HTML()
        self.log_table.add_class("twinspace-moderation-log")
        self.older_log_button = button(_("Older entries"), "chevron-down",
                                       callback=self.load_older_log)
        self.log_part = widgets.VBox([
            widgets.HTML(tag("h4", _("Moderation log"))
                         + f'<p style="{META_STYLE}">'
                         + escape(_("Every hide, unhide, delete and dismissal in this space, "
                                    "newest first (teacher administrators only)."))
                         + "</p>"),
            self.log_table, self.older_log_button,
        ])
        super().__init__(None, client=client)

    # --- reading ---------------------------------------------------------------------

    def refresh(self) -> None:
        space = self.client.get(f"spaces/{self.space_slug}")
        may = space.get("may", {})
        archived = space.get("state") == "archived"
        if archived and not may.get("administer"):
            # Nothing can be moderated in an archived space; let the service say no.
            self.client.get(f"spaces/{self.space_slug}/reports", limit=1)
        reports = None
        if not archived:
            # The service refuses those who may not moderate: that refusal is the page's.
            reports = self.client.get(f"spaces/{self.space_slug}/reports",
                                      limit=self.page_size)
        log = None
        if may.get("administer"):
            log = self.client.get(f"spaces/{self.space_slug}/moderation-log",
                                  limit=self.page_size)
        self.info = {"space": self.space_slug, "role": space.get("role"), "may": may,
                     "state": space.get("state")}
        self.title.value = tag("h3", _("Moderation") + " – " + (space.get("title") or ""))
        parts: list[widgets.Widget] = [self.reports_part]
        if archived:
            self.intro.value = note(_("This space is archived: its content can no longer be "
                                      "hidden or deleted."))
            self.reports, self.reports_next = [], None
            show(self.reports_heading, False)
        else:
            intro = _("Members' reports about content of this space. Hiding keeps an item "
                      "for moderators only; deleting removes it for good. Either closes "
                      "every report on it and is written to the moderation log.")
            if space.get("role") == "teacher":
                intro += " " + _("Teachers moderate Home and Project Activities; the teacher "
                                 "administrators moderate the other sections.")
            self.intro.value = f'<p style="{META_STYLE}">{escape(intro)}</p>'
            show(self.reports_heading)
            self.reports = reports["items"]
            self.reports_next = reports.get("next")
        self.show_reports()
        if log is not None:
            self.entries = log["items"]
            self.log_next = log.get("next")
            self.show_log()
            parts.append(self.log_part)
        self.body.children = parts

    def show_reports(self) -> None:
        """One box per reported item (several members may report the same one)."""
        grouped: dict[tuple[str, int], list[dict]] = {}
        for report in self.reports:
            grouped.setdefault((report["object_type"], report["object_id"]), []).append(report)
        self.items = [ReportedItem(self, reports) for reports in grouped.values()]
        if self.items:
            self.reports_box.children = self.items
        elif self.info.get("state") == "archived":
            self.reports_box.children = []
        else:
            self.reports_box.children = [
                widgets.HTML(note(_("No open reports: there is nothing to moderate.")))]
        show(self.more_reports_button, self.reports_next is not None)

    def show_log(self) -> None:
        if not self.entries:
            self.log_table.value = note(_("The moderation log is empty: no moderator has "
                                          "acted in this space yet."))
            show(self.older_log_button, False)
            return
        headers = (_("When"), _("Moderator"), _("Action"), _("What"), _("Note"))
        head = "".join(f'<th scope="col" style="{CELL_STYLE}">{escape(h)}</th>'
                       for h in headers)
        rows = "".join(self.log_row(entry) for entry in self.entries)
        self.log_table.value = (f'<table style="{TABLE_STYLE}"><thead><tr>{head}</tr></thead>'
                                f"<tbody>{rows}</tbody></table>")
        show(self.older_log_button, self.log_next is not None)

    def log_row(self, entry: dict) -> str:
        what = f"<b>{escape(type_label(entry['object_type']))}</b>"
        if entry.get("exists"):
            if entry.get("author"):
                what += " " + escape(_("by {name}").format(name=author_name(entry["author"])))
            if entry.get("hidden"):
                what += f' <span style="{HIDDEN_STYLE}">{escape(_("Hidden"))}</span>'
            what += f": “{escape(entry.get('excerpt') or '')}”"
            where = where_html(entry.get("context"), self.base_url)
            if where:
                what += f'<br><span style="{META_STYLE}">{where}</span>'
        else:
            what += " " + tag("i", _("(deleted)"))
        cells = (
            escape(when(entry.get("created_at"))),
            escape(author_name(entry.get("moderator"))),
            escape(action_label(entry["action"])),
            what,
            escape(entry.get("reason") or ""),
        )
        return "<tr>" + "".join(f'<td style="{CELL_STYLE}">{c}</td>' for c in cells) + "</tr>"

    @action
    def load_more_reports(self) -> None:
        page = self.client.get(f"spaces/{self.space_slug}/reports", limit=self.page_size,
                               before=self.reports_next)
        self.reports += page["items"]
        self.reports_next = page.get("next")
        self.show_reports()

    @action
    def load_older_log(self) -> None:
        page = self.client.get(f"spaces/{self.space_slug}/moderation-log",
                               limit=self.page_size, before=self.log_next)
        self.entries += page["items"]
        self.log_next = page.get("next")
        self.show_log()

    # --- acting ----------------------------------------------------------------------

    @action
    def moderate(self, item: ReportedItem, what: str) -> None:
        """Hide, unhide or delete a reported item: the service closes its reports and logs it."""
        self.client.post("moderation", {
            "action": what,
            "object_type": item.object_type,
            "object_id": item.object_id,
            "report_id": item.reports[0]["id"],
            "reason": item.note,
        })
        self.refresh()
        done = {
            "hide": _("Hidden: only moderators see it now. Its reports are closed."),
            "unhide": _("Members see it again. Its reports are closed."),
            "delete": _("Deleted for good. Its reports are closed."),
        }
        self.notice(done[what], "success")

    @action
    def dismiss(self, item: ReportedItem) -> None:
        """Close every open report on the item and leave it as it is."""
        for report in item.reports:
            try:
                self.client.post(f"reports/{report['id']}/dismiss", {"reason": item.note})
            except (Conflict, NotFound):
                continue  # another moderator closed it meanwhile: closed is what we want
        self.refresh()
        self.notice(_("Reports dismissed: the item stays as it is."), "success")
