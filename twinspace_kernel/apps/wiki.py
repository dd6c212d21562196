"""Wiki (F20): pages, edit and save without lost updates (merge on conflict), history, revert."""

from __future__ import annotations

import difflib

import ipywidgets as widgets

from ..client import Conflict
from ..i18n import _
from .base import TwinSpaceApp, action, built, escape, on_demand
from .discussion import author_name, button, meta_html, note, show, tag, when

PRE_STYLE = (
    "background:#fafafa;color:#1a1a1a;border:1px solid #d0d0d0;padding:6px;"
    "white-space:pre-wrap;font-family:monospace;font-size:90%"
)
INSERT_STYLE = "background:#e6f4ea;color:#0d5223;text-decoration:none"
DELETE_STYLE = "background:#fdecea;color:#7a1212;text-decoration:none"
HUNK_STYLE = "color:#0b3d91"


def diff_html(unified: str) -> str:
    """A unified diff, escaped, in a <pre> with insertions and deletions coloured."""
    if not unified.strip():
        return note(_("No differences."))
    lines = []
    for line in unified.splitlines():
        text = escape(line)
        if line.startswith(("+++", "---")):
            lines.append(f"<b>{text}</b>")
        elif line.startswith("+"):
            lines.append(f'<ins class="diff-insert" style="{INSERT_STYLE}">{text}</ins>')
        elif line.startswith("-"):
            lines.append(f'<del class="diff-delete" style="{DELETE_STYLE}">{text}</del>')
        elif line.startswith("@@"):
            lines.append(f'<span style="{HUNK_STYLE}">{text}</span>')
        else:
            lines.append(text)
    return f'<pre style="{PRE_STYLE}">' + "\n".join(lines) + "</pre>"


def text_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    return "\n".join(difflib.unified_diff(
        old.splitlines(), new.splitlines(), old_name, new_name, lineterm=""
    ))


