"""Batch loading of runs and timelines: a page of jobs with their runs is two queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from uuid import UUID

from strawberry.dataloader import DataLoader

from app.db.models import Run, RunEvent

# (Job, the number runs must be below or None for the newest, how many at most).
RunsKey = tuple[UUID, int | None, int]


async def _runs_by_job(keys: Sequence[RunsKey]) -> list[list[Run]]:
    """The newest runs of each Job, as many as asked: one query per distinct `before`, so a
    page of Jobs costs one however many runs its Jobs have (the first page: one in all)."""
    groups: defaultdict[int | None, list[RunsKey]] = defaultdict(list)
    for key in keys:
        groups[key[1]].append(key)
    found: defaultdict[tuple[UUID, int | None], list[Run]] = defaultdict(list)
    for before, group in groups.items():
        limit = max(size for _, _, size in group)
        for run in await _newest_runs(sorted({job for job, _, _ in group}), before, limit):
            found[(run.job_id, before)].append(run)  # type: ignore[attr-defined]
    for runs in found.values():
        runs.sort(key=lambda run: run.number, reverse=True)  # a union keeps no order of its own
    return [found[(job, before)][:size] for job, before, size in keys]


async def _newest_runs(job_ids: Sequence[UUID], before: int | None, limit: int) -> list[Run]:
    """Up to `limit` runs per Job, newest first, numbered below `before` if given: one
    statement, a `UNION ALL` of one `ORDER BY number DESC LIMIT` per Job, each read from the
    (job, number) index and stopping after `limit` rows, however many runs the Job has.
    Values are UUIDs and integers of the API's own, written into the statement
    (`Model.raw` takes no parameters)."""
    below = f" AND number < {int(before)}" if before is not None else ""
    parts = [
        f"SELECT * FROM (SELECT * FROM run WHERE job_id = '{UUID(str(job))}'{below} "
        f"ORDER BY number DESC LIMIT {int(limit)}) AS job{i}"
        for i, job in enumerate(job_ids)
    ]
    return list(await Run.raw(" UNION ALL ".join(parts))) if parts else []


async def _events_by_run(run_ids: Sequence[UUID]) -> list[list[RunEvent]]:
    grouped: defaultdict[UUID, list[RunEvent]] = defaultdict(list)
    for event in await RunEvent.filter(run_id__in=list(run_ids)).order_by("version"):
        grouped[event.run_id].append(event)  # type: ignore[attr-defined]
    return [grouped[id_] for id_ in run_ids]


class RunLoaders:
    """The run loaders of one request."""

    def __init__(self) -> None:
        self.by_job: DataLoader[RunsKey, list[Run]] = DataLoader(load_fn=_runs_by_job)
        self.events: DataLoader[UUID, list[RunEvent]] = DataLoader(load_fn=_events_by_run)
