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

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.auth import tokens
from app.auth.mail import Mailer, Message
from app.auth.passwords import hash_password, password_problem, verify_password
from app.auth.policy import Principal
from app.auth.sessions import issue_access_token, now, start_session
from app.auth.state import AuthState
from app.db.auth_models import (
    AccessToken,
    Invitation,
    PasswordReset,
    Role,
    Team,
    User,
    WebSession,
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
        password_hash=await hash_password(password) if password else None,
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


# --- login, sessions, passwords --------------------------------------------------------------


def _throttled(wait: float, field: str | None = None) -> UserError:
    return UserError(
        field,
        f"Too many failed attempts; try again in {max(round(wait), 1)} s.",
        ErrorCode.RATE_LIMITED,
    )


async def login(
    state: AuthState, email: str, password: str, address: str
) -> Outcome[tuple[User, str]]:
    """Check a password (throttled per account and address, `app.auth.ratelimit`); a new
    session on success."""
    email = normalize_email(email)
    limiter = state.login_limiter
    if (wait := await limiter.begin(email, address)) is not None:
        return Outcome(errors=[_throttled(wait)])
    user = await User.get_or_none(email=email, is_active=True)
    if not await verify_password(user.password_hash if user else None, password) or user is None:
        return Outcome(
            errors=[UserError(None, "Wrong email or password.", ErrorCode.INVALID_CREDENTIALS)]
        )
    await limiter.succeeded(email, address)
    return Outcome(value=(user, await start_session(user)))


async def logout(state: AuthState, viewer: Principal) -> None:
    """End the viewer's session (a token-authenticated viewer has none to end)."""
    if viewer.credential and viewer.credential[0] == "session":
        await WebSession.filter(id=viewer.credential[1]).delete()
        await state.connections.close_credential("session", viewer.credential[1])


async def _end_other_sessions(state: AuthState, user_id: UUID, keep: UUID | None) -> None:
    query = WebSession.filter(user_id=user_id)
    if keep is not None:
        query = query.exclude(id=keep)
    ended = await query.values_list("id", flat=True)
    await WebSession.filter(id__in=list(ended)).delete()
    for session_id in ended:
        await state.connections.close_credential("session", session_id)  # type: ignore[arg-type]


async def change_password(
    state: AuthState, viewer: Principal, current: str, new: str, address: str
) -> list[UserError]:
    """Set a new password after checking the current one (throttled as a login to the same
    account is); other sessions end."""
    if problem := password_problem(new):
        return [UserError("newPassword", problem, ErrorCode.INVALID)]
    user = await User.get(id=viewer.user_id)
    limiter = state.login_limiter
    if (wait := await limiter.begin(user.email, address)) is not None:
        return [_throttled(wait, "currentPassword")]
    if not await verify_password(user.password_hash, current):
        return [UserError("currentPassword", "Wrong password.", ErrorCode.INVALID_CREDENTIALS)]
    await limiter.succeeded(user.email, address)
    user.password_hash = await hash_password(new)
    await user.save(update_fields=["password_hash"])
    keep = viewer.credential[1] if viewer.credential and viewer.credential[0] == "session" else None
    await _end_other_sessions(state, user.id, keep)
    return []


async def request_password_reset(mailer: Mailer, email: str, base_url: str) -> None:
    """Mail a reset link if the account exists; the answer is the same either way."""
    user = await User.get_or_none(email=normalize_email(email), is_active=True)
    if user is None:
        return
    token = tokens.new_token(tokens.PASSWORD_RESET)
    await PasswordReset.create(
        user=user, token_hash=tokens.hash_token(token), expires_at=now() + RESET_LIFETIME
    )
    await _send(mailer, Message(user.email, "Reset your password", f"{base_url}/reset#{token}"))


async def reset_password(state: AuthState, token: str, new: str) -> list[UserError]:
    """Use a reset token once to set a password; every session of the user ends."""
    if problem := password_problem(new):
        return [UserError("newPassword", problem, ErrorCode.INVALID)]
    async with in_transaction():
        used = await PasswordReset.filter(
            token_hash=tokens.hash_token(token), used_at__isnull=True, expires_at__gt=now()
        ).update(used_at=now())
        if not used:
            return [UserError("token", "This link is not valid any more.", ErrorCode.INVALID)]
        reset = await PasswordReset.get(token_hash=tokens.hash_token(token))
        await User.filter(id=reset.user_id).update(  # type: ignore[attr-defined]
            password_hash=await hash_password(new)
        )
    await _end_other_sessions(state, reset.user_id, None)  # type: ignore[attr-defined]
    return []


# --- invitations -----------------------------------------------------------------------------


async def invite(
    mailer: Mailer,
    viewer: Principal,
    email: str,
    role: Role,
    team_ids: list[UUID],
    base_url: str,
) -> Outcome[Invitation]:
    """An admin invites an address; the link (single use, 7 days) goes by mail."""
    if not viewer.is_admin:
        return Outcome(errors=[UserError(None, "Only admins invite.", ErrorCode.NOT_FOUND)])
    email = normalize_email(email)
    if problem := email_problem(email):
        return Outcome(errors=[UserError("email", problem, ErrorCode.INVALID)])
    if await User.exists(email=email):
        return Outcome(errors=[UserError("email", "This user exists.", ErrorCode.DUPLICATE)])
    if len(await Team.filter(id__in=team_ids)) != len(set(team_ids)):
        return Outcome(errors=[UserError("teamIds", "No team with this id.", ErrorCode.NOT_FOUND)])
    token = tokens.new_token(tokens.INVITATION)
    invitation = await Invitation.create(
        email=email,
        role=role,
        team_ids=[str(t) for t in team_ids],
        token_hash=tokens.hash_token(token),
        invited_by_id=viewer.user_id,
        expires_at=now() + INVITATION_LIFETIME,
    )
    await _send(mailer, Message(email, "You are invited to walk:ai", f"{base_url}/invite#{token}"))
    return Outcome(value=invitation)


async def accept_invitation(token: str, name: str, password: str) -> Outcome[tuple[User, str]]:
    """Use an invitation once: the account is created with this password, and signed in."""
    if problem := password_problem(password):
        return Outcome(errors=[UserError("password", problem, ErrorCode.INVALID)])
    try:
        async with in_transaction():
            taken = await Invitation.filter(
                token_hash=tokens.hash_token(token), accepted_at__isnull=True, expires_at__gt=now()
            ).update(accepted_at=now())
            if not taken:
                raise _Invalid
            invitation = await Invitation.get(token_hash=tokens.hash_token(token))
            user = await create_user(
                invitation.email, role=invitation.role, name=name.strip()[:128], password=password
            )
            for team in await Team.filter(id__in=invitation.team_ids):
                await team.members.add(user)
    except (_Invalid, IntegrityError):
        return Outcome(
            errors=[UserError("token", "This invitation is not valid any more.", ErrorCode.INVALID)]
        )
    return Outcome(value=(user, await start_session(user)))


class _Invalid(Exception):
    """The token is unknown, used or expired: roll back."""


async def _send(mailer: Mailer, message: Message) -> None:
    try:
        await mailer.send(message)
    except Exception as exc:  # the link can be sent again; the request itself succeeded
        log.warning("sending mail failed: %r", type(exc).__name__)


# --- teams and accounts (admins) -------------------------------------------------------------


async def create_team(viewer: Principal, name: str) -> Outcome[Team]:
    """An admin creates a team (DNS-label name)."""
    if not viewer.is_admin:
        return Outcome(errors=[UserError(None, "Only admins create teams.", ErrorCode.NOT_FOUND)])
    if not _TEAM_NAME.match(name):
        return Outcome(errors=[UserError("name", "Use a DNS label.", ErrorCode.INVALID)])
    try:
        return Outcome(value=await Team.create(name=name))
    except IntegrityError:
        return Outcome(errors=[UserError("name", "This team exists.", ErrorCode.DUPLICATE)])


async def set_membership(
    viewer: Principal, team_id: UUID | None, user_id: UUID | None, member: bool
) -> list[UserError]:
    """An admin adds a user to a team or removes them."""
    team = await Team.get_or_none(id=team_id) if team_id and viewer.is_admin else None
    user = await User.get_or_none(id=user_id) if user_id and viewer.is_admin else None
    if team is None:
        return [UserError("teamId", "No team with this id.", ErrorCode.NOT_FOUND)]
    if user is None:
        return [UserError("userId", "No user with this id.", ErrorCode.NOT_FOUND)]
    if member:
        await team.members.add(user)
    else:
        await team.members.remove(user)
    return []


async def deactivate_user(
    state: AuthState, viewer: Principal, user_id: UUID | None
) -> list[UserError]:
    """An admin deactivates an account: its tokens and sessions stop working at once."""
    if not viewer.is_admin or user_id is None or user_id == viewer.user_id:
        return [UserError("id", "No user with this id.", ErrorCode.NOT_FOUND)]
    if not await User.filter(id=user_id).update(is_active=False):
        return [UserError("id", "No user with this id.", ErrorCode.NOT_FOUND)]
    await WebSession.filter(user_id=user_id).delete()
    await state.connections.close_user(user_id)
    return []
