"""Query fields about the cluster."""

from __future__ import annotations

import strawberry

from app.graphql.cluster.types import GpuProfileType
from app.graphql.context import Info


@strawberry.type
class ClusterQueries:
    """Reading what the cluster offers."""

    @strawberry.field(description="The GPU profiles Jobs can ask for, smallest first.")
    def gpu_profiles(self, info: Info) -> list[GpuProfileType]:
        profiles = sorted(
            info.context.platform.settings.gpu_profiles,
            key=lambda p: (p.compute_slices, p.memory_gb),
        )
        return [GpuProfileType.from_domain(p) for p in profiles]
