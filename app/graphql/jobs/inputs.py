"""GraphQL inputs and payloads of the Job mutations."""

from __future__ import annotations

import strawberry
from strawberry import relay

from app.domain.jobspec import EnvVar, Overrides
from app.domain.priority import Priority
from app.graphql.errors import UserErrorType
from app.graphql.jobs.types import JobType
from app.graphql.nodes import lenient_global_id
from app.graphql.runs.types import RunType


@strawberry.input(name="EnvVarInput", description="An environment variable to set.")
class EnvVarInput:
    """A name/value pair."""

    name: str = strawberry.field(description="Letters, digits and '_', not starting with a digit.")
    value: str = strawberry.field(description="Any text up to 32 KiB.")


@strawberry.input(name="CreateJobInput", description="What to run and on which GPU slice.")
class CreateJobInput:
    """The fields of a new Job."""

    image: str = strawberry.field(description="Container image, e.g. ghcr.io/acme/train:v1.")
    gpu: str = strawberry.field(description="A MIG profile from `gpuProfiles`, e.g. 1g.10gb.")
    storage_gi: int = strawberry.field(description="Output storage in GiB.")
    name: str | None = strawberry.field(
        default=None, description="Short name (DNS label); default: from the image."
    )
    command: list[str] | None = strawberry.field(default=None, description="Entrypoint override.")
    args: list[str] | None = strawberry.field(default=None, description="Arguments.")
    env: list[EnvVarInput] | None = strawberry.field(
        default=None, description="Environment variables of the main container."
    )
    priority: Priority = strawberry.field(
        default=Priority.MEDIUM, description="Scheduling priority of its runs."
    )
    max_runtime_seconds: int | None = strawberry.field(
        default=None,
        description="Seconds a run may go on once admitted (default and maximum: configuration); "
        "past it, it ends FAILED with reason DEADLINE_EXCEEDED, its outputs uploaded.",
    )
    # Plain IDs, decoded here: a malformed one is a NOT_FOUND userError of its own field (see
    # `app.graphql.nodes.lenient_global_id`), not an error that hides every other field's.
    raw_input_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        name="inputIds",
        description="READY inputs its runs read, each at `$WALKAI_INPUT_DIR/<input name>/`.",
    )
    secret_names: list[str] | None = strawberry.field(
        default=None,
        description="Platform secrets (`secrets`) whose keys become environment variables.",
    )
    raw_team_id: strawberry.ID | None = strawberry.field(
        default=None,
        name="teamId",
        description="Share the Job and its runs with this team (yours).",
    )

    @property
    def input_ids(self) -> list[relay.GlobalID] | None:
        """The inputs' ids; malformed ones name no object."""
        return (
            None if self.raw_input_ids is None else list(map(lenient_global_id, self.raw_input_ids))
        )

    @property
    def team_id(self) -> relay.GlobalID | None:
        """The team's id; a malformed one names no team."""
        return None if self.raw_team_id is None else lenient_global_id(self.raw_team_id)


@strawberry.type(name="CreateJobPayload", description="The result of createJob.")
class CreateJobPayload:
    """The new Job and its first run, or what was wrong with the input."""

    job: JobType | None = strawberry.field(description="The Job, when it was created.")
    run: RunType | None = strawberry.field(description="Its first run, when it was created.")
    user_errors: list[UserErrorType] = strawberry.field(
        description="Problems with the input; empty on success."
    )


@strawberry.input(
    name="RunOverridesInput",
    description="What one rerun changes of its Job's definition; omitted fields keep the Job's.",
)
class RunOverridesInput:
    """A rerun's changes, for that run only (the Job stays as it is)."""

    priority: Priority | None = strawberry.field(default=None, description="Another priority.")
    max_runtime_seconds: int | None = strawberry.field(
        default=None, description="Another time limit, in seconds."
    )
    command: list[str] | None = strawberry.field(
        default=None, description="Another entrypoint (an empty list: the image's)."
    )
    args: list[str] | None = strawberry.field(default=None, description="Other arguments.")
    env: list[EnvVarInput] | None = strawberry.field(
        default=None, description="Another environment (replaces the Job's variables whole)."
    )

    def to_domain(self) -> Overrides:
        """The domain's view of the changes."""
        return Overrides(
            priority=self.priority,
            max_runtime_seconds=self.max_runtime_seconds,
            command=self.command,
            args=self.args,
            env=[EnvVar(v.name, v.value) for v in self.env] if self.env is not None else None,
        )


@strawberry.type(name="DeleteJobPayload", description="The result of deleteJob.")
class DeleteJobPayload:
    """Which Job goes, and how many runs' data go with it."""

    deleted_id: strawberry.ID | None = strawberry.field(
        description="The deleted Job's id; it is gone for every query at once."
    )
    run_count: int = strawberry.field(
        description="Runs whose records, logs, archives and outputs are removed in the background."
    )
    user_errors: list[UserErrorType] = strawberry.field(
        description="Problems with the input; empty on success."
    )
