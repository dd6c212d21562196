"""Personal data export and erasure (F35) and the cross-school cooperation report (F33)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
from collections import defaultdict
from urllib.parse import quote

from sqlalchemy import delete, distinct, func, literal_column, select, union_all
from sqlalchemy.orm import aliased
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.ioloop import IOLoop

from .. import rights
from ..store import models as m
from . import meta
from .base import APIError, APIHandler, utcnow

log = logging.getLogger("twinspace.service")


class _Places:
    """app id -> where it is (space slug, section, page id), cached for one export."""

    def __init__(self, db) -> None:
        self.db = db
        self._apps: dict[int, dict] = {}
        self._spaces: dict[int, str | None] = {}

    def app(self, app_id: int | None) -> dict:
        if app_id not in self._apps:
            row = self.db.execute(
                select(m.Space.slug, m.Page.section, m.Page.id)
                .join(m.Page, m.Page.space_id == m.Space.id)
                .join(m.AppInstance, m.AppInstance.page_id == m.Page.id)
                .where(m.AppInstance.id == app_id)
            ).first()
            self._apps[app_id] = (
                {"space": row[0], "section": row[1], "page_id": row[2]} if row else {}
            )
        return self._apps[app_id]

    def space(self, space_id: int | None) -> str | None:
        if space_id not in self._spaces:
            self._spaces[space_id] = self.db.scalar(
                select(m.Space.slug).where(m.Space.id == space_id)
            )
        return self._spaces[space_id]


def personal_data(db, user: m.User) -> dict:
    """Everything `user` wrote or owns, as one JSON-ready document (F35)."""
    places = _Places(db)
    uid = user.id

    def names(user_ids) -> list[str | None]:
        users = {u.id: u.name for u in db.scalars(select(m.User).where(m.User.id.in_(user_ids)))}
        return [users.get(i) for i in user_ids]

    def name_of(user_id) -> str | None:
        return names([user_id])[0] if user_id else None

    profile = user.profile
    doc = {
        "format": "twinspace-personal-data/1",
        "exported_at": utcnow(),
        "account": meta.user_json(user),
        "profile": None
        if profile is None
        else {
            "about": profile.about,
            "interests": profile.interests,
            "hobbies": profile.hobbies,
            "favourite_food": profile.favourite_food,
            "has_photo": bool(profile.photo_key),
            "updated_at": profile.updated_at,
        },
        "memberships": [
            {"space": s.slug, "title": s.title, "role": ms.role, "joined_at": ms.joined_at}
            for ms, s in db.execute(
                select(m.Membership, m.Space)
                .join(m.Space, m.Space.id == m.Membership.space_id)
                .where(m.Membership.user_id == uid)
                .order_by(m.Membership.id)
            )
        ],
    }
    doc["blog_posts"] = [
        {"id": p.id, **places.app(p.app_id), "title": p.title, "body": p.body,
         "hidden": p.hidden, "created_at": p.created_at, "updated_at": p.updated_at}
        for p in db.scalars(select(m.BlogPost).where(m.BlogPost.author_id == uid)
                            .order_by(m.BlogPost.id))
    ]
    doc["comments"] = [
        {"id": c.id, "post_id": c.post_id, **places.app(app_id), "body": c.body,
         "hidden": c.hidden, "created_at": c.created_at}
        for c, app_id in db.execute(
            select(m.Comment, m.BlogPost.app_id)
            .join(m.BlogPost, m.BlogPost.id == m.Comment.post_id)
            .where(m.Comment.author_id == uid)
            .order_by(m.Comment.id)
        )
    ]
    doc["forum_threads"] = [
        {"id": t.id, **places.app(t.app_id), "title": t.title, "hidden": t.hidden,
         "created_at": t.created_at}
        for t in db.scalars(select(m.ForumThread).where(m.ForumThread.author_id == uid)
                            .order_by(m.ForumThread.id))
    ]
    doc["forum_replies"] = [
        {"id": r.id, "thread_id": r.thread_id, "thread": title, **places.app(app_id),
         "body": r.body, "hidden": r.hidden, "created_at": r.created_at}
        for r, title, app_id in db.execute(
            select(m.ForumReply, m.ForumThread.title, m.ForumThread.app_id)
            .join(m.ForumThread, m.ForumThread.id == m.ForumReply.thread_id)
            .where(m.ForumReply.author_id == uid)
            .order_by(m.ForumReply.id)
        )
    ]
    doc["wiki_revisions"] = [
        {"wiki_id": w.id, "wiki": w.title, **places.app(w.app_id), "number": r.number,
         "text": r.text, "summary": r.summary, "created_at": r.created_at}
        for r, w in db.execute(
            select(m.WikiRevision, m.WikiPage)
            .join(m.WikiPage, m.WikiPage.id == m.WikiRevision.wiki_id)
            .where(m.WikiRevision.author_id == uid)
            .order_by(m.WikiRevision.id)
        )
    ]
    doc["documents"] = [
        {"id": d.id, **places.app(d.app_id), "filename": d.filename,
         "content_type": d.content_type, "size": d.size, "hidden": d.hidden,
         "created_at": d.created_at}
        for d in db.scalars(select(m.Document).where(m.Document.author_id == uid)
                            .order_by(m.Document.id))
    ]
    doc["photos"] = [
        {"id": p.id, **places.app(app_id), "album": album, "caption": p.caption,
         "filename": p.filename, "content_type": p.content_type, "size": p.size,
         "width": p.width, "height": p.height, "hidden": p.hidden, "created_at": p.created_at}
        for p, album, app_id in db.execute(
            select(m.Photo, m.Album.title, m.Album.app_id)
            .join(m.Album, m.Album.id == m.Photo.album_id)
            .where(m.Photo.author_id == uid)
            .order_by(m.Photo.id)
        )
    ]
    doc["events"] = [
        {"id": e.id, "space": places.space(e.space_id), "kind": e.kind, "title": e.title,
         "description": e.description, "starts_at": e.starts_at, "ends_at": e.ends_at,
         "all_day": e.all_day, "created_at": e.created_at}
        for e in db.scalars(select(m.Event).where(m.Event.author_id == uid).order_by(m.Event.id))
    ]
    doc["chat_messages"] = [
        {"id": c.id, "space": places.space(space_id), "room": room, "body": c.body,
         "hidden": c.hidden, "created_at": c.created_at}
        for c, room, space_id in db.execute(
            select(m.ChatMessage, m.ChatRoom.name, m.ChatRoom.space_id)
            .join(m.ChatRoom, m.ChatRoom.id == m.ChatMessage.room_id)
            .where(m.ChatMessage.author_id == uid)
            .order_by(m.ChatMessage.id)
        )
    ]
    sent = list(db.scalars(select(m.MailMessage).where(m.MailMessage.sender_id == uid)
                           .order_by(m.MailMessage.id)))
    doc["mail_sent"] = [
        {"id": msg.id, "space": places.space(msg.space_id), "subject": msg.subject,
         "body": msg.body, "to": names([r.recipient_id for r in msg.recipients]),
         "created_at": msg.created_at}
        for msg in sent
    ]
    doc["mail_received"] = [
        {"id": msg.id, "space": places.space(msg.space_id), "from": name_of(msg.sender_id),
         "subject": msg.subject, "body": msg.body, "read_at": rcpt.read_at,
         "created_at": msg.created_at}
        for rcpt, msg in db.execute(
            select(m.MailRecipient, m.MailMessage)
            .join(m.MailMessage, m.MailMessage.id == m.MailRecipient.message_id)
            .where(m.MailRecipient.recipient_id == uid)
            .order_by(m.MailMessage.id)
        )
    ]
    doc["wall_posts_written"] = [
        {"id": w.id, "space": places.space(w.space_id), "wall_of": name_of(w.wall_user_id),
         "body": w.body, "hidden": w.hidden, "created_at": w.created_at}
        for w in db.scalars(select(m.WallPost).where(m.WallPost.author_id == uid)
                            .order_by(m.WallPost.id))
    ]
    doc["wall_posts_received"] = [
        {"id": w.id, "space": places.space(w.space_id), "from": name_of(w.author_id),
         "body": w.body, "hidden": w.hidden, "created_at": w.created_at}
        for w in db.scalars(select(m.WallPost).where(m.WallPost.wall_user_id == uid)
                            .order_by(m.WallPost.id))
    ]
    doc["reports_filed"] = [
        {"id": r.id, "space": places.space(r.space_id), "object_type": r.object_type,
         "object_id": r.object_id, "reason": r.reason, "status": r.status,
         "created_at": r.created_at}
        for r in db.scalars(select(m.Report).where(m.Report.reporter_id == uid)
                            .order_by(m.Report.id))
    ]
    doc["pages_created"] = [
        {"id": p.id, "space": places.space(p.space_id), "section": p.section, "title": p.title,
         "created_at": p.created_at}
        for p in db.scalars(select(m.Page).where(m.Page.created_by_id == uid)
                            .order_by(m.Page.id))
    ]
    return doc


def erase_user(db, user: m.User) -> list[str]:
    """Erase `user`'s personal data; returns the file-store keys to delete after commit.

    The account row itself is deleted (true erasure, F35). What the person wrote for
    their project (posts, comments, replies, wiki revisions, files, messages) stays,
    attributed to nobody: every author column is `ON DELETE SET NULL`. What is only
    about them goes: profile and photo, memberships, mail they received, their wall,
    chat presence, invitations addressed to them, and activity lines naming them.
    """
    blobs = [user.profile.photo_key] if user.profile and user.profile.photo_key else []
    uid = user.id
    db.execute(delete(m.MailRecipient).where(m.MailRecipient.recipient_id == uid))
    db.execute(delete(m.WallPost).where(m.WallPost.wall_user_id == uid))
    db.execute(delete(m.ChatPresence).where(m.ChatPresence.user_id == uid))
    invitations = m.Invitation.user_id == uid
    if user.email:
        invitations = invitations | (m.Invitation.email == user.email)
    db.execute(delete(m.Invitation).where(invitations))
    # "X joined", "X: teacher": activity lines whose object is the person.
    db.execute(
        delete(m.ActivityEvent).where(
            m.ActivityEvent.object_type == m.User.__tablename__, m.ActivityEvent.object_id == uid
        )
    )
    # Memberships and profile go with the account (ORM cascade); author columns are set
    # to NULL by the database (foreign keys are enforced on SQLite and PostgreSQL).
    db.delete(user)
    db.flush()
    return blobs


def erase_own_account(handler: APIHandler) -> None:
    """DELETE /me (served by meta.MeHandler): erase the caller's account and personal data."""
    db = handler.db
    user = handler.me
    confirm = handler.field(handler.json_body(), "confirm", max_len=64)
    if confirm != user.name:
        raise APIError(400, "To erase your account, type your username in 'confirm'.")
    last_admin_of = [
        space.slug
        for space in db.scalars(
            select(m.Space)
            .join(m.Membership, m.Membership.space_id == m.Space.id)
            .where(m.Membership.user_id == user.id, m.Membership.role == rights.TA)
        )
        if db.scalar(
            select(func.count()).where(
                m.Membership.space_id == space.id, m.Membership.role == rights.TA
            )
        )
        <= 1
    ]
    if last_admin_of:
        raise APIError(
            409,
            "You are the last teacher administrator of "
            f"{', '.join(last_admin_of)}: make another teacher an administrator "
            "there first.",
            spaces=last_admin_of,
        )
    blobs = erase_user(db, user)
    db.commit()
    handler.identity.user = None
    handler.delete_blobs(blobs)
    # The caller's own kernel asked: it gets its answer (and says goodbye) before the hub
    # stops its server.
    IOLoop.current().spawn_callback(remove_hub_user, user.name, OWN_ERASURE_GRACE)


