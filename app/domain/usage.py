"""GPU usage accounting in compute slice-seconds: per quota period and decayed for fair share.

The unit is the compute slice-second (a ``3g.40gb`` run holds 3 slices for each second it
runs), so usage of every profile adds up and compares with quotas given in GPU-hours: a
GPU-hour is a whole GPU, 7 compute slices, for an hour. Pure, no I/O.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from app.domain.mig import COMPUTE_SLICES, profile_units

GPU_SLICE_SECONDS_PER_HOUR = COMPUTE_SLICES * 3600
DEFAULT_PERIOD_CRON = "0 0 * * 1"

OwnerKind = Literal["user", "team"]


def owner_key(owner_id: UUID | str, team_id: UUID | str | None) -> str:
    """Who a run's usage counts for: its team for a team Job, else the user who owns it."""
    return f"team:{team_id}" if team_id is not None else f"user:{owner_id}"


def parse_owner_key(key: str) -> tuple[OwnerKind, UUID] | None:
    """``("user" | "team", id)`` of an owner key; None for anything else."""
    kind, _, rest = key.partition(":")
    if kind not in ("user", "team"):
        return None
    try:
        return ("user" if kind == "user" else "team"), UUID(rest)
    except ValueError:
        return None


def period_start(now: datetime, cron: str = DEFAULT_PERIOD_CRON, timezone: str = "UTC") -> datetime:
    """Start of the quota period ``now`` is in: the latest tick of ``cron`` at or before it.

    The cron is read in ``timezone``, so a weekly period starts at local midnight there."""
    # croniter's previous tick is strictly before its base; a tick exactly at `now` starts
    # the period, so look back from just after it.
    base = (now + timedelta(seconds=1)).astimezone(ZoneInfo(timezone))
    start: datetime = croniter(cron, base).get_prev(datetime)
    return start.astimezone(now.tzinfo)


def check_period(cron: str, timezone: str) -> None:
    """Raise ValueError unless ``cron`` (five fields) and ``timezone`` can define periods."""
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise ValueError(f"not a five-field cron expression: {cron!r}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {timezone!r}") from exc


def period_end(now: datetime, cron: str = DEFAULT_PERIOD_CRON, timezone: str = "UTC") -> datetime:
    """End of the quota period ``now`` is in (the next period's start)."""
    start = period_start(now, cron, timezone)
    end: datetime = croniter(cron, start.astimezone(ZoneInfo(timezone))).get_next(datetime)
    return end.astimezone(now.tzinfo)


def compute_slices(profile: str) -> int:
    """Compute slices a run of ``profile`` holds; 0 for a name that is not a MIG profile."""
    try:
        return profile_units(profile)[0]
    except ValueError:
        return 0


def slice_seconds(
    profile: str,
    started_at: datetime | None,
    finished_at: datetime | None,
    now: datetime,
    since: datetime,
    earlier: float = 0.0,
) -> float:
    """Compute slice-seconds of ``[started_at, finished_at or now]`` within ``[since, now]``,
    plus ``earlier`` (slice-seconds of attempts before this one, e.g. preempted ones)."""
    if started_at is None:
        return earlier
    start = max(started_at, since)
    end = min(finished_at or now, now)
    seconds = max(0.0, (end - start).total_seconds())
    return compute_slices(profile) * seconds + earlier


def decay(age_seconds: float, half_life_seconds: float) -> float:
    """Weight of usage ``age_seconds`` old: 1 now, 1/2 one half-life ago, and so on."""
    return 0.5 ** (max(0.0, age_seconds) / half_life_seconds)


def decayed_slice_seconds(
    profile: str,
    started_at: datetime | None,
    finished_at: datetime | None,
    now: datetime,
    half_life_seconds: float,
    earlier: float = 0.0,
) -> float:
    """Slice-seconds of ``[started_at, finished_at or now]``, each second weighted by its age.

    The integral of ``slices * decay(now - t)`` over the interval, in closed form. ``earlier``
    (attempts before this one, whose times are not kept) is weighted as if used just before
    ``started_at`` (unweighted without one: a run queued again since)."""
    if started_at is None:
        return earlier
    oldest = decay((now - started_at).total_seconds(), half_life_seconds)
    end = min(finished_at or now, now)
    used = 0.0
    if end > started_at:
        newest = decay((now - end).total_seconds(), half_life_seconds)
        used = compute_slices(profile) * (newest - oldest) * half_life_seconds / math.log(2)
    return used + earlier * oldest


def gpu_hours(amount: float) -> float:
    """Compute slice-seconds in GPU-hours."""
    return amount / GPU_SLICE_SECONDS_PER_HOUR


def slice_seconds_of_gpu_hours(hours: float) -> float:
    """GPU-hours in compute slice-seconds."""
    return hours * GPU_SLICE_SECONDS_PER_HOUR
