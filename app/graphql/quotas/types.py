"""GraphQL types of quotas: an owner's limits, its usage this period, and both per owner."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from uuid import UUID

import strawberry
from strawberry import relay

from app.auth.policy import Viewer
from app.db.auth_models import Team, User
from app.domain.usage import gpu_hours, owner_key, parse_owner_key
from app.graphql.artifacts.types import Bytes
from app.graphql.context import Info
from app.graphql.users.types import TeamType, UserType
from app.services.quotas import Limits, Usage, limits_for, quota_of, usage_of, usages
from app.services.storage_use import storage_use


@strawberry.type(name="Quota", description="An owner's limits, and what is left this period.")
class QuotaType:
    """Limits of a user (its own Jobs) or a team (its team Jobs)."""

    max_slices: int | None = strawberry.field(
        description="Compute slices (7 per GPU) its running runs may hold at once; null: no limit."
    )
    high_priority_gpu_hours: float | None = strawberry.field(
        description="GPU-hours (7 compute slices for an hour) its HIGH and EXTRA_HIGH runs may "
        "use per period; null: no limit."
    )
    high_priority_gpu_hours_left: float | None = strawberry.field(
        description="What is left of `highPriorityGpuHours` this period (0 or less: HIGH and "
        "EXTRA_HIGH runs wait or are refused); null: no limit."
    )
    is_default: bool = strawberry.field(
        description="True when no quota was set for this owner and the configured defaults apply."
    )

    @classmethod
    def of(cls, limits: Limits, usage: Usage) -> QuotaType:
        """The quota as set (or by default) and what is left of it."""
        left = quota_of(limits, usage).high_priority_slice_seconds_left
        return cls(
            max_slices=limits.max_slices,
            high_priority_gpu_hours=limits.high_priority_gpu_hours,
            high_priority_gpu_hours_left=gpu_hours(left) if left is not None else None,
            is_default=not limits.stored,
        )


@strawberry.type(name="Usage", description="GPU use of an owner: now, and in this quota period.")
class UsageType:
    """Usage in compute slice-seconds (a `3g.40gb` run uses 3 each second)."""

    slices_in_use: int = strawberry.field(description="Compute slices its running runs hold now.")
    slice_seconds_this_period: float = strawberry.field(
        description="Compute slice-seconds its runs used this period (divide by 25200 for "
        "GPU-hours)."
    )
    high_priority_slice_seconds_this_period: float = strawberry.field(
        description="Of those, the slice-seconds of its HIGH and EXTRA_HIGH runs."
    )
    period_start: datetime = strawberry.field(description="When this quota period started.")
    period_end: datetime = strawberry.field(description="When the next period starts.")

    @classmethod
    def of(cls, usage: Usage) -> UsageType:
        """Wrap a service-level usage."""
        return cls(
            slices_in_use=usage.slices_in_use,
            slice_seconds_this_period=usage.slice_seconds,
            high_priority_slice_seconds_this_period=usage.high_priority_slice_seconds,
            period_start=usage.period_start,
            period_end=usage.period_end,
        )


@strawberry.type(
    name="QuotaUsage", description="A user or a team with its quota and its usage this period."
)
class QuotaUsageType(relay.Node):
    """One owner; the user's own Jobs, or the team's team Jobs."""

    id: relay.NodeID[str]
    user: UserType | None = strawberry.field(description="The user; null for a team.")
    team: TeamType | None = strawberry.field(description="The team; null for a user.")
    quota: QuotaType = strawberry.field(description="Its limits, and what is left of them.")
    usage: UsageType = strawberry.field(description="What it holds now and used this period.")

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[QuotaUsageType | None]:
        keys = list(node_ids)
        viewer = info.context.viewer
        found = await quota_usages(info, [k for k in keys if may_see(viewer, k)])
        by_key = {q.id: q for q in found}
        return [by_key.get(k) for k in keys]


@strawberry.type(name="QuotaUsageConnection", description="A page of owners' quotas and usage.")
class QuotaUsageConnection(relay.Connection[QuotaUsageType]):
    """Owners in a stable order (users, then teams, by id)."""


def may_see(viewer: Viewer, key: str) -> bool:
    """Admins see every owner; members themselves and their teams."""
    parsed = parse_owner_key(key)
    if viewer is None or parsed is None:
        return False
    if viewer.is_admin:
        return True
    kind, id_ = parsed
    return id_ == viewer.user_id if kind == "user" else id_ in viewer.team_ids


async def quota_usages(info: Info, keys: Sequence[str]) -> list[QuotaUsageType]:
    """Quota and usage of existing owners among ``keys``, in their order, in a few queries."""
    parsed = {k: p for k in keys if (p := parse_owner_key(k)) is not None}
    user_ids = [i for kind, i in parsed.values() if kind == "user"]
    team_ids = [i for kind, i in parsed.values() if kind == "team"]
    users = {owner_key(u.id, None): u for u in await User.filter(id__in=user_ids)}
    teams = {f"team:{t.id}": t for t in await Team.filter(id__in=team_ids)}
    present = [k for k in parsed if k in users or k in teams]
    if not present:
        return []
    settings = info.context.platform.settings
    limits = await limits_for(present, settings)
    used = await usages(present, datetime.now(UTC), settings)
    return [
        QuotaUsageType(
            id=key,
            user=UserType.from_model(users[key]) if key in users else None,
            team=TeamType.from_model(teams[key]) if key in teams else None,
            quota=QuotaType.of(limits[key], used[key]),
            usage=UsageType.of(used[key]),
        )
        for key in present
    ]


async def owner_quota(info: Info, key: str) -> QuotaType:
    """One owner's quota (the viewer's own, on `User.quota`)."""
    settings = info.context.platform.settings
    limits = (await limits_for([key], settings))[key]
    used = (await usages([key], datetime.now(UTC), settings))[key]
    return QuotaType.of(limits, used)


async def owner_usage(info: Info, key: str) -> UsageType:
    """One owner's usage (on `User.usage`)."""
    settings = info.context.platform.settings
    return UsageType.of(await usage_of(key, datetime.now(UTC), settings))


@strawberry.type(
    name="StorageUse",
    description="What a user keeps in object storage, against the per-user storage quota.",
)
class StorageUseType:
    """Bytes by kind; a team Job's runs count for the member who owns the Job."""

    inputs_bytes: Bytes = strawberry.field(  # type: ignore[valid-type]
        description="The user's inputs, as declared (READY or still uploading)."
    )
    outputs_bytes: Bytes = strawberry.field(  # type: ignore[valid-type]
        description="Outputs of the runs of the user's Jobs, as uploaded."
    )
    logs_bytes: Bytes = strawberry.field(  # type: ignore[valid-type]
        description="Archived logs of the runs of the user's Jobs."
    )
    used_bytes: Bytes = strawberry.field(  # type: ignore[valid-type]
        description="Everything that counts against the quota: the sum of the three."
    )
    quota_bytes: Bytes | None = strawberry.field(  # type: ignore[valid-type]
        description="The quota (`WALKAI_STORAGE_QUOTA_BYTES_PER_USER`): past it new inputs "
        "are refused, at it new runs too (QUOTA_EXCEEDED); null: no quota."
    )

    @classmethod
    async def of_user(cls, user_id: UUID, quota: int | None) -> StorageUseType:
        """Read what the user keeps now."""
        use = await storage_use(user_id)
        return cls(
            inputs_bytes=use.inputs,
            outputs_bytes=use.outputs,
            logs_bytes=use.logs,
            used_bytes=use.total,
            quota_bytes=quota,
        )
