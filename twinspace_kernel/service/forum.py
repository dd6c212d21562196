"""Forums (F19): threads that sort by their newest reply, replies with quotes."""

from __future__ import annotations

from sqlalchemy import case, func, select

from .. import rights
from ..store import models as m
from .base import MAX_PAGE, APIError, APIHandler, utcnow
from .sanitize import plain_text, render_markdown

TITLE_MAX = 200
BODY_MAX = 20_000
EXCERPT_CHARS = 200


class ForumHandler(APIHandler):
    """Shared loading and serialising for threads and replies."""

    def thread_context(self, thread_id):
        """(thread, page, space) for a thread the caller may view; 404 if hidden from them."""
        thread = self.load(m.ForumThread, thread_id, "thread")
        _app, page, space = self.app_context(thread.app_id)
        self.require_page(page)
        if thread.hidden and not self.may(space, "moderate", page.section):
            raise APIError(404, "No such thread.")
        return thread, page, space

    def reply_context(self, reply_id):
        """(reply, thread, page, space) for a reply the caller may view."""
        reply = self.load(m.ForumReply, reply_id, "reply")
        thread, page, space = self.thread_context(reply.thread_id)
        if reply.hidden and not self.may(space, "moderate", page.section):
            raise APIError(404, "No such reply.")
        return reply, thread, page, space

    def first_reply_id(self, thread_id: int) -> int | None:
        return self.db.scalar(
            select(func.min(m.ForumReply.id)).where(m.ForumReply.thread_id == thread_id)
        )

    def may_edit(self, space: m.Space, section: str, author_id: int | None, role: str) -> bool:
        user = self.identity.user
        is_author = user is not None and author_id == user.id
        return rights.may_edit(role, section, is_author=is_author, state=space.state)

    def thread_json(self, thread: m.ForumThread, space: m.Space, section: str, role: str,
                    last: m.ForumReply | None = None) -> dict:
        return {
            "id": thread.id,
            "app_id": thread.app_id,
            "title": thread.title,
            "author": self.author(thread.author_id),
            "created_at": thread.created_at,
            # Counts every reply, the opening one included.
            "reply_count": thread.reply_count,
            "last_post_id": thread.last_post_id,
            "last_post": None if last is None else {
                "id": last.id,
                "author": self.author(last.author_id),
                "created_at": last.created_at,
            },
            "may_edit": self.may_edit(space, section, thread.author_id, role),
            "hidden": thread.hidden,
        }

    def reply_json(self, reply: m.ForumReply, space: m.Space, section: str, role: str,
                   first_id: int | None, moderator: bool) -> dict:
        return {
            "id": reply.id,
            "thread_id": reply.thread_id,
            "body": reply.body,
            "body_html": reply.body_html,
            "author": self.author(reply.author_id),
            "created_at": reply.created_at,
            "updated_at": reply.updated_at,
            "first": reply.id == first_id,
            "quote": self.quote_json(reply.quote_id, moderator),
            "may_edit": self.may_edit(space, section, reply.author_id, role),
            "hidden": reply.hidden,
        }

    def quote_json(self, quote_id: int | None, moderator: bool) -> dict | None:
        if quote_id is None:
            return None
        quoted = self.db.get(m.ForumReply, quote_id)
        if quoted is None:
            return None
        if quoted.hidden and not moderator:
            return {"id": quoted.id, "author": None, "excerpt": "", "hidden": True}
        return {
            "id": quoted.id,
            "author": self.author(quoted.author_id),
            "excerpt": plain_text(quoted.body_html, EXCERPT_CHARS) if quoted.body_html else "",
            "hidden": quoted.hidden,
        }

    def replies_page(self, thread: m.ForumThread, space: m.Space, section: str) -> dict:
        """One page of a thread's replies, oldest first (`?after=`, `?limit=`)."""
        role = self.role_in(space)
        moderator = self.may(space, "moderate", section, role=role)
        query = select(m.ForumReply).where(m.ForumReply.thread_id == thread.id)
        if not moderator:
            query = query.where(m.ForumReply.hidden.is_(False))
        replies, cursor = self.keyset(query, m.ForumReply.id, newest_first=False)
        first_id = self.first_reply_id(thread.id)
        items = [
            self.reply_json(r, space, section, role, first_id, moderator) for r in replies
        ]
        return {"items": items, "next": cursor}

    def new_reply(self, thread: m.ForumThread, text: str, quote_id: int | None = None):
        now = utcnow()
        reply = m.ForumReply(
            thread_id=thread.id, author_id=self.me.id, body=text,
            body_html=render_markdown(text), quote_id=quote_id, created_at=now, updated_at=now,
        )
        self.db.add(reply)
        self.db.flush()
        # SQL expressions, so that two replies committed at once both count.
        thread.reply_count = m.ForumThread.reply_count + 1
        thread.last_post_id = case(
            (m.ForumThread.last_post_id < reply.id, reply.id), else_=m.ForumThread.last_post_id
        )
        self.db.flush()
        return reply