# Seconds between erasing your own account and the hub stopping your server: long enough
# for the page that asked to show that it is done and where to log out.
OWN_ERASURE_GRACE = 3.0


async def remove_hub_user(name: str, delay: float = 0.0) -> bool:
    """Delete hub user `name`: the hub stops their server and, through the spawner's
    delete_forever, removes their system user and home directory. True when gone.

    A hub user that never existed (never logged in) counts as gone. Outside a hub (the
    service run on its own) there is nothing to remove.
    """
    if delay:
        await asyncio.sleep(delay)
    api = os.environ.get("JUPYTERHUB_API_URL", "").rstrip("/")
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not api or not token:
        log.info("Not running under a hub: no hub user to remove for %s.", name)
        return True
    request = HTTPRequest(f"{api}/users/{quote(name, safe='')}", method="DELETE",
                          headers={"Authorization": f"token {token}"},
                          # Stopping a server and removing a home may take a while.
                          request_timeout=120)
    try:
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
    except (OSError, HTTPClientError) as e:
        log.error("Could not remove the hub user %s after erasing their account: %s", name, e)
        return False
    if response.code in (204, 404):
        log.info("Removed the hub user %s (server, system user and home).", name)
        return True
    log.error("The hub answered %s when removing the erased member %s: %s", response.code,
              name, response.body[:300])
    return False


