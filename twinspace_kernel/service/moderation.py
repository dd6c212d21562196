"""Reports, moderation (hide, unhide, delete, dismiss) and the moderation log (F32)."""

from __future__ import annotations

import logging

from sqlalchemy import func, select, update

from .. import rights
from ..store import models as m
from . import content
from .base import APIError, APIHandler, utcnow

log = logging.getLogger("twinspace.service")

REPORT_STATUSES = ("open", "resolved")
MODERATION_ACTIONS = ("hide", "unhide", "delete")
# How much of a reported item's text moderators read in the queue (the excerpt is shorter).
TEXT_LENGTH = 2000


def log_moderation(
    handler: APIHandler,
    space: m.Space,
    action: str,
    obj,
    *,
    report_id: int | None = None,
    reason: str = "",
) -> m.ModerationAction:
    """Write a moderator's hide, unhide or delete of `obj` to the log; close its open reports.

    The one place every moderator action goes through, from the queue or from an item's
    own menu. For a delete, call it once the row is deleted and flushed: the open reports
    on items that went with it (a post's comments) close too.
    """
    moderator = handler.me
    close_reports(handler.db, space, obj, moderator, deleted=action == "delete")
    entry = m.ModerationAction(
        space_id=space.id,
        moderator_id=moderator.id,
        action=action,
        object_type=content.type_name(obj),
        object_id=obj.id,
        report_id=report_id,
        reason=reason,
    )
    handler.db.add(entry)
    return entry


def close_reports(db, space: m.Space, obj, by: m.User, *, deleted: bool) -> None:
    """Resolve the open reports on `obj` (by `by`); once `obj` is `deleted` (and flushed),
    also those on items that went with it (a post's comments)."""
    now = utcnow()
    db.execute(
        update(m.Report)
        .where(
            m.Report.space_id == space.id,
            m.Report.object_type == content.type_name(obj),
            m.Report.object_id == obj.id,
            m.Report.status == "open",
        )
        .values(status="resolved", resolved_by_id=by.id, resolved_at=now)
    )
    if not deleted:
        return
    for report in db.scalars(
        select(m.Report).where(m.Report.space_id == space.id, m.Report.status == "open")
    ):
        try:
            content.locate(db, report.object_type, report.object_id)
        except LookupError:
            report.status = "resolved"
            report.resolved_by_id = by.id
            report.resolved_at = now


class ModerationMixin:
    """Shared lookups of the moderation handlers (mixed into APIHandler subclasses)."""

    def located(self, body: dict) -> content.Located:
        """The content item named by `object_type` and `object_id` (400 / 404)."""
        object_type = self.field(body, "object_type", choices=tuple(content.CONTENT_TYPES))
        object_id = self.field(body, "object_id", int)
        try:
            return content.locate(self.db, object_type, object_id)
        except LookupError as e:
            raise APIError(404, str(e)) from None

    def located_or_none(self, object_type: str, object_id: int) -> content.Located | None:
        try:
            return content.locate(self.db, object_type, object_id)
        except LookupError:
            return None

    def report_json(self, report: m.Report, place: content.Located | None = ...) -> dict:
        if place is ...:
            place = self.located_or_none(report.object_type, report.object_id)
        body = {
            "id": report.id,
            "object_type": report.object_type,
            "object_id": report.object_id,
            "section": report.section,
            "page_id": place.page.id if place and place.page else None,
            "reason": report.reason,
            "status": report.status,
            "created_at": report.created_at,
            "reporter": self.author(report.reporter_id),
            "resolved_by": self.author(report.resolved_by_id),
            "resolved_at": report.resolved_at,
            # A deleted item leaves its reports behind: `exists` says so.
            "exists": place is not None,
            "excerpt": content.excerpt(place.obj) if place else None,
            "text": content.excerpt(place.obj, TEXT_LENGTH) if place else None,
            "author": self.author(place.author_id) if place else None,
            "hidden": bool(getattr(place.obj, "hidden", False)) if place else None,
            "context": self.place_context(place) if place else None,
        }
        last = self.db.scalar(
            select(m.ModerationAction.action)
            .where(m.ModerationAction.report_id == report.id)
            .order_by(m.ModerationAction.id.desc())
            .limit(1)
        )
        body["resolution"] = last
        return body

    def action_json(self, action: m.ModerationAction) -> dict:
        place = self.located_or_none(action.object_type, action.object_id)
        return {
            "id": action.id,
            "action": action.action,
            "object_type": action.object_type,
            "object_id": action.object_id,
            "report_id": action.report_id,
            "reason": action.reason,
            "created_at": action.created_at,
            "moderator": self.author(action.moderator_id),
            "exists": place is not None,
            "section": place.section if place else None,
            "page_id": place.page.id if place and place.page else None,
            "excerpt": content.excerpt(place.obj) if place else None,
            "hidden": bool(getattr(place.obj, "hidden", False)) if place else None,
            "author": self.author(place.author_id) if place else None,
            "context": self.place_context(place) if place else None,
        }

    def place_context(self, place: content.Located) -> dict:
        """Where an item is, so moderators read it in context: its page, its application,
        and what it belongs to (the thread of a reply, the post of a comment, …)."""
        db, obj = self.db, place.obj
        app = _app_of(db, obj)
        within = None
        if isinstance(obj, m.Comment):
            post = db.get(m.BlogPost, obj.post_id)
            within = {"type": "blog_post", "id": post.id, "title": post.title}
        elif isinstance(obj, m.ForumReply):
            thread = db.get(m.ForumThread, obj.thread_id)
            within = {"type": "forum_thread", "id": thread.id, "title": thread.title,
                      # A thread's opening message goes only with its thread.
                      "opening": obj.id == _first_reply_id(db, thread.id)}
        elif isinstance(obj, m.Photo):
            album = db.get(m.Album, obj.album_id)
            within = {"type": "album", "id": album.id, "title": album.title}
        elif isinstance(obj, m.ChatMessage):
            room = db.get(m.ChatRoom, obj.room_id)
            within = {"type": "chat_room", "id": room.id, "title": room.name}
        elif isinstance(obj, m.WallPost):
            within = {"type": "wall", "id": obj.wall_user_id,
                      "member": self.author(obj.wall_user_id)}
        return {
            "section": place.section,
            "page_id": place.page.id if place.page else None,
            "page_title": place.page.title if place.page else None,
            "app_id": app.id if app else None,
            "app_kind": app.kind if app else None,
            "app_title": app.title if app else None,
            "within": within,
        }