class ThreadsHandler(ForumHandler):
    def get(self, app_id):
        """A forum's threads, newest activity first (`?before=` the `next` cursor, `?limit=`)."""
        app, page, space = self.app_context(app_id, "forum")
        role = self.require_page(page)
        moderator = self.may(space, "moderate", page.section, role=role)
        limit = self.int_arg("limit", 50, low=1, high=MAX_PAGE)
        before = self.int_arg("before")
        query = select(m.ForumThread).where(m.ForumThread.app_id == app.id)
        if not moderator:
            query = query.where(m.ForumThread.hidden.is_(False))
        if before is not None:
            query = query.where(m.ForumThread.last_post_id < before)
        threads = list(
            self.db.scalars(
                query.order_by(m.ForumThread.last_post_id.desc(), m.ForumThread.id.desc())
                .limit(limit + 1)
            )
        )
        cursor = threads[limit - 1].last_post_id if len(threads) > limit else None
        threads = threads[:limit]
        last = {
            r.id: r
            for r in self.db.scalars(
                select(m.ForumReply).where(
                    m.ForumReply.id.in_([t.last_post_id for t in threads])
                )
            )
        } if threads else {}
        items = [
            self.thread_json(t, space, page.section, role, last.get(t.last_post_id))
            for t in threads
        ]
        if not moderator:
            for item in items:
                reply = last.get(item["last_post_id"])
                if reply is not None and reply.hidden:
                    item["last_post"] = None
        self.write_json({"items": items, "next": cursor})

    def post(self, app_id):
        """Open a thread: a `title` and the first reply's Markdown `body`."""
        app, page, space = self.app_context(app_id, "forum")
        role = self.require(space, "open_thread", page.section)
        body = self.json_body()
        title = self.field(body, "title", max_len=TITLE_MAX)
        text = self.field(body, "body", max_len=BODY_MAX)
        thread = m.ForumThread(
            app_id=app.id, author_id=self.me.id, title=title, last_post_id=0, reply_count=0,
            created_at=utcnow(),
        )
        self.db.add(thread)
        self.db.flush()
        reply = self.new_reply(thread, text)
        self.record(space, "forum.thread", page.section, page=page, obj=thread, summary=title)
        self.commit(f"space:{space.id}")
        result = self.thread_json(thread, space, page.section, role, reply)
        result["replies"] = {
            "items": [self.reply_json(reply, space, page.section, role, reply.id, False)],
            "next": None,
        }
        self.write_json(result, 201)


class ThreadHandler(ForumHandler):
    def get(self, thread_id):
        """A thread with the first page of its replies, oldest first (`?after=`, `?limit=`)."""
        thread, page, space = self.thread_context(thread_id)
        role = self.role_in(space)
        result = self.thread_json(
            thread, space, page.section, role, self.db.get(m.ForumReply, thread.last_post_id)
        )
        result["replies"] = self.replies_page(thread, space, page.section)
        self.write_json(result)

    def patch(self, thread_id):
        """Rename a thread (`title`; its author, or a moderator)."""
        thread, page, space = self.thread_context(thread_id)
        role = self.require_edit(space, page.section, thread.author_id)
        thread.title = self.field(self.json_body(), "title", max_len=TITLE_MAX)
        self.record(space, "forum.thread.edit", page.section, page=page, obj=thread,
                    summary=thread.title)
        self.commit(f"space:{space.id}")
        self.write_json(self.thread_json(
            thread, space, page.section, role, self.db.get(m.ForumReply, thread.last_post_id)
        ))

    def delete(self, thread_id):
        """Delete a thread and all its replies (its author, or a moderator)."""
        thread, page, space = self.thread_context(thread_id)
        self.require_edit(space, page.section, thread.author_id)
        self.record(space, "forum.thread.delete", page.section, page=page,
                    summary=thread.title)
        self.db.delete(thread)
        self.db.flush()
        self.moderated_delete(space, thread, thread.author_id)
        self.commit(f"space:{space.id}")
        self.no_content()


