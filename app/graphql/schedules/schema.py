"""Mutation fields of schedules (a Job's schedules are read through `Job.schedules`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.errors import UserErrorType
from app.graphql.nodes import uuid_of
from app.graphql.schedules.types import DeleteSchedulePayload, SchedulePayload, ScheduleType
from app.graphql.users.schema import viewer_of
from app.services import schedules
from app.services.schedules import Changed

ScheduleId = Annotated[strawberry.ID, strawberry.argument(description="The schedule's id.")]


def _payload(changed: Changed) -> SchedulePayload:
    return SchedulePayload(
        schedule=ScheduleType.from_model(changed.schedule) if changed.schedule else None,
        user_errors=[UserErrorType.from_domain(e) for e in changed.errors],
    )


@strawberry.type
class ScheduleMutations:
    """Creating and changing schedules: allowed to whoever may see the Job."""

    @strawberry.mutation(
        description=(
            "Rerun a Job on a cron expression or once at runAt (exactly one of the two), like "
            "rerunJob: each run counts against quotas. Refused if the cron is invalid or fires "
            "more often than the platform allows, the time zone is unknown, or runAt has passed."
        )
    )
    async def create_schedule(
        self,
        info: Info,
        job_id: Annotated[strawberry.ID, strawberry.argument(description="The Job to rerun.")],
        cron: Annotated[
            str | None,
            strawberry.argument(
                description="Cron expression: minute hour day-of-month month day-of-week, with "
                "an optional sixth field for seconds (`0 9 * * 1-5`: 09:00 on weekdays)."
            ),
        ] = None,
        run_at: Annotated[
            datetime | None,
            strawberry.argument(
                description="Fire once at this time (without an offset: a wall time in "
                "`timezone`); must be in the future."
            ),
        ] = None,
        timezone: Annotated[
            str,
            strawberry.argument(
                description="IANA time zone (`Europe/Madrid`) the schedule's times are read in; "
                "DST changes are followed."
            ),
        ] = "UTC",
        skip_while_running: Annotated[
            bool,
            strawberry.argument(description="Skip a tick while a run of the Job has not finished."),
        ] = True,
    ) -> SchedulePayload:
        changed = await schedules.create_schedule(
            info.context.platform,
            viewer_of(info),
            uuid_of(job_id, "Job"),
            cron=cron,
            run_at=run_at,
            timezone=timezone,
            skip_while_running=skip_while_running,
        )
        return _payload(changed)

    @strawberry.mutation(description="Stop a schedule firing until it is resumed.")
    async def pause_schedule(self, info: Info, id: ScheduleId) -> SchedulePayload:
        return _payload(await schedules.pause_schedule(viewer_of(info), uuid_of(id, "Schedule")))

    @strawberry.mutation(
        description="Fire a paused schedule again, from its next tick after now (ticks passed "
        "while paused are not fired)."
    )
    async def resume_schedule(self, info: Info, id: ScheduleId) -> SchedulePayload:
        changed = await schedules.resume_schedule(
            info.context.platform, viewer_of(info), uuid_of(id, "Schedule")
        )
        return _payload(changed)

    @strawberry.mutation(description="Delete a schedule; the runs it started stay.")
    async def delete_schedule(self, info: Info, id: ScheduleId) -> DeleteSchedulePayload:
        errors = await schedules.delete_schedule(viewer_of(info), uuid_of(id, "Schedule"))
        return DeleteSchedulePayload(
            deleted_id=None if errors else id,
            user_errors=[UserErrorType.from_domain(e) for e in errors],
        )
