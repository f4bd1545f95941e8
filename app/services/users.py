"""Account use cases: users, invitations, login, passwords, access tokens, teams.

The schema and the CLI call these; each returns either what was made or a list of UserErrors
and never leaves half of it behind (one transaction per change).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Generic, TypeVar
from uuid import UUID

from app.auth.passwords import hash_password
from app.auth.policy import Principal
from app.auth.sessions import issue_access_token, now
from app.auth.state import AuthState
from app.db.auth_models import (
    AccessToken,
    Role,
    User,
)
from app.domain.errors import ErrorCode, UserError

log = logging.getLogger(__name__)

INVITATION_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=1)
MAX_TOKEN_NAME = 64
DEV_ADMIN_EMAIL = "admin@walkai.dev"
# Deliberately loose: the mail server is the judge; this only catches obvious typos.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,185}$")
_TEAM_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    """What a use case made, or why it made nothing."""

    value: T | None = None
    errors: list[UserError] = field(default_factory=list)


def normalize_email(email: str) -> str:
    """Emails are compared case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    """Why an email address is refused, or None."""
    if not _EMAIL.match(email):
        return "Enter an email address like name@example.com."
    return None


async def create_user(
    email: str, *, role: Role = Role.MEMBER, name: str = "", password: str | None = None
) -> User:
    """Store a new user (callers have validated the input)."""
    return await User.create(
        email=normalize_email(email),
        role=role,
        name=name,
        password_hash=hash_password(password) if password else None,
    )


# --- access tokens ---------------------------------------------------------------------------


async def create_access_token(
    viewer: Principal, name: str, expires_at: datetime | None
) -> Outcome[tuple[AccessToken, str]]:
    """A personal access token for the viewer; the plain token is in the outcome only."""
    name = name.strip()
    errors = []
    if not name:
        errors.append(UserError("name", "Give the token a name.", ErrorCode.REQUIRED))
    elif len(name) > MAX_TOKEN_NAME:
        errors.append(
            UserError("name", f"At most {MAX_TOKEN_NAME} characters.", ErrorCode.TOO_LONG)
        )
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now()):
        errors.append(
            UserError("expiresAt", "Use a time in the future, with a timezone.", ErrorCode.INVALID)
        )
    if errors:
        return Outcome(errors=errors)
    user = await User.get(id=viewer.user_id)
    return Outcome(value=await issue_access_token(user, name, expires_at))


async def revoke_access_token(state: AuthState, viewer: Principal, token_id: UUID) -> bool:
    """Revoke one of the viewer's tokens (admins: anyone's) and end its websockets at once."""
    query = AccessToken.filter(id=token_id, revoked_at__isnull=True)
    if not viewer.is_admin:
        query = query.filter(user_id=viewer.user_id)
    if not await query.update(revoked_at=now()):
        return False
    await state.connections.close_credential("token", token_id)
    return True


async def ensure_dev_admin(data_dir: Path) -> str:
    """The dev profile's admin and a fresh token for it, also written to `<data dir>/dev-token`."""
    user = await User.get_or_none(email=DEV_ADMIN_EMAIL)
    if user is None:
        user = await create_user(DEV_ADMIN_EMAIL, role=Role.ADMIN, name="Dev admin")
    _, token = await issue_access_token(user, "dev")
    path = data_dir / "dev-token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token
