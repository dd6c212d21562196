"""The base API handler: hub identity, JSON bodies and errors, rights checks, activity."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import traceback
from dataclasses import dataclass, field
from http.client import responses
from pathlib import Path
from typing import Any

from jupyterhub.services.auth import HubOAuth, HubOAuthenticated
from sqlalchemy import and_, bindparam, event, select
from sqlalchemy.orm import Session, sessionmaker
from tornado import web
from tornado.concurrent import Future, chain_future

from .. import rights
from ..store import models as m
from .mailer import SmtpSettings
from .notify import Notifier
from .uploads import FileStore, UploadRejected, too_large_message

log = logging.getLogger("twinspace.service")

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_type",
    429: "too_many_requests",
}

MAX_PAGE = 100

# The hot paths' statements, built once: building a statement and its cache key again
# on every request was a good part of each request's CPU (see docs/performance.md).
USER_BY_NAME = select(m.User).where(m.User.name == bindparam("name"))
ROLE = select(m.Membership.role).where(
    m.Membership.space_id == bindparam("space_id"), m.Membership.user_id == bindparam("user_id")
)


def with_role(statement):
    """`statement` (selecting a Space last) also reading the membership role of the user
    bound as :user_id in that space (None: not a member, or no user): for
    APIHandler.load_with_role."""
    return statement.add_columns(m.Membership.role).outerjoin(
        m.Membership,
        and_(m.Membership.space_id == m.Space.id, m.Membership.user_id == bindparam("user_id")),
    )


APP_CONTEXT = with_role(
    select(m.AppInstance, m.Page, m.Space)
    .join(m.Page, m.Page.id == m.AppInstance.page_id)
    .join(m.Space, m.Space.id == m.Page.space_id)
    .where(m.AppInstance.id == bindparam("id"))
)
USERS_BY_ID = select(m.User).where(m.User.id.in_(bindparam("ids", expanding=True)))


# What a request remembers (roles, people's briefs: APIHandler.role_in, author) holds only
# within one transaction of its session and while it wrote no membership: each of these
# events starts a new epoch, which forgets it.
def _new_epoch(session: Session, *_args: Any) -> None:
    session.info["epoch"] = session.info.get("epoch", 0) + 1


event.listen(Session, "after_commit", _new_epoch)
event.listen(Session, "after_soft_rollback", _new_epoch)


@event.listens_for(Session, "after_flush")
def _membership_flushed(session: Session, _context) -> None:
    if any(isinstance(o, m.Membership)
           for o in (*session.new, *session.dirty, *session.deleted)):
        _new_epoch(session)


def activity_event(space_id: int, actor_id: int | None, verb: str, section: str, *,
                   page: m.Page | None = None, obj: Any = None,
                   summary: str = "") -> m.ActivityEvent:
    """A line of Latest activities about `obj` (APIHandler.record, and work done in a
    thread with a session of its own)."""
    return m.ActivityEvent(
        space_id=space_id,
        actor_id=actor_id,
        verb=verb,
        section=section,
        page_id=page.id if page else None,
        object_type=type(obj).__tablename__ if obj is not None else "",
        object_id=getattr(obj, "id", None),
        summary=summary[:300],
    )


def as_id(value: int | str) -> int | None:
    """`value` as a row id, or None when it is not a whole number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class APIError(web.HTTPError):
    """An error for the client: `message` is shown to people, `extra` joins the JSON."""

    def __init__(self, status: int, message: str, *, code: str | None = None, **extra: Any):
        super().__init__(status, log_message=message)
        self.message = message
        self.code = code or ERROR_CODES.get(status, "error")
        self.extra = extra


@dataclass
class ServiceContext:
    """What every handler needs, handed over through Tornado settings."""

    sessions: sessionmaker[Session]
    files: FileStore
    # For GET and HEAD requests, when the database gains from it (store.db.reading_sessions).
    reading_sessions: sessionmaker[Session] | None = None
    notifier: Notifier = field(default_factory=Notifier)
    upload_limit: int = 20 * 1024 * 1024
    invitation_days: int = 14
    public_url: str = ""
    # Seconds after the last presence heartbeat during which a member counts as "in the room".
    presence_seconds: float = 10.0
    long_poll_max: float = 30.0
    # Outgoing mail for invitation and password links; unconfigured by default.
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    # Where each space's page notebooks are written (<slug>/<section>/<page>.ipynb);
    # None: no notebooks are written.
    spaces_dir: Path | None = None
    # Where published copies of public pages go (<slug>/<section>/<page>.ipynb) for the
    # public view; None: no copies are made.
    public_dir: Path | None = None
    # Set owners, modes and POSIX ACLs on the shared volume from the rights table (when
    # members run as system users; see volume_acl.py).
    volume_acls: bool = False


