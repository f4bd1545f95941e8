"""Who is calling: credentials (access tokens, web sessions) turned into a `Principal`.

Each authenticated request costs two queries: the credential with its user, and the user's
teams. `last_used_at` is written at most once a minute per credential, not on every request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from app.auth import tokens
from app.auth.policy import Principal
from app.db.auth_models import AccessToken, Team, User, WebSession

SESSION_COOKIE = "walkai_session"
SESSION_LIFETIME = timedelta(days=14)
# How stale `last_used_at` may get before a request writes it again.
TOUCH_EVERY = timedelta(minutes=1)


def now() -> datetime:
    """The current time, timezone-aware (as the database returns it)."""
    return datetime.now(UTC)


async def principal_of(user: User, credential: tuple[str, UUID] | None = None) -> Principal:
    """The policy's view of a user: role and team ids."""
    team_ids = await Team.filter(members__id=user.id).values_list("id", flat=True)
    return Principal(
        user_id=user.id,
        email=user.email,
        role=user.role,
        team_ids=frozenset(team_ids),  # type: ignore[arg-type]
        credential=credential,
    )


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate_token(token: str) -> Principal | None:
    """The owner of a personal access token, if it is valid (not revoked, not expired)."""
    if not token.startswith(tokens.ACCESS_TOKEN) or len(token) > 100:
        return None
    row = (
        await AccessToken.filter(token_hash=tokens.hash_token(token), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    at = now()
    if row is None or not row.user.is_active or (row.expires_at and row.expires_at <= at):
        return None
    if row.last_used_at is None or at - row.last_used_at > TOUCH_EVERY:
        await AccessToken.filter(id=row.id).update(last_used_at=at)
    return await principal_of(row.user, ("token", row.id))


async def authenticate_session(token: str) -> Principal | None:
    """The user of a web session cookie, if the session is current."""
    if not token.startswith(tokens.SESSION) or len(token) > 100:
        return None
    row = (
        await WebSession.filter(token_hash=tokens.hash_token(token)).select_related("user").first()
    )
    at = now()
    if row is None or not row.user.is_active or row.expires_at <= at:
        return None
    if row.last_used_at is None or at - row.last_used_at > TOUCH_EVERY:
        await WebSession.filter(id=row.id).update(last_used_at=at)
    return await principal_of(row.user, ("session", row.id))


async def still_valid(principal: Principal) -> bool:
    """Whether the credential a principal came with still works (for open websockets)."""
    if principal.credential is None:
        return True
    kind, id_ = principal.credential
    at = now()
    if kind == "token":
        return (
            await AccessToken.filter(id=id_, revoked_at__isnull=True, user__is_active=True).exists()
            and not await AccessToken.filter(id=id_, expires_at__lte=at).exists()
        )
    return await WebSession.filter(id=id_, expires_at__gt=at, user__is_active=True).exists()


async def start_session(user: User) -> str:
    """A new web session for the user; returns the cookie value (stored only hashed)."""
    token = tokens.new_token(tokens.SESSION)
    await WebSession.create(
        user=user, token_hash=tokens.hash_token(token), expires_at=now() + SESSION_LIFETIME
    )
    return token


async def issue_access_token(
    user: User, name: str, expires_at: datetime | None = None
) -> tuple[AccessToken, str]:
    """A new personal access token; the plain token is returned once and never stored."""
    token = tokens.new_token(tokens.ACCESS_TOKEN)
    row = await AccessToken.create(
        user=user,
        name=name,
        token_hash=tokens.hash_token(token),
        prefix=tokens.display_prefix(token),
        expires_at=expires_at,
    )
    return row, token
