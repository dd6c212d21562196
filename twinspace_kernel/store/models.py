"""SQLAlchemy models of every TwinSpace record (FEATURES F1–F35)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


def _author_fk() -> Mapped[int | None]:
    # Authors may be erased (F35): their content stays, attributed to nobody.
    return mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)


def _created() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), default=utcnow)


# --- people and spaces -----------------------------------------------------------------


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The JupyterHub username: the only link between a hub identity and this store.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # teacher | pupil | visitor
    display_name: Mapped[str] = mapped_column(String(120))
    school: Mapped[str] = mapped_column(String(160), default="")
    country: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Pupils only: the teacher who created the account and may reset its password.
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    locale: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[dt.datetime] = _created()

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    profile: Mapped[Profile | None] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class Space(Base):
    __tablename__ = "spaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="open")  # open|archived|closed
    # Published spaces show their name, description and published pages to anyone (F30).
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = _author_fk()
    created_at: Mapped[dt.datetime] = _created()

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="space", cascade="all, delete-orphan"
    )


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("space_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[dt.datetime] = _created()

    space: Mapped[Space] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")


class Invitation(Base):
    """A teacher or visitor invited to a space (F4); the token is stored hashed."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    invited_by_id: Mapped[int | None] = _author_fk()
    # An existing member is invited by account; a newcomer by e-mail or chosen username.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(254))
    username: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="teacher")  # teacher | visitor
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _created()


class PasswordLink(Base):
    """A one-time link with which an account made by an administrator sets its password.

    Only the token's SHA-256 is stored; the link itself is shown (or mailed) once.
    """

    __tablename__ = "password_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _created()


class Profile(Base):
    __tablename__ = "profiles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    photo_key: Mapped[str | None] = mapped_column(String(80))
    about: Mapped[str] = mapped_column(Text, default="")
    interests: Mapped[str] = mapped_column(Text, default="")
    hobbies: Mapped[str] = mapped_column(Text, default="")
    favourite_food: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[dt.datetime] = _created()

    user: Mapped[User] = relationship(back_populates="profile")


