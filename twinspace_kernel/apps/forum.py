"""Forum (F19): threads by latest activity, a thread's replies oldest first, reply and quote."""

from __future__ import annotations

import ipywidgets as widgets

from ..i18n import _, ngettext
from .base import action, built, escape, on_demand
from .discussion import (
    QUOTE_STYLE,
    DiscussionApp,
    ItemView,
    author_name,
    button,
    meta_html,
    note,
    show,
    tag,
    when,
    without,
)


class ReplyView(ItemView):
    """A reply: its quoted excerpt, its text, Quote / Edit / Delete / Report."""

    def __init__(self, app: Forum, reply: dict) -> None:
        self.app = app
        extra = [self.quote_button] if app.may.get("reply") else []
        super().__init__(app, reply, path=f"replies/{reply['id']}",
                         object_type="forum_reply", deletable=not reply.get("first"),
                         extra_buttons=extra)

    # Made for those who may reply (or when code asks for it).
    quote_button = on_demand("build_quote_button")

    def build_quote_button(self) -> None:
        self.quote_button = button(_("Quote"), "quote-left",
                                   tooltip=_("Reply quoting this message"),
                                   callback=lambda _b: self.app.quote(self))

    def render(self) -> None:
        super().render()
        quote = self.item.get("quote")
        if not quote:
            return
        if quote.get("hidden") and not quote.get("excerpt"):
            text = escape(_("A hidden message."))
        else:
            who = _("{name} wrote:").format(name=author_name(quote.get("author")))
            text = tag("b", who) + "<br>" + escape(quote.get("excerpt", ""))
        # The quote goes above the reply's own text.
        self.header.value += f'<blockquote style="{QUOTE_STYLE}">{text}</blockquote>'


