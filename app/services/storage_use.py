"""What a user keeps in object storage, and the per-user storage quota.

A user's stored data is their inputs (as declared, READY or still uploading), the outputs of
their Jobs' runs (as the upload manifest counted them) and those runs' archived logs. One
quota (`WALKAI_STORAGE_QUOTA_BYTES_PER_USER`) bounds the sum: a new input that would pass it
is refused, and so is a new run once the user is at it, because runs are what grow it. A
team Job's runs count for the member who owns the Job (they created it and may delete it).
Deleting inputs or Jobs (`deleteJob` removes runs' outputs and logs) gives the room back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from tortoise.functions import Sum

from app.db.log_models import LogArchive
from app.db.models import Run
from app.db.storage_models import Input
from app.domain.errors import ErrorCode, UserError


@dataclass(frozen=True)
class StorageUse:
    """Bytes a user keeps, by kind."""

    inputs: int
    outputs: int
    logs: int

    @property
    def total(self) -> int:
        """Everything that counts against the quota."""
        return self.inputs + self.outputs + self.logs


async def _sum(query: Any, column: str) -> int:
    rows = await query.annotate(total=Sum(column)).values_list("total", flat=True)
    return int(rows[0] or 0) if rows else 0


async def storage_use(owner_id: UUID) -> StorageUse:
    """What `owner_id` keeps now: three aggregate queries."""
    return StorageUse(
        inputs=await _sum(Input.filter(owner_id=owner_id), "total_size"),
        outputs=await _sum(Run.filter(job__owner_id=owner_id), "outputs_bytes"),
        logs=await _sum(LogArchive.filter(run__job__owner_id=owner_id), "bytes"),
    )


async def storage_problem(
    owner_id: UUID, adding: int, quota: int | None, field: str
) -> UserError | None:
    """Why `adding` more bytes (0: a new run, which needs room left) would take the owner past
    `quota`; None when they fit or there is no quota."""
    if quota is None:
        return None
    use = await storage_use(owner_id)
    if adding and use.total + adding <= quota:
        return None
    if not adding and use.total < quota:
        return None
    kept = (
        f"inputs {use.inputs}, run outputs {use.outputs}, run logs {use.logs} bytes"
        if use.total
        else "nothing yet"
    )
    what = f"These files ({adding} bytes) would take you" if adding else "You are"
    return UserError(
        field,
        f"{what} over your storage quota of {quota} bytes (you keep {kept}); "
        "delete inputs or Jobs you no longer need.",
        ErrorCode.QUOTA_EXCEEDED,
    )
