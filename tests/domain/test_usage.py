"""Usage accounting: owners, quota periods, slice-seconds in a period and decayed."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.usage import (
    GPU_SLICE_SECONDS_PER_HOUR,
    check_period,
    decay,
    decayed_slice_seconds,
    gpu_hours,
    owner_key,
    parse_owner_key,
    period_end,
    period_start,
    slice_seconds,
)

T0 = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)  # a Wednesday


def day(d: int, m: int = 5, h: int = 0) -> datetime:
    return datetime(2024, m, d, h, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_owner_keys() -> None:
    user, team = uuid.uuid4(), uuid.uuid4()
    assert owner_key(user, None) == f"user:{user}"
    assert owner_key(user, team) == f"team:{team}"
    assert parse_owner_key(owner_key(user, None)) == ("user", user)
    assert parse_owner_key(owner_key(user, team)) == ("team", team)
    for bad in ("", "user:", "group:" + str(user), "team:nope", str(user)):
        assert parse_owner_key(bad) is None


@pytest.mark.parametrize(
    ("now", "cron", "zone", "start", "end"),
    [
        # Weekly, Monday 00:00 UTC.
        (T0, "0 0 * * 1", "UTC", day(13), day(20)),
        # Exactly on a tick: the period starts there.
        (datetime(2024, 5, 13, tzinfo=UTC), "0 0 * * 1", "UTC",
         datetime(2024, 5, 13, tzinfo=UTC), datetime(2024, 5, 20, tzinfo=UTC)),
        # Just before a tick: still the previous period.
        (datetime(2024, 5, 12, 23, 59, 59, tzinfo=UTC), "0 0 * * 1", "UTC",
         datetime(2024, 5, 6, tzinfo=UTC), datetime(2024, 5, 13, tzinfo=UTC)),
        # Monthly.
        (T0, "0 0 1 * *", "UTC", day(1), day(1, 6)),
        # Local midnight in Madrid (UTC+2 in May) is 22:00 UTC the day before.
        (T0, "0 0 * * *", "Europe/Madrid",
         datetime(2024, 5, 14, 22, tzinfo=UTC), datetime(2024, 5, 15, 22, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_periods(now: datetime, cron: str, zone: str, start: datetime, end: datetime) -> None:
    assert period_start(now, cron, zone) == start
    assert period_end(now, cron, zone) == end
    assert period_start(now, cron, zone).tzinfo is not None


def test_a_period_across_a_clock_change_is_an_hour_shorter() -> None:
    # Madrid went to summer time on 2024-03-31: that day lasted 23 hours.
    now = datetime(2024, 3, 31, 12, tzinfo=UTC)
    start, end = (
        period_start(now, "0 0 * * *", "Europe/Madrid"),
        period_end(now, "0 0 * * *", "Europe/Madrid"),
    )
    assert end - start == timedelta(hours=23)


@pytest.mark.parametrize(
    ("cron", "zone"), [("0 0 * *", "UTC"), ("not a cron", "UTC"), ("0 0 * * 1", "Mars/Base")]
)
def test_bad_periods_are_refused(cron: str, zone: str) -> None:
    with pytest.raises(ValueError):
        check_period(cron, zone)


@pytest.mark.parametrize(
    ("profile", "started", "finished", "now", "since", "earlier", "expected"),
    [
        ("1g.10gb", 0, 10, 20, 0, 0.0, 10),  # 1 slice, 10 s
        ("3g.40gb", 0, 10, 20, 0, 0.0, 30),  # 3 slices
        ("7g.80gb", 0, None, 20, 0, 0.0, 140),  # still running: until now
        ("2g.20gb", 0, 10, 20, 5, 0.0, 10),  # only the part inside the period
        ("2g.20gb", 0, 10, 20, 15, 0.0, 0),  # ended before the period
        ("2g.20gb", 0, 10, 20, 15, 7.5, 7.5),  # earlier attempts still count
        ("2g.20gb", None, None, 20, 0, 4.0, 4.0),  # queued again: only earlier attempts
        ("2g.20gb", 0, 30, 20, 0, 0.0, 40),  # an end after now is cut at now
        ("4g.40gb", 30, None, 20, 0, 0.0, 0),  # a start after now (clock skew) counts nothing
        ("not-a-profile", 0, 10, 20, 0, 1.0, 1.0),
    ],
)
def test_slice_seconds(
    profile: str,
    started: float | None,
    finished: float | None,
    now: float,
    since: float,
    earlier: float,
    expected: float,
) -> None:
    used = slice_seconds(
        profile,
        at(started) if started is not None else None,
        at(finished) if finished is not None else None,
        at(now),
        at(since),
        earlier,
    )
    assert used == pytest.approx(expected)


def test_a_gpu_hour_is_seven_slices_for_an_hour() -> None:
    assert GPU_SLICE_SECONDS_PER_HOUR == 7 * 3600
    assert gpu_hours(slice_seconds("7g.80gb", at(0), at(3600), at(3600), at(0))) == 1
    assert gpu_hours(slice_seconds("1g.10gb", at(0), at(3600), at(3600), at(0))) == pytest.approx(
        1 / 7
    )


@pytest.mark.parametrize(
    ("age", "half_life", "weight"), [(0, 60, 1), (60, 60, 0.5), (120, 60, 0.25), (-5, 60, 1)]
)
def test_decay(age: float, half_life: float, weight: float) -> None:
    assert decay(age, half_life) == pytest.approx(weight)


@pytest.mark.parametrize(
    ("profile", "started", "finished", "now", "half_life", "earlier", "expected"),
    [
        # Short against the half-life: about the plain slice-seconds.
        ("1g.10gb", 0, 1, 1, 1e9, 0.0, 1),
        # Running for a whole half-life: slices * h / ln 2 * (1 - 1/2).
        ("2g.20gb", 0, None, 60, 60, 0.0, 2 * 60 / math.log(2) * 0.5),
        # Ended one half-life ago: half of what it was worth when it ended.
        ("2g.20gb", 0, 60, 120, 60, 0.0, 2 * 60 / math.log(2) * 0.25),
        # Earlier attempts weigh as of the current attempt's start.
        ("1g.10gb", 0, 0, 60, 60, 10.0, 5),
        # Queued again: earlier attempts at full weight.
        ("1g.10gb", None, None, 60, 60, 10.0, 10),
        ("1g.10gb", 60, None, 60, 60, 0.0, 0),
    ],
)
def test_decayed_slice_seconds(
    profile: str,
    started: float | None,
    finished: float | None,
    now: float,
    half_life: float,
    earlier: float,
    expected: float,
) -> None:
    used = decayed_slice_seconds(
        profile,
        at(started) if started is not None else None,
        at(finished) if finished is not None else None,
        at(now),
        half_life,
        earlier,
    )
    assert used == pytest.approx(expected, rel=1e-6)


def test_decayed_usage_never_exceeds_plain_usage() -> None:
    for end in (1, 10, 100, 1000):
        plain = slice_seconds("3g.40gb", at(0), at(end), at(2000), at(-1))
        assert decayed_slice_seconds("3g.40gb", at(0), at(end), at(2000), 300) <= plain
