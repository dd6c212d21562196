"""Sending links by e-mail (SMTP) without ever losing what the mail was about."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

log = logging.getLogger("twinspace.mail")


@dataclass(frozen=True)
class SmtpSettings:
    """Where outgoing mail goes; `host` empty means mail is not configured."""

    host: str = ""
    port: int = 587
    user: str = ""
    password: str = ""
    sender: str = ""
    starttls: bool = True
    timeout: float = 20.0

    @property
    def configured(self) -> bool:
        return bool(self.host and self.sender)


def send_mail(smtp: SmtpSettings, to: str, subject: str, text: str) -> None:
    """Send one plain-text message (blocking: run it in an executor)."""
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.user:
            client.login(smtp.user, smtp.password)
        client.send_message(message)


async def mail_link(smtp: SmtpSettings | None, to: str | None, subject: str, text: str) -> dict:
    """Mail `text` when SMTP is configured and there is an address.

    Returns what to add to the response: {"mailed": bool} and, when sending failed,
    "mail_error". A failure never undoes what the mail announced: the caller has
    committed it already and still shows the link.
    """
    if smtp is None or not smtp.configured or not to:
        return {"mailed": False}
    try:
        await asyncio.get_running_loop().run_in_executor(
            None, send_mail, smtp, to, subject, text
        )
    except (OSError, smtplib.SMTPException) as e:
        log.error("Could not mail %r to %s: %s", subject, to, e)
        return {"mailed": False, "mail_error": f"The e-mail could not be sent: {e}"}
    return {"mailed": True}
