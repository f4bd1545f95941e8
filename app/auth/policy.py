"""Authorization in one place: every resolver asks here before showing or touching an object.

An object the viewer may not see must look exactly like a missing one, so callers turn a
`False` into "not found", never into "forbidden".
"""

from __future__ import annotations

from typing import Any

from tortoise.queryset import QuerySet

from app.db.models import Job, Run

# The authenticated user of a request (None: anonymous). Typed loosely until users exist.
Viewer = Any


def visible_jobs(viewer: Viewer, query: QuerySet[Job]) -> QuerySet[Job]:
    """Narrow a Job query to what the viewer may see."""
    return query


def can_see_job(viewer: Viewer, job: Job) -> bool:
    """Whether the viewer may see (and so act on) a Job."""
    return True


def can_see_run(viewer: Viewer, run: Run) -> bool:
    """Whether the viewer may see a run (runs belong to their Job's owner)."""
    return True
