"""Indexes of `run` that earlier migrations left out.

On SQLite, adding the owner and team foreign keys (0003) rebuilt the `run` table without its
indexes: the (job, number) uniqueness, and the status and submitted_at indexes, so listing a
page of Jobs' runs scanned the whole table. And `cleaned_at` (0006) was added without its
index on either database. Each statement is a no-op where the index exists (PostgreSQL kept
the first three, under these names).
"""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = (
    'CREATE UNIQUE INDEX IF NOT EXISTS "uid_run_job_id_44f817" ON "run" ("job_id", "number")',
    'CREATE INDEX IF NOT EXISTS "idx_run_status_9dea96" ON "run" ("status")',
    'CREATE INDEX IF NOT EXISTS "idx_run_submitt_c2155e" ON "run" ("submitted_at")',
    'CREATE INDEX IF NOT EXISTS "idx_run_cleaned_at" ON "run" ("cleaned_at")',
)


async def create_indexes(apps: Any, schema_editor: Any) -> None:
    """Create each index that is missing."""
    for statement in INDEXES:
        await schema_editor.client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0011_storage_use")]

    initial = False

    operations = [
        ops.RunPython(code=create_indexes, reverse_code=ops.RunPython.noop),
    ]
