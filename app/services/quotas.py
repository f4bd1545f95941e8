"""Quotas and usage: what owners may hold and spend, what they used, who may ask for which
priority.

An owner is a user, or a team for its team Jobs (``app.domain.usage.owner_key``). Usage is
read from runs (compute slices times seconds running, plus ``slice_seconds`` of earlier,
preempted attempts), so nothing is counted as runs go: a period's usage is one query over the
runs that ran in it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from tortoise.expressions import Q

from app.auth.policy import Principal
from app.config import Settings
from app.db.auth_models import Team, User
from app.db.models import Run
from app.db.quota_models import Quota as QuotaRow
from app.domain.admission import Quota
from app.domain.errors import ErrorCode, UserError
from app.domain.priority import Priority
from app.domain.status import RunStatus
from app.domain.usage import (
    OwnerKind,
    compute_slices,
    decayed_slice_seconds,
    owner_key,
    parse_owner_key,
    period_end,
    period_start,
    slice_seconds,
    slice_seconds_of_gpu_hours,
)
from app.services.users import Outcome

HIGH_PRIORITIES = (Priority.HIGH, Priority.EXTRA_HIGH)
# Recent usage older than this many half-lives weighs under 1/1000: not worth reading.
RECENT_HALF_LIVES = 10
_RUN_FIELDS = (
    "owner_id",
    "team_id",
    "priority",
    "status",
    "started_at",
    "finished_at",
    "updated_at",
    "slice_seconds",
    "job__gpu",
)


@dataclass(frozen=True)
class Limits:
    """An owner's limits as set (``stored``) or as the configured defaults."""

    max_slices: int | None
    high_priority_gpu_hours: float | None
    stored: bool


@dataclass(frozen=True)
class Usage:
    """What an owner holds now and used in the current quota period (compute slice-seconds)."""

    slices_in_use: int
    slice_seconds: float
    high_priority_slice_seconds: float
    period_start: datetime
    period_end: datetime


def _owner_filter(owners: Iterable[str]) -> Q:
    """Runs that count for any of ``owners``."""
    users: list[UUID] = []
    teams: list[UUID] = []
    for key in owners:
        parsed = parse_owner_key(key)
        if parsed is not None:
            (users if parsed[0] == "user" else teams).append(parsed[1])
    return Q(team_id__isnull=True, owner_id__in=users) | Q(team_id__in=teams)


