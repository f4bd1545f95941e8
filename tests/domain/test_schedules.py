"""Schedule rules as tables: validation, next ticks across time zones and DST, and the catch-up
bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.errors import ErrorCode
from app.domain.schedules import (
    ScheduleSpec,
    due_ticks,
    next_tick,
    shortest_gap_seconds,
    validate_schedule,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def spec(cron: str, timezone: str = "UTC") -> ScheduleSpec:
    valid = validate_schedule(
        cron=cron, run_at=None, timezone=timezone, now=NOW, min_interval_seconds=1
    )
    assert isinstance(valid, ScheduleSpec), valid
    return valid


def ticks(s: ScheduleSpec, after: str, count: int) -> list[str]:
    out: list[str] = []
    at: datetime | None = utc(after)
    for _ in range(count):
        assert at is not None
        at = next_tick(s, at)
        assert at is not None
        out.append(at.isoformat())
    return out


@pytest.mark.parametrize(
    ("cron", "run_at", "timezone", "fields", "code"),
    [
        (None, None, "UTC", {"cron", "runAt"}, ErrorCode.REQUIRED),
        ("* * * * *", NOW + timedelta(hours=1), "UTC", {"cron", "runAt"}, ErrorCode.INVALID),
        ("not a cron", None, "UTC", {"cron"}, ErrorCode.INVALID),
        ("61 * * * *", None, "UTC", {"cron"}, ErrorCode.INVALID),
        ("* * * *", None, "UTC", {"cron"}, ErrorCode.INVALID),
        ("* * * * * * *", None, "UTC", {"cron"}, ErrorCode.INVALID),
        ("0 0 30 2 *", None, "UTC", {"cron"}, ErrorCode.INVALID),
        ("x" * 300, None, "UTC", {"cron"}, ErrorCode.TOO_LONG),
        ("* * * * * */10", None, "UTC", {"cron"}, ErrorCode.OUT_OF_RANGE),
        ("0 * * * *", None, "Mars/Olympus", {"timezone"}, ErrorCode.INVALID),
        ("0 * * * *", None, "../../etc/passwd", {"timezone"}, ErrorCode.INVALID),
        ("0 * * * *", None, "", {"timezone"}, ErrorCode.INVALID),
        (None, NOW - timedelta(seconds=1), "UTC", {"runAt"}, ErrorCode.OUT_OF_RANGE),
        (None, NOW, "UTC", {"runAt"}, ErrorCode.OUT_OF_RANGE),
    ],
)
def test_invalid_schedules_name_their_field(
    cron: str | None,
    run_at: datetime | None,
    timezone: str,
    fields: set[str],
    code: ErrorCode,
) -> None:
    errors = validate_schedule(
        cron=cron, run_at=run_at, timezone=timezone, now=NOW, min_interval_seconds=60
    )
    assert isinstance(errors, list)
    assert {e.field for e in errors} == fields
    assert {e.code for e in errors} == {code}


def test_a_run_at_without_offset_is_a_wall_time_in_the_schedule_zone() -> None:
    valid = validate_schedule(
        cron=None,
        run_at=datetime(2026, 7, 1, 9, 0),
        timezone="Europe/Madrid",
        now=NOW,
        min_interval_seconds=60,
    )
    assert isinstance(valid, ScheduleSpec)
    assert valid.run_at == utc("2026-07-01T07:00:00+00:00")
    assert next_tick(valid, NOW) == valid.run_at
    assert next_tick(valid, valid.run_at) is None  # fires once


@pytest.mark.parametrize(
    ("cron", "gap"),
    [
        ("* * * * *", 60),
        ("*/5 * * * *", 300),
        ("0 9 * * 1-5", 86_400),
        ("0,59 23,0 * * *", 60),
        ("* * * * * *", 1),
        ("* * * * * */2", 2),
        ("* * * * * 0,30", 30),
        ("0 * * * * 0,59", 59),
        ("* * * * * 0,59", 1),
    ],
)
def test_the_shortest_gap_between_ticks(cron: str, gap: int) -> None:
    assert shortest_gap_seconds(cron) == gap


@pytest.mark.parametrize(
    ("cron", "timezone", "after", "expected"),
    [
        # Every day 09:00 in New York: 14:00 UTC in winter, 13:00 in summer (DST from Mar 8).
        (
            "0 9 * * *",
            "America/New_York",
            "2026-03-07T00:00:00+00:00",
            [
                "2026-03-07T14:00:00+00:00",
                "2026-03-08T13:00:00+00:00",
                "2026-03-09T13:00:00+00:00",
            ],
        ),
        # Spring forward in Madrid (Mar 29, 02:00 -> 03:00): 02:30 does not exist that day and
        # fires at 03:00 local instead, once.
        (
            "30 2 * * *",
            "Europe/Madrid",
            "2026-03-28T00:00:00+00:00",
            [
                "2026-03-28T01:30:00+00:00",
                "2026-03-29T01:00:00+00:00",
                "2026-03-30T00:30:00+00:00",
            ],
        ),
        # Fall back in Madrid (Oct 25, 03:00 -> 02:00): 02:30 happens twice and fires once.
        (
            "30 2 * * *",
            "Europe/Madrid",
            "2026-10-24T00:00:00+00:00",
            [
                "2026-10-24T00:30:00+00:00",
                "2026-10-25T00:30:00+00:00",
                "2026-10-26T01:30:00+00:00",
            ],
        ),
        # An hourly schedule fires in every real hour, the repeated one too.
        (
            "0 * * * *",
            "Europe/Madrid",
            "2026-10-24T23:30:00+00:00",
            [
                "2026-10-25T00:00:00+00:00",
                "2026-10-25T01:00:00+00:00",
                "2026-10-25T02:00:00+00:00",
            ],
        ),
        # Half-hour and southern-hemisphere zones.
        (
            "0 0 * * *",
            "Asia/Kolkata",
            "2026-06-01T00:00:00+00:00",
            ["2026-06-01T18:30:00+00:00", "2026-06-02T18:30:00+00:00"],
        ),
        (
            "0 12 1 * *",
            "Australia/Sydney",
            "2026-03-15T00:00:00+00:00",
            ["2026-04-01T01:00:00+00:00", "2026-05-01T02:00:00+00:00"],
        ),
        # Seconds last.
        (
            "* * * * * */20",
            "UTC",
            "2026-03-01T12:00:05+00:00",
            [
                "2026-03-01T12:00:20+00:00",
                "2026-03-01T12:00:40+00:00",
                "2026-03-01T12:01:00+00:00",
            ],
        ),
    ],
)
def test_next_ticks(cron: str, timezone: str, after: str, expected: list[str]) -> None:
    assert ticks(spec(cron, timezone), after, len(expected)) == expected


def test_a_start_inside_the_repeated_hour_moves_forward() -> None:
    s = spec("15,45 2 * * *", "Europe/Madrid")
    # 02:30 local, the second time (01:30 UTC): 02:45 that second time has already happened
    # once (at 00:45 UTC), so the next tick is tomorrow's 02:15.
    assert next_tick(s, utc("2026-10-25T01:30:00+00:00")) == utc("2026-10-26T01:15:00+00:00")


@pytest.mark.parametrize(
    ("catch_up", "missed_at", "fire", "skipped", "next_at"),
    [
        # Down from 12:00:30 to 12:03:30 with a minutely schedule: 12:01, 12:02, 12:03 missed.
        (1, "12:01", ["12:03"], 2, "12:04"),
        (2, "12:01", ["12:02", "12:03"], 1, "12:04"),
        (5, "12:01", ["12:01", "12:02", "12:03"], 0, "12:04"),
        (0, "12:01", ["12:03"], 2, "12:04"),  # at least the latest tick fires
        # On time: one tick, nothing skipped.
        (1, "12:03", ["12:03"], 0, "12:04"),
        # Not yet due.
        (1, "12:04", [], 0, "12:04"),
    ],
)
def test_catch_up_fires_at_most_the_bound_and_counts_the_rest(
    catch_up: int, missed_at: str, fire: list[str], skipped: int, next_at: str
) -> None:
    def at(hm: str) -> datetime:
        return utc(f"2026-03-01T{hm}:00+00:00")

    due = due_ticks(spec("* * * * *"), at(missed_at), at("12:03") + timedelta(seconds=30), catch_up)
    assert due.fire == [at(t) for t in fire]
    assert due.skipped == skipped
    assert due.skipped_at == (at(fire[0]) - timedelta(minutes=1) if skipped else None)
    assert due.next_at == at(next_at)


def test_a_very_long_gap_is_walked_only_so_far() -> None:
    now = NOW + timedelta(days=1)
    due = due_ticks(spec("* * * * * *"), NOW, now, 1)
    assert due.fire == [NOW + timedelta(seconds=9_999)]
    assert due.skipped == 9_999
    assert due.next_at == now + timedelta(seconds=1)


def test_a_run_at_schedule_is_due_once() -> None:
    s = ScheduleSpec(cron=None, run_at=NOW, timezone="UTC")
    due = due_ticks(s, NOW, NOW + timedelta(hours=5), 3)
    assert due.fire == [NOW] and due.skipped == 0 and due.next_at is None
