from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise.fields.db_defaults import SqlDefault
from tortoise import fields

# Jobs created before: the inputs their links name, in order (an input deleted since is gone
# from the links already, and so from this list).
_BACKFILL = {
    "postgres": """
        UPDATE job SET inputs = (
            SELECT jsonb_agg(jsonb_build_object('id', i.id::text, 'name', i.name)
                             ORDER BY l.position)
            FROM job_input l JOIN input i ON i.id = l.input_id WHERE l.job_id = job.id)
        WHERE EXISTS (SELECT 1 FROM job_input l WHERE l.job_id = job.id)
    """,
    "sqlite": """
        UPDATE job SET inputs = (
            SELECT json_group_array(json_object('id', id, 'name', name)) FROM (
                SELECT i.id AS id, i.name AS name
                FROM job_input l JOIN input i ON i.id = l.input_id
                WHERE l.job_id = job.id ORDER BY l.position))
        WHERE EXISTS (SELECT 1 FROM job_input l WHERE l.job_id = job.id)
    """,
}


async def backfill(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    await client.execute_script(_BACKFILL[client.capabilities.dialect])


class Migration(migrations.Migration):
    dependencies = [('models', '0004_storage_inputs')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Job',
            name='inputs',
            field=fields.JSONField(default=list, db_default=SqlDefault("'[]'"), encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.RunPython(code=backfill, reverse_code=ops.RunPython.noop),
    ]