def managed_pupil(handler: APIHandler, slug: str, name: str) -> tuple[m.Space, m.User]:
    """(space, pupil) for a teacher managing `name` in `slug`: 403/404 otherwise.

    The rights table decides (`manage_pupils`): teacher administrators manage every pupil
    of the space, teachers the pupils they created.
    """
    space = handler.load_space(slug)
    handler.require(space, "manage_pupils", "home")
    pupil = handler.db.scalar(
        select(m.User)
        .join(m.Membership, m.Membership.user_id == m.User.id)
        .where(m.Membership.space_id == space.id, m.User.name == name, m.User.kind == "pupil")
    )
    if pupil is None:
        raise APIError(404, f"{name} is not a pupil of this space.")
    handler.require(space, "manage_pupils", "home", own=pupil.created_by_id == handler.me.id)
    return space, pupil


def send_personal_data(handler: APIHandler, user: m.User) -> None:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", user.name)
    handler.set_header("Content-Disposition", f'attachment; filename="twinspace-{safe}.json"')
    handler.write_json(personal_data(handler.db, user))


class ExportHandler(APIHandler):
    browser_link = True

    login_required = True

    def get(self):
        """Download everything you wrote or own, as one JSON file (F35)."""
        send_personal_data(self, self.me)


class PupilExportHandler(APIHandler):
    login_required = True

    def get(self, slug, name):
        """A pupil's personal data, for a teacher who manages them (as GET /me/export)."""
        _space, pupil = managed_pupil(self, slug, name)
        send_personal_data(self, pupil)


