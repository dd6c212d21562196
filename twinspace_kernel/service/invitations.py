"""Invitations of teachers and visitors (F4): mail for members, one-time links for newcomers."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .. import rights
from ..passwords import PasswordError, check_member_password, hash_password
from ..store import models as m
from .base import APIError, APIHandler, as_utc, utcnow
from .mailer import mail_link
from .meta import USERNAME_RE, user_json
from .spaces import check_role_fits

INVITABLE_ROLES = (rights.TA, rights.T, rights.V)
EXPIRED = "This invitation has expired."
USED = "This invitation has already been used."
INVALID_LINK = "This invitation link is not valid."


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def join_link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/hub/twinspace/join?token={token}"


def check_usable(invitation: m.Invitation) -> None:
    """409 with a clear sentence when the invitation was used or has expired."""
    if invitation.used_at is not None:
        raise APIError(409, USED)
    if as_utc(invitation.expires_at) <= utcnow():
        raise APIError(409, EXPIRED)


def closed_message(space: m.Space) -> str:
    return f"The space {space.title} is {space.state}; nobody can join it now."


def role_words(role: str) -> str:
    return role.replace("_", " ")


class InvitationsHandler(APIHandler):
    login_required = True

    def get(self, slug):
        """Pending invitations of a space (teacher administrators); tokens are never shown."""
        space = self.load_space(slug)
        self.require(space, "invite", "home")
        query = select(m.Invitation).where(
            m.Invitation.space_id == space.id,
            m.Invitation.used_at.is_(None),
            m.Invitation.expires_at > utcnow(),
        )
        rows, cursor = self.keyset(query, m.Invitation.id)
        self.write_json({"items": [self.invitation_json(i) for i in rows], "next": cursor})

    async def post(self, slug):
        """Invite a teacher or visitor: members get a mail, newcomers a one-time link.

        Body: {role: teacher_admin|teacher|visitor, username?, email?, display_name?,
        school?, country?}. Pupils are not invited: create their accounts instead.
        A newcomer's link is also e-mailed when SMTP is configured and `email` is given
        (`mailed`; `mail_error` if sending failed: the invitation stays valid).
        """
        space = self.load_space(slug)
        self.require(space, "invite", "home")
        body = self.json_body()
        raw_role = body.get("role")
        if raw_role in rights.PUPIL_ROLES:
            raise APIError(
                400,
                "Pupils are not invited: create their accounts with "
                f"POST /spaces/{space.slug}/pupils.",
            )
        role = self.field(body, "role", choices=INVITABLE_ROLES)
        username = self.field(body, "username", default=None, max_len=63)
        email = self.field(body, "email", default=None, max_len=254)
        username = username.lower() if username else None
        if email is not None and "@" not in email:
            raise APIError(400, "'email' must be an e-mail address.")

        user = None
        if username:
            user = self.db.scalar(select(m.User).where(m.User.name == username))
        if user is None and email:
            user = self.db.scalar(select(m.User).where(m.User.email == email))
        if user is None and username and not USERNAME_RE.match(username):
            raise APIError(
                400, "A username uses lowercase letters, digits, '.', '_' or '-' (2–63)."
            )

        token = secrets.token_urlsafe(32)
        invitation = m.Invitation(
            space_id=space.id,
            role=role,
            invited_by_id=self.me.id,
            kind="visitor" if role == rights.V else "teacher",
            token_hash=token_hash(token),
            expires_at=utcnow() + dt.timedelta(days=self.ctx.invitation_days),
        )
        if user is not None:
            self._check_can_invite(space, user, role)
            invitation.user_id = user.id
            invitation.kind = user.kind
            self.db.add(invitation)
            self.db.flush()
            self._send_mail(space, user, invitation)
            self.commit(f"space:{space.id}", f"mail:{user.id}")
            self.write_json(
                {**self.invitation_json(invitation), "existing": True}, status=201
            )
            return

        invitation.username = username
        invitation.email = email
        self.db.add(invitation)
        self.commit(f"space:{space.id}")
        link = join_link(self.ctx.public_url, token)
        answer = {
            **self.invitation_json(invitation),
            "existing": False,
            "token": token,
            "link": link,
        }
        # Committed first: a mail that fails never loses the invitation.
        answer.update(
            await mail_link(self.ctx.smtp, email, *self._link_mail(space, role, link))
        )
        self.write_json(answer, status=201)

    def _link_mail(self, space: m.Space, role: str, link: str) -> tuple[str, str]:
        """Subject and text of the mail carrying a newcomer's join link."""
        inviter = self.me
        text = (
            f"Hello,\n\n{inviter.display_name} ({inviter.school}) invites you to join the "
            f"TwinSpace \"{space.title}\" as {role_words(role)}.\n\n"
            f"Open this link to choose your username and password (it works once, for "
            f"{self.ctx.invitation_days} days):\n\n{link}\n"
        )
        return f"Invitation to {space.title}"[:200], text

    def _check_can_invite(self, space: m.Space, user: m.User, role: str) -> None:
        member = self.db.scalar(
            select(m.Membership.id).where(
                m.Membership.space_id == space.id, m.Membership.user_id == user.id
            )
        )
        if member is not None:
            raise APIError(409, f"{user.name} is already a member of this space.")
        pending = self.db.scalar(
            select(m.Invitation.id).where(
                m.Invitation.space_id == space.id,
                m.Invitation.user_id == user.id,
                m.Invitation.used_at.is_(None),
                m.Invitation.expires_at > utcnow(),
            )
        )
        if pending is not None:
            raise APIError(409, f"{user.name} already has a pending invitation to this space.")
        try:
            check_role_fits(user, role)
        except APIError:
            if self.knows(user):
                raise
            # Not which kind of account it is (a pupil, perhaps): only that it cannot be.
            raise APIError(400, f"The account {user.name} cannot be invited as "
                                f"{role_words(role)}.") from None

    def knows(self, user: m.User) -> bool:
        """Whether the caller may learn who `user` is: someone of one of their spaces
        (or a hub administrator). Anyone else's name, school, country and kind stay out."""
        me = self.identity.user
        if self.identity.hub_admin or self.is_trusted_service or (me and user.id == me.id):
            return True
        if me is None:
            return False
        mine = select(m.Membership.space_id).where(m.Membership.user_id == me.id)
        return self.db.scalar(
            select(m.Membership.id).where(m.Membership.user_id == user.id,
                                          m.Membership.space_id.in_(mine)).limit(1)
        ) is not None

    def _send_mail(self, space: m.Space, user: m.User, invitation: m.Invitation) -> None:
        inviter = self.me
        expires = as_utc(invitation.expires_at).date().isoformat()
        text = (
            f"{inviter.display_name} invites you to join the TwinSpace \"{space.title}\" "
            f"as {role_words(invitation.role)}.\n\n"
            "Accept or decline the invitation from this message. "
            f"It is valid until {expires}."
        )
        message = m.MailMessage(
            space_id=space.id,
            sender_id=inviter.id,
            subject=f"Invitation to {space.title}"[:200],
            body=text,
            invitation_id=invitation.id,
        )
        message.recipients = [m.MailRecipient(recipient_id=user.id)]
        self.db.add(message)

    def invitation_json(self, invitation: m.Invitation) -> dict:
        invitee = self.db.get(m.User, invitation.user_id) if invitation.user_id else None
        if invitee is not None and not self.knows(invitee):
            # An account outside the caller's spaces: the account it is addressed to, and
            # nothing of the person (name, school, country, kind of account).
            kind = "visitor" if invitation.role == rights.V else "teacher"
            user = {"name": invitee.name, "display_name": invitee.name, "kind": None,
                    "school": None, "country": None}
        else:
            kind, user = invitation.kind, self.user_brief(invitee)
        username = invitee.name if invitee else invitation.username
        return {
            "id": invitation.id,
            "role": invitation.role,
            "kind": kind,
            "user": user,
            "username": username,
            "email": invitation.email,
            "invited_by": self.author(invitation.invited_by_id),
            "expires_at": invitation.expires_at,
            "created_at": invitation.created_at,
        }