class WallPost(Base):
    __tablename__ = "wall_posts"
    __table_args__ = (Index("ix_wall_posts_wall", "space_id", "wall_user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    wall_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = _author_fk()
    body: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()


# --- pages and applications ---------------------------------------------------------------


class Page(Base):
    """An activity page: a notebook in the shared volume plus this record (F16)."""

    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("space_id", "section", "slug"),
        Index("ix_pages_order", "space_id", "section", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(16))
    slug: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = _author_fk()
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()

    space: Mapped[Space] = relationship()
    apps: Mapped[list[AppInstance]] = relationship(
        back_populates="page", cascade="all, delete-orphan", order_by="AppInstance.position"
    )


class AppInstance(Base):
    """One application (blog, forum, wiki, …) placed on a page (F17)."""

    __tablename__ = "app_instances"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = _created()

    page: Mapped[Page] = relationship(back_populates="apps")


def _app_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("app_instances.id", ondelete="CASCADE"))


class BlogPost(Base):
    __tablename__ = "blog_posts"
    __table_args__ = (Index("ix_blog_posts_app", "app_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = _app_fk()
    author_id: Mapped[int | None] = _author_fk()
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # Markdown source
    body_html: Mapped[str] = mapped_column(Text)  # sanitized rendering
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_post", "post_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("blog_posts.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = _author_fk()
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()


class ForumThread(Base):
    __tablename__ = "forum_threads"
    __table_args__ = (Index("ix_forum_threads_app", "app_id", "last_post_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = _app_fk()
    author_id: Mapped[int | None] = _author_fk()
    title: Mapped[str] = mapped_column(String(200))
    # Threads sort by their newest reply; the id of that reply is the keyset cursor.
    last_post_id: Mapped[int] = mapped_column(Integer, default=0)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()


class ForumReply(Base):
    __tablename__ = "forum_replies"
    __table_args__ = (Index("ix_forum_replies_thread", "thread_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = _author_fk()
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    quote_id: Mapped[int | None] = mapped_column(
        ForeignKey("forum_replies.id", ondelete="SET NULL")
    )
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class WikiPage(Base):
    __tablename__ = "wiki_pages"
    __table_args__ = (UniqueConstraint("app_id", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = _app_fk()
    title: Mapped[str] = mapped_column(String(200))
    # The revision number the next save must be based on (F20: no lost update).
    current_revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = _created()


class WikiRevision(Base):
    __tablename__ = "wiki_revisions"
    __table_args__ = (UniqueConstraint("wiki_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    wiki_id: Mapped[int] = mapped_column(ForeignKey("wiki_pages.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = _author_fk()
    summary: Mapped[str] = mapped_column(String(200), default="")
    reverted_from: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = _created()


class Folder(Base):
    __tablename__ = "folders"
    __table_args__ = (UniqueConstraint("app_id", "parent_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = _app_fk()
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    created_by_id: Mapped[int | None] = _author_fk()
    created_at: Mapped[dt.datetime] = _created()


class Document(Base):
    """An uploaded file's metadata; the bytes live in the service's file store."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_app", "app_id", "folder_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = _app_fk()
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(160))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    blob_key: Mapped[str] = mapped_column(String(80))
    author_id: Mapped[int | None] = _author_fk()
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()


class SharedFile(Base):
    """A member's own file or notebook shared in a section of the shared volume.

    The bytes are `<spaces>/<slug>/<section>/files/<name>`, written only by the service.
    """

    __tablename__ = "shared_files"
    __table_args__ = (UniqueConstraint("space_id", "section", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    author_id: Mapped[int | None] = _author_fk()
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class Album(Base):
    __tablename__ = "albums"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = _app_fk()
    title: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = _author_fk()
    created_at: Mapped[dt.datetime] = _created()


class Photo(Base):
    __tablename__ = "photos"
    __table_args__ = (Index("ix_photos_album", "album_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    album_id: Mapped[int] = mapped_column(ForeignKey("albums.id", ondelete="CASCADE"))
    caption: Mapped[str] = mapped_column(String(500), default="")
    filename: Mapped[str] = mapped_column(String(160))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    blob_key: Mapped[str] = mapped_column(String(80))
    thumb_key: Mapped[str] = mapped_column(String(80))
    author_id: Mapped[int | None] = _author_fk()
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()


class WebContent(Base):
    """The sanitized HTML of a web content application (F23)."""

    __tablename__ = "web_contents"

    app_id: Mapped[int] = mapped_column(
        ForeignKey("app_instances.id", ondelete="CASCADE"), primary_key=True
    )
    html: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int | None] = _author_fk()
    updated_at: Mapped[dt.datetime] = _created()


# --- home: calendar, mail, chat, activity ------------------------------------------------


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_space_start", "space_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # deadline|unavailability|holiday|meeting|other
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    all_day: Mapped[bool] = mapped_column(Boolean, default=True)
    author_id: Mapped[int | None] = _author_fk()
    created_at: Mapped[dt.datetime] = _created()


class ChatRoom(Base):
    __tablename__ = "chat_rooms"
    __table_args__ = (UniqueConstraint("space_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    # Supervised rooms: pupils may post only while a teacher is present (F29).
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = _author_fk()
    created_at: Mapped[dt.datetime] = _created()


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_room", "room_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("chat_rooms.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = _author_fk()
    body: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()


class ChatPresence(Base):
    """Who is in a chat room now: refreshed by the heartbeats of an open chat page (its
    browser ticks), expires seconds after they stop."""

    __tablename__ = "chat_presence"

    room_id: Mapped[int] = mapped_column(
        ForeignKey("chat_rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    last_seen: Mapped[dt.datetime] = _created()


class MailMessage(Base):
    __tablename__ = "mail_messages"
    __table_args__ = (Index("ix_mail_messages_sender", "sender_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="SET NULL"))
    sender_id: Mapped[int | None] = _author_fk()
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # An invitation arrives as a mail the invitee can accept (F4).
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="SET NULL")
    )
    # The sender removed it from Sent; recipients keep their copies.
    sender_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()

    recipients: Mapped[list[MailRecipient]] = relationship(
        back_populates="message", cascade="all, delete-orphan"
    )


class MailRecipient(Base):
    __tablename__ = "mail_recipients"
    __table_args__ = (
        UniqueConstraint("message_id", "recipient_id"),
        Index("ix_mail_recipients_inbox", "recipient_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("mail_messages.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    message: Mapped[MailMessage] = relationship(back_populates="recipients")


class ActivityEvent(Base):
    """One line of Latest activities (F15); filtered by what the reader may view."""

    __tablename__ = "activity_events"
    __table_args__ = (Index("ix_activity_space", "space_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = _author_fk()
    verb: Mapped[str] = mapped_column(String(32))  # e.g. "blog.post", "wiki.edit"
    section: Mapped[str] = mapped_column(String(16))
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id", ondelete="SET NULL"))
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = _created()


# --- safety -----------------------------------------------------------------------------


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_space_status", "space_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    reporter_id: Mapped[int | None] = _author_fk()
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    created_at: Mapped[dt.datetime] = _created()
    resolved_by_id: Mapped[int | None] = _author_fk()
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ModerationAction(Base):
    """The moderation log (F32): every hide, unhide and delete, by whom and why."""

    __tablename__ = "moderation_log"
    __table_args__ = (Index("ix_moderation_space", "space_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    moderator_id: Mapped[int | None] = _author_fk()
    action: Mapped[str] = mapped_column(String(16))  # hide | unhide | delete | dismiss
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int] = mapped_column(Integer)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = _created()


class LoginAttempt(Base):
    """Login history, for throttling per account and per client address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_user", "username", "id"),
        Index("ix_login_attempts_address", "address", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = _created()


class LoginLock(Base):
    """A throttle's persisted state: consecutive failures and a lock end, per key."""

    __tablename__ = "login_locks"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # "user:x" | "addr:1.2.3.4"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = _created()


# Ids are never reused on SQLite (as on PostgreSQL): a stale link to a deleted photo or
# post must not open whatever was created next.
for _table in Base.metadata.tables.values():
    _key = list(_table.primary_key.columns)
    if len(_key) == 1 and isinstance(_key[0].type, Integer):
        _table.dialect_kwargs["sqlite_autoincrement"] = True
