"""What authentication keeps per process: open websockets, login attempts, the mailer."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.auth.connections import LiveConnections
from app.auth.mail import Mailer, Outbox
from app.auth.ratelimit import LoginLimiter


@dataclass
class AuthState:
    """Held by the Platform; one per process."""

    connections: LiveConnections = field(default_factory=LiveConnections)
    login_limiter: LoginLimiter = field(default_factory=LoginLimiter)
    # Replaced by the platform with the configured one (`app.auth.mail.build_mailer`).
    mailer: Mailer = field(default_factory=Outbox)