class InvitationHandler(APIHandler):
    login_required = True

    def delete(self, invitation_id):
        """Cancel an invitation (teacher administrators of its space)."""
        invitation = self.load(m.Invitation, invitation_id, "invitation")
        space = self.db.get(m.Space, invitation.space_id)
        self.require(space, "invite", "home")
        if invitation.used_at is not None:
            raise APIError(409, USED)
        self.db.delete(invitation)
        self.commit(f"space:{space.id}")
        self.no_content()


class _AnswerHandler(APIHandler):
    """Answers to an invitation that arrived in the member's mailbox."""

    login_required = True

    def _mine(self, invitation_id) -> m.Invitation:
        invitation = self.load(m.Invitation, invitation_id, "invitation")
        if invitation.user_id is None or invitation.user_id != self.me.id:
            raise APIError(403, "This invitation is addressed to someone else.")
        check_usable(invitation)
        return invitation


class AcceptHandler(_AnswerHandler):
    def post(self, invitation_id):
        """Accept an invitation: join the space with the invited role."""
        invitation = self._mine(invitation_id)
        space = self.db.get(m.Space, invitation.space_id)
        if space.state != "open":
            raise APIError(409, closed_message(space))
        user = self.me
        member = self.db.scalar(
            select(m.Membership).where(
                m.Membership.space_id == space.id, m.Membership.user_id == user.id
            )
        )
        if member is not None:
            raise APIError(409, "You are already a member of this space.")
        check_role_fits(user, invitation.role)
        invitation.used_at = utcnow()
        self.db.add(m.Membership(space_id=space.id, user_id=user.id, role=invitation.role))
        self.record(space, "member.join", "home", obj=user, summary=user.display_name)
        try:
            self.commit(f"space:{space.id}")
        except IntegrityError:
            self.db.rollback()
            raise APIError(409, "You are already a member of this space.") from None
        self.write_json({"space": space.slug, "title": space.title, "role": invitation.role})


