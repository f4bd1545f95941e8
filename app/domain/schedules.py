"""Schedules as pure rules: what a valid schedule is, when it fires next, and which ticks are
due after a wait (with the catch-up bound).

Times are stored and compared in UTC; a cron expression is read in the schedule's time zone
(zoneinfo), so "every day at 02:30 Europe/Madrid" stays at 02:30 local across DST changes. A
wall time that does not exist (clocks spring forward) fires at the first moment after the gap
(croniter's choice). A wall time that happens twice (clocks fall back) fires once, unless the
hour field is `*`: an hourly (or finer) schedule fires in every real hour.

Cron expressions have five fields, or six with croniter's optional seconds field *last*
(`minute hour day-of-month month day-of-week second`), so tests need not wait minutes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from app.domain.errors import ErrorCode, UserError

MAX_CRON_LENGTH = 255
MAX_TIMEZONE_LENGTH = 64
DEFAULT_TIMEZONE = "UTC"
# Ticks looked at when catching up after downtime; a longer gap counts the rest as one skip
# batch (a one-second schedule down for a week need not walk 600,000 ticks).
MAX_TICKS_WALKED = 10_000
_DAY = 86_400
_HOUR_OF_TICKS = 3_602


class SkipReason(enum.Enum):
    """Why a tick started no run."""

    MISSED = "MISSED"  # the platform was down past it, beyond the catch-up bound
    RUN_UNFINISHED = "RUN_UNFINISHED"  # a run of the Job had not finished
    REFUSED = "REFUSED"  # the rerun was refused (a deleted input or secret, a quota)


@dataclass(frozen=True)
class ScheduleSpec:
    """A validated schedule: a cron expression or a single time, read in `timezone`."""

    cron: str | None
    run_at: datetime | None  # UTC
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        """The time zone cron fields are read in."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Due:
    """What a schedule owes at `now`: ticks to fire (oldest first), how many missed ticks the
    catch-up bound skipped (the latest of them: `skipped_at`), and the tick after `now` (None:
    it never fires again)."""

    fire: list[datetime]
    skipped: int
    next_at: datetime | None
    skipped_at: datetime | None = None


def zone_of(name: str) -> ZoneInfo | None:
    """The IANA time zone of that name, or None if there is none."""
    if not name or len(name) > MAX_TIMEZONE_LENGTH:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def validate_schedule(
    *,
    cron: str | None,
    run_at: datetime | None,
    timezone: str | None,
    now: datetime,
    min_interval_seconds: int,
) -> ScheduleSpec | list[UserError]:
    """A valid spec, or every problem, each naming its field. A `runAt` without an offset is a
    wall time in `timezone`; it must lie in the future."""
    errors: list[UserError] = []
    cron = cron.strip() if cron is not None else None
    if (cron is None) == (run_at is None):
        message = (
            "Give either cron or runAt, not both."
            if cron is not None
            else "Give a cron expression or a runAt time."
        )
        code = ErrorCode.INVALID if cron is not None else ErrorCode.REQUIRED
        errors += [UserError("cron", message, code), UserError("runAt", message, code)]
    tz_name = DEFAULT_TIMEZONE if timezone is None else timezone.strip()
    zone = zone_of(tz_name)
    if zone is None:
        errors.append(
            UserError(
                "timezone",
                f"Unknown time zone {tz_name[:MAX_TIMEZONE_LENGTH]!r}; use an IANA name such as "
                "Europe/Madrid or UTC.",
                ErrorCode.INVALID,
            )
        )
    if cron is not None and run_at is None:
        errors += _cron_errors(cron, zone or UTC, now, min_interval_seconds)
    at_utc: datetime | None = None
    if run_at is not None and cron is None:
        local = run_at if run_at.tzinfo is not None else run_at.replace(tzinfo=zone or UTC)
        at_utc = local.astimezone(UTC)
        if at_utc <= now:
            errors.append(
                UserError("runAt", "runAt must be in the future.", ErrorCode.OUT_OF_RANGE)
            )
    if errors:
        return errors
    return ScheduleSpec(cron=cron, run_at=at_utc, timezone=tz_name)


