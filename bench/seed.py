"""Jobs, runs and timelines written straight into the database in bulk, for the read benchmarks:
creating 100,000 runs through the API would take hours and measure something else."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.db.models import Job, Run, RunEvent
from app.domain.status import RunStatus

BATCH = 1000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Seeded:
    """What was written: job ids newest first, and each job's run ids newest first."""

    jobs: list[uuid.UUID]
    runs: dict[uuid.UUID, list[uuid.UUID]]


async def seed_jobs(owner: Any, jobs: int, runs_per_job: int, start: int = 0) -> Seeded:
    """`jobs` finished Jobs of `owner` with `runs_per_job` runs each (two timeline entries per
    run), created a second apart after the `start` Jobs seeded before."""
    job_rows: list[Job] = []
    run_rows: list[Run] = []
    event_rows: list[RunEvent] = []
    seeded = Seeded([], {})
    for j in range(start, start + jobs):
        at = EPOCH + timedelta(seconds=j)
        job = Job(
            id=uuid.uuid4(),
            name=f"seed-{j}",
            image="registry.example.com/team/trainer:1.4.2",
            gpu="1g.10gb",
            storage_gi=1,
            command=["python", "train.py"],
            args=["--epochs", "3"],
            env=[{"name": "SEED", "value": str(j)}],
            created_at=at,
            run_count=runs_per_job,
            owner_id=owner.id,
        )
        job_rows.append(job)
        seeded.jobs.append(job.id)
        seeded.runs[job.id] = []
        for number in range(1, runs_per_job + 1):
            run = Run(
                id=uuid.uuid4(),
                job_id=job.id,
                number=number,
                status=RunStatus.COMPLETED,
                kube_name=f"seed-{j}-{number}",
                submitted_at=at + timedelta(milliseconds=number),
                started_at=at + timedelta(milliseconds=number + 1),
                finished_at=at + timedelta(milliseconds=number + 2),
                exit_code=0,
                version=2,
                owner_id=owner.id,
            )
            run_rows.append(run)
            seeded.runs[job.id].insert(0, run.id)
            for version, status in ((1, RunStatus.PENDING), (2, RunStatus.COMPLETED)):
                event_rows.append(RunEvent(run_id=run.id, version=version, status=status, at=at))
    for model, rows in ((Job, job_rows), (Run, run_rows), (RunEvent, event_rows)):
        for i in range(0, len(rows), BATCH * 10):
            await model.bulk_create(rows[i : i + BATCH * 10], batch_size=BATCH)  # type: ignore[attr-defined]
    seeded.jobs.reverse()
    return seeded
