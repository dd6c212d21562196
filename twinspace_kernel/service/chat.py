"""Chat rooms, live messages and who is in the room now (F28), supervised rooms (F29)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from .. import rights
from ..store import models as m
from .base import MAX_PAGE, APIError, APIHandler, as_utc, utcnow, with_role

SECTION = "chat"
MAX_BODY = 2000
SUPERVISED = "This room is supervised: pupils can write only while a teacher is here."
ROOM_CONTEXT = with_role(
    select(m.ChatRoom, m.Space)
    .join(m.Space, m.Space.id == m.ChatRoom.space_id)
    .where(m.ChatRoom.id == bindparam("id"))
)


@dataclass
class RoomState:
    """A room as one reader sees it at one moment (shared by the listeners one message
    woke: plain data, no database objects)."""

    supervised: bool
    present: list[dict]
    departure: float | None  # seconds until the first one present stops counting
    items: list[dict]
    more: bool


class ChatBase(APIHandler):
    """Loading rooms, presence and the supervised-room rule shared by the chat handlers."""

    def load_room(self, room_id) -> tuple[m.ChatRoom, m.Space]:
        room, space = self.load_with_role(ROOM_CONTEXT, room_id, "chat room")
        return room, space

    def present(self, room: m.ChatRoom) -> list[dict]:
        """Members whose presence in `room` is fresher than ctx.presence_seconds."""
        return self.presence(room)[0]

    def presence(self, room: m.ChatRoom) -> tuple[list[dict], float | None]:
        """(who is in `room`, seconds until the first of them stops counting as there)."""
        since = utcnow() - dt.timedelta(seconds=self.ctx.presence_seconds)
        rows = self.db.execute(
            select(m.User, m.Membership.role, m.ChatPresence.last_seen)
            .join(m.ChatPresence, m.ChatPresence.user_id == m.User.id)
            .join(
                m.Membership,
                (m.Membership.user_id == m.User.id) & (m.Membership.space_id == room.space_id),
            )
            .where(m.ChatPresence.room_id == room.id, m.ChatPresence.last_seen > since)
            .order_by(m.User.display_name, m.User.id)
        ).all()
        present = [{**self.user_brief(user), "role": role} for user, role, _seen in rows]
        oldest = min((as_utc(seen) for _u, _r, seen in rows), default=None)
        return present, (oldest - since).total_seconds() if oldest is not None else None

    @staticmethod
    def teacher_present(present: list[dict]) -> bool:
        # Supervision (F29) is about who is in the room: teachers supervise.
        return any(p["role"] in rights.TEACHER_ROLES for p in present)

    def supervised_block(self, supervised: bool, role: str, present: list[dict]) -> bool:
        """True when the supervised-room rule keeps `role` from writing now."""
        return rights.supervised_chat_blocks(
            role, supervised=supervised, present_roles=[p["role"] for p in present]
        )

    @property
    def fresh_enough(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.ctx.presence_seconds / 6)

    def touch(self, room_id: int, user_id: int) -> bool:
        """Refresh the caller's presence (committed); True if they just arrived.

        Only the presence heartbeat calls it: the chat widget sends one while the browser
        showing it is open (reading or posting messages is not being there, F29).
        """
        since = utcnow() - dt.timedelta(seconds=self.ctx.presence_seconds)
        for _attempt in range(3):
            now = utcnow()
            row = self.db.scalar(
                select(m.ChatPresence).where(
                    m.ChatPresence.room_id == room_id, m.ChatPresence.user_id == user_id
                )
            )
            arrived = row is None or as_utc(row.last_seen) <= since
            if not arrived and now - as_utc(row.last_seen) < self.fresh_enough:
                return False  # refreshed a moment ago: spare the write
            if row is None:
                self.db.add(m.ChatPresence(room_id=room_id, user_id=user_id, last_seen=now))
            else:
                row.last_seen = now
            try:
                self.db.commit()
            except IntegrityError:
                # Another request of the same member inserted it first: update instead.
                self.db.rollback()
                continue
            if arrived:
                self.ctx.notifier.notify(f"room:{room_id}")
            return arrived
        raise APIError(409, "Could not record your presence in the room; please try again.")

    def check_free(self, space_id: int, name: str, room_id: int | None = None) -> None:
        other = self.db.scalar(
            select(m.ChatRoom.id).where(m.ChatRoom.space_id == space_id, m.ChatRoom.name == name)
        )
        if other is not None and other != room_id:
            raise APIError(409, f"There is already a room called {name}.")

    def room_json(self, room: m.ChatRoom, *, with_presence: bool = True) -> dict:
        body = {
            "id": room.id,
            "space": self.db.get(m.Space, room.space_id).slug,
            "name": room.name,
            "supervised": room.supervised,
            "created_at": room.created_at,
            # How long a heartbeat counts: the widget sends them well within it.
            "presence_seconds": self.ctx.presence_seconds,
        }
        if with_presence:
            present = self.present(room)
            body["present"] = present
            body["teacher_present"] = self.teacher_present(present)
        return body

    def message_json(self, msg: m.ChatMessage) -> dict:
        return {
            "id": msg.id,
            "room_id": msg.room_id,
            "body": msg.body,
            "author": self.author(msg.author_id),
            "created_at": msg.created_at,
            "hidden": msg.hidden,
        }


class RoomsHandler(ChatBase):
    def get(self, slug):
        """The chat rooms of a space, with who is in each room now."""
        space = self.load_space(slug)
        self.require(space, "view", SECTION)
        rooms = self.db.scalars(
            select(m.ChatRoom).where(m.ChatRoom.space_id == space.id).order_by(m.ChatRoom.id)
        )
        self.write_json({"items": [self.room_json(r) for r in rooms], "next": None})

    def post(self, slug):
        """Open a chat room (teachers): {name, supervised?}."""
        space = self.load_space(slug)
        self.require(space, "manage_pages", SECTION)
        body = self.json_body()
        name = self.field(body, "name", max_len=120)
        supervised = self.field(body, "supervised", bool, default=False)
        self.check_free(space.id, name)
        room = m.ChatRoom(
            space_id=space.id, name=name, supervised=supervised, created_by_id=self.me.id
        )
        self.db.add(room)
        self.db.flush()
        self.record(space, "chat.room", SECTION, obj=room, summary=name)
        self.commit(f"space:{space.id}")
        self.write_json(self.room_json(room), 201)


class RoomHandler(ChatBase):
    def get(self, room_id):
        """One chat room, with who is in it now."""
        room, space = self.load_room(room_id)
        self.require(space, "view", SECTION)
        self.write_json(self.room_json(room))

    def patch(self, room_id):
        """Rename a room or change whether it is supervised (teachers)."""
        room, space = self.load_room(room_id)
        self.require(space, "manage_pages", SECTION)
        body = self.json_body()
        if "name" in body:
            name = self.field(body, "name", max_len=120)
            self.check_free(space.id, name, room.id)
            room.name = name
        if "supervised" in body:
            room.supervised = self.field(body, "supervised", bool)
        self.record(space, "chat.room_update", SECTION, obj=room, summary=room.name)
        self.commit(f"space:{space.id}", f"room:{room.id}")
        self.write_json(self.room_json(room))

    def delete(self, room_id):
        """Delete a room and its messages (teachers); a space keeps at least one room."""
        room, space = self.load_room(room_id)
        self.require(space, "manage_pages", SECTION)
        count = self.db.scalar(
            select(func.count()).select_from(m.ChatRoom).where(m.ChatRoom.space_id == space.id)
        )
        if count <= 1:
            raise APIError(409, "A space keeps at least one chat room.")
        self.record(space, "chat.room_delete", SECTION, summary=room.name)
        rid = room.id
        self.db.delete(room)
        self.commit(f"space:{space.id}", f"room:{rid}")
        self.no_content()


class MessagesHandler(ChatBase):
    async def get(self, room_id):
        """Messages of a room; `?after=<id>&wait=<s>` long-polls for new ones.

        Without `after`: the newest `limit` messages (or those before `?before=`), oldest
        first. With `after`: messages newer than it, waiting up to `wait` seconds for one
        when there are none yet, or for someone to come into the room or leave it. Reading
        is not being in the room: only the presence heartbeat (POST .../presence) counts,
        so a kernel still polling after its page closed supervises nobody (F29).
        """
        room, space = self.load_room(room_id)
        role = self.require(space, "view", SECTION)
        rid = room.id
        limit = self.int_arg("limit", 50, low=1, high=MAX_PAGE)
        after = self.int_arg("after")
        before = self.int_arg("before")
        wait = self.float_arg("wait", 0, high=self.ctx.long_poll_max)
        moderator = self.may(space, "moderate", SECTION, role=role)
        deadline = time.monotonic() + wait
        key = f"room:{rid}"
        seen_present = None
        state = self.read_room(room, after, before, limit, moderator)
        while True:
            signature = [p["name"] for p in state.present]
            remaining = deadline - time.monotonic()
            if after is None or state.items or remaining <= 0:
                break
            if seen_present is not None and signature != seen_present:
                break  # someone came in or left: tell the waiting member
            seen_present = signature
            # Nobody announces a departure (a closed page just stops its heartbeats): wake
            # when the first presence runs out, so pupils learn the teacher has gone.
            if state.departure is not None:
                remaining = min(remaining, max(state.departure, 0.05) + 0.05)
            # End the transaction so the next read sees a fresh snapshot (PostgreSQL)
            # and the connection goes back to the pool while we wait.
            self.db.rollback()
            notified = await self.ctx.notifier.wait(key, remaining)
            if self.request.connection.stream.closed():
                return

            def read_again():
                # After a wait the room may have changed or gone.
                again = self.db.scalar(select(m.ChatRoom).where(m.ChatRoom.id == rid))
                return again and self.read_room(again, after, before, limit, moderator)

            # Every listener of the room was woken by the same message: one reads for all
            # who would see the same answer. A timeout (a departure) reads afresh.
            question = (after, limit, moderator, self.viewer_role())
            state = (self.ctx.notifier.shared(key, question, read_again) if notified
                     else read_again())
            if state is None:
                raise APIError(404, "No such chat room.")
        if after is not None:
            last_id = state.items[-1]["id"] if state.items else after
        else:
            newest = self.db.scalar(
                select(func.max(m.ChatMessage.id)).where(m.ChatMessage.room_id == rid)
            )
            last_id = newest or 0
        self.write_json(
            {
                "items": state.items,
                "next": state.items[0]["id"] if state.more and after is None and state.items
                else None,
                "last_id": last_id,
                "present": state.present,
                "teacher_present": self.teacher_present(state.present),
                "supervised": state.supervised,
                "can_post": self.may(space, "chat", SECTION, role=role)
                and not self.supervised_block(state.supervised, role, state.present),
            }
        )

    def read_room(self, room: m.ChatRoom, after, before, limit, moderator) -> RoomState:
        """What a reader of `room` is answered: its messages (as JSON), who is there."""
        present, departure = self.presence(room)
        rows, more = self._messages(room.id, after, before, limit, moderator)
        self.load_authors(msg.author_id for msg in rows)
        return RoomState(room.supervised, present, departure,
                         [self.message_json(msg) for msg in rows], more)

    def _messages(self, rid, after, before, limit, moderator):
        query = select(m.ChatMessage).where(m.ChatMessage.room_id == rid)
        if not moderator:
            query = query.where(m.ChatMessage.hidden.is_(False))
        if before is not None:
            query = query.where(m.ChatMessage.id < before)
        if after is not None:
            query = query.where(m.ChatMessage.id > after).order_by(m.ChatMessage.id)
            rows = list(self.db.scalars(query.limit(limit + 1)))
            return rows[:limit], len(rows) > limit
        rows = list(self.db.scalars(query.order_by(m.ChatMessage.id.desc()).limit(limit + 1)))
        more = len(rows) > limit
        return rows[:limit][::-1], more

    def post(self, room_id):
        """Post a message (plain text, at most 2000 characters)."""
        room, space = self.load_room(room_id)
        role = self.require(space, "chat", SECTION)
        body = self.field(self.json_body(), "body", max_len=MAX_BODY)
        # Posting is not being in the room (a teacher's script is not supervision). Who
        # is present only matters in a supervised room.
        present = self.present(room) if room.supervised else []
        if self.supervised_block(room.supervised, role, present):
            raise APIError(403, SUPERVISED)
        # A Core insert: the ORM's unit of work cost more than the rest of the request.
        values = {"room_id": room.id, "author_id": self.me.id, "body": body, "hidden": False,
                  "created_at": utcnow()}
        result = self.db.connection().execute(insert(m.ChatMessage), values)
        msg = m.ChatMessage(id=result.inserted_primary_key[0], **values)  # not in the session
        # No Latest-activities line per message: the chat is its own live view.
        self.commit(f"room:{room.id}", f"space:{space.id}")
        self.write_json(self.message_json(msg), 201)


class PresenceHandler(ChatBase):
    def post(self, room_id):
        """Join a room or say you are still there (the open chat widget's heartbeat)."""
        room, space = self.load_room(room_id)
        self.require(space, "view", SECTION)
        self.touch(room.id, self.me.id)
        self.write_json(self.room_json(room))

    def delete(self, room_id):
        """Leave a room."""
        room, space = self.load_room(room_id)
        self.require(space, "view", SECTION)
        row = self.db.get(m.ChatPresence, (room.id, self.me.id))
        if row is not None:
            self.db.delete(row)
            self.commit(f"room:{room.id}")
        self.no_content()


default_handlers = [
    (r"/spaces/(?P<slug>[^/]+)/rooms", RoomsHandler),
    (r"/rooms/(?P<room_id>[^/]+)", RoomHandler),
    (r"/rooms/(?P<room_id>[^/]+)/messages", MessagesHandler),
    (r"/rooms/(?P<room_id>[^/]+)/presence", PresenceHandler),
]
