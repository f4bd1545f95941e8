"""Quotas: what a user or a team may hold at once, and spend at high priority per period."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class Quota(Model):
    """Limits set by an admin for one owner, a user or a team (for its team Jobs).

    Without a row, the configured defaults apply."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, unique=True, on_delete=fields.CASCADE
    )
    team: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Team", related_name=False, null=True, unique=True, on_delete=fields.CASCADE
    )
    # Compute slices (a GPU has 7) its running runs may hold at once (None: no limit).
    max_slices = fields.IntField(null=True)
    # GPU-hours (7 compute slices for an hour) its HIGH and EXTRA_HIGH runs may use per
    # period (None: no limit).
    high_priority_gpu_hours = fields.FloatField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "quota"
