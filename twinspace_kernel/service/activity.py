"""Latest activities of a space (F15): newest first, only what the reader may see."""

from __future__ import annotations

import time

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from .. import rights
from ..store import models as m
from .base import APIHandler
from .content import CONTENT_TYPES


def _shown_condition(model: type, path: tuple) -> object:
    """An event's object of `model` still exists and neither it nor what it belongs to
    (a comment's post, a reply's thread) is hidden."""
    query = select(model.id).where(model.id == m.ActivityEvent.object_id)
    if hasattr(model, "hidden"):
        query = query.where(model.hidden.is_(False))
    current = model
    for attribute, parent in path:
        if parent in (m.AppInstance, m.Space):
            break
        above = aliased(parent)
        query = query.join(above, above.id == getattr(current, attribute))
        if hasattr(parent, "hidden"):
            query = query.where(above.hidden.is_(False))
        current = above
    return exists(query)


# Content a moderator may hide or delete, by the table name events carry as object_type.
# Calendar events are left out: a moved or cancelled date stays part of the history.
_MODERATED = {entry.model.__tablename__: entry for entry in CONTENT_TYPES.values()
              if entry.model is not m.Event}


def moderation_filter():
    """Lines about hidden or deleted content are left out of Latest activities (their
    titles and text with them); deletion lines stay, without what was deleted."""
    return or_(
        m.ActivityEvent.object_type.notin_(list(_MODERATED)),
        m.ActivityEvent.verb.endswith(".delete"),
        *(and_(m.ActivityEvent.object_type == table, _shown_condition(entry.model, entry.path))
          for table, entry in _MODERATED.items()),
    )


# The kinds of content whose deletion lines carry the deleted item's title or text.
_CONTENT_VERBS = frozenset({"blog", "forum", "wiki", "document", "photo", "wall", "chat"})


def deletion_line(event: m.ActivityEvent) -> bool:
    """A line saying content was deleted (perhaps by a moderator, for what it said)."""
    return event.verb.endswith(".delete") and event.verb.split(".")[0] in _CONTENT_VERBS


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
        query = select(m.ActivityEvent).where(m.ActivityEvent.space_id == space.id,
                                              moderation_filter())
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
        if deletion_line(event):
            return ""
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
