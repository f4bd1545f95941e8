"""Per-request context: the platform and this request's data loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from app.auth.policy import Viewer
from app.graphql.jobs.dataloaders import JobLoaders
from app.graphql.runs.dataloaders import RunLoaders
from app.services.platform import Platform


@dataclass
class Context:
    """What every resolver can reach; loaders are per request so caches never go stale."""

    platform: Platform
    viewer: Viewer = None
    request: Any = None
    response: Any = None
    # The websocket's `connection_init` payload (Strawberry sets it; app/auth/context.py reads it).
    connection_params: Any = None
    jobs: JobLoaders = field(default_factory=JobLoaders)
    runs: RunLoaders = field(default_factory=RunLoaders)


Info = StrawberryInfo[Context, None]
