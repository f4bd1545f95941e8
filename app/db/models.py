"""Tortoise models: Jobs (immutable definitions), their Runs, and each run's status timeline."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

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

    events: fields.ReverseRelation[RunEvent]

    class Meta:
        table = "run"
        unique_together = (("job", "number"),)


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