class Wiki(TwinSpaceApp):
    """A wiki: the list of pages, or one page with its editor and its history."""

    kind = "wiki"
    page_size = 50

    def __init__(self, app_id: int | None = None, **kwargs) -> None:
        self.page: dict | None = None
        self.base_revision: int | None = None
        self.pages_next: int | None = None
        self.revisions: list[dict] = []
        self.revisions_next: int | None = None
        self.in_conflict = False

        # The list of pages and the form to create one.
        self.pages_box = widgets.VBox()
        self.empty = widgets.HTML(note(_("No pages yet.")))
        super().__init__(app_id, **kwargs)

    # "More pages" (a wiki with more pages than one list), the form for a new page (for
    # those who may write) and the view of one page with its history: made when first
    # shown.
    older_pages_button = on_demand("build_older_pages_button")
    new_title = on_demand("build_create_box")
    new_text = on_demand("build_create_box")
    create_button = on_demand("build_create_box")
    create_box = on_demand("build_create_box")
    back_button = on_demand("build_page_view")
    page_header = on_demand("build_page_view")
    view = on_demand("build_page_view")
    edit_button = on_demand("build_page_view")
    read_box = on_demand("build_page_view")
    history_box = on_demand("build_page_view")
    tabs = on_demand("build_page_view")
    # In one page's view, the editor (hidden until Edit) and the History tab's content are
    # made when first opened.
    conflict_message = on_demand("build_edit_box")
    theirs_label = on_demand("build_edit_box")
    theirs = on_demand("build_edit_box")
    theirs_box = on_demand("build_edit_box")
    yours_label = on_demand("build_edit_box")
    editor = on_demand("build_edit_box")
    yours_box = on_demand("build_edit_box")
    conflict_diff = on_demand("build_edit_box")
    summary = on_demand("build_edit_box")
    save_button = on_demand("build_edit_box")
    cancel_button = on_demand("build_edit_box")
    edit_box = on_demand("build_edit_box")
    history_table = on_demand("build_history")
    older_revisions_button = on_demand("build_history")
    diff_from = on_demand("build_history")
    diff_to = on_demand("build_history")
    compare_button = on_demand("build_history")
    diff_view = on_demand("build_history")
    revert_choice = on_demand("build_history")
    revert_button = on_demand("build_history")
    revert_box = on_demand("build_history")

    def build_older_pages_button(self) -> None:
        self.older_pages_button = button(_("More pages"), "chevron-down",
                                         callback=self.load_more_pages)

    def build_create_box(self) -> None:
        self.new_title = widgets.Text(description=_("Title"),
                                      placeholder=_("The new page's title"),
                                      layout=widgets.Layout(width="100%"))
        self.new_text = widgets.Textarea(
            description=_("Text"), placeholder=_("The page's text (Markdown)…"),
            layout=widgets.Layout(width="100%", height="140px"),
        )
        self.create_button = button(_("Create the page"), "plus", "primary",
                                    callback=self.create_page)
        self.create_box = widgets.VBox([
            widgets.HTML(tag("h4", _("New page"))), self.new_title, self.new_text,
            self.create_button,
        ])

    def build_page_view(self) -> None:
        self.back_button = button(_("All pages"), "arrow-left", callback=self.back_to_list)
        self.page_header = widgets.HTML()
        self.view = widgets.HTML()
        self.edit_button = button(_("Edit"), "pencil", callback=lambda _b: self.start_edit())
        self.read_box = widgets.VBox([self.view, self.edit_button])
        self.history_box = widgets.VBox()
        self.tabs = widgets.Tab(children=[self.read_box, self.history_box])
        self.tabs.titles = (_("Page"), _("History"))
        self.tabs.observe(self._tab_opened, names="selected_index")

    def build_edit_box(self) -> None:
        self.conflict_message = widgets.HTML()
        self.theirs_label = widgets.HTML()
        self.theirs = widgets.Textarea(disabled=True,
                                       layout=widgets.Layout(width="100%", height="260px"))
        self.theirs_box = widgets.VBox([self.theirs_label, self.theirs],
                                       layout=widgets.Layout(width="50%", display="none"))
        self.yours_label = widgets.HTML(tag("b", _("Your text")))
        self.editor = widgets.Textarea(
            placeholder=_("The page's text (Markdown)…"),
            layout=widgets.Layout(width="100%", height="260px"),
        )
        self.yours_box = widgets.VBox([self.yours_label, self.editor],
                                      layout=widgets.Layout(width="100%"))
        self.conflict_diff = widgets.HTML()
        self.summary = widgets.Text(description=_("Summary"),
                                    placeholder=_("What did you change? (optional)"),
                                    layout=widgets.Layout(width="100%"))
        self.save_button = button(_("Save"), "save", "primary", callback=self.save)
        self.cancel_button = button(_("Cancel"), "times", callback=self.cancel_edit)
        self.edit_box = widgets.VBox([
            self.conflict_message,
            widgets.HBox([self.theirs_box, self.yours_box]),
            self.conflict_diff,
            self.summary,
            widgets.HBox([self.save_button, self.cancel_button]),
        ], layout=widgets.Layout(display="none"))
        self.read_box.children = [self.view, self.edit_button, self.edit_box]

    def build_history(self) -> None:
        self.history_table = widgets.HTML()
        self.older_revisions_button = button(_("Older revisions"), "chevron-down",
                                             callback=self.load_older_revisions)
        self.diff_from = widgets.Dropdown(description=_("From"))
        self.diff_to = widgets.Dropdown(description=_("To"))
        self.compare_button = button(_("Show the differences"), "columns",
                                     callback=self.compare)
        self.diff_view = widgets.HTML()
        self.revert_choice = widgets.Dropdown(description=_("Revision"))
        self.revert_button = button(_("Revert to this revision"), "undo", "warning",
                                    callback=self.revert)
        self.revert_box = widgets.HBox([self.revert_choice, self.revert_button])
        show(self.revert_box, self.may_edit)
        self.history_box.children = [
            self.history_table, self.older_revisions_button,
            widgets.HTML(tag("h4", _("Compare two revisions"))),
            widgets.HBox([self.diff_from, self.diff_to, self.compare_button]),
            self.diff_view,
            self.revert_box,
        ]
        if self.page is not None and self.client is not None:
            self.load_history()

    def _tab_opened(self, change: dict) -> None:
        if change["new"] == 1 and not built(self, "history_table"):
            self.clear_notice()
            self.guard(self.build_history)

    @property
    def may_edit(self) -> bool:
        return bool(self.may.get("edit_wiki"))

    # --- the list of pages ------------------------------------------------------------

    def refresh(self) -> None:
        page = self.client.get(f"apps/{self.app_id}/wiki", limit=self.page_size)
        self.pages_box.children = [self.page_row(p) for p in page["items"]]
        self.pages_next = page["next"]
        self.page = None
        self.show_list()

    def show_list(self) -> None:
        more = self.pages_next is not None or built(self, "older_pages_button")
        if more:
            show(self.older_pages_button, self.pages_next is not None)
        show(self.empty, not self.pages_box.children)
        self.body.children = (
            [self.empty, self.pages_box] + ([self.older_pages_button] if more else [])
            + ([self.create_box] if self.may_edit else [])
        )

    def page_row(self, item: dict) -> widgets.Widget:
        info = widgets.HTML(
            f"<b>{escape(item['title'])}</b>"
            + meta_html(item.get("author"), item.get("updated_at"),
                        extra=_("revision {n}").format(n=item.get("revision"))),
            layout=widgets.Layout(flex="1 1 auto"),
        )
        open_button = button(_("Open"), "file-text",
                             tooltip=_("Read the page “{title}”").format(title=item["title"]),
                             callback=lambda b: self.open_item(b, item["id"]))
        row = widgets.HBox([info, open_button])
        row.wiki = item
        row.open_button = open_button
        return row

    @action
    def load_more_pages(self) -> None:
        if self.pages_next is None:
            return
        page = self.client.get(f"apps/{self.app_id}/wiki", before=self.pages_next,
                               limit=self.page_size)
        self.pages_box.children = (
            *self.pages_box.children, *(self.page_row(p) for p in page["items"])
        )
        self.pages_next = page["next"]
        self.show_list()

    @action
    def create_page(self) -> None:
        page = self.client.post(f"apps/{self.app_id}/wiki", {
            "title": self.new_title.value, "text": self.new_text.value,
        })
        self.new_title.value = ""
        self.new_text.value = ""
        self.show_page(page)
        self.notice(_("The page is created."), "success")

    @action
    def back_to_list(self) -> None:
        self.refresh()

    # --- one page ---------------------------------------------------------------------

    @action
    def open_item(self, wiki_id: int) -> None:
        self.show_page(self.client.get(f"wiki/{wiki_id}"))

    def show_page(self, page: dict) -> None:
        self.page = page
        self.render_page()
        self.end_edit()
        self.tabs.selected_index = 0
        show(self.edit_button, self.may_edit)
        self.body.children = [self.back_button, self.page_header, self.tabs]
        if built(self, "history_table"):
            # Already opened once: kept current (else it loads when first opened).
            self.diff_view.value = ""
            show(self.revert_box, self.may_edit)
            self.load_history()

    def render_page(self) -> None:
        page = self.page
        self.page_header.value = f"<h4>{escape(page['title'])}</h4>" + meta_html(
            page.get("author"), page.get("updated_at"),
            extra=_("revision {n}").format(n=page["revision"]),
        )
        # The service rendered and sanitized the Markdown: shown as is.
        self.view.value = page.get("html") or note(_("This page is empty."))

    def start_edit(self) -> None:
        self.editor.value = self.page["text"]
        self.base_revision = self.page["revision"]
        self.summary.value = ""
        self.show_conflict(None)
        show(self.edit_box)
        show(self.edit_button, False)

    def end_edit(self) -> None:
        self.base_revision = None
        if built(self, "edit_box"):
            self.show_conflict(None)
            show(self.edit_box, False)
        show(self.edit_button, self.may_edit)

    def cancel_edit(self, _button=None) -> None:
        self.end_edit()

    @action
    def save(self) -> None:
        if self.page is None:
            return
        text = self.editor.value
        base = self.base_revision if self.base_revision is not None else self.page["revision"]
        try:
            page = self.client.put(f"wiki/{self.page['id']}", {
                "text": text, "base_revision": base, "summary": self.summary.value,
            })
        except Conflict as e:
            self.show_conflict(e)
            return
        stored = page["revision"] != base
        self.page = page
        self.render_page()
        self.end_edit()
        if built(self, "history_table"):
            self.load_history()
        if stored:
            self.notice(_("Saved as revision {n}.").format(n=page["revision"]), "success")
        else:
            self.notice(_("Nothing changed: the text is the same."), "info")

    def show_conflict(self, error: Conflict | None) -> None:
        """Someone saved first: show their version and yours side by side, and the diff.

        Your text stays in the editor; the base revision becomes theirs, so saving
        again stores your merge on top of their version. Nothing is lost.
        """
        self.in_conflict = error is not None
        if error is None:
            self.conflict_message.value = ""
            self.conflict_diff.value = ""
            self.theirs.value = ""
            self.theirs_label.value = ""
            show(self.theirs_box, False)
            self.yours_box.layout.width = "100%"
            return
        current = error.body.get("current") or {}
        yours = error.body.get("yours") or {}
        theirs_text = current.get("text", "")
        your_text = yours.get("text", self.editor.value)
        self.editor.value = your_text
        self.base_revision = current.get("revision", self.base_revision)
        self.theirs.value = theirs_text
        self.theirs_label.value = "<b>{}</b>".format(escape(
            _("Their version: revision {n} by {who}, {when}").format(
                n=current.get("revision"), who=author_name(current.get("author")),
                when=when(current.get("updated_at")),
            )
        ))
        self.conflict_message.value = (
            f"<p><b>{escape(error.message)}</b><br>"
            + escape(_("Their version is on the left, yours on the right. Bring their "
                       "changes into your text, then save again."))
            + "</p>"
        )
        self.conflict_diff.value = (
            tag("b", _("From their version to yours"))
            + diff_html(text_diff(theirs_text, your_text, _("theirs"), _("yours")))
        )
        show(self.theirs_box)
        self.yours_box.layout.width = "50%"
        show(self.edit_box)
        self.notice(_("Someone saved this page before you: merge, then save again."), "error")

    # --- history ----------------------------------------------------------------------

    def load_history(self) -> None:
        page = self.client.get(f"wiki/{self.page['id']}/revisions")
        self.revisions = page["items"]
        self.revisions_next = page["next"]
        self.render_history()

    @action
    def load_older_revisions(self) -> None:
        if self.page is None or self.revisions_next is None:
            return
        page = self.client.get(f"wiki/{self.page['id']}/revisions", before=self.revisions_next)
        self.revisions += page["items"]
        self.revisions_next = page["next"]
        self.render_history()

    def render_history(self) -> None:
        rows = []
        for rev in self.revisions:
            summary = rev.get("summary") or ""
            if rev.get("reverted_from"):
                summary = summary or _("Reverted to revision {n}").format(n=rev["reverted_from"])
            rows.append(
                f"<tr><td>{rev['number']}</td><td>{escape(author_name(rev.get('author')))}</td>"
                f"<td>{escape(when(rev.get('created_at')))}</td><td>{escape(summary)}</td></tr>"
            )
        head = "".join(f"<th>{escape(h)}</th>" for h in
                       (_("Revision"), _("Author"), _("Time"), _("Summary")))
        self.history_table.value = (
            f'<table style="border-collapse:collapse"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
        show(self.older_revisions_button, self.revisions_next is not None)
        options = [
            (_("{n}: {who}, {when}").format(n=r["number"], who=author_name(r.get("author")),
                                            when=when(r.get("created_at"))), r["number"])
            for r in self.revisions
        ]
        self.diff_from.options = options
        self.diff_to.options = options
        self.revert_choice.options = options[1:] if options else []
        if options:
            self.diff_to.value = options[0][1]
            self.diff_from.value = options[1][1] if len(options) > 1 else options[0][1]
        show(self.revert_button, len(options) > 1)

    @action
    def compare(self) -> None:
        if self.page is None or self.diff_from.value is None or self.diff_to.value is None:
            return
        diff = self.client.get(f"wiki/{self.page['id']}/diff", **{
            "from": self.diff_from.value, "to": self.diff_to.value,
        })
        self.diff_view.value = diff_html(diff["unified"])

    @action
    def revert(self) -> None:
        if self.page is None or self.revert_choice.value is None:
            return
        number = self.revert_choice.value
        try:
            page = self.client.post(f"wiki/{self.page['id']}/revert", {
                "revision": number, "base_revision": self.page["revision"],
            })
        except Conflict as e:
            self.show_page(self.client.get(f"wiki/{self.page['id']}"))
            self.notice(e.message + " " + _("The page is reloaded: look again, then revert."),
                        "error")
            return
        self.show_page(page)
        self.tabs.selected_index = 1
        self.notice(_("Revision {new} has the text of revision {old} again.").format(
            new=page["revision"], old=number), "success")