class PupilHandler(APIHandler):
    login_required = True

    async def delete(self, slug, name):
        """Erase a pupil's account and personal data (`confirm` must be their username).

        For a teacher who manages the pupil. What they wrote for the project stays,
        attributed to nobody (as DELETE /me). The hub user goes too: their server is
        stopped and their system user and home directory removed; answers when done,
        with {name, hub_user_removed} (false: the hub could not, see its log).
        """
        _space, pupil = managed_pupil(self, slug, name)
        confirm = self.field(self.json_body(), "confirm", max_len=64)
        if confirm != pupil.name:
            raise APIError(400, f"To erase this account, type the username {pupil.name} "
                           "in 'confirm'.")
        blobs = erase_user(self.db, pupil)
        self.db.commit()
        self.delete_blobs(blobs)
        removed = await remove_hub_user(name)
        self.write_json({"name": name, "hub_user_removed": removed})


COUNTED = (
    # (key in the report, model counted by its author's school)
    ("blog_posts", m.BlogPost),
    ("comments", m.Comment),
    ("forum_threads", m.ForumThread),
    ("forum_replies", m.ForumReply),
    ("wiki_revisions", m.WikiRevision),
    ("documents", m.Document),
    ("photos", m.Photo),
    ("chat_messages", m.ChatMessage),
)


def _in_space(query, model, space_id: int, *, parent_joined: bool = False):
    """Restrict a query on `model` to items of one space (joins up to the page)."""
    if model is m.ChatMessage:
        # Chat rooms belong to the space itself, not to a page.
        return query.join(m.ChatRoom, m.ChatRoom.id == m.ChatMessage.room_id).where(
            m.ChatRoom.space_id == space_id
        )
    if model is m.Comment:
        if not parent_joined:
            query = query.join(m.BlogPost, m.BlogPost.id == m.Comment.post_id)
        app_col = m.BlogPost.app_id
    elif model is m.ForumReply:
        if not parent_joined:
            query = query.join(m.ForumThread, m.ForumThread.id == m.ForumReply.thread_id)
        app_col = m.ForumThread.app_id
    elif model is m.WikiRevision:
        query = query.join(m.WikiPage, m.WikiPage.id == m.WikiRevision.wiki_id)
        app_col = m.WikiPage.app_id
    elif model is m.Photo:
        query = query.join(m.Album, m.Album.id == m.Photo.album_id)
        app_col = m.Album.app_id
    else:
        app_col = model.app_id
    return (
        query.join(m.AppInstance, m.AppInstance.id == app_col)
        .join(m.Page, m.Page.id == m.AppInstance.page_id)
        .where(m.Page.space_id == space_id)
    )