def _interval(row: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """The current attempt's ``(start, end)``: none while queued (again, after a preemption);
    an ended run without an end time ended when it was last written."""
    status: RunStatus = row["status"]
    if status is RunStatus.RUNNING:
        return row["started_at"], None
    if status.terminal:
        return row["started_at"], row["finished_at"] or row["updated_at"]
    return None, None


async def _runs_since(since: datetime, owners: Iterable[str] | None) -> list[dict[str, Any]]:
    """Runs that ran at some point after ``since`` (or run now), of ``owners`` (None: all)."""
    query = Run.filter(
        Q(finished_at__isnull=True) | Q(finished_at__gte=since),
        Q(started_at__isnull=False) | Q(slice_seconds__gt=0),
    )
    if owners is not None:
        query = query.filter(_owner_filter(owners))
    return await query.values(*_RUN_FIELDS)


async def limits_for(owners: Iterable[str], settings: Settings) -> dict[str, Limits]:
    """Each owner's stored quota, or the configured defaults."""
    keys = list(owners)
    parsed = [p for p in map(parse_owner_key, keys) if p is not None]
    rows = await QuotaRow.filter(
        Q(user_id__in=[i for kind, i in parsed if kind == "user"])
        | Q(team_id__in=[i for kind, i in parsed if kind == "team"])
    )
    stored = {
        owner_key(row.user_id, row.team_id): row  # type: ignore[attr-defined]
        for row in rows
    }
    default = Limits(settings.default_max_slices, settings.default_high_priority_gpu_hours, False)
    return {
        key: Limits(row.max_slices, row.high_priority_gpu_hours, True)
        if (row := stored.get(key))
        else default
        for key in keys
    }


async def usages(
    owners: Iterable[str] | None, now: datetime, settings: Settings
) -> dict[str, Usage]:
    """Usage of ``owners`` (None: every owner whose runs ran this period) in the period of
    ``now``; owners asked for that used nothing are there with zeros."""
    since = period_start(now, settings.quota_period_cron, settings.quota_timezone)
    until = period_end(now, settings.quota_period_cron, settings.quota_timezone)
    keys = list(owners) if owners is not None else None
    held: dict[str, int] = defaultdict(int)
    total: dict[str, float] = defaultdict(float)
    high: dict[str, float] = defaultdict(float)
    for row in await _runs_since(since, keys):
        key = owner_key(row["owner_id"], row["team_id"])
        profile = row["job__gpu"]
        start, end = _interval(row)
        used = slice_seconds(profile, start, end, now, since, row["slice_seconds"])
        total[key] += used
        if row["priority"] in HIGH_PRIORITIES:
            high[key] += used
        if row["status"] is RunStatus.RUNNING:
            held[key] += compute_slices(profile)
    return {
        key: Usage(held[key], total[key], high[key], since, until)
        for key in (keys if keys is not None else list(total))
    }


async def usage_of(owner: str, now: datetime, settings: Settings) -> Usage:
    """One owner's usage in the current period, and the slices its running runs hold."""
    return (await usages([owner], now, settings))[owner]


def quota_of(limits: Limits, usage: Usage) -> Quota:
    """The admission rules' view of an owner's limits: what is left of its budget."""
    left = None
    if limits.high_priority_gpu_hours is not None:
        budget = slice_seconds_of_gpu_hours(limits.high_priority_gpu_hours)
        left = budget - usage.high_priority_slice_seconds
    return Quota(max_slices=limits.max_slices, high_priority_slice_seconds_left=left)


async def quotas_for(
    owners: Iterable[str], now: datetime, *, settings: Settings
) -> dict[str, Quota]:
    """Each owner's quota for the admission rules: ``max_slices`` as set or by default, and
    the high-priority slice-seconds left this period (None: no limit)."""
    keys = list(dict.fromkeys(owners))
    limits = await limits_for(keys, settings)
    budgeted = [k for k in keys if limits[k].high_priority_gpu_hours is not None]
    used = await usages(budgeted, now, settings) if budgeted else {}
    return {
        key: quota_of(limits[key], used[key])
        if key in used
        else Quota(max_slices=limits[key].max_slices)
        for key in keys
    }


async def recent_usage(now: datetime, half_life_seconds: float) -> dict[str, float]:
    """Decayed compute slice-seconds per owner of runs that ran recently (for fair share)."""
    since = now - timedelta(seconds=RECENT_HALF_LIVES * half_life_seconds)
    usage: dict[str, float] = defaultdict(float)
    for row in await _runs_since(since, None):
        start, end = _interval(row)
        decayed = decayed_slice_seconds(
            row["job__gpu"], start, end, now, half_life_seconds, row["slice_seconds"]
        )
        usage[owner_key(row["owner_id"], row["team_id"])] += decayed
    return dict(usage)


async def check_priority(
    viewer: Principal,
    priority: Priority,
    team_id: UUID | None,
    *,
    settings: Settings,
    field: str = "priority",
) -> list[UserError]:
    """Whether ``viewer`` may submit a run of ``priority`` (for ``team_id``'s Job, if any).

    EXTRA_HIGH is for the roles configured; for "members with quota", a member whose (or
    whose team's, for a team Job) high-priority budget is above 0 or unlimited. HIGH and
    EXTRA_HIGH with nothing left of the budget are refused, or accepted to wait in the queue,
    as configured."""
    if priority not in HIGH_PRIORITIES:
        return []
    owner = owner_key(viewer.user_id, team_id)
    limits = (await limits_for([owner], settings))[owner]
    hours = limits.high_priority_gpu_hours
    if priority is Priority.EXTRA_HIGH and not _may_use_extra_high(viewer, hours, settings):
        message = "EXTRA_HIGH is not allowed to you; ask an admin for a high-priority quota."
        return [UserError(field, message, ErrorCode.NOT_ALLOWED)]
    if hours is None or settings.high_priority_over_quota == "wait":
        return []
    now = datetime.now(UTC)
    quota = quota_of(limits, (await usages([owner], now, settings))[owner])
    left = quota.high_priority_slice_seconds_left
    if left is not None and left <= 0:
        message = (
            f"No high-priority GPU-hours left this period (quota: {hours:g}); "
            "use MEDIUM or LOW, or wait for the next period."
        )
        return [UserError(field, message, ErrorCode.QUOTA_EXCEEDED)]
    return []


def _may_use_extra_high(viewer: Principal, hours: float | None, settings: Settings) -> bool:
    if settings.extra_high_roles == "everyone" or viewer.is_admin:
        return True
    return settings.extra_high_roles == "admins_and_members_with_quota" and (
        hours is None or hours > 0
    )


async def set_quota(
    viewer: Principal,
    owner: tuple[OwnerKind, UUID | None] | None,
    max_slices: int | None,
    high_priority_gpu_hours: float | None,
) -> Outcome[str]:
    """Set a user's or a team's quota (admins); the value is the owner's key.

    ``owner``: ``("user" | "team", id)``, the id None when the one given is not valid; None
    when not exactly one was given."""
    if not viewer.is_admin:
        return Outcome(errors=[UserError(None, "Only admins set quotas.", ErrorCode.NOT_FOUND)])
    errors = []
    if owner is None:
        errors.append(UserError(None, "Give exactly one of userId and teamId.", ErrorCode.INVALID))
    if max_slices is not None and max_slices < 0:
        errors.append(UserError("maxSlices", "Must be 0 or more.", ErrorCode.OUT_OF_RANGE))
    hours = high_priority_gpu_hours
    if hours is not None and not (math.isfinite(hours) and hours >= 0):
        errors.append(
            UserError("highPriorityGpuHours", "Must be 0 or more.", ErrorCode.OUT_OF_RANGE)
        )
    if owner is None:
        return Outcome(errors=errors)
    kind, id_ = owner
    model = User if kind == "user" else Team
    if id_ is None or not await model.exists(id=id_):
        errors.append(UserError(f"{kind}Id", f"No {kind} with this id.", ErrorCode.NOT_FOUND))
    if errors:
        return Outcome(errors=errors)
    values = {"max_slices": max_slices, "high_priority_gpu_hours": hours}
    if kind == "user":
        await QuotaRow.update_or_create(values, user_id=id_)
    else:
        await QuotaRow.update_or_create(values, team_id=id_)
    return Outcome(value=f"{kind}:{id_}")


async def owners_with_quota_or_usage(now: datetime, settings: Settings) -> list[str]:
    """Every owner with a stored quota or runs that ran this period, by key."""
    since = period_start(now, settings.quota_period_cron, settings.quota_timezone)
    keys = {
        owner_key(row["user_id"], row["team_id"])
        for row in await QuotaRow.all().values("user_id", "team_id")
    }
    keys.update(owner_key(r["owner_id"], r["team_id"]) for r in await _runs_since(since, None))
    return sorted(keys)
