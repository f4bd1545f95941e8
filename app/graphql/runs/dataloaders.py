"""Batch loading of runs and timelines: a page of jobs with their runs is two queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from uuid import UUID

from strawberry.dataloader import DataLoader

from app.db.models import Run, RunEvent


async def _runs_by_job(job_ids: Sequence[UUID]) -> list[list[Run]]:
    grouped: defaultdict[UUID, list[Run]] = defaultdict(list)
    for run in await Run.filter(job_id__in=list(job_ids)).order_by("-number"):
        grouped[run.job_id].append(run)  # type: ignore[attr-defined]
    return [grouped[id_] for id_ in job_ids]


async def _events_by_run(run_ids: Sequence[UUID]) -> list[list[RunEvent]]:
    grouped: defaultdict[UUID, list[RunEvent]] = defaultdict(list)
    for event in await RunEvent.filter(run_id__in=list(run_ids)).order_by("version"):
        grouped[event.run_id].append(event)  # type: ignore[attr-defined]
    return [grouped[id_] for id_ in run_ids]


class RunLoaders:
    """The run loaders of one request."""

    def __init__(self) -> None:
        self.by_job: DataLoader[UUID, list[Run]] = DataLoader(load_fn=_runs_by_job)
        self.events: DataLoader[UUID, list[RunEvent]] = DataLoader(load_fn=_events_by_run)
