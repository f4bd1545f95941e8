"""Schedules: the use cases (create, pause, resume, delete) and the loop that fires them.

The loop runs on the Lease holder only (`Platform.leader_loops`). It sleeps until the earliest
next tick (or until a schedule is created or resumed here), fires what is due through the normal
rerun path, and claims every tick with a conditional UPDATE of `next_run_at` from the value it
read: two loops (a handover, a split brain) never fire the same tick. A tick is claimed before
its run starts, so a crash in between loses that tick rather than firing it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tortoise.expressions import F, Q

from app.auth.policy import Principal, Viewer, can_see_job
from app.auth.sessions import principal_of
from app.db.auth_models import User
from app.db.models import Job, Run
from app.db.schedule_models import Schedule
from app.domain.errors import ErrorCode, UserError
from app.domain.schedules import (
    ScheduleSpec,
    SkipReason,
    due_ticks,
    next_tick,
    validate_schedule,
)
from app.domain.status import UNFINISHED
from app.services.jobs import rerun_job
from app.services.leader import LeaderTask

if TYPE_CHECKING:
    from app.services.platform import Platform


log = logging.getLogger(__name__)

# The loop looks again at least this often: schedules created or resumed on another replica
# are seen within this time (those created on the leader wake it at once).
MAX_SLEEP_SECONDS = 30.0
BATCH = 100


@dataclass
class Changed:
    """A schedule after a change, or what was wrong."""

    schedule: Schedule | None
    errors: list[UserError]


def spec_of(schedule: Schedule) -> ScheduleSpec:
    """The rules' view of a stored schedule."""
    return ScheduleSpec(cron=schedule.cron, run_at=schedule.run_at, timezone=schedule.timezone)


def _now() -> datetime:
    return datetime.now(UTC)


async def visible_job(viewer: Viewer, job_id: UUID | None) -> Job | None:
    """The Job, unless missing, being deleted, or not visible to the viewer."""
    job = await Job.get_or_none(id=job_id, deleting_at=None) if job_id else None
    return job if job is not None and can_see_job(viewer, job) else None


async def find_schedule(viewer: Viewer, schedule_id: UUID | None) -> Schedule | None:
    """The schedule, if the viewer may see its Job (else it looks missing)."""
    if schedule_id is None:
        return None
    schedule = await Schedule.get_or_none(id=schedule_id).select_related("job")
    if schedule is None or schedule.job.deleting_at is not None:
        return None
    return schedule if can_see_job(viewer, schedule.job) else None


async def schedules_of_jobs(job_ids: list[UUID]) -> dict[UUID, list[Schedule]]:
    """Each Job's schedules, oldest first, in one query."""
    out: dict[UUID, list[Schedule]] = {i: [] for i in job_ids}
    for schedule in await Schedule.filter(job_id__in=job_ids).order_by("created_at", "id"):
        out.setdefault(schedule.job_id, []).append(schedule)  # type: ignore[attr-defined]
    return out


def _not_found(field: str) -> list[UserError]:
    return [UserError(field, "No schedule with this id.", ErrorCode.NOT_FOUND)]


async def create_schedule(
    platform: Platform,
    viewer: Viewer,
    job_id: UUID | None,
    *,
    cron: str | None,
    run_at: datetime | None,
    timezone: str | None,
    skip_while_running: bool = True,
) -> Changed:
    """Validate and store a schedule of a Job the viewer may see; its first tick is the next
    one after now."""
    now = _now()
    job = await visible_job(viewer, job_id)
    valid = validate_schedule(
        cron=cron,
        run_at=run_at,
        timezone=timezone,
        now=now,
        min_interval_seconds=platform.settings.schedule_min_interval_seconds,
    )
    errors = (
        [] if job is not None else [UserError("jobId", "No Job with this id.", ErrorCode.NOT_FOUND)]
    )
    errors += valid if isinstance(valid, list) else []
    if errors or isinstance(valid, list) or job is None:
        return Changed(schedule=None, errors=errors)
    schedule = await Schedule.create(
        job=job,
        cron=valid.cron,
        run_at=valid.run_at,
        timezone=valid.timezone,
        skip_while_running=skip_while_running,
        next_run_at=next_tick(valid, now),
        created_by_id=viewer.user_id if viewer is not None else None,
    )
    wake(platform)
    return Changed(schedule=schedule, errors=[])


async def pause_schedule(viewer: Viewer, schedule_id: UUID | None) -> Changed:
    """Stop firing until resumed (nextRunAt reads null meanwhile)."""
    schedule = await find_schedule(viewer, schedule_id)
    if schedule is None:
        return Changed(schedule=None, errors=_not_found("id"))
    await Schedule.filter(id=schedule.id).update(paused=True, next_run_at=None)
    await schedule.refresh_from_db()
    return Changed(schedule=schedule, errors=[])


async def resume_schedule(platform: Platform, viewer: Viewer, schedule_id: UUID | None) -> Changed:
    """Fire again from the next tick after now: ticks passed while paused are not fired (a
    `runAt` resumed after its time never fires)."""
    schedule = await find_schedule(viewer, schedule_id)
    if schedule is None:
        return Changed(schedule=None, errors=_not_found("id"))
    if schedule.paused:
        next_at = next_tick(spec_of(schedule), _now())
        await Schedule.filter(id=schedule.id, paused=True).update(paused=False, next_run_at=next_at)
        await schedule.refresh_from_db()
        wake(platform)
    return Changed(schedule=schedule, errors=[])


