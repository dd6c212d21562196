"""Internal mail between members of a shared space (F11, F12): inbox, sent, unread count."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from ..store import models as m
from .base import APIError, APIHandler, utcnow

MAX_BODY = 20_000
MAX_RECIPIENTS = 200
NO_SUCH = "No such mail."


class MailBase(APIHandler):
    # Mail is personal: never for the public.
    login_required = True

    def space_slug(self, space_id: int | None) -> str | None:
        space = self.db.get(m.Space, space_id) if space_id else None
        return space.slug if space else None

    def recipients(self, message: m.MailMessage) -> list[dict]:
        users = self.db.scalars(
            select(m.User)
            .join(m.MailRecipient, m.MailRecipient.recipient_id == m.User.id)
            .where(m.MailRecipient.message_id == message.id)
            .order_by(m.MailRecipient.id)
        )
        return [self.user_brief(u) for u in users]

    def summary_json(self, message: m.MailMessage, read: bool | None) -> dict:
        body = {
            "id": message.id,
            "subject": message.subject,
            "sender": self.author(message.sender_id),
            "created_at": message.created_at,
            "space": self.space_slug(message.space_id),
            "invitation_id": message.invitation_id,
        }
        if read is not None:
            body["read"] = read
        return body

    def full_json(self, message: m.MailMessage, row: m.MailRecipient | None) -> dict:
        return {
            **self.summary_json(message, None if row is None else row.read_at is not None),
            "body": message.body,
            "to": self.recipients(message),
        }

    def my_row(self, message_id: int) -> m.MailRecipient | None:
        return self.db.scalar(
            select(m.MailRecipient).where(
                m.MailRecipient.message_id == message_id,
                m.MailRecipient.recipient_id == self.me.id,
            )
        )

    def load_mail(self, message_id) -> tuple[m.MailMessage, m.MailRecipient | None]:
        """The message and the caller's inbox row; 404 unless sender or recipient."""
        message = self.load(m.MailMessage, message_id, "mail")
        row = self.my_row(message.id)
        sender_copy = message.sender_id == self.me.id and not message.sender_deleted
        if row is None and not sender_copy:
            raise APIError(404, NO_SUCH)
        return message, row

    def unread_count(self) -> int:
        return self.db.scalar(
            select(func.count())
            .select_from(m.MailRecipient)
            .where(m.MailRecipient.recipient_id == self.me.id, m.MailRecipient.read_at.is_(None))
        )


class MailHandler(MailBase):
    def post(self):
        """Send a mail to members of a space you share: {space, to: [usernames], subject, body}."""
        sender = self.me
        body = self.json_body()
        space = self.load_space(self.field(body, "space", max_len=64))
        self.require(space, "send_mail", "home")
        names = self.field(body, "to", list)
        if not names:
            raise APIError(400, "'to' must name at least one member.")
        if len(names) > MAX_RECIPIENTS:
            raise APIError(400, f"A mail goes to at most {MAX_RECIPIENTS} members.")
        if not all(isinstance(n, str) and n.strip() for n in names):
            raise APIError(400, "'to' must be a list of usernames.")
        names = list(dict.fromkeys(n.strip() for n in names))
        subject = self.field(body, "subject", max_len=200)
        text = self.field(body, "body", max_len=MAX_BODY)
        members = dict(
            self.db.execute(
                select(m.User.name, m.User.id)
                .join(m.Membership, m.Membership.user_id == m.User.id)
                .where(m.Membership.space_id == space.id, m.User.name.in_(names))
            ).all()
        )
        strangers = [n for n in names if n not in members]
        if strangers:
            raise APIError(
                400,
                f"Not members of {space.title}: {', '.join(strangers)}.",
                not_members=strangers,
            )
        message = m.MailMessage(
            space_id=space.id, sender_id=sender.id, subject=subject, body=text
        )
        message.recipients = [m.MailRecipient(recipient_id=members[n]) for n in names]
        self.db.add(message)
        self.commit(*(f"mail:{members[n]}" for n in names))
        self.write_json(self.full_json(message, self.my_row(message.id)), 201)


