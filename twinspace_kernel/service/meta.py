"""Service-wide endpoints: health, the caller's identity, accounts, the OpenAPI document."""

from __future__ import annotations

import re

from sqlalchemy import select

from .. import rights
from ..i18n import LANGUAGES
from ..passwords import PasswordError, check_member_password, hash_password
from ..store import models as m
from .base import APIError, APIHandler
from .openapi import METHODS, openapi_path, served_operations  # noqa: F401 (re-exported)
from .openapi import openapi_document as build_openapi

USER_KINDS = ("teacher", "pupil", "visitor")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


class HealthHandler(APIHandler):
    """Liveness: answers without identity so the hub and clients can wait for it."""

    async def prepare(self) -> None:
        return

    def get(self):
        """Is the service up?"""
        self.write_json({"status": "ok"})


class LimitsHandler(APIHandler):
    """Limits the apps show before sending anything (answers without identity, like health)."""

    async def prepare(self) -> None:
        return

    def get(self):
        """The service's limits: `upload_limit`, the largest accepted upload in bytes."""
        self.write_json({"upload_limit": self.ctx.upload_limit})


class MeHandler(APIHandler):
    def get(self):
        """Who is calling, with their spaces and roles (from the store, never the hub cache)."""
        ident = self.identity
        body = {"kind": ident.kind, "name": ident.name, "hub_admin": ident.hub_admin}
        if ident.user is not None:
            rows = self.db.execute(
                select(m.Space, m.Membership.role)
                .join(m.Membership, m.Membership.space_id == m.Space.id)
                .where(m.Membership.user_id == ident.user.id)
                .order_by(m.Space.title)
            )
            body["user"] = user_json(ident.user)
            body["spaces"] = [
                {"slug": s.slug, "title": s.title, "state": s.state, "role": role}
                for s, role in rows
                if s.state != "closed" or role == rights.TA
            ]
        self.write_json(body)

    def patch(self):
        """Choose your language (`locale`: en, fr or de); it applies from your next server."""
        user = self.me
        user.locale = self.field(self.json_body(), "locale", choices=LANGUAGES)
        self.db.commit()
        self.write_json(user_json(user))

    def delete(self):
        """Erase your account and personal data (`confirm` must be your username)."""
        from .privacy import erase_own_account

        erase_own_account(self)
        self.no_content()


class UsersHandler(APIHandler):
    login_required = True

    async def post(self):
        """Create a teacher or visitor account (hub administrators)."""
        self.require_hub_admin()
        body = self.json_body()
        name = self.field(body, "name", max_len=63).lower()
        if not USERNAME_RE.match(name):
            raise APIError(
                400, "A username uses lowercase letters, digits, '.', '_' or '-' (2–63)."
            )
        kind = self.field(body, "kind", choices=USER_KINDS, default="teacher")
        if self.db.scalar(select(m.User.id).where(m.User.name == name)):
            raise APIError(409, f"The username {name} is taken.")
        email = self.field(body, "email", default=None, max_len=254)
        if email and self.db.scalar(select(m.User.id).where(m.User.email == email)):
            raise APIError(409, f"An account already uses {email}.")
        user = m.User(
            name=name,
            kind=kind,
            display_name=self.field(body, "display_name", default=name, max_len=120),
            school=self.field(body, "school", default="", max_len=160, allow_empty=True),
            country=self.field(body, "country", default="", max_len=64, allow_empty=True),
            email=email,
            locale=self.field(body, "locale", default="en", choices=LANGUAGES),
        )
        password = self.field(body, "password", default=None, max_len=200)
        if password is not None:
            try:
                check_member_password(password)
            except PasswordError as e:
                raise APIError(400, str(e)) from None
            user.password_hash = await self.in_thread(hash_password, password)
        self.db.add(user)
        self.db.commit()
        self.write_json(user_json(user), 201)


class UserHandler(APIHandler):
    login_required = True

    def get(self, name):
        """An account (yourself, or anyone for hub administrators and the admin CLI)."""
        if name != self.identity.name and not (self.identity.hub_admin
                                               or self.is_trusted_service):
            raise APIError(403, "You may only look at your own account.")
        self.write_json(user_json(self.load_user(name)))


def user_json(user: m.User) -> dict:
    return {
        "name": user.name,
        "kind": user.kind,
        "display_name": user.display_name,
        "school": user.school,
        "country": user.country,
        "email": user.email,
        "locale": user.locale,
        "created_at": user.created_at,
    }


class OpenAPIHandler(APIHandler):
    """The OpenAPI 3 document, built from the routes actually served."""

    async def prepare(self) -> None:
        return

    def get(self):
        """This API's OpenAPI 3 description."""
        self.write_json(openapi_document(self.application))


def openapi_document(application) -> dict:
    """The document of the routes actually served (see openapi.py)."""
    from .app import HANDLER_MODULES, collect_handlers

    return build_openapi(application, collect_handlers(HANDLER_MODULES))


default_handlers = [
    (r"/health", HealthHandler),
    (r"/limits", LimitsHandler),
    (r"/me", MeHandler),
    (r"/openapi.json", OpenAPIHandler),
    (r"/users", UsersHandler),
    (r"/users/(?P<name>[^/]+)", UserHandler),
]