class RepliesHandler(ForumHandler):
    def get(self, thread_id):
        """A thread's replies, oldest first (`?after=` the `next` cursor, `?limit=`)."""
        thread, page, space = self.thread_context(thread_id)
        self.write_json(self.replies_page(thread, space, page.section))

    def post(self, thread_id):
        """Reply (Markdown `body`), optionally quoting `quote_id`, a reply of this thread."""
        thread, page, space = self.thread_context(thread_id)
        role = self.require(space, "reply", page.section)
        moderator = self.may(space, "moderate", page.section, role=role)
        body = self.json_body()
        text = self.field(body, "body", max_len=BODY_MAX)
        quote_id = self.field(body, "quote_id", int, default=None)
        if quote_id is not None:
            quoted = self.db.get(m.ForumReply, quote_id)
            if (
                quoted is None
                or quoted.thread_id != thread.id
                or (quoted.hidden and not moderator)
            ):
                raise APIError(400, "'quote_id' must be a reply of this thread.")
        reply = self.new_reply(thread, text, quote_id)
        self.record(space, "forum.reply", page.section, page=page, obj=reply,
                    summary=f"{thread.title}: {plain_text(reply.body_html, 120)}")
        self.commit(f"space:{space.id}")
        first_id = self.first_reply_id(thread.id)
        self.write_json(
            self.reply_json(reply, space, page.section, role, first_id, moderator), 201
        )


class ReplyHandler(ForumHandler):
    def get(self, reply_id):
        """One reply."""
        reply, thread, page, space = self.reply_context(reply_id)
        role = self.role_in(space)
        moderator = self.may(space, "moderate", page.section, role=role)
        self.write_json(self.reply_json(
            reply, space, page.section, role, self.first_reply_id(thread.id), moderator
        ))

    def patch(self, reply_id):
        """Edit a reply's `body` (its author, or a moderator)."""
        reply, thread, page, space = self.reply_context(reply_id)
        role = self.require_edit(space, page.section, reply.author_id)
        text = self.field(self.json_body(), "body", max_len=BODY_MAX)
        reply.body = text
        reply.body_html = render_markdown(text)
        reply.updated_at = utcnow()
        self.record(space, "forum.reply.edit", page.section, page=page, obj=reply,
                    summary=f"{thread.title}: {plain_text(reply.body_html, 120)}")
        self.commit(f"space:{space.id}")
        moderator = self.may(space, "moderate", page.section, role=role)
        self.write_json(self.reply_json(
            reply, space, page.section, role, self.first_reply_id(thread.id), moderator
        ))

    def delete(self, reply_id):
        """Delete a reply (its author, or a moderator); the opening reply goes with its thread."""
        reply, thread, page, space = self.reply_context(reply_id)
        self.require_edit(space, page.section, reply.author_id)
        if reply.id == self.first_reply_id(thread.id):
            raise APIError(409, "This is the thread's opening message: delete the thread instead.")
        self.db.delete(reply)
        self.db.flush()
        thread.reply_count = m.ForumThread.reply_count - 1
        if thread.last_post_id == reply.id:
            thread.last_post_id = self.db.scalar(
                select(func.max(m.ForumReply.id)).where(m.ForumReply.thread_id == thread.id)
            ) or 0
        self.record(space, "forum.reply.delete", page.section, page=page, summary=thread.title)
        self.moderated_delete(space, reply, reply.author_id)
        self.commit(f"space:{space.id}")
        self.no_content()


default_handlers = [
    (r"/apps/(?P<app_id>\d+)/threads", ThreadsHandler),
    (r"/threads/(?P<thread_id>\d+)", ThreadHandler),
    (r"/threads/(?P<thread_id>\d+)/replies", RepliesHandler),
    (r"/replies/(?P<reply_id>\d+)", ReplyHandler),
]
