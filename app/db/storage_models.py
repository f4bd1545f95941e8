"""Tortoise models of inputs: named sets of files in object storage that Jobs can read."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.db.models import Job, Run


class InputStatus(enum.Enum):
    """PENDING while its files are being uploaded; READY once finalized (then immutable)."""

    PENDING = "PENDING"
    READY = "READY"


class Input(Model):
    """A named set of files under `inputs/<id>/files/` in the object store."""

    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=63, db_index=True)
    status = fields.CharEnumField(InputStatus, max_length=16, default=InputStatus.PENDING)
    total_size = fields.BigIntField(default=0)
    file_count = fields.IntField(default=0)
    # Set when the input was made from a run's outputs.
    source_run: fields.ForeignKeyNullableRelation[Run] = fields.ForeignKeyField(
        "models.Run", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    finalized_at = fields.DatetimeField(null=True)
    # Owned like Jobs (app/auth/policy.py): its owner, and the team it is shared with, if any.
    owner: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    team: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Team", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    files: fields.ReverseRelation[InputFile]

    class Meta:
        table = "input"


class InputFile(Model):
    """One file of an input, as declared (and, once finalized, as found in the store)."""

    id = fields.BigIntField(primary_key=True)
    input: fields.ForeignKeyRelation[Input] = fields.ForeignKeyField(
        "models.Input", related_name="files", on_delete=fields.CASCADE
    )
    path = fields.CharField(max_length=512)
    size = fields.BigIntField()
    content_type = fields.CharField(max_length=255)

    class Meta:
        table = "input_file"
        unique_together = (("input", "path"),)


class JobInputLink(Model):
    """An input a Job reads, in the order the Job named them."""

    id = fields.BigIntField(primary_key=True)
    job: fields.ForeignKeyRelation[Job] = fields.ForeignKeyField(
        "models.Job", related_name=False, on_delete=fields.CASCADE
    )
    input: fields.ForeignKeyRelation[Input] = fields.ForeignKeyField(
        "models.Input", related_name=False, on_delete=fields.CASCADE
    )
    position = fields.IntField()

    class Meta:
        table = "job_input"
        unique_together = (("job", "input"),)
