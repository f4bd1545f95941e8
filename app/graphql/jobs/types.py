"""GraphQL types of Jobs: the Job node, its environment variables, and the jobs connection."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry
from strawberry import relay

from app.auth.policy import can_see, can_see_input, can_see_job
from app.db.models import Job
from app.domain.priority import Priority
from app.graphql.context import Info
from app.graphql.env import EnvVarType
from app.graphql.inputs.types import InputType
from app.graphql.nodes import parse_uuid
from app.graphql.pagination import (
    After,
    First,
    build_connection,
    decode_cursor,
    encode_cursor,
    page_size,
)
from app.graphql.priority import PriorityEnum  # noqa: F401  (registers the GraphQL enum)
from app.graphql.runs.types import RunConnection, RunType
from app.graphql.secrets.types import SecretType

if TYPE_CHECKING:
    from app.graphql.schedules.types import ScheduleType


@strawberry.type(
    name="JobInputRef",
    description="An input a Job reads, by the name it had when the Job was created.",
)
class JobInputRef:
    """One of a Job's inputs; the input itself may be gone."""

    name: str = strawberry.field(description="Its directory: `$WALKAI_INPUT_DIR/<name>/`.")
    input: InputType | None = strawberry.field(
        description="The input; null once deleted (the Job can then no longer be rerun), or if "
        "you may not see it."
    )


@strawberry.type(
    name="JobSecretRef",
    description="A platform secret a Job injects, by the name it had when the Job was created.",
)
class JobSecretRef:
    """One of a Job's secrets; the secret itself may be gone."""

    name: str = strawberry.field(description="The secret's name.")
    secret: SecretType | None = strawberry.field(
        description="The secret (keys only); null once deleted (the Job can then no longer be "
        "rerun), or if you may not see it."
    )


@strawberry.type(name="Job", description="What to run, on which GPU slice; rerun to run again.")
class JobType(relay.Node):
    """An immutable Job definition."""

    id: relay.NodeID[str]
    name: str = strawberry.field(description="Short name, shown in lists.")
    image: str = strawberry.field(description="Container image reference.")
    gpu: str = strawberry.field(description="MIG profile of the GPU slice, e.g. 1g.10gb.")
    storage_gi: int = strawberry.field(description="Output storage in GiB.")
    command: list[str] = strawberry.field(description="Entrypoint override (empty: image's).")
    args: list[str] = strawberry.field(description="Arguments (empty: image's).")
    env: list[EnvVarType] = strawberry.field(description="Environment of the main container.")
    priority: Priority = strawberry.field(description="Scheduling priority of its runs.")
    max_runtime_seconds: int | None = strawberry.field(
        description="Seconds a run may go on once admitted; past it, it ends FAILED with reason "
        "DEADLINE_EXCEEDED (null: no limit)."
    )
    created_at: datetime = strawberry.field(description="When the Job was created.")
    # What it names (ids and names, as created): resolved by `inputs` and `secrets`.
    input_refs: strawberry.Private[list[dict[str, str]]]
    secret_refs: strawberry.Private[list[dict[str, str]]]

    @classmethod
    def from_model(cls, job: Job) -> JobType:
        """Wrap a stored Job."""
        return cls(
            id=str(job.id),
            name=job.name,
            image=job.image,
            gpu=job.gpu,
            storage_gi=job.storage_gi,
            command=list(job.command),
            args=list(job.args),
            env=EnvVarType.from_stored(job.env),
            priority=job.priority,
            max_runtime_seconds=job.max_runtime_seconds,
            created_at=job.created_at,
            input_refs=list(job.inputs),
            secret_refs=list(job.secrets),
        )

    @strawberry.field(description="The inputs its runs read, in order.")
    async def inputs(self, info: Info) -> list[JobInputRef]:
        viewer = info.context.viewer
        found = await info.context.jobs.inputs.load_many([UUID(r["id"]) for r in self.input_refs])
        return [
            JobInputRef(
                name=ref["name"],
                input=InputType.from_model(i) if i and can_see_input(viewer, i) else None,
            )
            for ref, i in zip(self.input_refs, found, strict=True)
        ]

    @strawberry.field(description="The platform secrets its runs receive as variables.")
    async def secrets(self, info: Info) -> list[JobSecretRef]:
        viewer = info.context.viewer
        found = await info.context.jobs.secrets.load_many([UUID(r["id"]) for r in self.secret_refs])
        return [
            JobSecretRef(
                name=ref["name"],
                secret=SecretType.from_model(s) if s and can_see(viewer, s) else None,
            )
            for ref, s in zip(self.secret_refs, found, strict=True)
        ]

    @strawberry.field(description="The runs of this Job, newest first.")
    async def runs(
        self,
        info: Info,
        first: First = None,
        after: After = None,
    ) -> RunConnection:
        size = page_size(first)
        before = int(decode_cursor(after, 1)[0]) if after is not None else None
        runs = await info.context.runs.by_job.load((UUID(self.id), before, size + 1))
        return build_connection(  # type: ignore[return-value]
            RunConnection,
            runs[: size + 1],
            size,
            has_previous=after is not None,
            cursor_of=lambda r: encode_cursor(r.number),
            node_of=RunType.from_model,
        )

    @strawberry.field(description="The schedules that rerun this Job, oldest first.")
    async def schedules(
        self, info: Info
    ) -> list[Annotated[ScheduleType, strawberry.lazy("app.graphql.schedules.types")]]:
        from app.graphql.schedules.types import schedules_of_job

        return await schedules_of_job(info, UUID(self.id))

    @strawberry.field(description="The newest run of this Job.")
    async def latest_run(self, info: Info) -> RunType | None:
        runs = await info.context.runs.by_job.load((UUID(self.id), None, 1))
        return RunType.from_model(runs[0]) if runs else None

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[JobType | None]:
        ids = [parse_uuid(i) for i in node_ids]
        jobs = [await info.context.jobs.by_id.load(i) if i else None for i in ids]
        viewer = info.context.viewer
        return [cls.from_model(j) if j and can_see_job(viewer, j) else None for j in jobs]


@strawberry.type(name="JobConnection", description="A page of Jobs.")
class JobConnection(relay.Connection[JobType]):
    """Jobs, newest first."""
