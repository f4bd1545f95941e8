"""Schedules fire through the normal rerun path: runAt once, cron once per tick (two replicas
included), never over an unfinished run, a bounded catch-up after downtime, and pause/resume."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from app.db.schedule_models import Schedule
from app.services.schedules import ScheduleLoop, schedule_loop
from tests.schedules.conftest import (
    PAUSE,
    RESUME,
    at,
    create,
    eventually,
    new_job,
    now,
    set_everywhere,
    state,
)
from tests.support.api import Api
from tests.support.servers import RUNNING, serve, until

EVERY_SECOND = "* * * * * *"
EVERY_TWO_SECONDS = "* * * * * */2"
EVERY_FOUR_SECONDS = "* * * * * */4"


async def test_a_run_at_schedule_fires_exactly_once(fast: Api) -> None:
    api = fast
    job_id = await new_job(api)
    run_at = (now() + timedelta(seconds=2)).replace(microsecond=0)
    schedule = await create(api, job_id, runAt=run_at.isoformat())
    assert at(schedule["nextRunAt"]) == run_at and schedule["cron"] is None

    async def fired() -> dict[str, object] | None:
        _, (s,) = await state(api, job_id)
        return s if s["lastRun"] else None

    fired_state = await eventually(fired)
    await asyncio.sleep(1.5)  # nothing more comes
    runs, (after,) = await state(api, job_id)
    assert [r["number"] for r in runs] == [1, 2]
    assert after == fired_state
    assert after["lastRun"]["number"] == 2 and at(after["lastRunAt"]) == run_at
    assert after["nextRunAt"] is None and after["skippedTicks"] == 0  # done


async def test_a_cron_schedule_fires_once_per_tick_with_two_replicas(
    fast: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = fast
    fired: list[tuple[str, datetime]] = []
    start_run = ScheduleLoop.start_run

    async def recording(loop: ScheduleLoop, schedule: Schedule, tick: datetime) -> None:
        fired.append((str(schedule.id), tick))
        await start_run(loop, schedule, tick)

    monkeypatch.setattr(ScheduleLoop, "start_run", recording)
    async with serve(api.platform.settings, share_database=True) as replica:
        here, there = schedule_loop(api.platform), schedule_loop(replica.platform)
        assert here is not None and there is not None and here.running and not there.running
        # Both loops run at once (as in a handover): they race for every tick.
        await there.set_leading(True)
        try:
            job_id = await new_job(api)
            schedule = await create(api, job_id, cron=EVERY_SECOND, skipWhileRunning=False)
            there.wake()
            await asyncio.sleep(5)
            await api.gql(PAUSE, {"id": schedule["id"]})
        finally:
            await there.set_leading(False)
    await asyncio.sleep(1)  # a run claimed before the pause has started
    ticks = [tick for schedule_id, tick in fired if schedule_id in _uuid(schedule["id"])]
    assert len(ticks) >= 3
    assert len(ticks) == len(set(ticks)), "a tick fired twice"
    assert all(t.microsecond == 0 for t in ticks)
    runs, (after,) = await state(api, job_id)
    assert len(runs) == 1 + len(ticks)  # the first run, then one per tick
    assert at(after["lastRunAt"]) == max(ticks)
    assert after["lastRun"]["number"] == len(runs)


async def test_a_schedule_skips_ticks_while_a_run_is_unfinished(fast: Api) -> None:
    api = fast
    job_id = await new_job(api, ["sh", "-c", "sleep 3"])
    schedule = await create(api, job_id, cron=EVERY_SECOND)
    assert schedule["skipWhileRunning"] is True

    async def two_scheduled_runs() -> bool:
        runs, _ = await state(api, job_id)
        return len(runs) >= 3

    await eventually(two_scheduled_runs, timeout=60)
    await api.gql(PAUSE, {"id": schedule["id"]})
    await asyncio.sleep(0.5)
    runs, (after,) = await state(api, job_id)
    for before, later in pairwise(runs):
        # Each scheduled run was submitted only once the previous one had ended.
        assert before["finishedAt"] is not None
        assert at(later["submittedAt"]) >= at(before["finishedAt"])
    assert after["skippedTicks"] >= 2 and after["lastSkipReason"] == "RUN_UNFINISHED"


async def test_after_downtime_it_catches_up_at_most_the_bound(
    fast: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = fast
    set_everywhere(api, monkeypatch, "schedule_catch_up_ticks", 2)
    job_id = await new_job(api)
    # Every 4 s: the catch-up after the leader is back has a whole tick to finish in, however
    # loaded the machine.
    schedule = await create(api, job_id, cron=EVERY_FOUR_SECONDS, skipWhileRunning=False)

    async def fired_once() -> dict[str, object] | None:
        _, (s,) = await state(api, job_id)
        return s if s["lastRun"] else None

    await eventually(fired_once)
    electors = [p.elector for p in [api.platform, *RUNNING] if p.elector is not None]
    assert api.platform.elector in electors
    try:
        for elector in electors:  # no replica leads: nobody fires
            await elector.stop()
        await until(lambda: not _loop(api).running)
        down = now()
        # Away over four ticks; back just after a tick, so the catch-up is over before the next.
        await asyncio.sleep(16)
        while not (now().second % 4 == 0 and 0.05 < now().microsecond / 1e6 < 0.3):
            await asyncio.sleep(0.01)
        back = now()
        runs_before, (stopped,) = await state(api, job_id)
        assert at(stopped["lastRunAt"]) < down
    finally:
        api.platform.elector.start()  # type: ignore[union-attr]
        await until(lambda: api.platform.logs.leading)
        for elector in electors[1:]:
            elector.start()

    async def caught_up() -> dict[str, object] | None:
        _, (s,) = await state(api, job_id)
        return s if s["skippedTicks"] > stopped["skippedTicks"] else None

    after = await eventually(caught_up)
    next_tick = at(after["nextRunAt"])  # type: ignore[arg-type]
    assert next_tick > back
    await asyncio.sleep(0.5)
    runs, _ = await state(api, job_id)
    caught = [r for r in runs if back <= at(r["submittedAt"]) < next_tick]
    assert len(runs_before) + len(caught) <= len(runs)
    assert len(caught) == 2  # the bound, of the four or more ticks missed
    assert after["skippedTicks"] - stopped["skippedTicks"] >= 2
    assert after["lastSkipReason"] == "MISSED"
    await api.gql(PAUSE, {"id": schedule["id"]})


async def test_pause_stops_firing_and_resume_recomputes_the_next_tick(fast: Api) -> None:
    api = fast
    job_id = await new_job(api)
    schedule = await create(api, job_id, cron=EVERY_SECOND, skipWhileRunning=False)

    async def fired_once() -> dict[str, object] | None:
        _, (s,) = await state(api, job_id)
        return s if s["lastRun"] else None

    await eventually(fired_once)
    paused = (await api.gql(PAUSE, {"id": schedule["id"]}))["pauseSchedule"]["schedule"]
    assert paused["paused"] is True and paused["nextRunAt"] is None
    await asyncio.sleep(0.5)  # a tick claimed just before the pause may still start its run
    runs_paused, _ = await state(api, job_id)
    await asyncio.sleep(2.5)
    runs, _ = await state(api, job_id)
    assert len(runs) == len(runs_paused)

    resumed_at = now()
    resumed = (await api.gql(RESUME, {"id": schedule["id"]}))["resumeSchedule"]["schedule"]
    assert resumed["paused"] is False
    assert resumed_at < at(resumed["nextRunAt"]) <= resumed_at + timedelta(seconds=1)
    assert resumed["skippedTicks"] == paused["skippedTicks"]  # paused ticks are not missed ones

    async def fires_again() -> bool:
        runs, _ = await state(api, job_id)
        return len(runs) > len(runs_paused)

    await eventually(fires_again, timeout=10)
    await api.gql(PAUSE, {"id": schedule["id"]})


def _loop(api: Api) -> ScheduleLoop:
    loop = schedule_loop(api.platform)
    assert loop is not None
    return loop


def _uuid(global_id: str) -> str:
    from tests.support.graphql import node_uuid

    return node_uuid(global_id)


async def test_ticks_that_finish_starting_out_of_order_leave_the_latest_as_the_last_run(
    fast: Api,
) -> None:
    """Two replicas racing in a handover may finish starting tick t+1 before tick t: the
    schedule shows the run of t+1 as its last run, and both runs exist."""
    api = fast
    job_id = await new_job(api)
    schedule = await create(api, job_id, cron=EVERY_FOUR_SECONDS, skipWhileRunning=False)
    await api.gql(PAUSE, {"id": schedule["id"]})
    loop = schedule_loop(api.platform)
    assert loop is not None
    row = await Schedule.get(id=_uuid(schedule["id"]))
    later = now().replace(microsecond=0)
    for tick in (later, later - timedelta(seconds=1)):
        await loop.start_run(row, tick)
    runs, (after,) = await state(api, job_id)
    assert [r["number"] for r in runs] == [1, 2, 3]
    assert at(after["lastRunAt"]) == later
    assert after["lastRun"]["number"] == 2
