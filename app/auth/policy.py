"""Authorization in one place: every resolver asks here before showing or touching an object.

An object the viewer may not see must look exactly like a missing one, so callers turn a
`False` into "not found", never into "forbidden".

The rule, for every owned object (jobs, runs, logs, artifacts, inputs, secrets): admins see
everything; members see what they own and what belongs to one of their teams. Owned objects
carry `owner_id` and an optional `team_id` (runs copy both from their Job), so every check here
is a pure function of the viewer and the row: no query, cheap enough to filter a live event per
subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from app.db.auth_models import Role
from app.db.models import Job, Run

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request, with what the policy needs to decide."""

    user_id: UUID
    email: str
    role: Role
    team_ids: frozenset[UUID] = field(default_factory=frozenset)
    # The credential this request came with: ("token", id) or ("session", id). Revoking it
    # ends the request's websocket, if any.
    credential: tuple[str, UUID] | None = None

    @property
    def is_admin(self) -> bool:
        """Admins see and manage every object."""
        return self.role is Role.ADMIN


# None: anonymous (only the public fields listed in app/graphql/users/guard.py answer).
Viewer = Principal | None


def can_see(viewer: Viewer, obj: Any) -> bool:
    """Whether the viewer may see (and so act on) an owned object (`owner_id`, `team_id`)."""
    if viewer is None:
        return False
    if viewer.is_admin:
        return True
    if getattr(obj, "owner_id", None) == viewer.user_id:
        return True
    team_id = getattr(obj, "team_id", None)
    return team_id is not None and team_id in viewer.team_ids


def visible(viewer: Viewer, query: QuerySet[M]) -> QuerySet[M]:
    """Narrow a query of owned objects to those the viewer may see."""
    if viewer is None:
        return query.filter(Q(pk__in=[]))
    if viewer.is_admin:
        return query
    mine = Q(owner_id=viewer.user_id)
    if viewer.team_ids:
        mine |= Q(team_id__in=list(viewer.team_ids))
    return query.filter(mine)


def can_use_team(viewer: Viewer, team_id: UUID | None) -> bool:
    """Whether the viewer may share an object with a team (a member of it, or an admin)."""
    if viewer is None:
        return False
    return team_id is None or viewer.is_admin or team_id in viewer.team_ids


def visible_jobs(viewer: Viewer, query: QuerySet[Job]) -> QuerySet[Job]:
    """Narrow a Job query to what the viewer may see (a Job being deleted is gone for all)."""
    return visible(viewer, query.filter(deleting_at=None))


def can_see_job(viewer: Viewer, job: Job) -> bool:
    """Whether the viewer may see (and so act on) a Job."""
    return job.deleting_at is None and can_see(viewer, job)


def can_see_run(viewer: Viewer, run: Run) -> bool:
    """Whether the viewer may see a run (runs belong to their Job's owner and team)."""
    return can_see(viewer, run)


def can_see_input(viewer: Viewer, input: Any) -> bool:
    """Whether the viewer may see (and so use in a Job, or delete) an input."""
    return can_see(viewer, input)


def can_see_user(viewer: Viewer, user_id: UUID) -> bool:
    """Members see only their own account; admins see every account."""
    return viewer is not None and (viewer.is_admin or viewer.user_id == user_id)
