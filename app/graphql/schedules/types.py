"""GraphQL types of schedules: the Schedule node, its skip reasons, and mutation payloads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader

from app.auth.policy import can_see_run
from app.db.models import Run
from app.db.schedule_models import Schedule
from app.domain.schedules import SkipReason
from app.graphql.context import Info
from app.graphql.enums import describe_values
from app.graphql.errors import UserErrorType
from app.graphql.nodes import parse_uuid
from app.graphql.runs.types import RunType
from app.services.schedules import find_schedule, schedules_of_jobs

if TYPE_CHECKING:
    from app.graphql.jobs.types import JobType

SkipReasonEnum = describe_values(
    strawberry.enum(
        SkipReason,
        name="ScheduleSkipReason",
        description="Why a tick of a schedule started no run.",
    ),
    {
        SkipReason.MISSED: "No replica was running at the tick, and it was beyond the catch-up "
        "bound when one came back.",
        SkipReason.RUN_UNFINISHED: "A run of the Job had not finished (see skipWhileRunning).",
        SkipReason.REFUSED: "The rerun was refused, e.g. an input or secret of the Job was "
        "deleted, or a quota was reached (see lastSkipMessage).",
    },
)


@strawberry.type(
    name="Schedule",
    description="Reruns a Job once at a time (runAt) or on a cron expression, in a time zone.",
)
class ScheduleType(relay.Node):
    """A stored schedule as clients see it."""

    id: relay.NodeID[str]
    cron: str | None = strawberry.field(
        description="Cron expression read in `timezone`: five fields, or six with seconds last; "
        "null for a one-time schedule."
    )
    run_at: datetime | None = strawberry.field(
        description="When a one-time schedule fires; null for a cron schedule."
    )
    timezone: str = strawberry.field(description="IANA time zone the cron expression is read in.")
    skip_while_running: bool = strawberry.field(
        description="Whether a tick is skipped while a run of the Job has not finished."
    )
    paused: bool = strawberry.field(description="Whether firing is paused (see resumeSchedule).")
    next_run_at: datetime | None = strawberry.field(
        description="The next tick; null while paused, or once done (a runAt that fired)."
    )
    last_run_at: datetime | None = strawberry.field(
        description="The tick that started the newest run of this schedule."
    )
    skipped_ticks: int = strawberry.field(
        description="Ticks that started no run (missed while down, a run unfinished, refused)."
    )
    last_skipped_at: datetime | None = strawberry.field(description="The latest skipped tick.")
    last_skip_reason: SkipReason | None = strawberry.field(
        description="Why the latest skipped tick started no run."
    )
    last_skip_message: str | None = strawberry.field(
        description="The latest skip, in words for a person."
    )
    created_at: datetime = strawberry.field(description="When the schedule was created.")
    job_id: strawberry.Private[UUID]
    last_run_id: strawberry.Private[UUID | None]

    @classmethod
    def from_model(cls, schedule: Schedule) -> ScheduleType:
        """Wrap a stored schedule."""
        return cls(
            id=str(schedule.id),
            cron=schedule.cron,
            run_at=schedule.run_at,
            timezone=schedule.timezone,
            skip_while_running=schedule.skip_while_running,
            paused=schedule.paused,
            next_run_at=schedule.next_run_at,
            last_run_at=schedule.last_run_at,
            skipped_ticks=schedule.skipped_ticks,
            last_skipped_at=schedule.last_skipped_at,
            last_skip_reason=schedule.last_skip_reason,
            last_skip_message=schedule.last_skip_message,
            created_at=schedule.created_at,
            job_id=schedule.job_id,  # type: ignore[attr-defined]
            last_run_id=schedule.last_run_id,  # type: ignore[attr-defined]
        )

    @strawberry.field(description="The Job this schedule reruns.")
    async def job(
        self, info: Info
    ) -> Annotated[JobType, strawberry.lazy("app.graphql.jobs.types")]:
        from app.graphql.jobs.types import JobType

        job = await info.context.jobs.by_id.load(self.job_id)
        assert job is not None  # a schedule goes with its Job
        return JobType.from_model(job)

    @strawberry.field(description="The newest run this schedule started; null once deleted.")
    async def last_run(self, info: Info) -> RunType | None:
        if self.last_run_id is None:
            return None
        run = await Run.get_or_none(id=self.last_run_id)
        return RunType.from_model(run) if run and can_see_run(info.context.viewer, run) else None

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[ScheduleType | None]:
        found = [await find_schedule(info.context.viewer, parse_uuid(i)) for i in node_ids]
        return [cls.from_model(s) if s else None for s in found]


async def _load_by_job(job_ids: list[UUID]) -> list[list[Schedule]]:
    found = await schedules_of_jobs(list(job_ids))
    return [found[i] for i in job_ids]


async def schedules_of_job(info: Info, job_id: UUID) -> list[ScheduleType]:
    """A Job's schedules, oldest first; the Jobs of one request are read in one query."""
    context = info.context
    loader: DataLoader[UUID, list[Schedule]] | None = getattr(context, "_schedules", None)
    if loader is None:
        loader = DataLoader(load_fn=_load_by_job)
        context._schedules = loader  # type: ignore[attr-defined]
    return [ScheduleType.from_model(s) for s in await loader.load(job_id)]


@strawberry.type(name="SchedulePayload", description="The result of a change to a schedule.")
class SchedulePayload:
    """The schedule after the change, or what was wrong."""

    schedule: ScheduleType | None = strawberry.field(description="The schedule; null on error.")
    user_errors: list[UserErrorType] = strawberry.field(description="Empty on success.")


@strawberry.type(name="DeleteSchedulePayload", description="The result of deleteSchedule.")
class DeleteSchedulePayload:
    """The deleted schedule's id, or what was wrong."""

    deleted_id: strawberry.ID | None = strawberry.field(description="Id of the deleted schedule.")
    user_errors: list[UserErrorType] = strawberry.field(description="Empty on success.")