def _visible(query, model):
    hidden = getattr(model, "hidden", None)
    return query.where(hidden.is_(False)) if hidden is not None else query


def _month(db, column):
    """The UTC month ('YYYY-MM') of a timestamp column, computed by the database."""
    if db.get_bind().dialect.name == "postgresql":
        # Literals inline (not bound): PostgreSQL must see the GROUP BY expression as the
        # very same as the selected one.
        return func.to_char(func.timezone(literal_column("'UTC'"), column),
                            literal_column("'YYYY-MM'"))
    # SQLite keeps timestamps as ISO text in UTC: '2026-05-01 10:00:00.000000'.
    return func.substr(column, 1, 7)


def _month_of(moment: dt.datetime | str) -> str:
    if isinstance(moment, str):
        return moment[:7]
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m")


def _months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` ('YYYY-MM'), so charts show quiet months too."""
    year, month = int(first[:4]), int(first[5:7])
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _authorship(space_id: int):
    """(author_id, created_at) of every visible item of the space: who was active when."""
    parts = []
    for _key, model in COUNTED:
        query = select(model.author_id.label("author_id"),
                       model.created_at.label("created_at")).select_from(model)
        parts.append(_visible(_in_space(query, model, space_id), model)
                     .where(model.author_id.is_not(None)))
    return union_all(*parts).subquery("authorship")


def cooperation_report(db, space: m.Space) -> dict:
    """Per school (school + country): contributions and cross-school exchanges (F33),
    in all and month by month.

    Moderated (hidden) items are not counted, nor content whose author was erased. A
    school is its members' school as it is now; months are UTC calendar months. A wiki
    page co-written by several schools counts once for each of them, in the month it
    became theirs together: the month of the later of the school's own first revision
    and the page's first revision by a second school (so each school's months add up
    to its total, and the space's counts each page once, in the month it became
    co-written).
    """
    schools: dict[tuple[str, str], dict] = defaultdict(
        lambda: {key: 0 for key in ("members", *KEYS)}
    )
    # school -> month -> key -> count; the space's own month -> key -> count.
    by_month: dict[tuple[str, str], dict] = defaultdict(
        lambda: defaultdict(lambda: dict.fromkeys(MONTHLY_KEYS, 0))
    )
    space_months: dict[str, dict] = defaultdict(lambda: dict.fromkeys(MONTHLY_KEYS, 0))

    def add(school: tuple[str, str], month: str, key: str, n: int) -> None:
        schools[school][key] += n
        if key in MONTHLY_KEYS:
            by_month[school][month][key] += n
            if key != "active_members":
                space_months[month][key] += n

    for school, country, n in db.execute(
        select(m.User.school, m.User.country, func.count())
        .join(m.Membership, m.Membership.user_id == m.User.id)
        .where(m.Membership.space_id == space.id)
        .group_by(m.User.school, m.User.country)
    ):
        schools[(school, country)]["members"] = n
    for key, model in COUNTED:
        month = _month(db, model.created_at)
        query = select(m.User.school, m.User.country, month, func.count()).select_from(
            model).join(m.User, m.User.id == model.author_id)
        query = _visible(_in_space(query, model, space.id), model)
        for school, country, when, n in db.execute(
            query.group_by(m.User.school, m.User.country, month)
        ):
            add((school, country), when, key, n)

    # Comments on posts by another school, replies in threads opened by another school.
    totals = {"comments": 0, "forum_replies": 0, "wiki_pages": 0}
    for key, model, parent, parent_fk in (
        ("cross_school_comments", m.Comment, m.BlogPost, m.Comment.post_id),
        ("cross_school_replies", m.ForumReply, m.ForumThread, m.ForumReply.thread_id),
    ):
        author, parent_author = aliased(m.User), aliased(m.User)
        month = _month(db, model.created_at)
        query = (
            select(author.school, author.country, month, func.count())
            .select_from(model)
            .join(author, author.id == model.author_id)
            .join(parent, parent.id == parent_fk)
            .join(parent_author, parent_author.id == parent.author_id)
            .where(
                (author.school != parent_author.school)
                | (author.country != parent_author.country),
                parent.hidden.is_(False),
            )
        )
        query = _visible(_in_space(query, model, space.id, parent_joined=True), model)
        query = query.group_by(author.school, author.country, month)
        for school, country, when, n in db.execute(query):
            add((school, country), when, key, n)
            totals["comments" if model is m.Comment else "forum_replies"] += n

    # Wiki pages written by at least two schools: each school's first revision of each
    # page, in one query; the month it became co-written follows from those.
    first_by_school: dict[int, list] = defaultdict(list)
    query = (
        select(m.WikiRevision.wiki_id, m.User.school, m.User.country,
               func.min(m.WikiRevision.created_at))
        .select_from(m.WikiRevision)
        .join(m.User, m.User.id == m.WikiRevision.author_id)
    )
    query = _in_space(query, m.WikiRevision, space.id).group_by(
        m.WikiRevision.wiki_id, m.User.school, m.User.country)
    for wiki_id, school, country, first in db.execute(query):
        first_by_school[wiki_id].append((first, (school, country)))
    wiki_pages = db.scalar(
        select(func.count()).select_from(_in_space(select(m.WikiPage.id), m.WikiPage, space.id)
                                          .subquery())
    )
    for found in first_by_school.values():
        if len(found) < 2:
            continue
        found.sort()
        together = found[1][0]  # the first revision by a second school
        totals["wiki_pages"] += 1
        space_months[_month_of(together)]["co_written_wiki_pages"] += 1
        for first, school in found:
            schools[school]["co_written_wiki_pages"] += 1
            by_month[school][_month_of(max(first, together))]["co_written_wiki_pages"] += 1

    # Active members: distinct authors of anything, per school and month, per school in
    # all, and for the whole space per month (one person active in two months counts once
    # in all).
    authorship = _authorship(space.id)
    month = _month(db, authorship.c.created_at)
    active = func.count(distinct(authorship.c.author_id))
    people = select(m.User.school, m.User.country).select_from(authorship).join(
        m.User, m.User.id == authorship.c.author_id)
    for school, country, when, n in db.execute(
        people.add_columns(month, active).group_by(m.User.school, m.User.country, month)
    ):
        by_month[(school, country)][when]["active_members"] = n
    for school, country, n in db.execute(
        people.add_columns(active).group_by(m.User.school, m.User.country)
    ):
        schools[(school, country)]["active_members"] = n
    for when, n in db.execute(select(month, active).group_by(month)):
        space_months[when]["active_members"] = n
    active_in_all = db.scalar(select(active))

    months = _months_between(min(space_months), max(space_months)) if space_months else []
    return {
        "space": space.slug,
        "title": space.title,
        "generated_at": utcnow(),
        "schools": [
            {"school": school, "country": country, **counts,
             "monthly": {when: by_month[(school, country)][when]
                         for when in months if when in by_month[(school, country)]}}
            for (school, country), counts in sorted(schools.items())
        ],
        "cross_school": totals,
        "totals": {
            key: sum(s[key] for s in schools.values()) for key, _ in COUNTED
        } | {"wiki_pages": wiki_pages, "schools": len(schools),
             "active_members": active_in_all or 0},
        # Every month from the first to the last with activity, quiet ones included.
        "months": months,
        "monthly": {when: space_months.get(when, dict.fromkeys(MONTHLY_KEYS, 0))
                    for when in months},
    }


KEYS = tuple(key for key, _ in COUNTED) + (
    "cross_school_comments",
    "cross_school_replies",
    "co_written_wiki_pages",
    "active_members",
)

# What the report gives month by month (per school in `schools[].monthly`, for the space
# in `monthly`): the Quality Label's evidence of cooperation.
MONTHLY_KEYS = (
    "cross_school_replies",
    "cross_school_comments",
    "co_written_wiki_pages",
    "documents",
    "photos",
    "chat_messages",
    "active_members",
    "blog_posts",
    "forum_threads",
    "wiki_revisions",
)


class CooperationReportHandler(APIHandler):
    def get(self, slug):
        """Quality Label evidence: each school's contributions and cross-school exchanges,
        in all and month by month (`months`, `monthly`, `schools[].monthly`)."""
        space = self.load_space(slug)
        self.require(space, "moderate", "home")
        self.write_json(cooperation_report(self.db, space))


default_handlers = [
    (r"/me/export", ExportHandler),
    (r"/spaces/(?P<slug>[^/]+)/pupils/(?P<name>[^/]+)/export", PupilExportHandler),
    (r"/spaces/(?P<slug>[^/]+)/pupils/(?P<name>[^/]+)", PupilHandler),
    (r"/spaces/(?P<slug>[^/]+)/cooperation-report", CooperationReportHandler),
]
