"""Latest activities (F15): every addition and change, newest first, live."""

from __future__ import annotations

import re
import threading

import ipywidgets as widgets

from ..client import TwinSpaceError
from ..i18n import _
from .base import TwinSpaceApp, action, escape
from .live import LiveBanner, LiveLoop, short_time

MAX_SHOWN = 200
MAX_LOADED = 1000
PAGE = 30


def N_(message: str) -> str:
    """Mark a string for translation; `_()` translates it when shown (current language)."""
    return message


# verb -> sentence after the actor's name. Unknown verbs get a neutral sentence.
VERBS = {
    "blog.post": N_("posted in the blog"),
    "blog.post.edit": N_("edited a blog post"),
    "blog.post.delete": N_("deleted a blog post"),
    "blog.comment": N_("commented in the blog"),
    "blog.comment.edit": N_("edited a comment in the blog"),
    "blog.comment.delete": N_("deleted a comment in the blog"),
    "forum.thread": N_("opened a thread in the forum"),
    "forum.thread.edit": N_("edited a thread in the forum"),
    "forum.thread.delete": N_("deleted a thread in the forum"),
    "forum.reply": N_("replied in the forum"),
    "forum.reply.edit": N_("edited a reply in the forum"),
    "forum.reply.delete": N_("deleted a reply in the forum"),
    "wiki.create": N_("created a wiki page"),
    "wiki.edit": N_("edited the wiki page"),
    "wiki.delete": N_("deleted a wiki page"),
    "document.upload": N_("uploaded a document"),
    "document.update": N_("updated a document"),
    "document.delete": N_("deleted a document"),
    "folder.create": N_("created a folder"),
    "folder.rename": N_("renamed a folder"),
    "folder.delete": N_("deleted a folder"),
    "photo.upload": N_("added a photo to the gallery"),
    "photo.update": N_("edited a photo's caption"),
    "photo.delete": N_("deleted a photo"),
    "album.create": N_("created an album"),
    "album.rename": N_("renamed an album"),
    "album.delete": N_("deleted an album"),
    "event.add": N_("added an event to the calendar"),
    "event.update": N_("changed an event in the calendar"),
    "event.delete": N_("removed an event from the calendar"),
    "chat.room": N_("opened a chat room"),
    "chat.room_update": N_("changed a chat room"),
    "chat.room_delete": N_("closed a chat room"),
    "file.share": N_("shared a file"),
    "file.update": N_("updated a shared file"),
    "file.rename": N_("renamed a shared file"),
    "file.delete": N_("deleted a shared file"),
    "page.create": N_("created a page"),
    "page.update": N_("edited a page"),
    "page.delete": N_("deleted a page"),
    "page.reorder": N_("reordered the pages"),
    "app.add": N_("added an application to a page"),
    "app.remove": N_("removed an application from a page"),
    "web_content.edit": N_("edited the page's content"),
    "member.join": N_("joined the TwinSpace"),
    "member.role": N_("changed a member's role"),
    "wall.post": N_("wrote on a wall"),
    "space.create": N_("created the TwinSpace"),
    "space.update": N_("changed the TwinSpace's settings"),
    "space.copy": N_("copied the TwinSpace"),
    "space.import": N_("imported content into the TwinSpace"),
}

SECTIONS = {
    "home": N_("Home"),
    "activities": N_("Activities"),
    "teachers_room": N_("Teachers' Room"),
    "pupils_corner": N_("Pupils' Corner"),
    "chat": N_("Chat"),
}


# Application kinds as "app.add" summaries end them, "<title> (<kind>)" -> translated name.
APP_KINDS = {
    "blog": N_("Blog"),
    "forum": N_("Forum"),
    "wiki": N_("Wiki"),
    "documents": N_("Document library"),
    "gallery": N_("Image gallery"),
    "web_content": N_("Web content"),
    "calendar": N_("Calendar"),
    "chat": N_("Chat"),
    "mailbox": N_("Mailbox"),
    "members": N_("Members"),
    "activity": N_("Latest activities"),
    "profile": N_("Profile"),
}
APP_SUMMARY = re.compile(r"^(?P<title>.*) \((?P<kind>[a-z_]+)\)$", re.DOTALL)


def summary_text(event: dict) -> str:
    """The event's summary as people read it: an application's kind in their language."""
    summary = event.get("summary") or ""
    if event.get("verb") == "app.add":
        match = APP_SUMMARY.match(summary)
        if match and match["kind"] in APP_KINDS:
            return f"{match['title']} ({_(APP_KINDS[match['kind']])})"
    return summary


def sentence(verb: str) -> str:
    """What the actor did, in the current language."""
    return _(VERBS[verb]) if verb in VERBS else _("made a change ({what})").format(what=verb)


