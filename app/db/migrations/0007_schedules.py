from tortoise import migrations
from tortoise.migrations import operations as ops
from app.domain.schedules import SkipReason
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("models", "0006_run_control")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Schedule",
            fields=[
                (
                    "id",
                    fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True),
                ),
                (
                    "job",
                    fields.ForeignKeyField(
                        "models.Job",
                        source_field="job_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="schedules",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("cron", fields.CharField(null=True, max_length=255)),
                ("run_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("timezone", fields.CharField(max_length=64)),
                ("skip_while_running", fields.BooleanField(default=True)),
                ("paused", fields.BooleanField(default=False)),
                (
                    "next_run_at",
                    fields.DatetimeField(
                        null=True, db_index=True, auto_now=False, auto_now_add=False
                    ),
                ),
                (
                    "last_run_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "last_run",
                    fields.ForeignKeyField(
                        "models.Run",
                        source_field="last_run_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("skipped_ticks", fields.IntField(default=0)),
                (
                    "last_skipped_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "last_skip_reason",
                    fields.CharEnumField(
                        null=True,
                        description="MISSED: MISSED\nRUN_UNFINISHED: RUN_UNFINISHED\nREFUSED: REFUSED",
                        enum_type=SkipReason,
                        max_length=16,
                    ),
                ),
                ("last_skip_message", fields.TextField(null=True, unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "schedule",
                "app": "models",
                "pk_attr": "id",
                "table_description": "When to rerun a Job. Seen and changed by whoever may see the Job, and goes with the Job.",
            },
            bases=["Model"],
        ),
    ]
