"""Account mail over SMTP, always encrypted: implicit TLS (port 465) or STARTTLS (port 587).

The message carries a single-use link, as good as a password until it is used: it goes only
into the mail, never into a log line (what is logged is the recipient and the subject).
Configured by `WALKAI_SMTP__*` (host, port, username, password, from_address, from_name,
security, ca_file).
"""

from __future__ import annotations

import logging
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Literal

import aiosmtplib
from pydantic import BaseModel, SecretStr

from app.auth.mail import Message

log = logging.getLogger(__name__)


class SmtpSettings(BaseModel):
    """Where and how account mail is sent; no host: no SMTP (see `app.auth.mail.build_mailer`)."""

    host: str | None = None
    # Default: 465 with implicit TLS, 587 with STARTTLS.
    port: int | None = None
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = "noreply@localhost"
    from_name: str = "walk:ai"
    security: Literal["starttls", "tls"] = "starttls"
    # Certificates to trust instead of the system's (a private CA); certificates and host names
    # are always verified.
    ca_file: Path | None = None
    timeout_seconds: float = 30

    @property
    def resolved_port(self) -> int:
        """The port to connect to."""
        return self.port or (465 if self.security == "tls" else 587)


def compose(message: Message, name: str, address: str) -> EmailMessage:
    """The mail of one account message: plain text, the link on a line of its own."""
    mail = EmailMessage()
    mail["From"] = formataddr((name, address))
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
    mail.set_content(
        f"{message.subject}.\n\nOpen this link to go on (it works once):\n\n{message.link}\n\n"
        "If you did not expect this mail, ignore it.\n"
    )
    return mail


class SmtpMailer:
    """Sends each message in a connection of its own (account mail is rare)."""

    def __init__(self, settings: SmtpSettings) -> None:
        assert settings.host, "SMTP needs a host"
        self._settings = settings
        self._tls = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )

    async def send(self, message: Message) -> None:
        """Deliver one message; raises what the server or the connection raised."""
        s = self._settings
        await aiosmtplib.send(
            compose(message, s.from_name, s.from_address),
            hostname=s.host,
            port=s.resolved_port,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            tls_context=self._tls,
            timeout=s.timeout_seconds,
        )
        log.info("mail sent", extra={"to": message.to, "subject": message.subject})
