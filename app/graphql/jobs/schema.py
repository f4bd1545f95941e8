"""Query and Mutation fields of the Jobs domain."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from tortoise.expressions import F

from app.auth.policy import visible_jobs
from app.db.models import Job
from app.domain.errors import ErrorCode
from app.domain.jobspec import EnvVar, JobInput, validate_job
from app.domain.status import RunStatus
from app.graphql.context import Info
from app.graphql.errors import UserErrorType
from app.graphql.jobs.inputs import (
    CreateJobInput,
    CreateJobPayload,
    DeleteJobPayload,
    RunOverridesInput,
)
from app.graphql.jobs.types import JobConnection, JobType
from app.graphql.nodes import uuid_of
from app.graphql.pagination import (
    After,
    First,
    newest_first,
)
from app.graphql.runs.types import RunType
from app.services.inputs import inputs_for_job
from app.services.janitor import request_job_deletion
from app.services.jobs import rerun_job, submit_job
from app.services.quotas import check_priority
from app.services.secrets import secrets_for_job, team_for


@strawberry.type
class JobQueries:
    """Reading Jobs."""

    @strawberry.field(description="A Job by id.")
    async def job(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The Job's global id.")],
    ) -> JobType | None:
        job_id = uuid_of(id, "Job")
        if job_id is None:
            return None
        (job,) = await JobType.resolve_nodes(info=info, node_ids=[str(job_id)])
        return job

    @strawberry.field(
        description="Jobs, newest first, optionally only those whose latest run has a status."
    )
    async def jobs(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        status: Annotated[
            RunStatus | None,
            strawberry.argument(description="Only Jobs whose latest run has this status."),
        ] = None,
    ) -> JobConnection:
        query = visible_jobs(info.context.viewer, Job.all())
        if status is not None:
            query = query.filter(runs__status=status, runs__number=F("run_count"))
        return await newest_first(  # type: ignore[return-value]
            JobConnection, query, first, after, JobType.from_model
        )


@strawberry.type
class JobMutations:
    """Changing Jobs."""

    @strawberry.mutation(description="Create a Job and start its first run.")
    async def create_job(
        self,
        info: Info,
        input: Annotated[CreateJobInput, strawberry.argument(description="The Job to create.")],
    ) -> CreateJobPayload:
        platform = info.context.platform
        data = JobInput(
            image=input.image,
            gpu=input.gpu,
            storage_gi=input.storage_gi,
            name=input.name,
            command=input.command,
            args=input.args,
            env=[EnvVar(name=v.name, value=v.value) for v in input.env or ()],
            priority=input.priority,
            max_runtime_seconds=input.max_runtime_seconds,
        )
        viewer = info.context.viewer
        assert viewer is not None  # the guard refuses anonymous mutations
        inputs, input_errors = await inputs_for_job(
            viewer,
            [uuid_of(i, "Input") for i in input.input_ids or ()],
        )
        job_secrets, secret_errors = await secrets_for_job(viewer, input.secret_names or [])
        team_id, team_errors = team_for(viewer, input.team_id)
        priority_errors = await check_priority(
            viewer, input.priority, team_id, settings=platform.settings
        )
        input_errors = input_errors + secret_errors + team_errors + priority_errors
        if input_errors:
            spec = validate_job(data, platform.limits)
            errors = (spec if isinstance(spec, list) else []) + input_errors
            return CreateJobPayload(
                job=None, run=None, user_errors=[UserErrorType.from_domain(e) for e in errors]
            )
        result = await submit_job(
            platform.kube,
            platform.hub,
            data,
            platform.limits,
            platform.manifest_settings,
            owner_id=viewer.user_id,
            team_id=team_id,
            secrets=job_secrets,
            tokens=platform.run_tokens,
            inputs=inputs,
        )
        payload: dict[str, Any] = {
            "job": JobType.from_model(result.job) if result.job else None,
            "run": RunType.from_model(result.run) if result.run else None,
            "user_errors": [UserErrorType.from_domain(e) for e in result.errors],
        }
        return CreateJobPayload(**payload)

    @strawberry.mutation(
        description=(
            "Run a Job again (same definition and inputs, with `overrides` for this run only); "
            "the run gets the next number. Refused (NOT_FOUND) if an input or secret the Job "
            "names was deleted, or is no longer one the caller may see."
        )
    )
    async def rerun_job(
        self,
        info: Info,
        job_id: Annotated[strawberry.ID, strawberry.argument(description="The Job to rerun.")],
        overrides: Annotated[
            RunOverridesInput | None,
            strawberry.argument(description="What this run changes of the Job's definition."),
        ] = None,
    ) -> CreateJobPayload:
        platform = info.context.platform
        viewer = info.context.viewer
        assert viewer is not None  # the guard refuses anonymous mutations
        job = await _visible_job(info, job_id)
        if job is None:
            error = UserErrorType(
                field="jobId", message="No Job with this id.", code=ErrorCode.NOT_FOUND
            )
            return CreateJobPayload(job=None, run=None, user_errors=[error])
        if overrides is not None and overrides.priority is not None:
            team_id = job.team_id  # type: ignore[attr-defined]
            refused = await check_priority(
                viewer,
                overrides.priority,
                team_id,
                settings=platform.settings,
                field="overrides.priority",
            )
            if refused:
                errors = [UserErrorType.from_domain(e) for e in refused]
                return CreateJobPayload(job=JobType.from_model(job), run=None, user_errors=errors)
        result = await rerun_job(
            platform.kube,
            platform.hub,
            platform.manifest_settings,
            job,
            viewer=viewer,
            tokens=platform.run_tokens,
            overrides=overrides.to_domain() if overrides is not None else None,
            limits=platform.limits,
        )
        return CreateJobPayload(
            job=JobType.from_model(job),
            run=RunType.from_model(result.run) if result.run else None,
            user_errors=[UserErrorType.from_domain(e) for e in result.errors],
        )

    @strawberry.mutation(
        description=(
            "Delete a Job whose runs have all ended: it is gone at once, and its runs' records, "
            "logs, archives and outputs are removed in the background. Refused (IN_USE) while a "
            "run has not finished."
        )
    )
    async def delete_job(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The Job to delete.")],
    ) -> DeleteJobPayload:
        job = await _visible_job(info, id)
        if job is None:
            error = UserErrorType(
                field="id", message="No Job with this id.", code=ErrorCode.NOT_FOUND
            )
            return DeleteJobPayload(deleted_id=None, run_count=0, user_errors=[error])
        runs, refused = await request_job_deletion(job)
        if refused is not None:
            return DeleteJobPayload(
                deleted_id=None, run_count=0, user_errors=[UserErrorType.from_domain(refused)]
            )
        if info.context.platform.janitor is not None:
            info.context.platform.janitor.wake()
        return DeleteJobPayload(deleted_id=id, run_count=runs, user_errors=[])


async def _visible_job(info: Info, id_: str) -> Job | None:
    """The Job a global id names, if the viewer may see it."""
    job_id = uuid_of(id_, "Job")
    (found,) = await JobType.resolve_nodes(info=info, node_ids=[str(job_id or "")])
    return await Job.get_or_none(id=found.id, deleting_at=None) if found is not None else None
