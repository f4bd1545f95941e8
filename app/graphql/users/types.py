"""GraphQL types of accounts: users, teams and personal access tokens."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry
from strawberry import relay

from app.auth.policy import can_see_user
from app.db.auth_models import AccessToken, Role, Team, User
from app.graphql.context import Info
from app.graphql.enums import describe_values
from app.graphql.nodes import parse_uuid

if TYPE_CHECKING:
    from app.graphql.quotas.types import QuotaType, StorageUseType, UsageType

RoleEnum = describe_values(
    strawberry.enum(Role, name="Role", description="What a user may see and do."),
    {
        Role.ADMIN: "Sees and manages every object and account.",
        Role.MEMBER: "Sees and manages its own objects and its teams'.",
    },
)


@strawberry.type(name="Team", description="A group of users who share jobs, inputs and secrets.")
class TeamType(relay.Node):
    """A team, shown to its members and to admins."""

    id: relay.NodeID[str]
    name: str = strawberry.field(description="Short name (DNS label).")
    created_at: datetime = strawberry.field(description="When the team was created.")

    @classmethod
    def from_model(cls, team: Team) -> TeamType:
        """Wrap a stored team."""
        return cls(id=str(team.id), name=team.name, created_at=team.created_at)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[TeamType | None]:
        viewer = info.context.viewer
        ids = [parse_uuid(i) for i in node_ids]
        allowed = [i for i in ids if i and viewer and (viewer.is_admin or i in viewer.team_ids)]
        found = {t.id: t for t in await Team.filter(id__in=allowed)}
        return [cls.from_model(found[i]) if i in found else None for i in ids]


@strawberry.type(name="User", description="A person with an account.")
class UserType(relay.Node):
    """A user; members see only themselves, admins see everyone."""

    id: relay.NodeID[str]
    email: str = strawberry.field(description="Sign-in address (lower case).")
    name: str = strawberry.field(description="Display name.")
    role: Role = strawberry.field(description="What the user may do.")
    is_active: bool = strawberry.field(description="False once an admin deactivated the account.")
    created_at: datetime = strawberry.field(description="When the account was created.")

    @classmethod
    def from_model(cls, user: User) -> UserType:
        """Wrap a stored user."""
        return cls(
            id=str(user.id),
            email=user.email,
            name=user.name,
            role=user.role,
            is_active=user.is_active,
            created_at=user.created_at,
        )

    @strawberry.field(description="The teams the user belongs to.")
    async def teams(self, info: Info) -> list[TeamType]:
        teams = await Team.filter(members__id=self.id).order_by("name")
        return [TeamType.from_model(t) for t in teams]

    @strawberry.field(
        description="GPU use of the user's own Jobs: now and this quota period (a team's Jobs "
        "count for the team, see `quotaUsage`)."
    )
    async def usage(
        self, info: Info
    ) -> Annotated[UsageType, strawberry.lazy("app.graphql.quotas.types")]:
        from app.graphql.quotas.types import owner_usage

        return await owner_usage(info, f"user:{self.id}")

    @strawberry.field(description="The quota of the user's own Jobs, and what is left of it.")
    async def quota(
        self, info: Info
    ) -> Annotated[QuotaType, strawberry.lazy("app.graphql.quotas.types")]:
        from app.graphql.quotas.types import owner_quota

        return await owner_quota(info, f"user:{self.id}")

    @strawberry.field(
        description="What the user keeps in object storage (inputs, their Jobs' run outputs "
        "and logs) and the storage quota."
    )
    async def storage(
        self, info: Info
    ) -> Annotated[StorageUseType, strawberry.lazy("app.graphql.quotas.types")]:
        from app.graphql.quotas.types import StorageUseType

        quota = info.context.platform.settings.storage_quota_bytes_per_user
        return await StorageUseType.of_user(UUID(self.id), quota)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[UserType | None]:
        viewer = info.context.viewer
        ids = [parse_uuid(i) for i in node_ids]
        allowed = [i for i in ids if i and can_see_user(viewer, i)]
        found = {u.id: u for u in await User.filter(id__in=allowed)}
        return [cls.from_model(found[i]) if i in found else None for i in ids]


@strawberry.type(
    name="AccessToken", description="A personal access token (its secret is shown only once)."
)
class AccessTokenType(relay.Node):
    """A token's metadata."""

    id: relay.NodeID[str]
    name: str = strawberry.field(description="What the token is for.")
    prefix: str = strawberry.field(description="Its first characters, to tell tokens apart.")
    created_at: datetime = strawberry.field(description="When it was created.")
    expires_at: datetime | None = strawberry.field(
        description="When it stops working; null: never."
    )
    last_used_at: datetime | None = strawberry.field(
        description="When it last authenticated a request (updated at most once a minute)."
    )

    @classmethod
    def from_model(cls, token: AccessToken) -> AccessTokenType:
        """Wrap a stored token."""
        return cls(
            id=str(token.id),
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[AccessTokenType | None]:
        viewer = info.context.viewer
        ids = [parse_uuid(i) for i in node_ids]
        query = AccessToken.filter(id__in=[i for i in ids if i], revoked_at__isnull=True)
        if viewer is None:
            return [None for _ in ids]
        if not viewer.is_admin:
            query = query.filter(user_id=viewer.user_id)
        found = {t.id: t for t in await query}
        return [cls.from_model(found[i]) if i in found else None for i in ids]
