"""Batch loading of Jobs: one query per request, whatever the number of runs asking."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from strawberry.dataloader import DataLoader

from app.db.models import Job


async def _jobs_by_id(ids: Sequence[UUID]) -> list[Job | None]:
    found = {job.id: job for job in await Job.filter(id__in=list(ids))}
    return [found.get(id_) for id_ in ids]


class JobLoaders:
    """The Job loaders of one request."""

    def __init__(self) -> None:
        self.by_id: DataLoader[UUID, Job | None] = DataLoader(load_fn=_jobs_by_id)
