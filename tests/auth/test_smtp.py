"""Account mail over SMTP with TLS, against a real SMTP server on 127.0.0.1 (aiosmtpd), and
never a link or token in a log line outside `dev`."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as Mail
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.auth.mail import LogMailer, Message, Outbox, build_mailer
from app.auth.smtp import SmtpMailer, SmtpSettings
from app.config import load_settings
from app.services.users import create_user
from tests.support.api import Api
from tests.support.servers import serve

USER, PASSWORD = "walkai", "smtp-password"
# Implicit TLS: aiosmtpd warns that AUTH does not require STARTTLS (the connection is TLS).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
RESET = "mutation($e: String!) { requestPasswordReset(email: $e) { ok } }"


@dataclass
class Inbox:
    """What the SMTP server received, and who logged in."""

    mails: list[Mail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.content))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if ok:
            self.logins.append(USER)
        return AuthResult(success=ok)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the test's CA) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int
    security: str


@pytest.fixture(params=["starttls", "tls"])
def smtp_server(
    request: pytest.FixtureRequest, certificate: tuple[Path, Path]
) -> Iterator[SmtpServer]:
    """A local SMTP server requiring TLS (STARTTLS or implicit) and a login."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(*certificate)
    inbox, port = Inbox(), free_port()
    options: dict[str, Any] = {"auth_required": True, "authenticator": inbox.authenticate}
    if request.param == "tls":
        # aiosmtpd only counts STARTTLS as TLS for AUTH; the whole connection is TLS here.
        options.update(ssl_context=tls, auth_require_tls=False)
    else:
        options.update(tls_context=tls, require_starttls=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpServer(inbox, port, request.param)
    finally:
        controller.stop()


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every log record of the process (but the test SMTP server's own), formatted."""
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if not record.name.startswith("mail.log"):
                lines.append(f"{record.name} {record.getMessage()} {vars(record)}")

    root, capture = logging.getLogger(), Capture(level=logging.DEBUG)
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


def settings_for(server: SmtpServer, ca_file: Path | None, **more: Any) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=server.port,
        username=USER,
        password=PASSWORD,  # type: ignore[arg-type]
        from_address="noreply@walkai.test",
        security=server.security,  # type: ignore[arg-type]
        ca_file=ca_file,
        timeout_seconds=10,
        **more,
    )


async def test_the_smtp_mailer_delivers_over_tls_with_a_login(
    smtp_server: SmtpServer, certificate: tuple[Path, Path], log_lines: list[str]
) -> None:
    link = f"https://walkai.test/reset#wkr_{uuid.uuid4().hex}"
    mailer = SmtpMailer(settings_for(smtp_server, certificate[0]))
    await mailer.send(Message("ada@example.com", "Reset your password", link))
    (mail,) = smtp_server.inbox.mails
    assert smtp_server.inbox.logins == [USER]
    assert (mail["To"], mail["Subject"]) == ("ada@example.com", "Reset your password")
    assert mail["From"] == '"walk:ai" <noreply@walkai.test>'
    assert link in str(mail.get_payload())
    assert not [line for line in log_lines if "wkr_" in line]


async def test_the_smtp_mailer_refuses_a_server_it_cannot_verify(
    smtp_server: SmtpServer,
) -> None:
    mailer = SmtpMailer(settings_for(smtp_server, ca_file=None))  # the system's CAs only
    with pytest.raises(Exception, match=r"(?i)certificate|ssl|tls"):
        await mailer.send(Message("ada@example.com", "Reset your password", "https://x/#wkr_1"))
    assert smtp_server.inbox.mails == []


async def test_a_password_reset_is_mailed_over_smtp_and_its_token_never_logged(
    api: Api, smtp_server: SmtpServer, certificate: tuple[Path, Path], log_lines: list[str]
) -> None:
    user = await create_user(f"reset-{uuid.uuid4().hex[:8]}@example.com", name="Ada")
    smtp = settings_for(smtp_server, certificate[0])
    settings = api.platform.settings.model_copy(update={"smtp": smtp})
    async with serve(settings, share_database=True) as replica:
        assert isinstance(replica.platform.auth.mailer, SmtpMailer)
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{replica.base_url}/graphql", json={"query": RESET, "variables": {"e": user.email}}
            )
        assert answer.json() == {"data": {"requestPasswordReset": {"ok": True}}}
        for _ in range(100):
            if smtp_server.inbox.mails:
                break
            await asyncio.sleep(0.05)
    (mail,) = smtp_server.inbox.mails
    assert mail["To"] == user.email
    body = str(mail.get_payload())
    token = body[body.index("#wkr_") + 1 :].split()[0]
    assert not [line for line in log_lines if token in line]


async def test_only_dev_logs_links_and_production_without_smtp_sends_nothing(
    log_lines: list[str],
) -> None:
    assert isinstance(build_mailer(load_settings(profile="dev")), LogMailer)
    production = build_mailer(load_settings(profile="production"))
    assert type(production) is Outbox
    link = f"https://walkai.test/invite#wki_{uuid.uuid4().hex}"
    await production.send(Message("ada@example.com", "You are invited", link))
    assert not [line for line in log_lines if "wki_" in line]
    assert any("mail not sent" in line for line in log_lines)