class Forum(DiscussionApp):
    """A forum: the list of threads, or one thread with its replies and a reply box."""

    kind = "forum"
    page_size = 30

    def __init__(self, app_id: int | None = None, **kwargs) -> None:
        self.thread: dict | None = None
        self.threads_next: int | None = None
        self.replies_next: int | None = None
        self.quote_id: int | None = None

        # The list of threads.
        self.threads_box = widgets.VBox()
        self.empty = widgets.HTML(note(_("No threads yet.")))
        self.list_box = widgets.VBox([self.empty, self.threads_box])
        super().__init__(app_id, **kwargs)

    # "Older threads" (a forum with more threads than one page), the form for a new
    # thread (for those who may open one) and the view of one thread: made when first
    # shown.
    new_thread_box = on_demand("build_new_thread_box")
    new_title = on_demand("build_new_thread_box")
    new_body = on_demand("build_new_thread_box")
    open_thread_button = on_demand("build_new_thread_box")
    back_button = on_demand("build_thread_view")
    thread_header = on_demand("build_thread_view")
    replies_box = on_demand("build_thread_view")
    more_replies_button = on_demand("build_thread_view")
    quote_label = on_demand("build_thread_view")
    unquote_button = on_demand("build_thread_view")
    quote_bar = on_demand("build_thread_view")
    reply_input = on_demand("build_thread_view")
    reply_button = on_demand("build_thread_view")
    reply_box = on_demand("build_thread_view")
    delete_thread_button = on_demand("build_thread_view")
    confirm_thread_box = on_demand("build_thread_view")

    older_threads_button = on_demand("build_older_threads_button")

    def build_older_threads_button(self) -> None:
        self.older_threads_button = button(_("Older threads"), "chevron-down",
                                           callback=self.load_older_threads)
        self.list_box.children = [self.empty, self.threads_box, self.older_threads_button]

    def build_new_thread_box(self) -> None:
        self.new_title = widgets.Text(description=_("Title"),
                                      placeholder=_("What is the thread about?"),
                                      layout=widgets.Layout(width="100%"))
        self.new_body = widgets.Textarea(
            description=_("Message"), placeholder=_("The first message (Markdown)…"),
            layout=widgets.Layout(width="100%", height="120px"),
        )
        self.open_thread_button = button(_("Open the thread"), "plus", "primary",
                                         callback=self.open_thread)
        self.new_thread_box = widgets.VBox([
            widgets.HTML(tag("h4", _("New thread"))),
            self.new_title, self.new_body, self.open_thread_button,
        ])

    def build_thread_view(self) -> None:
        self.back_button = button(_("Back to the threads"), "arrow-left",
                                  callback=self.back_to_list)
        self.thread_header = widgets.HTML()
        self.replies_box = widgets.VBox()
        self.more_replies_button = button(_("Load more"), "chevron-down",
                                          tooltip=_("Show the next replies"),
                                          callback=self.load_more_replies)
        self.quote_label = widgets.HTML()
        self.unquote_button = button(_("Do not quote"), "times",
                                     callback=lambda _b: self.set_quote(None))
        self.quote_bar = widgets.HBox([self.quote_label, self.unquote_button])
        self.reply_input = widgets.Textarea(
            description=_("Reply"), placeholder=_("Write your reply (Markdown)…"),
            layout=widgets.Layout(width="100%", height="100px"),
        )
        self.reply_button = button(_("Post the reply"), "reply", "primary",
                                   callback=self.post_reply)
        self.reply_box = widgets.VBox([
            widgets.HTML(tag("h4", _("Your reply"))), self.quote_bar, self.reply_input,
            self.reply_button,
        ])
        self.delete_thread_button = button(_("Delete the thread"), "trash", "danger",
                                           callback=lambda _b: show(self.confirm_thread_box))
        self.confirm_thread_box = widgets.HBox([
            widgets.Label(_("Delete this thread and all its replies?")),
            button(_("Yes, delete"), "trash", "danger", callback=self.delete_thread),
            button(_("Keep it"), "times",
                   callback=lambda _b: show(self.confirm_thread_box, False)),
        ])

    # --- the list of threads ----------------------------------------------------------

    def refresh(self) -> None:
        page = self.client.get(f"apps/{self.app_id}/threads", limit=self.page_size)
        self.threads_box.children = [self.thread_row(t) for t in page["items"]]
        self.threads_next = page["next"]
        self.thread = None
        self.show_list()

    def show_list(self) -> None:
        if self.threads_next is not None or built(self, "older_threads_button"):
            show(self.older_threads_button, self.threads_next is not None)
        show(self.empty, not self.threads_box.children)
        self.body.children = (
            [self.list_box] + ([self.new_thread_box] if self.may.get("open_thread") else [])
        )

    def thread_row(self, thread: dict) -> widgets.Widget:
        n = max(thread.get("reply_count", 1) - 1, 0)
        replies = ngettext("{n} reply", "{n} replies", n).format(n=n)
        last = thread.get("last_post") or {}
        activity = _("last message {when} by {who}").format(
            when=when(last.get("created_at") or thread.get("created_at")),
            who=author_name(last.get("author") or thread.get("author")),
        )
        info = widgets.HTML(
            f"<b>{escape(thread['title'])}</b>"
            + meta_html(thread.get("author"), thread.get("created_at"),
                        hidden=bool(thread.get("hidden")), extra=f"{replies} · {activity}",
                        space=self.space),
            layout=widgets.Layout(flex="1 1 auto"),
        )
        open_button = button(_("Open"), "folder-open",
                             tooltip=_("Read the thread “{title}”").format(title=thread["title"]),
                             callback=lambda b: self.open_item(b, thread["id"]))
        row = widgets.HBox([info, open_button])
        row.thread = thread
        row.open_button = open_button
        return row

    @action
    def load_older_threads(self) -> None:
        if self.threads_next is None:
            return
        page = self.client.get(f"apps/{self.app_id}/threads", before=self.threads_next,
                               limit=self.page_size)
        known = {row.thread["id"] for row in self.threads_box.children}
        rows = [self.thread_row(t) for t in page["items"] if t["id"] not in known]
        self.threads_box.children = (*self.threads_box.children, *rows)
        self.threads_next = page["next"]
        self.show_list()

    @action
    def open_thread(self) -> None:
        thread = self.client.post(f"apps/{self.app_id}/threads", {
            "title": self.new_title.value, "body": self.new_body.value,
        })
        self.new_title.value = ""
        self.new_body.value = ""
        self.show_thread(thread)
        self.notice(_("Your thread is open."), "success")

    @action
    def back_to_list(self) -> None:
        self.refresh()

    # --- one thread -------------------------------------------------------------------

    @action
    def open_item(self, thread_id: int) -> None:
        self.show_thread(self.client.get(f"threads/{thread_id}", limit=self.page_size))

    def show_thread(self, thread: dict) -> None:
        self.thread = thread
        replies = thread.pop("replies", {"items": [], "next": None})
        self.render_thread_header()
        self.replies_box.children = [ReplyView(self, r) for r in replies["items"]]
        self.replies_next = replies["next"]
        show(self.more_replies_button, self.replies_next is not None)
        self.set_quote(None)
        self.reply_input.value = ""
        show(self.delete_thread_button, bool(thread.get("may_edit")))
        show(self.confirm_thread_box, False)
        self.body.children = (
            [self.back_button, self.thread_header, self.replies_box, self.more_replies_button]
            + ([self.reply_box] if self.may.get("reply") else [])
            + [self.delete_thread_button, self.confirm_thread_box]
        )

    def render_thread_header(self) -> None:
        thread = self.thread
        self.thread_header.value = f"<h4>{escape(thread['title'])}</h4>" + meta_html(
            thread.get("author"), thread.get("created_at"), hidden=bool(thread.get("hidden")),
            space=self.space,
        )

    @property
    def reply_views(self) -> list[ReplyView]:
        return [c for c in self.replies_box.children if isinstance(c, ReplyView)]

    @action
    def load_more_replies(self) -> None:
        if self.thread is None or self.replies_next is None:
            return
        page = self.client.get(f"threads/{self.thread['id']}/replies", after=self.replies_next,
                               limit=self.page_size)
        self.replies_box.children = (
            *self.replies_box.children, *(ReplyView(self, r) for r in page["items"])
        )
        self.replies_next = page["next"]
        show(self.more_replies_button, self.replies_next is not None)

    def quote(self, view: ReplyView) -> None:
        self.set_quote(view.item)

    def set_quote(self, reply: dict | None) -> None:
        self.quote_id = None if reply is None else reply["id"]
        if reply is None:
            show(self.quote_bar, False)
            self.quote_label.value = ""
            return
        self.quote_label.value = escape(
            _("Quoting {name}").format(name=author_name(reply.get("author")))
        )
        show(self.quote_bar)

    @action
    def post_reply(self) -> None:
        if self.thread is None:
            return
        body = {"body": self.reply_input.value}
        if self.quote_id is not None:
            body["quote_id"] = self.quote_id
        reply = self.client.post(f"threads/{self.thread['id']}/replies", body)
        self.reply_input.value = ""
        self.set_quote(None)
        if self.replies_next is None:
            # Every older reply is on screen: the new one goes last, in order.
            self.replies_box.children = (*self.replies_box.children, ReplyView(self, reply))
        self.notice(_("Your reply is posted."), "success")

    def item_deleted(self, view: ItemView) -> None:
        without(self.replies_box, view)

    @action
    def delete_thread(self) -> None:
        if self.thread is None:
            return
        self.client.delete(f"threads/{self.thread['id']}")
        self.refresh()
        self.notice(_("The thread is deleted."), "success")