@dataclass
class Identity:
    """Who is calling: a TwinSpace user, a hub admin, a service, or the anonymous public."""

    name: str | None
    user: m.User | None
    hub_admin: bool = False
    kind: str = "public"  # user | service | public

    @property
    def is_public(self) -> bool:
        return self.user is None


# The largest id (and any whole number) a database column stores: the columns are
# INTEGER, and PostgreSQL refuses a larger value in a query (a 500, not "no such id").
MAX_ID = 2**31 - 1
SANDBOX_CSP = "sandbox; default-src 'none'"


class APIHandler(HubOAuthenticated, web.RequestHandler):
    """Every endpoint of /api/v1 derives from this class."""

    hub_auth_class = HubOAuth
    # Most endpoints answer the anonymous public too (published content); those that
    # never do set this to True.
    login_required = False
    # Files a member's browser opens from a link (downloads, .ics, exports): a browser
    # (it asks for text/html when following a link) without the service's cookie yet is
    # sent through the hub's login instead of getting a 401.
    browser_link = False

    def initialize(self, **kwargs: Any) -> None:
        self.ctx: ServiceContext = self.settings["twinspace"]
        self._db: Session | None = None
        # The caller's roles by space id and people's briefs, for this request's current
        # epoch only (see _new_epoch): never kept across requests, so role changes apply
        # at once.
        self._roles: dict[int, str | None] = {}
        self._briefs: dict[tuple[int, str], dict | None] = {}
        self._epoch = 0

    def logged_path(self) -> str:
        """The request's path for logs: one-time link tokens in it read `[secret]`."""
        path = self.request.path
        token = (self.path_kwargs or {}).get("token")
        return path.replace(token, "[secret]") if token else path

    def _request_summary(self) -> str:
        # Tornado's warning lines for refused requests: never a link's token.
        return f"{self.request.method} {self.logged_path()} ({self.request.remote_ip})"

    # --- identity ---------------------------------------------------------------------

    def set_default_headers(self) -> None:
        # Every answer, once: never sniffed into HTML, never a document that runs script
        # (files members uploaded are served with these too).
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", SANDBOX_CSP)

    async def prepare(self) -> None:
        for name, value in (self.path_kwargs or {}).items():
            # Ids beyond what the database stores name nothing (not a database error).
            if name.endswith("_id") and value.isdecimal() and int(value) > MAX_ID:
                raise APIError(404, "There is nothing with this id.")
        model = await self.hub_auth.get_user(self, sync=False)
        token_auth = getattr(self, "_token_authenticated", False)
        if model and not token_auth and self.request.method not in ("GET", "HEAD"):
            # Browsers (cookie identity) only download; changes come with a token, so a
            # forged cross-site form cannot act for a member.
            raise APIError(403, "Changes need an API token, not a browser cookie.")
        if model and model.get("kind", "user") == "user":
            scopes = self.hub_auth.check_scopes(self.hub_auth.access_scopes, model)
            if not scopes:
                raise APIError(403, "This token may not use the TwinSpace service.")
            user = self.db.scalar(USER_BY_NAME, {"name": model["name"]})
            self.identity = Identity(model["name"], user, bool(model.get("admin")), "user")
        elif model and model["name"] in self.settings.get("public_services", ()):
            # The public view's token: exactly the anonymous public, never more.
            self.identity = Identity(None, None)
        elif model:
            self.identity = Identity(model["name"], None, False, "service")
        elif "Authorization" in self.request.headers:
            # A token was sent but the hub does not know it: say so rather than serve
            # the caller as the anonymous public.
            raise APIError(401, "Your token is not valid (it may have expired): log in again.")
        else:
            self.identity = Identity(None, None)
        if self.login_required and self.identity.kind == "public":
            raise APIError(401, "Please log in.")

    def check_xsrf_cookie(self) -> None:
        # Cookie-identified writes are refused in prepare(); token calls need no XSRF.
        return

    @property
    def me(self) -> m.User:
        """The calling TwinSpace user; 401/403 when there is none."""
        if self.identity.user is None:
            if self.identity.kind == "public":
                raise APIError(401, "Please log in.")
            raise APIError(403, f"{self.identity.name} has no TwinSpace account.")
        return self.identity.user

    def require_trusted_service(self, message: str) -> None:
        """Only the hub's own services (configured as trusted) get past this."""
        if not self.is_trusted_service:
            raise APIError(403, message)

    @property
    def is_trusted_service(self) -> bool:
        ident = self.identity
        return ident.kind == "service" and ident.name in self.settings["trusted_services"]

    def require_hub_admin(self) -> None:
        """Hub administrators, and the hub's own trusted services (the `twinspace` command)."""
        if not (self.identity.hub_admin or self.is_trusted_service):
            raise APIError(403, "Only hub administrators may do this.")

    # --- database ---------------------------------------------------------------------

    @property
    def db(self) -> Session:
        if self._db is None:
            reading = self.request.method in ("GET", "HEAD") and self.ctx.reading_sessions
            self._db = (self.ctx.reading_sessions if reading else self.ctx.sessions)()
        return self._db

    def on_finish(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def load(self, model: type, object_id: int | str, what: str | None = None):
        """Fetch a row by primary key or answer 404 naming what was missing."""
        key = as_id(object_id)
        obj = self.db.get(model, key) if key is not None else None
        if obj is None:
            raise APIError(404, f"No such {what or model.__tablename__.rstrip('s')}.")
        return obj

    def load_with_role(self, statement, object_id: int | str, what: str) -> tuple:
        """The row of `statement` (made by with_role, bound by :id) for `object_id`, without
        its role column, or 404 naming what was missing. The caller's role in the row's
        space is kept for role_in: one query instead of one per object and one more."""
        key = as_id(object_id)
        user = self.identity.user
        row = None
        if key is not None:
            params = {"id": key, "user_id": user.id if user is not None else None}
            row = self.db.execute(statement, params).first()
        if row is None:
            raise APIError(404, f"No such {what}.")
        if user is not None:
            self.remember_role(row[-2].id, row[-1])
        return tuple(row[:-1])

    def load_space(self, slug: str) -> m.Space:
        space = self.db.scalar(select(m.Space).where(m.Space.slug == slug))
        if space is None:
            raise APIError(404, f"No such space: {slug}.")
        return space

    def load_user(self, name: str) -> m.User:
        user = self.db.scalar(select(m.User).where(m.User.name == name))
        if user is None:
            raise APIError(404, f"No such member: {name}.")
        return user

    def app_context(self, app_id, kind: str | None = None):
        """(app, page, space) for an application id; 404 if it is not of `kind`.

        One query, which also reads the caller's role in the space for role_in.
        """
        app, page, space = self.load_with_role(APP_CONTEXT, app_id, "application")
        if kind is not None and app.kind != kind:
            raise APIError(404, f"Application {app.id} is not a {kind}.")
        return app, page, space

    # --- rights -----------------------------------------------------------------------

    def role_in(self, space: m.Space) -> str:
        """The caller's role in `space`, or "public"."""
        user = self.identity.user
        if user is None:
            return "public"
        self._same_epoch()
        if space.id in self._roles:
            role = self._roles[space.id]
        else:
            role = self._roles[space.id] = self.db.scalar(
                ROLE, {"space_id": space.id, "user_id": user.id}
            )
        # Remembered for how people are shown to the caller (user_brief).
        self._space_role = role or "public"
        return self._space_role

    def remember_role(self, space_id: int, role: str | None) -> None:
        """Keep the caller's role in a space (None: not a member), just read in this
        transaction, for role_in until the transaction ends or a membership is written."""
        self._same_epoch()
        self._roles[space_id] = role

    def _same_epoch(self) -> None:
        epoch = self.db.info.get("epoch", 0)
        if epoch != self._epoch:
            self._roles.clear()
            self._briefs.clear()
            self._epoch = epoch

    def may(
        self,
        space: m.Space,
        action: str,
        section: str,
        *,
        published: bool = False,
        own: bool = True,
        role: str | None = None,
    ) -> bool:
        role = role or self.role_in(space)
        return rights.allowed(role, action, section, state=space.state, published=published,
                              own=own)

    def require(
        self,
        space: m.Space,
        action: str,
        section: str,
        *,
        published: bool = False,
        own: bool = True,
    ) -> str:
        """Answer 401/403/404 unless the caller may do `action`; return their role."""
        role = self.role_in(space)
        if self.may(space, action, section, published=published, own=own, role=role):
            return role
        if space.state == "closed" and role != rights.TA:
            # A closed space is not shown at all to those who may not see it.
            raise APIError(404, f"No such space: {space.slug}.")
        if role == "public":
            if self.identity.kind == "public":
                raise APIError(401, "Please log in.")
            raise APIError(403, "You are not a member of this space.")
        raise APIError(403, rights.explain(role, action, section, state=space.state))

    def permissions(self, space: m.Space, section: str, *, published: bool = False) -> dict:
        """{action: bool} for the caller in `section`: what a widget may offer.

        Widgets use it to hide what a member may not do; every call is still checked.
        """
        role = self.role_in(space)
        return {
            action: rights.allowed(role, action, section, state=space.state,
                                   published=published)
            for action in rights.ACTIONS
        }

    def page_published(self, page: m.Page | None, space: m.Space) -> bool:
        """Whether the public may see `page` (or the space's home when `page` is None).

        A public space shows its Home page and the pages chosen for publication (F30).
        """
        if page is None:
            return space.public
        from .public import page_is_published

        return page_is_published(page, space)

    def require_page(self, page: m.Page, action: str = "view") -> str:
        return self.require(
            page.space, action, page.section, published=self.page_published(page, page.space)
        )

    def require_edit(self, space: m.Space, section: str, author_id: int | None) -> str:
        """Authors edit their own content; moderators anything they moderate."""
        role = self.role_in(space)
        is_author = self.identity.user is not None and author_id == self.identity.user.id
        if rights.may_edit(role, section, is_author=is_author, state=space.state):
            return role
        self.require(space, "view", section)
        if space.state != "open":
            raise APIError(403, rights.explain(role, "post", section, state=space.state))
        raise APIError(403, "You may only edit or delete your own content.")

    # --- activity ---------------------------------------------------------------------

    def record(
        self,
        space: m.Space,
        verb: str,
        section: str,
        *,
        page: m.Page | None = None,
        obj: Any = None,
        summary: str = "",
        actor: m.User | None = None,
    ) -> m.ActivityEvent:
        """Add a line to Latest activities (committed with the caller's change).

        `actor`: who did it when the caller acts for someone else (a space founded for a
        teacher by the `twinspace` command); by default the caller.
        """
        actor = actor or self.identity.user
        event = activity_event(space.id, actor.id if actor else None, verb, section,
                               page=page, obj=obj, summary=summary)
        self.db.add(event)
        return event

    def moderated_delete(self, space: m.Space, obj: Any, author_id: int | None) -> None:
        """After `obj` is deleted and flushed from its own menu: its reports close (nothing
        is left to moderate); when a moderator (not its author) deleted it, it is logged as
        the moderation queue does (F32)."""
        from .moderation import close_reports, log_moderation

        if author_id == self.me.id:
            close_reports(self.db, space, obj, self.me, deleted=True)
        else:
            log_moderation(self, space, "delete", obj)

    async def in_thread(self, fn, *args, **kwargs):
        """Run slow CPU work (password hashing, image encoding) off the event loop."""
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(None, call)

    def delete_blobs(self, keys) -> None:
        """Delete stored files whose rows are gone (after the commit, never before)."""
        for key in keys:
            if not key:
                continue
            try:
                self.ctx.files.delete(key)
            except OSError as e:
                # The row is gone already; an orphan file is harmless, but say so.
                log.warning("Could not delete stored file %s: %s", key, e)

    def commit(self, *notify_keys: str) -> None:
        """Commit, then wake long-polls waiting on `notify_keys`."""
        self.db.commit()
        for key in notify_keys:
            self.ctx.notifier.notify(key)

    # --- input ------------------------------------------------------------------------

    def json_body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise APIError(400, f"The request body is not valid JSON: {e}") from None
        except RecursionError:
            raise APIError(400, "The request body is nested too deeply.") from None
        if not isinstance(body, dict):
            raise APIError(400, "The request body must be a JSON object.")
        try:
            # JSON may spell lone surrogates (\ud800, or their bytes: json decodes with
            # "surrogatepass"), which no text column can store.
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise APIError(400, "The request body has text that is not valid Unicode "
                                "(a lone surrogate).") from None
        except RecursionError:
            raise APIError(400, "The request body is nested too deeply.") from None
        return body

    def field(self, body: dict, name: str, kind: type = str, *, default: Any = ..., **check):
        """body[name] checked for type; 400 with a message naming the field."""
        if name not in body or body[name] is None:
            if default is ...:
                raise APIError(400, f"'{name}' is required.")
            return default
        value = body[name]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            raise APIError(400, f"'{name}' must be a {kind.__name__}.")
        if kind is int and not -MAX_ID <= value <= MAX_ID:
            raise APIError(400, f"'{name}' is out of range.")
        if kind is str:
            value = value.strip()
            max_len = check.get("max_len", 10_000)
            if not value and not check.get("allow_empty", False):
                raise APIError(400, f"'{name}' must not be empty.")
            if len(value) > max_len:
                raise APIError(400, f"'{name}' is too long (at most {max_len} characters).")
        if "choices" in check and value not in check["choices"]:
            raise APIError(400, f"'{name}' must be one of: {', '.join(check['choices'])}.")
        return value

    def int_arg(self, name: str, default: int | None = None, *, low=0, high=None) -> int | None:
        raw = self.get_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise APIError(400, f"'{name}' must be a whole number.") from None
        if value < low or value > (MAX_ID if high is None else high):
            raise APIError(400, f"'{name}' must be between {low} and "
                                f"{MAX_ID if high is None else high}.")
        return value

    def float_arg(self, name: str, default: float = 0.0, *, high: float) -> float:
        raw = self.get_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise APIError(400, f"'{name}' must be a number.") from None
        return max(0.0, min(value, high))

    def keyset(self, query, id_column, *, newest_first: bool = True):
        """Apply ?before=/?after=/?limit= keyset pagination to `query` on `id_column`.

        Returns (rows, next_cursor). Keyset pagination keeps every page as cheap
        as the first, however long the feed grows (FEATURES F15).
        """
        limit, before, after = self.page_bounds()
        if before is not None:
            query = query.where(id_column < before)
        if after is not None:
            query = query.where(id_column > after)
        order = id_column.desc() if newest_first and after is None else id_column.asc()
        return self.page_of(list(self.db.scalars(query.order_by(order).limit(limit + 1))),
                            limit)

    def page_bounds(self) -> tuple[int, int | None, int | None]:
        """A keyset page's ?limit= (1 to MAX_PAGE, 50 by default), ?before= and ?after=."""
        return (self.int_arg("limit", 50, low=1, high=MAX_PAGE), self.int_arg("before"),
                self.int_arg("after"))

    @staticmethod
    def page_of(rows: list, limit: int) -> tuple[list, int | None]:
        """The page in `rows` (read with `limit` + 1) and the cursor to the next one."""
        page = rows[:limit]
        return page, page[-1].id if len(rows) > limit and page else None

    # --- output -----------------------------------------------------------------------

    def write_json(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(obj, default=_json_default))

    def no_content(self) -> None:
        """Answer 204: done, nothing to say (deletions)."""
        self.set_status(204)
        self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if (
            status_code == 401
            and self.browser_link
            and self.request.method == "GET"
            and "Authorization" not in self.request.headers
            and "text/html" in self.request.headers.get("Accept", "")
        ):
            # The hub's OAuth flow sets the service's cookie, then brings the browser back.
            self.redirect(self.get_login_url())
            return
        body: dict[str, Any]
        if isinstance(exc, APIError):
            body = {"error": exc.code, "message": exc.message, **exc.extra}
        elif isinstance(exc, web.HTTPError) and status_code < 500:
            message = exc.log_message or responses.get(status_code, "Error")
            if exc.args and "%" in message:
                message = message % exc.args
            body = {"error": ERROR_CODES.get(status_code, "error"), "message": message}
        else:
            if exc is not None:
                log.error("Unhandled error:\n%s", "".join(traceback.format_exception(exc)))
            body = {
                "error": "internal_error",
                "message": "The TwinSpace service had an internal error; it has been logged.",
            }
        if status_code == 405:
            # RFC 9110: a 405 says which methods the resource does answer.
            self.set_header("Allow", ", ".join(
                name for name in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
                if getattr(type(self), name.lower()) is not getattr(web.RequestHandler,
                                                                    name.lower())))
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(body))

    def viewer_role(self) -> str:
        """"public", "visitor" or "member": whose eyes the people in an answer meet.

        From the caller's role in the space the request is about (the role the rights
        checks found); a visitor account is a visitor everywhere.
        """
        user = self.identity.user
        space_role = getattr(self, "_space_role", None)
        if user is None or (space_role == "public" and not self.identity.hub_admin):
            return "public"  # a logged-in non-member reading a public space is the public
        if user.kind == "visitor" or space_role == rights.V:
            return rights.V
        return "member"

    def user_brief(self, user: m.User | None, *, viewer_role: str | None = None) -> dict | None:
        """How a person is shown: the public never sees a pupil's name, visitors only
        their first name (F31)."""
        if user is None:
            return None
        viewer = viewer_role or self.viewer_role()
        if user.kind == "pupil" and viewer == "public":
            return {"name": None, "display_name": "A pupil", "kind": "pupil"}
        if user.kind == "pupil" and viewer == rights.V:
            return {**user_fields(user), "display_name": first_name(user.display_name)}
        return user_fields(user)

    def author(self, author_id: int | None, viewer_role: str | None = None) -> dict | None:
        if not author_id:
            return None
        viewer = viewer_role or self.viewer_role()
        key = (author_id, viewer)
        self._same_epoch()
        if key not in self._briefs:
            self._briefs[key] = self.user_brief(self.db.get(m.User, author_id),
                                                viewer_role=viewer)
        brief = self._briefs[key]
        return dict(brief) if brief is not None else None

    def load_authors(self, author_ids) -> None:
        """Read the people behind `author_ids` in one query, for the author() calls that
        follow (a list of posts or messages, not one query per author)."""
        self._same_epoch()
        wanted = {i for i in author_ids if i} - {k[0] for k in self._briefs}
        if self.identity.user is not None:
            wanted.discard(self.identity.user.id)  # already in the session
        if wanted:
            viewer = self.viewer_role()
            for user in self.db.scalars(USERS_BY_ID, {"ids": sorted(wanted)}):
                self._briefs[(user.id, viewer)] = self.user_brief(user, viewer_role=viewer)