def _cron_errors(cron: str, zone: tzinfo, now: datetime, min_interval: int) -> list[UserError]:
    if len(cron) > MAX_CRON_LENGTH:
        return [UserError("cron", "The cron expression is too long.", ErrorCode.TOO_LONG)]
    fields = cron.split()
    if len(fields) not in (5, 6) or not croniter.is_valid(cron):
        return [
            UserError(
                "cron",
                "Not a cron expression: five fields (minute hour day-of-month month "
                "day-of-week), or six with seconds last.",
                ErrorCode.INVALID,
            )
        ]
    try:
        croniter(cron, now.astimezone(zone)).get_next(datetime)
    except (CroniterError, ValueError):
        return [UserError("cron", "The cron expression never fires.", ErrorCode.INVALID)]
    gap = shortest_gap_seconds(cron)
    if gap < min_interval:
        return [
            UserError(
                "cron",
                f"The schedule would fire every {gap} s; at most once every {min_interval} s "
                "is allowed.",
                ErrorCode.OUT_OF_RANGE,
            )
        ]
    return []


def _values(field: Sequence[object], size: int) -> list[int]:
    return list(range(size)) if field == ["*"] else sorted({int(str(v)) for v in field})


def shortest_gap_seconds(cron: str) -> int:
    """The shortest time between two ticks of a valid expression, judged on the wall clock of
    one day and the next (conservative: it assumes two consecutive days may both fire)."""
    expanded = croniter(cron).expanded
    seconds = _values(expanded[5], 60) if len(expanded) > 5 else [0]
    minutes, hours = _values(expanded[0], 60), _values(expanded[1], 24)
    day = sorted(h * 3600 + m * 60 + s for h in hours for m in minutes for s in seconds)
    gaps = [b - a for a, b in pairwise(day)]
    gaps.append(_DAY - day[-1] + day[0])
    return min(gaps)


def _repeated_wall_time(tick: datetime) -> bool:
    """True for the second pass through a wall time that happens twice (clocks fell back)."""
    return tick.fold == 1 and tick.replace(fold=0).utcoffset() != tick.utcoffset()


def next_tick(spec: ScheduleSpec, after: datetime) -> datetime | None:
    """The first tick strictly after `after` (UTC), or None if there is none."""
    if spec.cron is None:
        return spec.run_at if spec.run_at is not None and spec.run_at > after else None
    every_hour = croniter(spec.cron).expanded[1] == ["*"]
    try:
        cron = croniter(spec.cron, after.astimezone(spec.zone))
        # Bounded: at most one repeated hour's ticks are passed over.
        for _ in range(_HOUR_OF_TICKS):
            tick: datetime = cron.get_next(datetime)
            if not every_hour and _repeated_wall_time(tick):
                continue
            at = tick.astimezone(UTC)
            if at > after:
                return at
    except (CroniterError, ValueError):
        return None
    return None


def due_ticks(spec: ScheduleSpec, next_at: datetime, now: datetime, catch_up: int) -> Due:
    """The ticks from `next_at` up to `now`: the latest `catch_up` (at least one) fire, the
    older ones are skipped; and the first tick after `now`. At most MAX_TICKS_WALKED are
    counted: the rest of a longer gap is skipped uncounted."""
    ticks: list[datetime] = []
    tick: datetime | None = next_at
    while tick is not None and tick <= now and len(ticks) < MAX_TICKS_WALKED:
        ticks.append(tick)
        tick = next_tick(spec, tick)
    if tick is not None and tick <= now:
        tick = next_tick(spec, now)
    keep = max(1, catch_up)
    missed = ticks[:-keep]
    return Due(
        fire=ticks[-keep:],
        skipped=len(missed),
        next_at=tick,
        skipped_at=missed[-1] if missed else None,
    )