async def delete_schedule(viewer: Viewer, schedule_id: UUID | None) -> list[UserError]:
    """Delete a schedule (its runs stay)."""
    schedule = await find_schedule(viewer, schedule_id)
    if schedule is None:
        return _not_found("id")
    await Schedule.filter(id=schedule.id).delete()
    return []


def schedule_loop(platform: Platform) -> ScheduleLoop | None:
    """This replica's schedule loop, if the platform has one."""
    return next((s for s in platform.leader_loops if isinstance(s, ScheduleLoop)), None)


def wake(platform: Platform) -> None:
    """Have the loop look again now (a schedule was created or resumed), if this replica leads."""
    loop = schedule_loop(platform)
    if loop is not None:
        loop.wake()


class ScheduleLoop(LeaderTask):
    """Fires due schedules, on the leader only."""

    task_name = "schedules"

    def __init__(self, platform: Platform) -> None:
        super().__init__()
        self._platform = platform

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                delay = await self.fire_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("firing schedules failed; retrying")
                delay = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def fire_due(self) -> float:
        """Fire every due schedule; the seconds until the next tick (at most MAX_SLEEP)."""
        while True:
            now = _now()
            due = await _active().filter(next_run_at__lte=now).order_by("next_run_at").limit(BATCH)
            for schedule in due:
                await self._fire(schedule, now)
            if len(due) < BATCH:
                break
        at = await _active().order_by("next_run_at").first().values_list("next_run_at", flat=True)
        if at is None:
            return MAX_SLEEP_SECONDS
        return min(MAX_SLEEP_SECONDS, max(0.0, (at - _now()).total_seconds()))

    async def _fire(self, schedule: Schedule, now: datetime) -> None:
        read = schedule.next_run_at
        assert read is not None
        due = due_ticks(
            spec_of(schedule), read, now, self._platform.settings.schedule_catch_up_ticks
        )
        values: dict[str, Any] = {"next_run_at": due.next_at}
        if due.skipped:
            values.update(
                skipped_ticks=F("skipped_ticks") + due.skipped,
                last_skipped_at=due.skipped_at,
                last_skip_reason=SkipReason.MISSED,
                last_skip_message=(
                    f"{due.skipped} tick(s) passed while the platform was down, beyond the "
                    f"catch-up bound of {len(due.fire)}."
                ),
            )
        # The claim: only the writer that moves next_run_at on from what it read fires.
        claimed = await Schedule.filter(id=schedule.id, next_run_at=read, paused=False).update(
            **values
        )
        if not claimed:
            return
        for tick in due.fire:
            await self.start_run(schedule, tick)

    async def start_run(self, schedule: Schedule, tick: datetime) -> None:
        """Start the run of one claimed tick, or record why not."""
        job = await Job.get_or_none(id=schedule.job_id, deleting_at=None)  # type: ignore[attr-defined]
        if job is None:
            return
        if schedule.skip_while_running and await Run.exists(
            job_id=job.id, status__in=list(UNFINISHED)
        ):
            await _skipped(schedule, tick, SkipReason.RUN_UNFINISHED, "A run had not finished.")
            return
        creator = await _creator(schedule, job)
        if creator is None or not can_see_job(creator, job):
            message = "The schedule's creator may no longer run this Job."
            await _skipped(schedule, tick, SkipReason.REFUSED, message)
            return
        platform = self._platform
        result = await rerun_job(
            platform.kube,
            platform.hub,
            platform.manifest_settings,
            job,
            viewer=creator,
            tokens=platform.run_tokens,
            limits=platform.limits,
        )
        if result.run is None:
            message = " ".join(e.message for e in result.errors) or "The rerun was refused."
            await _skipped(schedule, tick, SkipReason.REFUSED, message)
            return
        # Ticks of one schedule may finish starting out of order (two replicas racing in a
        # handover): the last run shown is the latest tick's.
        await Schedule.filter(_before(tick, "last_run_at"), id=schedule.id).update(
            last_run_id=result.run.id, last_run_at=tick
        )


async def _creator(schedule: Schedule, job: Job) -> Principal | None:
    """Whose rights a tick runs with, as they are now (role, teams, still active): the
    schedule's creator, else the Job's owner (schedules made before creators were recorded)."""
    user_id = schedule.created_by_id or job.owner_id  # type: ignore[attr-defined]
    user = await User.get_or_none(id=user_id, is_active=True) if user_id else None
    return await principal_of(user) if user is not None else None


def _active() -> Any:
    return Schedule.filter(
        paused=False, next_run_at__not_isnull=True, job__deleting_at__isnull=True
    )


async def _skipped(schedule: Schedule, tick: datetime, reason: SkipReason, message: str) -> None:
    await Schedule.filter(id=schedule.id).update(skipped_ticks=F("skipped_ticks") + 1)
    await Schedule.filter(_before(tick, "last_skipped_at"), id=schedule.id).update(
        last_skipped_at=tick, last_skip_reason=reason, last_skip_message=message
    )


def _before(tick: datetime, field: str) -> Q:
    """Rows whose `field` (a tick) is unset or earlier than `tick`."""
    unset: dict[str, Any] = {f"{field}__isnull": True}
    earlier: dict[str, Any] = {f"{field}__lt": tick}
    return Q(**unset) | Q(**earlier)
