"""Chat (F28, F29): rooms, live messages, who is in the room now, supervised rooms."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import ipywidgets as widgets

from ..client import TwinSpaceClient, TwinSpaceError
from ..i18n import _
from .base import (
    BANNER_STYLES,
    TwinSpaceApp,
    action,
    escape,
    on_demand,
    profile_link,
    role_label,
)
from .live import BrowserHeartbeat, LiveBanner, LiveLoop, short_time

MAX_SHOWN = 200  # messages kept in the widget; older ones come back with "Load older"
MAX_LOADED = 1000  # never more, even after many "Load older"
PAGE = 50
BADGE_STYLE = "background:#fff3cd;color:#5c4400;border:1px solid #e0c36b"


class Chat(LiveBanner, TwinSpaceApp):
    """The chat of a space: pick a room, read and write; new messages arrive by themselves.

    A daemon thread (`LiveLoop`) long-polls the room's messages and appends them to the
    widget; it follows the picked room and stops on `close()`. The member is "in the room"
    only while a browser shows the widget: opening a room joins it, then a hidden Play
    widget ticking in the browser keeps the presence fresh (`BrowserHeartbeat`), so a
    kernel left running after its page closed supervises nobody (F29).
    """

    kind = "chat"

    def __init__(self, app_id: int | None = None, *, poll_wait: float = 25.0, **kwargs) -> None:
        self.poll_wait = poll_wait
        self.room_id: int | None = None
        self.rooms: dict[int, dict] = {}
        self.messages: list[dict] = []  # shown, oldest first
        self.status: dict[str, Any] = {}
        self._ids: set[int] = set()
        self._older = False
        self._cap = MAX_SHOWN
        self._lock = threading.RLock()
        self._loop: LiveLoop | None = None
        self._populating = False
        self._beat_client: TwinSpaceClient | None = None
        self.heartbeat = BrowserHeartbeat(self._beat)

        self.room_picker = widgets.Dropdown(description=_("Room"), options=[])
        self.room_picker.observe(self._room_picked, "value")
        self.badge = widgets.HTML()
        self.present_view = widgets.HTML()
        self.older_button = widgets.Button(
            description=_("Load older"), icon="history",
            tooltip=_("Show earlier messages of this room"),
            layout=widgets.Layout(display="none"),
        )
        self.older_button.on_click(self.load_older)
        self.messages_view = widgets.HTML()
        self.reason = widgets.HTML(layout=widgets.Layout(display="none"))
        self.input = widgets.Text(
            placeholder=_("Write a message and press Enter"),
            description=_("Message"),
            layout=widgets.Layout(width="100%"),
        )
        with warnings.catch_warnings():
            # ipywidgets 8 calls on_submit deprecated, but it is the only Enter-only event
            # (continuous_update=False would also send when the field loses the focus).
            warnings.simplefilter("ignore", DeprecationWarning)
            self.input.on_submit(lambda _text: self.send())
        self.send_button = widgets.Button(description=_("Send"), icon="paper-plane",
                                          button_style="primary",
                                          tooltip=_("Send the message to the room"))
        self.send_button.on_click(self.send)
        self.compose = widgets.HBox([self.input, self.send_button])

        super().__init__(app_id, **kwargs)

    # The form for a new room, for those who manage the section's pages: made then.
    room_name = on_demand("build_room_form")
    room_supervised = on_demand("build_room_form")
    create_button = on_demand("build_room_form")
    room_form = on_demand("build_room_form")

    def build_room_form(self) -> None:
        self.room_name = widgets.Text(description=_("Name"),
                                      placeholder=_("Name of the new room"))
        self.room_supervised = widgets.Checkbox(
            description=_("Supervised: pupils write only while a teacher is here"),
            # As wide as its label (the default width cuts it).
            indent=False, layout=widgets.Layout(width="auto"),
        )
        self.create_button = widgets.Button(description=_("Create room"), icon="plus",
                                            tooltip=_("Open a new chat room"))
        self.create_button.on_click(self.create_room)
        self.room_form = widgets.VBox([
            widgets.HTML(f"<b>{escape(_('New room'))}</b>"),
            self.room_name, self.room_supervised, self.create_button,
        ])

    # --- loading ----------------------------------------------------------------------

    def refresh(self) -> None:
        rooms = self.client.get(f"spaces/{self.space}/rooms")["items"]
        self.rooms = {room["id"]: room for room in rooms}
        if rooms and rooms[0].get("presence_seconds"):
            # About four heartbeats per presence period: one late tick does not drop us.
            self.heartbeat.period = rooms[0]["presence_seconds"] / 4
        keep = self.room_id if self.room_id in self.rooms else None
        self._populating = True
        try:
            self.room_picker.options = [(room["name"], room["id"]) for room in rooms]
            self.room_picker.value = keep or (rooms[0]["id"] if rooms else None)
        finally:
            self._populating = False
        children: list[widgets.Widget] = [
            widgets.HBox([self.room_picker, self.badge]), self.present_view,
            self.older_button, self.messages_view, self.reason, self.compose,
            self.heartbeat.widget,
        ]
        if self.may.get("manage_pages", False):
            children.append(self.room_form)
        if not rooms:
            children = [widgets.HTML(f"<p><i>{escape(_('There is no chat room yet.'))}</i></p>")]
            if self.may.get("manage_pages", False):
                children.append(self.room_form)
        self.body.children = children
        if rooms:
            self.open_room(self.room_picker.value)

    def _room_picked(self, change: dict) -> None:
        if self._populating or change["new"] is None or change["new"] == self.room_id:
            return
        self.clear_notice()
        self.guard(self.open_room, change["new"])

    def open_room(self, room_id: int) -> None:
        """Show the newest messages of `room_id` and follow it live."""
        self._stop_loop(leave=True)
        # The page is being shown: join now; the browser's heartbeats keep us in.
        self.client.post(f"rooms/{room_id}/presence")
        data = self.client.get(f"rooms/{room_id}/messages", limit=PAGE)
        with self._lock:
            self.room_id = room_id
            self.messages = list(data["items"])
            self._ids = {msg["id"] for msg in self.messages}
            self._older = data.get("next") is not None
            self._cap = MAX_SHOWN
            self._render()
        self._show_status(data)
        self._start_loop(data.get("last_id") or 0)
        self.heartbeat.start()

    def _beat(self) -> None:
        """The browser still shows the chat: say so to the room (the heartbeat's thread)."""
        room_id = self.room_id
        if room_id is None or self.client is None:
            return
        if self._beat_client is None:
            # Its own session: the widget's client may be busy in the kernel's main thread.
            self._beat_client = TwinSpaceClient(self.client.url, self.client.token,
                                                timeout=10.0, retry_seconds=0)
        self._beat_client.post(f"rooms/{room_id}/presence")
        if self.room_id != room_id:
            # The member moved to another room meanwhile: do not linger in this one.
            self._beat_client.delete(f"rooms/{room_id}/presence")

    # --- live -------------------------------------------------------------------------

    def _start_loop(self, after: int) -> None:
        loop = LiveLoop(
            self.client, f"rooms/{self.room_id}/messages", after=after,
            on_data=self._on_live, on_error=self._on_live_error,
            on_recover=self._on_live_recover, wait=self.poll_wait,
        )
        self._loop = loop
        loop.start()

    def _stop_loop(self, *, leave: bool) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.stop()
            if leave and self.room_id is not None and self.client is not None:
                # Leave the room now rather than when presence expires (supervision).
                try:
                    self.client.delete(f"rooms/{self.room_id}/presence")
                except TwinSpaceError:
                    pass

    @property
    def live(self) -> bool:
        """Whether live updates are running (a thread follows the room)."""
        return self._loop is not None and self._loop.alive

    def _on_live(self, loop: LiveLoop, data: dict) -> None:
        with self._lock:
            if loop is not self._loop:
                return  # an answer for a room we left
            self._merge(data.get("items", []))
        self._show_status(data)

    def _merge(self, items: list[dict]) -> None:
        """Append new messages (lock held), keeping at most `_cap` shown."""
        new = [msg for msg in items if msg["id"] not in self._ids]
        if not new:
            return
        self.messages.extend(new)
        self.messages.sort(key=lambda msg: msg["id"])
        self._ids.update(msg["id"] for msg in new)
        if len(self.messages) > self._cap:
            dropped = self.messages[: len(self.messages) - self._cap]
            self.messages = self.messages[len(dropped):]
            self._ids.difference_update(msg["id"] for msg in dropped)
            self._older = True
        self._render()

    # --- actions ----------------------------------------------------------------------

    def send(self, _button: widgets.Button | None = None) -> None:
        """Send the text box to the room (Send or Enter); the service may refuse."""
        # Not @action: that would enable the button again even when the member may not
        # write now (the room status decides).
        self.clear_notice()
        self.guard(self._post_message)

    def _post_message(self) -> None:
        text = self.input.value.strip()
        if not text:
            self.notice(_("Write a message first."), "info")
            return
        if self.room_id is None:
            self.notice(_("Pick a room first."), "info")
            return
        message = self.client.post(f"rooms/{self.room_id}/messages", {"body": text})
        self.input.value = ""
        with self._lock:
            self._merge([message])

    @action
    def load_older(self) -> None:
        with self._lock:
            if not self.messages or self.room_id is None:
                return
            oldest, room_id = self.messages[0]["id"], self.room_id
        data = self.client.get(f"rooms/{room_id}/messages", before=oldest, limit=PAGE)
        with self._lock:
            if room_id != self.room_id:
                return
            older = [msg for msg in data["items"] if msg["id"] not in self._ids]
            self.messages = older + self.messages
            self._ids.update(msg["id"] for msg in older)
            self._cap = min(MAX_LOADED, max(self._cap, len(self.messages)))
            self._older = data.get("next") is not None and len(self.messages) < MAX_LOADED
            self._render()

    @action
    def create_room(self) -> None:
        name = self.room_name.value.strip()
        if not name:
            self.notice(_("Give the room a name."), "info")
            return
        room = self.client.post(f"spaces/{self.space}/rooms",
                                {"name": name, "supervised": self.room_supervised.value})
        self.room_name.value = ""
        self.room_supervised.value = False
        self._stop_loop(leave=True)
        self.room_id = room["id"]
        self.refresh()
        self.notice(_("Room {name} is open.").format(name=room["name"]), "success")

    # --- reading the state (tests, other kernels) -------------------------------------

    def shown_messages(self) -> list[dict]:
        """The messages on screen, oldest first: {id, author, time, text}."""
        with self._lock:
            return [
                {
                    "id": msg["id"],
                    "author": (msg.get("author") or {}).get("display_name"),
                    "time": msg["created_at"],
                    "text": msg["body"],
                }
                for msg in self.messages
            ]

    # --- rendering --------------------------------------------------------------------

    def _render(self) -> None:
        rows = []
        # Newest first in a column-reverse box: it reads oldest-to-newest and stays
        # scrolled to the newest message.
        for msg in reversed(self.messages):
            author = (msg.get("author") or {}).get("display_name") or _("Former member")
            # The name opens the author's profile.
            linked = profile_link(self.space, (msg.get("author") or {}).get("name"), author)
            hidden = (f' <i style="color:#7a1212">({escape(_("hidden"))})</i>'
                      if msg.get("hidden") else "")
            rows.append(
                f'<div class="twinspace-chat-message" style="margin:2px 0">'
                f"<b>{linked}</b> "
                f'<span style="color:#555">{escape(short_time(msg.get("created_at")))}</span>'
                f'{hidden}<div style="white-space:pre-wrap">{escape(msg["body"])}</div></div>'
            )
        if not rows:
            rows.append(f"<p><i>{escape(_('No messages yet: say hello!'))}</i></p>")
        self.messages_view.value = (
            '<div role="log" aria-live="polite" style="display:flex;flex-direction:'
            'column-reverse;max-height:360px;overflow-y:auto;border:1px solid #ccc;'
            f'padding:6px;border-radius:4px">{"".join(rows)}</div>'
        )
        self.older_button.layout.display = "" if self._older else "none"

    def _show_status(self, data: dict) -> None:
        """Presence, the supervised badge and whether the member may write now."""
        self.status = {key: data.get(key) for key in
                       ("present", "teacher_present", "supervised", "can_post")}
        present = data.get("present") or []
        if present:
            names = ", ".join(
                f"{escape(p.get('display_name'))} ({escape(role_label(p.get('role', '')).lower())})"
                for p in present
            )
            self.present_view.value = f"<p>{escape(_('In the room now:'))} {names}</p>"
        else:
            self.present_view.value = f"<p><i>{escape(_('Nobody is in the room.'))}</i></p>"
        if data.get("supervised"):
            self.badge.value = (
                f'<span style="{BADGE_STYLE};padding:2px 8px;border-radius:10px" '
                f'title="{escape(_("Pupils can write only while a teacher is here."))}">'
                f"{escape(_('Supervised'))}</span>"
            )
        else:
            self.badge.value = ""
        can_post = bool(data.get("can_post"))
        self.input.disabled = not can_post
        self.send_button.disabled = not can_post
        if can_post:
            self.reason.value = ""
            self.reason.layout.display = "none"
            return
        if data.get("supervised") and not data.get("teacher_present"):
            why = _("This room is supervised: pupils can write only while a teacher is here.")
        else:
            why = _("You may not write in this chat.")
        self.reason.value = (
            f'<div role="status" style="{BANNER_STYLES["info"]};padding:4px 8px;'
            f'border-radius:4px">{escape(why)}</div>'
        )
        self.reason.layout.display = ""

    def close(self) -> None:
        """Stop following the room (and leave it) when the widget goes away."""
        self.heartbeat.stop()
        self._stop_loop(leave=True)
        if self._beat_client is not None:
            self._beat_client.session.close()
        super().close()
