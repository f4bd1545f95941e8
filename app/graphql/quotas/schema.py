"""Query and Mutation fields of quotas: every owner's quota and usage, and setting a quota."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import strawberry

from app.domain.usage import OwnerKind
from app.graphql.context import Info
from app.graphql.errors import UserErrorType
from app.graphql.nodes import uuid_of
from app.graphql.pagination import (
    After,
    First,
    build_connection,
    decode_cursor,
    encode_cursor,
    page_size,
)
from app.graphql.quotas.types import (
    QuotaType,
    QuotaUsageConnection,
    QuotaUsageType,
    may_see,
    quota_usages,
)
from app.services import quotas


@strawberry.input(name="SetQuotaInput", description="A user's or a team's new quota.")
class SetQuotaInput:
    """Exactly one of `userId` and `teamId`; the limits replace the owner's previous ones."""

    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="The user whose own Jobs the quota limits."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="The team whose team Jobs the quota limits."
    )
    max_slices: int | None = strawberry.field(
        default=None,
        description="Compute slices (7 per GPU) its running runs may hold at once; null: no limit.",
    )
    high_priority_gpu_hours: float | None = strawberry.field(
        default=None,
        description="GPU-hours its HIGH and EXTRA_HIGH runs may use per period (0: none, which "
        "also withholds EXTRA_HIGH from members); null: no limit.",
    )


@strawberry.type(name="SetQuotaPayload", description="The result of setQuota.")
class SetQuotaPayload:
    """The owner's quota as now set."""

    quota: QuotaType | None = strawberry.field(description="The new quota; null on errors.")
    quota_usage: QuotaUsageType | None = strawberry.field(
        description="The owner with its new quota and its usage; null on errors."
    )
    user_errors: list[UserErrorType] = strawberry.field(description="Problems; empty on success.")


@strawberry.type
class QuotaQueries:
    """Reading quotas and usage."""

    @strawberry.field(
        description="Every user and team with a quota or GPU use this period, with both "
        "(admins; members see themselves and their teams)."
    )
    async def quota_usage(
        self, info: Info, first: First = None, after: After = None
    ) -> QuotaUsageConnection:
        size = page_size(first)
        start = str(decode_cursor(after, 1)[0]) if after is not None else ""
        settings = info.context.platform.settings
        viewer = info.context.viewer
        owners = await quotas.owners_with_quota_or_usage(datetime.now(UTC), settings)
        keys = [k for k in owners if k > start and may_see(viewer, k)][: size + 1]
        rows = await quota_usages(info, keys)
        return build_connection(  # type: ignore[return-value]
            QuotaUsageConnection,
            rows,
            size,
            has_previous=after is not None,
            cursor_of=lambda row: encode_cursor(str(row.id)),
            node_of=lambda row: row,
        )


@strawberry.type
class QuotaMutations:
    """Changing quotas."""

    @strawberry.mutation(
        description="Set a user's or a team's quota (admins): concurrent compute slices and "
        "high-priority GPU-hours per period. It applies from the next admission pass."
    )
    async def set_quota(
        self,
        info: Info,
        input: Annotated[SetQuotaInput, strawberry.argument(description="Whose quota, and what.")],
    ) -> SetQuotaPayload:
        viewer = info.context.viewer
        assert viewer is not None  # the guard refuses anonymous mutations
        outcome = await quotas.set_quota(
            viewer, _owner(input), input.max_slices, input.high_priority_gpu_hours
        )
        if outcome.value is None:
            errors = [UserErrorType.from_domain(e) for e in outcome.errors]
            return SetQuotaPayload(quota=None, quota_usage=None, user_errors=errors)
        (row,) = await quota_usages(info, [outcome.value])
        return SetQuotaPayload(quota=row.quota, quota_usage=row, user_errors=[])


def _owner(input: SetQuotaInput) -> tuple[OwnerKind, UUID | None] | None:
    """Whose quota: the kind and id given (the id None if not one of that kind's)."""
    if (input.user_id is None) == (input.team_id is None):
        return None
    if input.user_id is not None:
        return "user", uuid_of(input.user_id, "User")
    assert input.team_id is not None
    return "team", uuid_of(input.team_id, "Team")