class LatestActivities(LiveBanner, TwinSpaceApp):
    """The space's activity feed; new events appear at the top by themselves."""

    kind = "activity"

    def __init__(self, app_id: int | None = None, *, poll_wait: float = 25.0,
                 page_url: str | None = None, **kwargs) -> None:
        """page_url: optional link template for pages, e.g. "/voila/{space}/{section}/{slug}"."""
        self.poll_wait = poll_wait
        self.page_url = page_url
        self.events: list[dict] = []  # newest first
        self.pages: dict[int, dict] = {}
        self._ids: set[int] = set()
        self._next: int | None = None
        self._cap = MAX_SHOWN
        self._lock = threading.RLock()
        self._loop: LiveLoop | None = None
        self.feed = widgets.HTML()
        self.older_button = widgets.Button(
            description=_("Load older"), icon="history",
            tooltip=_("Show earlier activities"), layout=widgets.Layout(display="none"),
        )
        self.older_button.on_click(self.load_older)
        super().__init__(app_id, **kwargs)

    def refresh(self) -> None:
        self._stop_loop()
        data = self.client.get(f"spaces/{self.space}/activity", limit=PAGE)
        self._load_pages()
        with self._lock:
            self.events = list(data["items"])
            self._ids = {e["id"] for e in self.events}
            self._next = data.get("next")
            self._cap = MAX_SHOWN
            self._render()
        self.body.children = [self.feed, self.older_button]
        self._loop = LiveLoop(
            self.client, f"spaces/{self.space}/activity", after=data.get("last_id") or 0,
            on_data=self._on_live, on_error=self._on_live_error,
            on_recover=self._on_live_recover, wait=self.poll_wait,
        ).start()

    def _load_pages(self) -> None:
        """Page titles for "on page …" (only the pages the reader may see)."""
        try:
            pages = self.client.get(f"spaces/{self.space}/pages")["items"]
        except TwinSpaceError:
            return
        self.pages = {p["id"]: p for p in pages}

    # --- live -------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self._loop is not None and self._loop.alive

    def _stop_loop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.stop()

    def _on_live(self, loop: LiveLoop, data: dict) -> None:
        items = data.get("items", [])
        if any(e.get("page_id") and e["page_id"] not in self.pages for e in items):
            self._load_pages()  # a new page: learn its title
        with self._lock:
            if loop is not self._loop:
                return
            new = [e for e in items if e["id"] not in self._ids]
            if not new:
                return
            self.events = sorted(new + self.events, key=lambda e: e["id"], reverse=True)
            self._ids.update(e["id"] for e in new)
            if len(self.events) > self._cap:
                dropped = self.events[self._cap:]
                self.events = self.events[: self._cap]
                self._ids.difference_update(e["id"] for e in dropped)
                self._next = self.events[-1]["id"]
            self._render()

    # --- actions ----------------------------------------------------------------------

    @action
    def load_older(self) -> None:
        with self._lock:
            cursor = self._next
        if cursor is None:
            return
        data = self.client.get(f"spaces/{self.space}/activity", before=cursor, limit=PAGE)
        with self._lock:
            older = [e for e in data["items"] if e["id"] not in self._ids]
            self.events = self.events + older
            self._ids.update(e["id"] for e in older)
            self._cap = min(MAX_LOADED, max(self._cap, len(self.events)))
            self._next = data.get("next") if len(self.events) < MAX_LOADED else None
            self._render()

    # --- reading and rendering ----------------------------------------------------------

    def shown_events(self) -> list[dict]:
        """The events on screen, newest first: {id, actor, text, section, page, time}."""
        with self._lock:
            return [
                {
                    "id": e["id"],
                    "actor": self._actor(e),
                    "text": sentence(e["verb"]),
                    "summary": summary_text(e),
                    "section": _(SECTIONS.get(e["section"], e["section"])),
                    "page": (self.pages.get(e.get("page_id")) or {}).get("title"),
                    "time": e["created_at"],
                }
                for e in self.events
            ]

    @staticmethod
    def _actor(event: dict) -> str:
        return (event.get("actor") or {}).get("display_name") or _("Former member")

    def _page_html(self, page_id: int | None) -> str:
        page = self.pages.get(page_id) if page_id else None
        if page is None:
            return ""
        title = escape(page["title"])
        if self.page_url:
            href = escape(self.page_url.format(**page))
            return f' · <a href="{href}" target="_blank" rel="noopener">{title}</a>'
        return f" · <i>{title}</i>"

    def _render(self) -> None:
        rows = []
        for e in self.events:
            summary = summary_text(e)
            what = f": “{escape(summary)}”" if summary else ""
            section = _(SECTIONS.get(e["section"], e["section"]))
            rows.append(
                '<li style="margin:4px 0">'
                f"<b>{escape(self._actor(e))}</b> {escape(sentence(e['verb']))}{what}"
                f'<br><span style="color:#555;font-size:90%">{escape(section)}'
                f"{self._page_html(e.get('page_id'))} · "
                f"{escape(short_time(e.get('created_at')))}</span></li>"
            )
        if not rows:
            self.feed.value = f"<p><i>{escape(_('Nothing has happened here yet.'))}</i></p>"
        else:
            self.feed.value = (
                f'<ul aria-live="polite" style="list-style:none;padding-left:0">'
                f'{"".join(rows)}</ul>'
            )
        self.older_button.layout.display = "" if self._next is not None else "none"

    def close(self) -> None:
        self._stop_loop()
        super().close()
