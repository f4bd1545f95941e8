from tortoise import migrations
from tortoise.migrations import operations as ops
from app.domain.outputs import OutputsStatus
from app.domain.priority import Priority
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise.fields.db_defaults import SqlDefault
from tortoise import fields
from typing import Any


async def backfill(apps: Any, schema_editor: Any) -> None:
    """Runs from before ran with their Job's priority."""
    await schema_editor.client.execute_script(
        "UPDATE run SET priority = (SELECT priority FROM job WHERE job.id = run.job_id)"
    )


class Migration(migrations.Migration):
    dependencies = [('models', '0005_job_inputs')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Job',
            name='deleting_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Job',
            name='max_runtime_seconds',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Run',
            name='admitted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Run',
            name='args',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Run',
            name='cleaned_at',
            field=fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Run',
            name='command',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Run',
            name='env',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Run',
            name='max_runtime_seconds',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Run',
            name='outputs_message',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Run',
            name='outputs_status',
            field=fields.CharEnumField(null=True, description='PENDING: PENDING\nUPLOADING: UPLOADING\nUPLOADED: UPLOADED\nFAILED: FAILED', enum_type=OutputsStatus, max_length=16),
        ),
        ops.AddField(
            model_name='Run',
            name='owner_queue_position',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Run',
            name='pending_reason',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Run',
            name='priority',
            field=fields.CharEnumField(default=Priority.MEDIUM, description='LOW: LOW\nMEDIUM: MEDIUM\nHIGH: HIGH\nEXTRA_HIGH: EXTRA_HIGH', db_default=SqlDefault("'MEDIUM'"), enum_type=Priority, max_length=16),
        ),
        ops.AddField(
            model_name='Run',
            name='queue_position',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Run',
            name='slice_seconds',
            field=fields.FloatField(default=0, db_default=SqlDefault('0')),
        ),
        ops.RunPython(code=backfill, reverse_code=ops.RunPython.noop),
    ]
