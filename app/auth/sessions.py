"""Who is calling: credentials (access tokens, web sessions) turned into a `Principal`.

Each authenticated request costs two queries: the credential with its user, and the user's
teams. `last_used_at` is written at most once a minute per credential, not on every request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import cast
from uuid import UUID

from tortoise.expressions import Q

from app.auth import tokens
from app.auth.policy import Principal
from app.db.auth_models import AccessToken, Team, User, WebSession

SESSION_COOKIE = "walkai_session"
SESSION_LIFETIME = timedelta(days=14)


def secure_cookies(public_url: str) -> bool:
    """Whether session cookies carry `Secure`: only when clients reach the API over https, since
    cookie jars do not send a `Secure` cookie back over plain http (`dev` on 127.0.0.1)."""
    return public_url.lower().startswith("https://")


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


async def reauthenticate(principals: Sequence[Principal]) -> list[Principal | None]:
    """Each principal as it stands now, for open websockets: None if its credential was revoked
    or expired or its user deactivated; else its user's current role and teams (same
    credential). A few queries for any number of principals, so a replica can re-check all its
    sockets at once; the database is what every replica shares, so revocation anywhere is seen.
    """
    if not principals:
        return []
    at = now()
    token_ids = [p.credential[1] for p in principals if p.credential and p.credential[0] == "token"]
    session_ids = [
        p.credential[1] for p in principals if p.credential and p.credential[0] == "session"
    ]
    live: set[tuple[str, UUID]] = set()
    if token_ids:
        tokens_now = AccessToken.filter(id__in=token_ids, revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=at)
        )
        live |= {("token", cast(UUID, i)) for i in await tokens_now.values_list("id", flat=True)}
    if session_ids:
        sessions_now = WebSession.filter(id__in=session_ids, expires_at__gt=at)
        live |= {
            ("session", cast(UUID, i)) for i in await sessions_now.values_list("id", flat=True)
        }
    user_ids = list({p.user_id for p in principals})
    users = {u.id: u for u in await User.filter(id__in=user_ids, is_active=True)}
    teams: dict[UUID, set[UUID]] = {}
    for team_id, user_id in await Team.filter(members__id__in=user_ids).values_list(
        "id", "members__id"
    ):
        teams.setdefault(user_id, set()).add(team_id)
    fresh: list[Principal | None] = []
    for p in principals:
        user = users.get(p.user_id)
        if user is None or (p.credential is not None and p.credential not in live):
            fresh.append(None)
            continue
        fresh.append(
            replace(p, email=user.email, role=user.role, team_ids=frozenset(teams.get(user.id, ())))
        )
    return fresh


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
