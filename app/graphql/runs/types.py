"""GraphQL types of runs: the Run node, its timeline, and the connection of a Job's runs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import strawberry
from strawberry import relay

from app.auth.policy import can_see_run
from app.db.models import Run, RunEvent
from app.domain.admission import PendingReason
from app.domain.outputs import OutputsState
from app.domain.priority import Priority
from app.domain.status import RunStatus
from app.graphql.context import Info
from app.graphql.enums import describe_values
from app.graphql.env import EnvVarType
from app.graphql.logs.types import (
    LogAfter,
    LogBefore,
    LogContainer,
    LogFirst,
    LogLast,
    LogLineConnection,
)
from app.graphql.nodes import load_visible
from app.graphql.pagination import After, First
from app.graphql.priority import PriorityEnum  # noqa: F401  (registers the GraphQL enum)

if TYPE_CHECKING:
    from app.graphql.artifacts.types import ArtifactConnection, RunOutputsType
    from app.graphql.jobs.types import JobType

RunStatusEnum = describe_values(
    strawberry.enum(
        RunStatus,
        name="RunStatus",
        description=(
            "Lifecycle of a run: SUBMITTED → PENDING → RUNNING → COMPLETED | FAILED, or CANCELLED."
        ),
    ),
    {
        RunStatus.SUBMITTED: "Recorded; its Kubernetes Job is being created or queued.",
        RunStatus.PENDING: "Waiting for a GPU slice (or requeued after preemption).",
        RunStatus.RUNNING: "The main container is running.",
        RunStatus.COMPLETED: "The main container exited with code 0.",
        RunStatus.FAILED: "The run ended with an error (see reason, message and exitCode).",
        RunStatus.CANCELLED: "Stopped on request before it ended.",
    },
)


PendingReasonEnum = describe_values(
    strawberry.enum(
        PendingReason,
        name="PendingReason",
        description="Why a PENDING run has not started yet.",
    ),
    {
        PendingReason.QUEUED: "In the admission queue behind runs that go first.",
        PendingReason.WAITING_FOR_CAPACITY: "Its turn has come; no GPU can cut its slice now.",
        PendingReason.OVER_QUOTA: "Its owner's quota does not allow it now.",
        PendingReason.PREEMPTED: "A higher-priority run took its GPU; requeued.",
        PendingReason.UNSCHEDULABLE: "No GPU of the cluster offers its profile.",
        PendingReason.WAITING_FOR_REPARTITION: "Admitted; its slice is being cut on its GPU.",
    },
)


@strawberry.type(name="RunEvent", description="One step of a run's status timeline.")
class RunEventType:
    """A status change, in the order the platform recorded it."""

    version: int = strawberry.field(description="The run's status version after this change.")
    status: RunStatus = strawberry.field(description="The status the run moved to.")
    reason: str | None = strawberry.field(description="Short machine-readable cause.")
    message: str | None = strawberry.field(description="Human-readable details.")
    at: datetime = strawberry.field(description="When the platform recorded the change.")

    @classmethod
    def from_model(cls, event: RunEvent) -> RunEventType:
        """Wrap a stored timeline entry."""
        return cls(
            version=event.version,
            status=event.status,
            reason=event.reason,
            message=event.message,
            at=event.at,
        )


@strawberry.type(name="Run", description="One execution of a Job, followed on the cluster.")
class RunType(relay.Node):
    """A run as clients see it; built from the stored row, never from the cluster directly."""

    id: relay.NodeID[str]
    number: int = strawberry.field(description="1 for the first run of a Job, +1 per rerun.")
    status: RunStatus = strawberry.field(description="Where the run is in its lifecycle.")
    reason: str | None = strawberry.field(
        description="Why the run is in this status (e.g. Unschedulable, OOMKilled, Error)."
    )
    message: str | None = strawberry.field(
        description="Details for a person, e.g. the scheduler's message."
    )
    status_version: int = strawberry.field(
        description="Increases with every change of the run (its status, its outputs' status, "
        "why it waits and where it stands in the queue); drop events with a lower version."
    )
    submitted_at: datetime = strawberry.field(description="When the run was submitted.")
    started_at: datetime | None = strawberry.field(description="When the main container started.")
    finished_at: datetime | None = strawberry.field(description="When the run ended.")
    exit_code: int | None = strawberry.field(description="Exit code of the main container.")
    attempts: int = strawberry.field(
        description="Pods the run needed so far (more than one after preemption)."
    )
    priority: Priority = strawberry.field(
        description="The priority it ran with: its Job's, or its rerun's override."
    )
    max_runtime_seconds: int | None = strawberry.field(
        description="The time limit it ran with, in seconds (null: none)."
    )
    pending_reason: PendingReason | None = strawberry.field(
        description="Why it waits (null unless PENDING and not yet admitted, or admitted and "
        "waiting for its slice)."
    )
    pending_message: str | None = strawberry.field(
        description="Why it waits, for a person: what is ahead, what it waits for."
    )
    queue_position: int | None = strawberry.field(
        description="Its place in the whole admission queue, 1 first (null once admitted)."
    )
    owner_queue_position: int | None = strawberry.field(
        description="Its place among its owner's queued runs, 1 first (null once admitted)."
    )
    admitted_at: datetime | None = strawberry.field(
        description="When the admission queue last let it run (null while queued)."
    )
    job_id: strawberry.Private[UUID]
    # Recorded once settled (None before): read without asking the pod or the store.
    outputs: strawberry.Private[OutputsState | None]
    # Whether its main container ever started (a run that never ran has no outputs).
    ran: strawberry.Private[bool]
    # What a rerun overrode (None: the Job's own).
    run_command: strawberry.Private[list[str] | None]
    run_args: strawberry.Private[list[str] | None]
    run_env: strawberry.Private[list[dict[str, str]] | None]
    # Set on a published change (`for_event`): its executed result is kept there for every
    # subscriber asking for the same fields (`app.graphql.execution`); not in the schema.
    shared: strawberry.Private[dict[Any, Any] | None] = None

    @classmethod
    def for_event(cls, run: Run) -> RunType:
        """Wrap a published change of a run: every subscriber gets the same object (the hub
        hands them all the same `Run`), so its execution is shared. Kept per version: a writer
        may change and publish the same `Run` object again."""
        version, wrapped = getattr(run, "_published_as", (None, None))
        if version != run.version or not isinstance(wrapped, RunType):
            wrapped = cls.from_model(run)
            wrapped.shared = {}
            run._published_as = (run.version, wrapped)
        return wrapped

    @classmethod
    def from_model(cls, run: Run) -> RunType:
        """Wrap a stored run."""
        return cls(
            id=str(run.id),
            number=run.number,
            status=run.status,
            reason=run.reason,
            message=run.message,
            status_version=run.version,
            submitted_at=run.submitted_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            exit_code=run.exit_code,
            attempts=run.attempts,
            priority=run.priority,
            max_runtime_seconds=run.max_runtime_seconds,
            pending_reason=_pending_reason(run),
            pending_message=run.pending_message if _pending_reason(run) else None,
            queue_position=run.queue_position if run.admitted_at is None else None,
            owner_queue_position=run.owner_queue_position if run.admitted_at is None else None,
            admitted_at=run.admitted_at,
            job_id=run.job_id,  # type: ignore[attr-defined]
            outputs=(
                OutputsState(run.outputs_status, run.outputs_message)
                if run.outputs_status is not None
                else None
            ),
            ran=run.started_at is not None,
            run_command=run.command,
            run_args=run.args,
            run_env=run.env,
        )

    async def _job_model(self, info: Info) -> Any:
        job = await info.context.jobs.by_id.load(self.job_id)
        assert job is not None  # a run never outlives its job
        return job

    @strawberry.field(description="The entrypoint it ran with (empty: the image's).")
    async def command(self, info: Info) -> list[str]:
        if self.run_command is not None:
            return self.run_command
        return list((await self._job_model(info)).command)

    @strawberry.field(description="The arguments it ran with (empty: the image's).")
    async def args(self, info: Info) -> list[str]:
        if self.run_args is not None:
            return self.run_args
        return list((await self._job_model(info)).args)

    @strawberry.field(description="The environment it ran with: its Job's, or its rerun's.")
    async def env(self, info: Info) -> list[EnvVarType]:
        stored = self.run_env if self.run_env is not None else (await self._job_model(info)).env
        return EnvVarType.from_stored(stored)

    @strawberry.field(description="The Job this run executes.")
    async def job(
        self, info: Info
    ) -> Annotated[JobType, strawberry.lazy("app.graphql.jobs.types")]:
        from app.graphql.jobs.types import JobType

        return JobType.from_model(await self._job_model(info))

    @strawberry.field(description="Every status change of the run, oldest first.")
    async def timeline(self, info: Info) -> list[RunEventType]:
        events = await info.context.runs.events.load(UUID(self.id))
        return [RunEventType.from_model(e) for e in events]

    @strawberry.field(description="Whether the run's outputs are safe in object storage.")
    def outputs_status(
        self, info: Info
    ) -> Annotated[RunOutputsType, strawberry.lazy("app.graphql.artifacts.types")]:
        from app.graphql.artifacts.types import resolve_outputs

        return resolve_outputs(info, self)  # type: ignore[return-value]  # or its awaitable

    @strawberry.field(description="Files the run wrote to its output directory, in path order.")
    async def artifacts(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        prefix: Annotated[
            str | None, strawberry.argument(description="Only paths starting with this.")
        ] = None,
    ) -> Annotated[ArtifactConnection, strawberry.lazy("app.graphql.artifacts.types")]:
        from app.graphql.artifacts.types import resolve_artifacts

        return await resolve_artifacts(info, self, first, after, prefix)

    @strawberry.field(description="Seconds between start and end (or now, while running).")
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or datetime.now(self.started_at.tzinfo)
        return max(0.0, (end - self.started_at).total_seconds())

    @strawberry.field(
        description=(
            "The run's log, a page at a time: `first`/`after` from the start, `last`/`before` "
            "from the end (the tail). The same lines whether the run is live or archived."
        )
    )
    async def logs(
        self,
        info: Info,
        first: LogFirst = None,
        after: LogAfter = None,
        last: LogLast = None,
        before: LogBefore = None,
        container: LogContainer = None,
    ) -> LogLineConnection:
        from app.graphql.logs.schema import resolve_logs

        return await resolve_logs(
            info,
            UUID(self.id),
            first=first,
            after=after,
            last=last,
            before=before,
            container=container,
        )

    @strawberry.field(
        description=(
            "A URL to download a container's whole log (default `main`), valid for an hour; "
            "null until the run has ended and its log is archived."
        )
    )
    async def log_download_url(self, info: Info, container: LogContainer = None) -> str | None:
        from app.graphql.logs.schema import resolve_download_url

        return await resolve_download_url(info, UUID(self.id), container)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[RunType | None]:
        viewer = info.context.viewer
        # A deleted Job's runs are gone for clients at once, though removed in the background.
        runs = await load_visible(
            Run, node_ids, lambda r: can_see_run(viewer, r), job__deleting_at__isnull=True
        )
        return [cls.from_model(r) if r else None for r in runs]


def _pending_reason(run: Run) -> PendingReason | None:
    """A run's stored pending reason, only while it is PENDING."""
    if run.status is not RunStatus.PENDING or not run.pending_reason:
        return None
    return PendingReason(run.pending_reason)


@strawberry.type(name="RunConnection", description="A page of runs.")
class RunConnection(relay.Connection[RunType]):
    """Runs of a Job, newest first."""