def user_fields(user: m.User) -> dict:
    """Who someone is, as members see it."""
    return {
        "name": user.name,
        "display_name": user.display_name,
        "kind": user.kind,
        "school": user.school,
        "country": user.country,
    }


def first_name(display_name: str) -> str:
    """'Ana Lopez' -> 'Ana': how visitors see a pupil."""
    parts = display_name.split()
    return parts[0] if parts else display_name


def _json_default(obj: Any) -> Any:
    if isinstance(obj, dt.datetime):
        if obj.tzinfo is None:
            obj = obj.replace(tzinfo=dt.UTC)
        return obj.isoformat()
    if isinstance(obj, dt.date):
        return obj.isoformat()
    raise TypeError(f"Cannot serialize {type(obj).__name__}")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes: read them as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


# How far over the upload limit a body is still read (and dropped) to answer a clean 413.
DRAIN_SLACK = 16 * 1024 * 1024


@web.stream_request_body
class UploadHandler(APIHandler):
    """Receives a raw file body (streamed), checking rights and size before keeping it.

    The file name comes in `?filename=`; the body is the file's bytes. A refusal found
    before or while the body arrives (401, 403, 404, 413) is answered only once the body
    has been read and dropped: answering mid-upload makes the hub's proxy report a broken
    connection (503) instead of our message. Bodies far over the limit are cut off at once.
    Subclasses put their rights checks in `check_upload(**path_kwargs)`; the upload
    method reads `upload_bytes` (which raises any refusal) before doing anything else.
    """

    upload_methods = ("POST", "PUT")
    # Set before `prepare`, which an unknown method never reaches (Tornado answers 405).
    _refusal: APIError | None = None
    _received = 0
    _cut_off = False

    @property
    def _drain_limit(self) -> int:
        limit = self.ctx.upload_limit
        return max(2 * limit, limit + DRAIN_SLACK)

    async def prepare(self) -> None:
        self._chunks: list[bytes] = []
        limit = self.ctx.upload_limit
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > limit:
            self._refusal = APIError(413, too_large_message(int(length), limit))
            if int(length) > self._drain_limit:
                self._cut_off = True
                raise self._refusal  # too much to read just to say no
        if self.request.method not in self.upload_methods:
            self.raise_refusal()
            await super().prepare()
            return
        self.request.connection.set_max_body_size(self._drain_limit)
        try:
            await super().prepare()
            if self._refusal is None:
                self.check_upload(**self.path_kwargs)
        except APIError as e:
            self._refusal = self._refusal or e
        self.db.rollback()  # hold no transaction open while the body streams in

    def finish(self, chunk: Any = None) -> Any:
        # An answer ready before the body was read (an unknown method, an error before or
        # in `prepare`) waits for the body, read and dropped: answering first makes Tornado
        # close the connection with unread data (the proxy then sees a reset, not our
        # answer), and the proxy may hand that kept-alive connection to someone else's
        # next request. Bodies beyond the drain limit are still cut off in data_received.
        body = self.request._body_future
        if body.done() or self._cut_off:
            if not body.done():
                self.set_header("Connection", "close")  # the proxy must not reuse it
            return super().finish(chunk)
        if self._refusal is None:
            self._refusal = APIError(self.get_status(), "")  # from now on, chunks dropped
        if chunk is not None:
            self.write(chunk)
        answered: Future = Future()

        def answer(read: Future) -> None:
            if read.cancelled() or read.exception() is not None:
                answered.set_result(None)  # the client went away: nobody to answer
            else:
                chain_future(super(UploadHandler, self).finish(), answered)

        body.add_done_callback(answer)
        return answered

    def check_upload(self, **path_kwargs: Any) -> None:
        """Rights checks to make before the body arrives (raise APIError to refuse)."""

    def data_received(self, chunk: bytes) -> None:
        self._received += len(chunk)
        limit = self.ctx.upload_limit
        if self._received > limit and self._refusal is None:
            self._refusal = APIError(413, too_large_message(self._received, limit))
        if self._refusal is not None:
            self._chunks = []  # read and dropped: nothing of a refused upload is kept
            if self._received > self._drain_limit:
                raise self._refusal
            return
        self._chunks.append(chunk)

    def raise_refusal(self) -> None:
        if self._refusal is not None:
            raise self._refusal

    def take_chunks(self) -> list[bytes]:
        """The upload's pieces as they came (refusals raised), handed over once: a large
        upload need not be joined into one block on the event loop."""
        self.raise_refusal()
        chunks, self._chunks = self._chunks, []
        return chunks

    @property
    def upload_bytes(self) -> bytes:
        self.raise_refusal()
        data = b"".join(self._chunks)
        if not data:
            raise APIError(400, "The upload is empty.")
        return data

    def upload_filename(self) -> str:
        name = self.get_argument("filename", "").strip()
        if not name:
            raise APIError(400, "'filename' is required.")
        return name

    async def store(self, method: str, data: bytes, filename: str, **kwargs: Any):
        """Run a FileStore method off the event loop (images are decoded and re-encoded);
        its refusals become API errors."""
        try:
            return await self.in_thread(getattr(self.ctx.files, method), data, filename, **kwargs)
        except UploadRejected as e:
            raise APIError(e.status, e.message) from None

    def commit_or_forget(self, keys: list[str | None], *notify: str) -> None:
        """Commit the new row; if that fails, delete the files so nothing stays half-stored."""
        try:
            self.commit(*notify)
        except BaseException:
            self.db.rollback()
            self.delete_blobs(keys)
            raise

    def json_body(self) -> dict[str, Any]:
        if self.request.method in self.upload_methods:
            raise APIError(400, "This endpoint takes the file itself as the request body.")
        return super().json_body()