class InboxHandler(MailBase):
    def get(self):
        """Your inbox, newest first (`?before=<mail id>` for older)."""
        me = self.me
        query = (
            select(m.MailMessage)
            .join(m.MailRecipient, m.MailRecipient.message_id == m.MailMessage.id)
            .where(m.MailRecipient.recipient_id == me.id)
        )
        messages, cursor = self.keyset(query, m.MailMessage.id)
        read = dict(
            self.db.execute(
                select(m.MailRecipient.message_id, m.MailRecipient.read_at).where(
                    m.MailRecipient.recipient_id == me.id,
                    m.MailRecipient.message_id.in_([msg.id for msg in messages]),
                )
            ).all()
        )
        items = [self.summary_json(msg, read.get(msg.id) is not None) for msg in messages]
        self.write_json({"items": items, "next": cursor})


class SentHandler(MailBase):
    def get(self):
        """The mail you sent, newest first (`?before=<mail id>` for older)."""
        query = select(m.MailMessage).where(
            m.MailMessage.sender_id == self.me.id, m.MailMessage.sender_deleted.is_(False)
        )
        messages, cursor = self.keyset(query, m.MailMessage.id)
        items = [
            {**self.summary_json(msg, None), "to": self.recipients(msg)} for msg in messages
        ]
        self.write_json({"items": items, "next": cursor})


class UnreadHandler(MailBase):
    async def get(self):
        """How many unread mails you have; `?count=<n>&wait=<s>` waits for a change."""
        me_id = self.me.id
        known = self.int_arg("count")
        wait = self.float_arg("wait", 0, high=self.ctx.long_poll_max)
        deadline = time.monotonic() + wait
        while True:
            count = self.unread_count()
            remaining = deadline - time.monotonic()
            if known is None or count != known or remaining <= 0:
                break
            self.db.rollback()  # a fresh snapshot after waking
            await self.ctx.notifier.wait(f"mail:{me_id}", remaining)
            if self.request.connection.stream.closed():
                return
        self.write_json({"count": count})


class MessageHandler(MailBase):
    def get(self, mail_id):
        """One mail (its sender or a recipient); opening it marks it read."""
        message, row = self.load_mail(mail_id)
        if row is not None and row.read_at is None:
            row.read_at = utcnow()
            self.commit(f"mail:{self.me.id}")
        self.write_json(self.full_json(message, row))

    def delete(self, mail_id):
        """Remove a mail from your inbox or your Sent box; the others keep their copies."""
        message, row = self.load_mail(mail_id)
        if row is not None:
            self.db.delete(row)
            self.db.flush()
        elif message.sender_id == self.me.id:
            message.sender_deleted = True
        remaining = self.db.scalar(
            select(func.count())
            .select_from(m.MailRecipient)
            .where(m.MailRecipient.message_id == message.id)
        )
        if not remaining and (message.sender_deleted or message.sender_id is None):
            self.db.delete(message)
        self.commit(f"mail:{self.me.id}")
        self.no_content()


class ReadHandler(MailBase):
    def post(self, mail_id):
        """Mark a mail of your inbox read or unread: {read: bool}."""
        message, row = self.load_mail(mail_id)
        if row is None:
            raise APIError(404, "This mail is not in your inbox.")
        read = self.field(self.json_body(), "read", bool, default=True)
        if read and row.read_at is None:
            row.read_at = utcnow()
        elif not read:
            row.read_at = None
        self.commit(f"mail:{self.me.id}")
        self.write_json(self.summary_json(message, row.read_at is not None))


default_handlers = [
    (r"/mail", MailHandler),
    (r"/mail/inbox", InboxHandler),
    (r"/mail/sent", SentHandler),
    (r"/mail/unread", UnreadHandler),
    (r"/mail/(?P<mail_id>[0-9]+)", MessageHandler),
    (r"/mail/(?P<mail_id>[0-9]+)/read", ReadHandler),
]
