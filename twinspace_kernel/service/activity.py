"""Latest activities of a space (F15): newest first, only what the reader may see."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from .. import rights
from ..store import models as m
from .base import APIHandler


class ActivityHandler(APIHandler):
    async def get(self, slug):
        """Latest activities, newest first; `?after=<id>&wait=<s>` long-polls for new ones.

        Only events the reader may see are listed: those of sections the reader may view
        and, for the public, those of published pages of a published space. The filter
        runs in the query itself, so `?before=` pages are always full.
        """
        space = self.load_space(slug)
        role = self.require(space, "view", "home", published=space.public)
        space_id = space.id
        after = self.int_arg("after")
        wait = self.float_arg("wait", 0, high=self.ctx.long_poll_max)
        query = self.visible(space, role)
        deadline = time.monotonic() + wait
        while True:
            rows, cursor = self.keyset(query, m.ActivityEvent.id)
            remaining = deadline - time.monotonic()
            if after is None or rows or remaining <= 0:
                break
            # End the transaction: after waking, read a fresh snapshot.
            self.db.rollback()
            await self.ctx.notifier.wait(f"space:{space_id}", remaining)
            if self.request.connection.stream.closed():
                return
        if after is not None:
            # Keyset answers oldest first after a cursor; the feed reads newest first.
            last_id = rows[-1].id if rows else after
            rows, cursor = rows[::-1], None
        else:
            last_id = self.db.scalar(query.with_only_columns(func.max(m.ActivityEvent.id))) or 0
        viewer = "public" if role == "public" else None
        items = [self.event_json(e, viewer) for e in rows]
        self.write_json({"items": items, "next": cursor, "last_id": last_id})

    def visible(self, space: m.Space, role: str):
        """The query of the events of `space` that `role` may see (from rights.py)."""
        query = select(m.ActivityEvent).where(m.ActivityEvent.space_id == space.id)
        if role == "public":
            sections = [
                s for s in rights.SECTIONS
                if rights.allowed(role, "view", s, state=space.state, published=True)
            ]
            if not space.public:
                sections = []
            return (
                query.join(m.Page, m.Page.id == m.ActivityEvent.page_id)
                .where(m.Page.published.is_(True), m.Page.space_id == space.id)
                .where(m.ActivityEvent.section.in_(sections))
            )
        sections = [
            s for s in rights.SECTIONS
            if rights.allowed(role, "view", s, state=space.state, published=space.public)
        ]
        return query.where(m.ActivityEvent.section.in_(sections))

    def event_json(self, event: m.ActivityEvent, viewer: str | None) -> dict:
        return {
            "id": event.id,
            "verb": event.verb,
            "section": event.section,
            "page_id": event.page_id,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "summary": self.summary_for(event, viewer),
            "actor": self.author(event.actor_id, viewer),
            "created_at": event.created_at,
        }

    def summary_for(self, event: m.ActivityEvent, viewer: str | None) -> str:
        """The summary, with a member's name as the reader may see it (F31)."""
        if event.object_type != m.User.__tablename__ or not event.object_id:
            return event.summary
        user = self.db.get(m.User, event.object_id)
        if user is None or not user.display_name:
            return event.summary
        shown = self.user_brief(user, viewer_role=viewer)["display_name"]
        return event.summary.replace(user.display_name, shown)


default_handlers = [
    (r"/spaces/(?P<slug>[^/]+)/activity", ActivityHandler),
]