def _app_of(db, obj) -> m.AppInstance | None:
    """The application an item lives in (None for space-level items: chat, wall, events)."""
    current = obj
    for attribute, model in content.CONTENT_TYPES[content.type_name(obj)].path:
        current = db.get(model, getattr(current, attribute))
        if isinstance(current, m.AppInstance):
            return current
    return None


class ReportsHandler(ModerationMixin, APIHandler):
    login_required = True

    def post(self):
        """Report a content item to the space's moderators."""
        body = self.json_body()
        place = self.located(body)
        space = place.space
        published = self.page_published(place.page, space) if place.page else False
        self.require(space, place.view_action, place.section, published=published)
        if getattr(place.obj, "hidden", False) and not self.may(
            space, "moderate", place.section
        ):
            # Hidden items do not exist for those who cannot moderate them.
            raise APIError(404, f"No such {body['object_type'].replace('_', ' ')}.")
        self.require(space, "report", place.section)
        reason = self.field(body, "reason", default="", max_len=2000, allow_empty=True)
        object_type = content.type_name(place.obj)
        duplicate = self.db.scalar(
            select(m.Report.id).where(
                m.Report.reporter_id == self.me.id,
                m.Report.object_type == object_type,
                m.Report.object_id == place.obj.id,
                m.Report.status == "open",
            )
        )
        if duplicate is not None:
            raise APIError(
                409, "You have already reported this; the moderators will look at it.",
                report_id=duplicate,
            )
        report = m.Report(
            space_id=space.id,
            reporter_id=self.me.id,
            object_type=object_type,
            object_id=place.obj.id,
            section=place.section,
            reason=reason,
        )
        self.db.add(report)
        self.commit(f"space:{space.id}:reports")
        self.write_json(self.report_json(report, place), 201)


class SpaceReportsHandler(ModerationMixin, APIHandler):
    def get(self, slug):
        """Reports on content of the sections the caller moderates (`?status=open|resolved`)."""
        space = self.load_space(slug)
        sections = [s for s in rights.SECTIONS if self.may(space, "moderate", s)]
        if not sections:
            self.require(space, "moderate", "home")
            raise APIError(403, "You do not moderate any section of this space.")
        status = self.get_argument("status", "open")
        if status not in REPORT_STATUSES:
            raise APIError(400, f"'status' must be one of: {', '.join(REPORT_STATUSES)}.")
        query = select(m.Report).where(
            m.Report.space_id == space.id,
            m.Report.status == status,
            m.Report.section.in_(sections),
        )
        rows, cursor = self.keyset(query, m.Report.id)
        self.write_json({"items": [self.report_json(r) for r in rows], "next": cursor})


