"""Sending account mail (invitations, password resets) behind one small interface.

Each message carries a single-use link that is as good as a password until used, so only the
`dev` mailer ever writes one where a person reads it (the console of `walkai-jobs dev`):
- SMTP (`app.auth.smtp`) when `WALKAI_SMTP__HOST` is set;
- else, in `dev`, `LogMailer`: the link on the console;
- else `Outbox`: nothing is sent, a warning without the link says so, and the last messages
  stay in memory (for the tests).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One mail: to whom, its subject, and the link it carries."""

    to: str
    subject: str
    link: str

    def __repr__(self) -> str:  # the link must never reach a log line through a repr
        return f"Message(to={self.to!r}, subject={self.subject!r}, link=<hidden>)"


class Mailer(Protocol):
    """Delivers account mail."""

    async def send(self, message: Message) -> None:
        """Deliver one message (best effort; failures are logged by the caller)."""


class Outbox:
    """Sends nothing and keeps the last 100 messages in memory (tests read them)."""

    def __init__(self) -> None:
        self.sent: deque[Message] = deque(maxlen=100)

    async def send(self, message: Message) -> None:
        """Keep the message; say it was not sent (without its link)."""
        self.sent.append(message)
        log.warning(
            "mail not sent: no SMTP server is configured (WALKAI_SMTP__HOST)",
            extra={"to": message.to, "subject": message.subject},
        )

    def last_to(self, email: str) -> Message | None:
        """The newest message sent to an address."""
        return next((m for m in reversed(self.sent) if m.to == email.lower()), None)


class LogMailer(Outbox):
    """`dev` only: shows each message with its link on the console instead of sending it."""

    async def send(self, message: Message) -> None:
        """Log the message, link included."""
        self.sent.append(message)
        log.info("mail to %s: %s: %s", message.to, message.subject, message.link)


def build_mailer(settings: Settings) -> Mailer:
    """SMTP when configured; else the console in `dev`; else nothing is sent."""
    if settings.smtp.host:
        from app.auth.smtp import SmtpMailer

        return SmtpMailer(settings.smtp)
    if settings.profile == "dev":
        return LogMailer()
    return Outbox()
