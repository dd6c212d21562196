"""The registry of reportable and moderatable content: where each item lives and who wrote it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from operator import attrgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from ..store import models as m
from .sanitize import plain_text

EXCERPT_LENGTH = 200


@dataclass(frozen=True)
class Located:
    """A content item with its space, section, page (None for space-level items) and author."""

    obj: Any
    space: m.Space
    section: str
    page: m.Page | None
    author_id: int | None
    # The right a member needs (in `section`) to see the item at all.
    view_action: str = "view"


def _first_revision_author(db: Session, wiki: m.WikiPage) -> int | None:
    return db.scalar(
        select(m.WikiRevision.author_id)
        .where(m.WikiRevision.wiki_id == wiki.id)
        .order_by(m.WikiRevision.number)
        .limit(1)
    )


def _wiki_text(wiki: m.WikiPage) -> str:
    db = object_session(wiki)
    text = ""
    if db is not None:
        text = db.scalar(
            select(m.WikiRevision.text)
            .where(m.WikiRevision.wiki_id == wiki.id)
            .order_by(m.WikiRevision.number.desc())
            .limit(1)
        ) or ""
    return escape(f"{wiki.title}: {text}" if text else wiki.title)


@dataclass(frozen=True)
class ContentType:
    """How to find one kind of content's place, author, text and stored files.

    `path` climbs foreign keys from the item: each step is (attribute, Model), and the
    climb ends at an AppInstance (section and page come from the app's page) or at a
    Space (then `section` is fixed and there is no page).
    """

    model: type
    path: tuple[tuple[str, type], ...]
    text: Callable[[Any], str]
    section: str | None = None
    author: Callable[[Session, Any], int | None] = lambda db, obj: obj.author_id
    blobs: Callable[[Any], tuple[str, ...]] = lambda obj: ()
    # Whether the item has a `hidden` flag (wiki pages are deleted or reverted, not hidden).
    hideable: bool = True
    view_action: Callable[[Session, Any], str] = lambda db, obj: "view"


def _wall_view_action(db: Session, post: m.WallPost) -> str:
    # A pupil's wall is part of their profile: seen by those who may see pupils' profiles.
    wall_user = db.get(m.User, post.wall_user_id)
    return "view_pupil_profile" if wall_user and wall_user.kind == "pupil" else "view"


CONTENT_TYPES: dict[str, ContentType] = {
    "blog_post": ContentType(
        m.BlogPost, (("app_id", m.AppInstance),), lambda o: f"{escape(o.title)}: {o.body_html}"
    ),
    "comment": ContentType(
        m.Comment, (("post_id", m.BlogPost), ("app_id", m.AppInstance)), attrgetter("body_html")
    ),
    "forum_thread": ContentType(
        m.ForumThread, (("app_id", m.AppInstance),), lambda o: escape(o.title)
    ),
    "forum_reply": ContentType(
        m.ForumReply,
        (("thread_id", m.ForumThread), ("app_id", m.AppInstance)),
        attrgetter("body_html"),
    ),
    "wiki_page": ContentType(
        m.WikiPage,
        (("app_id", m.AppInstance),),
        _wiki_text,
        author=_first_revision_author,
        hideable=False,
    ),
    "document": ContentType(
        m.Document,
        (("app_id", m.AppInstance),),
        lambda o: escape(o.filename),
        blobs=lambda o: (o.blob_key,),
    ),
    "photo": ContentType(
        m.Photo,
        (("album_id", m.Album), ("app_id", m.AppInstance)),
        lambda o: escape(f"{o.caption} ({o.filename})" if o.caption else o.filename),
        blobs=lambda o: (o.blob_key, o.thumb_key),
    ),
    "chat_message": ContentType(
        m.ChatMessage,
        (("room_id", m.ChatRoom), ("space_id", m.Space)),
        lambda o: escape(o.body),
        section="chat",
    ),
    "wall_post": ContentType(
        m.WallPost,
        (("space_id", m.Space),),
        lambda o: escape(o.body),
        section="home",
        view_action=_wall_view_action,
    ),
    "event": ContentType(
        m.Event,
        (("space_id", m.Space),),
        lambda o: escape(f"{o.title}: {o.description}" if o.description else o.title),
        section="home",
    ),
}

_BY_MODEL = {entry.model: name for name, entry in CONTENT_TYPES.items()}


def type_name(obj: Any) -> str:
    """The registry name of a content row ("blog_post", …); KeyError if not registered."""
    return _BY_MODEL[type(obj)]


def locate(db: Session, object_type: str, object_id: int) -> Located:
    """Find a content item and its place; LookupError for an unknown type or id."""
    entry = CONTENT_TYPES.get(object_type)
    if entry is None:
        raise LookupError(f"Unknown content type {object_type!r}.")
    obj = db.get(entry.model, object_id)
    if obj is None:
        raise LookupError(f"No such {object_type.replace('_', ' ')}.")
    current = obj
    for attribute, model in entry.path:
        current = db.get(model, getattr(current, attribute))
        if current is None:  # a dangling parent: treat the item as gone
            raise LookupError(f"No such {object_type.replace('_', ' ')}.")
    if isinstance(current, m.AppInstance):
        page = current.page
        space, section = page.space, page.section
    else:
        page, space, section = None, current, entry.section
    return Located(
        obj, space, section, page, entry.author(db, obj), entry.view_action(db, obj)
    )


def excerpt(obj: Any, limit: int = EXCERPT_LENGTH) -> str:
    """A short plain text of a content item, for moderators.

    Each entry's `text` gives HTML (sanitized bodies, or escaped plain fields); the
    excerpt is that HTML's text, so it is plain and must be escaped again for display.
    """
    entry = CONTENT_TYPES[type_name(obj)]
    return plain_text(entry.text(obj) or "", limit)


def blob_keys(obj: Any) -> tuple[str, ...]:
    """The file-store keys an item owns (to delete with it)."""
    return tuple(k for k in CONTENT_TYPES[type_name(obj)].blobs(obj) if k)
