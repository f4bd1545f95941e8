"""Tortoise models: Jobs (immutable definitions), their Runs, and each run's status timeline."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.fields.db_defaults import SqlDefault
from tortoise.models import Model
from tortoise.signals import pre_save

from app.domain.outputs import OutputsStatus
from app.domain.priority import Priority
from app.domain.status import RunStatus


class Job(Model):
    """A definition of what to run. Never edited: a rerun executes it again."""

    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=63)
    image = fields.CharField(max_length=512)
    gpu = fields.CharField(max_length=32)
    storage_gi = fields.IntField()
    command: fields.Field[list[str]] = fields.JSONField(default=list)
    args: fields.Field[list[str]] = fields.JSONField(default=list)
    env: fields.Field[list[dict[str, str]]] = fields.JSONField(default=list)
    priority = fields.CharEnumField(Priority, max_length=16, default=Priority.MEDIUM)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    # The number of the newest run; bumped atomically when a rerun is added.
    run_count = fields.IntField(default=0)
    owner: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="jobs", on_delete=fields.RESTRICT
    )
    # Shared with this team's members (app/auth/policy.py), if set.
    team: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Team", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    # Platform secrets injected with envFrom: [{"id": …, "name": …, "kube_name": …}].
    secrets: fields.Field[list[dict[str, str]]] = fields.JSONField(default=list)
    # The inputs it read when created, in order: [{"id": …, "name": …}]. Their links
    # (`JobInputLink`) go with a deleted input; this says what a rerun would miss.
    inputs: fields.Field[list[dict[str, str]]] = fields.JSONField(
        default=list,
        db_default=SqlDefault("'[]'"),  # the database's: for rows from before
    )
    # The longest a run may go on once admitted (its Kubernetes Job's activeDeadlineSeconds).
    max_runtime_seconds = fields.IntField(null=True)
    # Set by deleteJob: the Job is gone for clients while its runs' data is removed.
    deleting_at = fields.DatetimeField(null=True)

    runs: fields.ReverseRelation[Run]

    class Meta:
        table = "job"


class Run(Model):
    """One execution of a Job, mirrored from its Kubernetes Job and pods."""

    id = fields.UUIDField(primary_key=True)
    job: fields.ForeignKeyRelation[Job] = fields.ForeignKeyField(
        "models.Job", related_name="runs", on_delete=fields.CASCADE
    )
    number = fields.IntField()
    status = fields.CharEnumField(RunStatus, max_length=16, db_index=True)
    reason = fields.CharField(max_length=128, null=True)
    message = fields.TextField(null=True)
    # Bumped on every status change, so clients can drop stale events.
    version = fields.IntField(default=1)
    submitted_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    exit_code = fields.IntField(null=True)
    attempts = fields.IntField(default=0)
    pod_uid = fields.CharField(max_length=64, null=True)
    pod_created_at = fields.DatetimeField(null=True)
    kube_name = fields.CharField(max_length=63)
    updated_at = fields.DatetimeField(auto_now=True)
    # Copied from the Job when the run is saved, so the policy decides without a join (and
    # `runsChanged` filters a hub event per subscriber without a query).
    owner: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    team: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Team", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    # What this run ran with: the Job's definition, or a rerun's overrides of it.
    priority = fields.CharEnumField(
        Priority, max_length=16, default=Priority.MEDIUM, db_default=SqlDefault("'MEDIUM'")
    )
    max_runtime_seconds = fields.IntField(null=True)
    # None: the Job's own (rows from before overrides existed).
    command: fields.Field[list[str] | None] = fields.JSONField(null=True)
    args: fields.Field[list[str] | None] = fields.JSONField(null=True)
    env: fields.Field[list[dict[str, str]] | None] = fields.JSONField(null=True)
    # Kept once settled, so it outlives the pod (app/domain/outputs.py).
    outputs_status = fields.CharEnumField(OutputsStatus, max_length=16, null=True)
    outputs_message = fields.TextField(null=True)
    # Bytes of outputs in object storage once uploaded (counted against storage quota).
    outputs_bytes = fields.BigIntField(default=0, db_default=SqlDefault("0"))
    # When the admission loop last let its Kubernetes Job run (None while queued).
    admitted_at = fields.DatetimeField(null=True)
    # Where the admission loop placed it: "<node>/<gpu index>" (kept until its pod is gone,
    # so the slices count as being freed while a preempted or cancelled pod stops).
    gpu_slot = fields.CharField(max_length=300, null=True)
    # Why a PENDING run waits, and where it stands (written by the admission loop).
    pending_reason = fields.CharField(max_length=32, null=True)
    pending_message = fields.TextField(null=True)
    queue_position = fields.IntField(null=True)
    owner_queue_position = fields.IntField(null=True)
    # Slice-seconds used by finished attempts (the current attempt's runs on from started_at).
    slice_seconds = fields.FloatField(default=0, db_default=SqlDefault("0"))
    # When its Kubernetes objects were deleted (logs archived, outputs settled).
    cleaned_at = fields.DatetimeField(null=True, db_index=True)

    events: fields.ReverseRelation[RunEvent]

    class Meta:
        table = "run"
        unique_together = (("job", "number"),)


@pre_save(Run)
async def _owned_like_its_job(
    sender: type[Run], instance: Run, using_db: Any, update_fields: Any
) -> None:
    """Every run, however it is created, belongs to its Job's owner and team."""
    if getattr(instance, "owner_id", None) is not None:
        return
    job = getattr(instance, "_job", None)
    if not isinstance(job, Job):
        job = await Job.get(id=instance.job_id)  # type: ignore[attr-defined]
    instance.owner_id = job.owner_id  # type: ignore[attr-defined]
    instance.team_id = job.team_id  # type: ignore[attr-defined]


class RunEvent(Model):
    """One entry of a run's timeline: the status it moved to, and why."""

    id = fields.BigIntField(primary_key=True)
    run: fields.ForeignKeyRelation[Run] = fields.ForeignKeyField(
        "models.Run", related_name="events", on_delete=fields.CASCADE
    )
    version = fields.IntField()
    status = fields.CharEnumField(RunStatus, max_length=16)
    reason = fields.CharField(max_length=128, null=True)
    message = fields.TextField(null=True)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "run_event"
        unique_together = (("run", "version"),)