class DeclineHandler(_AnswerHandler):
    def post(self, invitation_id):
        """Decline an invitation (it is removed; the mail stays)."""
        invitation = self._mine(invitation_id)
        space_id = invitation.space_id
        self.db.delete(invitation)
        self.commit(f"space:{space_id}")
        self.no_content()


class TokenInvitationHandler(APIHandler):
    """The one-time link of a newcomer: no login (they have no account yet)."""

    def _by_token(self, token: str) -> m.Invitation:
        invitation = self.db.scalar(
            select(m.Invitation).where(m.Invitation.token_hash == token_hash(token))
        )
        # Existing members are invited by mail; their (never shown) token is not a link.
        if invitation is None or invitation.user_id is not None:
            raise APIError(404, INVALID_LINK)
        return invitation

    def get(self, token):
        """What a join link offers: the space, the role, who invited, until when."""
        invitation = self._by_token(token)
        check_usable(invitation)
        space = self.db.get(m.Space, invitation.space_id)
        inviter = self.db.get(m.User, invitation.invited_by_id or -1)
        self.write_json(
            {
                "space": space.slug,
                "title": space.title,
                "role": invitation.role,
                "kind": invitation.kind,
                "inviter": inviter.display_name if inviter else None,
                "username": invitation.username,
                "email": invitation.email,
                "expires_at": invitation.expires_at,
                "valid": True,
            }
        )

    async def post(self, token):
        """Redeem a join link: create the account, join the space, use up the link.

        Body: {username, password, display_name, school?, country?, email?}. Everything
        happens in one transaction: on any error nothing is created.
        """
        invitation = self._by_token(token)
        check_usable(invitation)
        space = self.db.get(m.Space, invitation.space_id)
        if space.state != "open":
            raise APIError(409, closed_message(space))
        body = self.json_body()
        name = self.field(body, "username", default=invitation.username, max_len=63)
        if not name:
            raise APIError(400, "'username' is required.")
        name = name.lower()
        if not USERNAME_RE.match(name):
            raise APIError(
                400, "A username uses lowercase letters, digits, '.', '_' or '-' (2–63)."
            )
        password = self.field(body, "password", max_len=200)
        try:
            check_member_password(password)
        except PasswordError as e:
            raise APIError(400, str(e)) from None
        display_name = self.field(body, "display_name", max_len=120)
        school = self.field(body, "school", default="", max_len=160, allow_empty=True)
        country = self.field(body, "country", default="", max_len=64, allow_empty=True)
        email = self.field(body, "email", default=invitation.email, max_len=254) or None
        if email is not None and "@" not in email:
            raise APIError(400, "'email' must be an e-mail address.")
        if self.db.scalar(select(m.User.id).where(m.User.name == name)):
            raise APIError(409, f"The username {name} is taken.")
        if email and self.db.scalar(select(m.User.id).where(m.User.email == email)):
            raise APIError(409, f"An account already uses {email}.")
        # Hash off the event loop (argon2 is deliberately slow).
        password_hash = await self.in_thread(hash_password, password)

        # The link is used up by a conditional update: two people redeeming it at the
        # same moment cannot both succeed.
        claimed = self.db.execute(
            update(m.Invitation)
            .where(m.Invitation.id == invitation.id, m.Invitation.used_at.is_(None))
            .values(used_at=utcnow())
        ).rowcount
        if claimed != 1:
            self.db.rollback()
            raise APIError(409, USED)
        user = m.User(
            name=name,
            kind=invitation.kind,
            display_name=display_name,
            school=school,
            country=country,
            email=email,
            password_hash=password_hash,
        )
        self.db.add(user)
        try:
            self.db.flush()
            self.db.add(m.Membership(space_id=space.id, user_id=user.id, role=invitation.role))
            event = self.record(space, "member.join", "home", obj=user, summary=display_name)
            event.actor_id = user.id
            self.commit(f"space:{space.id}")
        except IntegrityError:
            self.db.rollback()
            raise APIError(409, f"The username {name} is taken.") from None
        self.write_json({"name": user.name, "space": space.slug, "user": user_json(user)}, 201)


default_handlers = [
    (r"/spaces/(?P<slug>[^/]+)/invitations", InvitationsHandler),
    (r"/invitations/by-token/(?P<token>[^/]+)", TokenInvitationHandler),
    (r"/invitations/(?P<invitation_id>[0-9]+)", InvitationHandler),
    (r"/invitations/(?P<invitation_id>[0-9]+)/accept", AcceptHandler),
    (r"/invitations/(?P<invitation_id>[0-9]+)/decline", DeclineHandler),
]
