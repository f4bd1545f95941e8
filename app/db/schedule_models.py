"""Tortoise model of schedules: a Job run again at one time, or on a cron."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from app.domain.schedules import SkipReason


class Schedule(Model):
    """When to rerun a Job. Seen and changed by whoever may see the Job, and goes with the Job.

    `next_run_at` is the tick the leader's loop fires next (None: done, or never again). The
    loop fires a tick only after moving `next_run_at` on from the value it read, with a
    conditional UPDATE, so no tick fires twice whatever the number of loops.
    """

    id = fields.UUIDField(primary_key=True)
    job: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Job", related_name="schedules", on_delete=fields.CASCADE
    )
    # Exactly one of cron and run_at (validated in app/domain/schedules.py).
    cron = fields.CharField(max_length=255, null=True)
    run_at = fields.DatetimeField(null=True)
    timezone = fields.CharField(max_length=64)
    # Skip a tick while a run of the Job has not finished.
    skip_while_running = fields.BooleanField(default=True)
    # Whose rights each tick runs with, re-read at every tick (null: made before creators were
    # recorded, or the account is gone: the Job's owner then).
    created_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    paused = fields.BooleanField(default=False)
    next_run_at = fields.DatetimeField(null=True, db_index=True)
    # The tick that started the newest run, and that run (null once the run is gone).
    last_run_at = fields.DatetimeField(null=True)
    last_run: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Run", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    skipped_ticks = fields.IntField(default=0)
    last_skipped_at = fields.DatetimeField(null=True)
    last_skip_reason = fields.CharEnumField(SkipReason, max_length=16, null=True)
    last_skip_message = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "schedule"
