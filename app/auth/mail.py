"""Sending account mail (invitations, password resets) behind one small interface.

The only implementation logs the message, link included, and keeps the last ones in memory:
what `walkai-jobs dev` and the tests need. A deployment that sends real mail provides another
`Mailer` (SMTP, a provider's API) to `AuthState`.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One mail: to whom, its subject, and the link it carries."""

    to: str
    subject: str
    link: str


class Mailer(Protocol):
    """Delivers account mail."""

    async def send(self, message: Message) -> None:
        """Deliver one message (best effort; failures are logged by the caller)."""


class LogMailer:
    """Logs each message with its link (development and tests); keeps the last 100."""

    def __init__(self) -> None:
        self.sent: deque[Message] = deque(maxlen=100)

    async def send(self, message: Message) -> None:
        """Log the message instead of sending it."""
        self.sent.append(message)
        log.info("mail to %s: %s: %s", message.to, message.subject, message.link)

    def last_to(self, email: str) -> Message | None:
        """The newest message sent to an address."""
        return next((m for m in reversed(self.sent) if m.to == email.lower()), None)
