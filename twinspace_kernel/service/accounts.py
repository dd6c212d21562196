"""Password links: accounts made by an administrator choose their own password once."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, select, update

from ..passwords import PasswordError, check_member_password, hash_password
from ..store import models as m
from .auth import lift_account_lock
from .base import APIError, APIHandler, as_utc, utcnow
from .invitations import token_hash
from .mailer import mail_link

LINK_DAYS = 7
USED = "This link has already been used."
EXPIRED = "This link has expired: ask your hub administrator for a new one."
INVALID = "This link is not valid."
PUPILS = "Pupils' passwords are set by their teacher."


def password_link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/hub/twinspace/password?token={token}"


class PasswordLinkHandler(APIHandler):
    login_required = True

    async def post(self, name):
        """Make a one-time link with which an account sets its password (hub administrators).

        Body: {days?} (1–30, default 7). Any earlier unused link of the account stops
        working. Pupils are refused: their teacher sets and resets their passwords.
        When SMTP is configured and the account has an e-mail address, the link is
        mailed too (`mailed`, and `mail_error` if sending failed: the link stays valid).
        """
        self.require_hub_admin()
        user = self.load_user(name)
        if user.kind == "pupil":
            raise APIError(400, PUPILS)
        body = self.json_body()
        days = self.field(body, "days", int, default=LINK_DAYS)
        if not 1 <= days <= 30:
            raise APIError(400, "'days' must be between 1 and 30.")
        token = secrets.token_urlsafe(32)
        link = m.PasswordLink(
            user_id=user.id,
            token_hash=token_hash(token),
            expires_at=utcnow() + dt.timedelta(days=days),
        )
        # One live link per account: a new one replaces any the person did not use.
        self.db.execute(
            delete(m.PasswordLink).where(
                m.PasswordLink.user_id == user.id, m.PasswordLink.used_at.is_(None)
            )
        )
        self.db.add(link)
        self.db.commit()
        url = password_link(self.ctx.public_url, token)
        answer = {"token": token, "link": url, "expires_at": link.expires_at, "name": user.name}
        answer.update(
            await mail_link(
                self.ctx.smtp,
                user.email,
                "Choose your TwinSpace password",
                f"Hello {user.display_name},\n\n"
                f"An account was made for you on TwinSpace: your username is {user.name}.\n"
                f"Choose your password here (the link works once, until "
                f"{as_utc(link.expires_at).date().isoformat()}):\n\n{url}\n",
            )
        )
        self.write_json(answer, 201)


class PasswordLinkTokenHandler(APIHandler):
    """The link itself: no login (the person has no password yet)."""

    def _by_token(self, token: str) -> tuple[m.PasswordLink, m.User]:
        link = self.db.scalar(
            select(m.PasswordLink).where(m.PasswordLink.token_hash == token_hash(token))
        )
        if link is None:
            raise APIError(404, INVALID)
        return link, self.db.get(m.User, link.user_id)

    @staticmethod
    def _check_usable(link: m.PasswordLink) -> None:
        if link.used_at is not None:
            raise APIError(409, USED)
        if as_utc(link.expires_at) <= utcnow():
            raise APIError(409, EXPIRED)

    def get(self, token):
        """Whose password a link sets, and whether it can still be used."""
        link, user = self._by_token(token)
        self._check_usable(link)
        self.write_json(
            {
                "name": user.name,
                "display_name": user.display_name,
                "expires_at": link.expires_at,
                "valid": True,
            }
        )

    async def post(self, token):
        """Set the account's password with a link (once). Body: {password}."""
        link, user = self._by_token(token)
        self._check_usable(link)
        body = self.json_body()
        password = self.field(body, "password", max_len=200)
        try:
            check_member_password(password)
        except PasswordError as e:
            raise APIError(400, str(e)) from None
        password_hash = await self.in_thread(hash_password, password)
        # Used up by a conditional update in the same transaction as the new password:
        # two tabs posting the same link cannot both set a password.
        claimed = self.db.execute(
            update(m.PasswordLink)
            .where(m.PasswordLink.id == link.id, m.PasswordLink.used_at.is_(None))
            .values(used_at=utcnow())
        ).rowcount
        if claimed != 1:
            self.db.rollback()
            raise APIError(409, USED)
        self.db.execute(
            update(m.User).where(m.User.id == user.id).values(password_hash=password_hash)
        )
        lift_account_lock(self.db, user.name)
        self.db.commit()
        self.write_json({"name": user.name, "password_set": True})


default_handlers = [
    (r"/users/(?P<name>[^/]+)/password-link", PasswordLinkHandler),
    (r"/password-links/(?P<token>[^/]+)", PasswordLinkTokenHandler),
]