class ModerationHandler(ModerationMixin, APIHandler):
    login_required = True

    def post(self):
        """Hide, unhide or delete a content item; resolves its open reports and logs it."""
        body = self.json_body()
        action = self.field(body, "action", choices=MODERATION_ACTIONS)
        place = self.located(body)
        space = place.space
        self.require(space, "moderate", place.section)
        object_type = content.type_name(place.obj)
        entry = content.CONTENT_TYPES[object_type]
        if action != "delete" and not entry.hideable:
            raise APIError(
                400,
                f"A {object_type.replace('_', ' ')} cannot be hidden; delete it, or revert "
                "it to an earlier revision.",
            )
        reason = self.field(body, "reason", default="", max_len=2000, allow_empty=True)
        report_id = self.field(body, "report_id", int, default=None)
        if report_id is not None:
            report = self.load(m.Report, report_id, "report")
            if (report.space_id, report.object_type, report.object_id) != (
                space.id, object_type, place.obj.id,
            ):
                raise APIError(400, "That report is about something else.")
        blobs: tuple[str, ...] = ()
        if action == "delete":
            before_delete = BEFORE_DELETE.get(object_type)
            if before_delete is not None:
                before_delete(self.db, place.obj)
            blobs = content.blob_keys(place.obj)
            after_delete = AFTER_DELETE.get(object_type)
            self.db.delete(place.obj)
            self.db.flush()
            if after_delete is not None:
                after_delete(self.db, place.obj)
        else:
            place.obj.hidden = action == "hide"
        entry_log = log_moderation(self, space, action, place.obj, report_id=report_id,
                                   reason=reason)
        self.commit(f"space:{space.id}", f"space:{space.id}:reports")
        self.delete_blobs(blobs)  # only once the row is gone for good
        self.write_json(self.action_json(entry_log), 201)


def _first_reply_id(db, thread_id: int) -> int | None:
    return db.scalar(
        select(func.min(m.ForumReply.id)).where(m.ForumReply.thread_id == thread_id)
    )


def _check_reply_deletable(db, reply: m.ForumReply) -> None:
    if reply.id == _first_reply_id(db, reply.thread_id):
        raise APIError(
            409, "This is the thread's opening message: delete (or hide) the thread instead."
        )


def _after_reply_deleted(db, reply: m.ForumReply) -> None:
    """Keep the thread's reply count and newest-reply cursor right."""
    thread = db.get(m.ForumThread, reply.thread_id)
    if thread is None:
        return
    thread.reply_count = max(0, (thread.reply_count or 0) - 1)
    if thread.last_post_id == reply.id:
        newest = db.scalar(
            select(m.ForumReply.id)
            .where(m.ForumReply.thread_id == thread.id)
            .order_by(m.ForumReply.id.desc())
            .limit(1)
        )
        thread.last_post_id = newest or 0


# Checks some deletions need first (raise APIError), and bookkeeping after the row is gone.
BEFORE_DELETE = {"forum_reply": _check_reply_deletable}
AFTER_DELETE = {"forum_reply": _after_reply_deleted}


class DismissHandler(ModerationMixin, APIHandler):
    login_required = True

    def post(self, report_id):
        """Close a report without acting on the content (logged as "dismiss")."""
        report = self.load(m.Report, report_id, "report")
        space = self.db.get(m.Space, report.space_id)
        self.require(space, "moderate", report.section)
        if report.status != "open":
            raise APIError(409, "This report is already resolved.")
        reason = self.field(self.json_body(), "reason", default="", max_len=2000,
                            allow_empty=True)
        report.status = "resolved"
        report.resolved_by_id = self.me.id
        report.resolved_at = utcnow()
        self.db.add(
            m.ModerationAction(
                space_id=space.id,
                moderator_id=self.me.id,
                action="dismiss",
                object_type=report.object_type,
                object_id=report.object_id,
                report_id=report.id,
                reason=reason,
            )
        )
        self.commit(f"space:{space.id}:reports")
        self.write_json(self.report_json(report))


class ModerationLogHandler(ModerationMixin, APIHandler):
    def get(self, slug):
        """The space's moderation log, newest first (teacher administrators)."""
        space = self.load_space(slug)
        self.require(space, "administer", "home")
        query = select(m.ModerationAction).where(m.ModerationAction.space_id == space.id)
        rows, cursor = self.keyset(query, m.ModerationAction.id)
        self.write_json({"items": [self.action_json(a) for a in rows], "next": cursor})


default_handlers = [
    (r"/reports", ReportsHandler),
    (r"/reports/(?P<report_id>[0-9]+)/dismiss", DismissHandler),
    (r"/moderation", ModerationHandler),
    (r"/spaces/(?P<slug>[^/]+)/reports", SpaceReportsHandler),
    (r"/spaces/(?P<slug>[^/]+)/moderation-log", ModerationLogHandler),
]
