"""Query and Subscription fields about the cluster: profiles on offer and the capacity view."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from app.graphql.cluster.types import ClusterType, GpuProfileType
from app.graphql.context import Info
from app.services.capacity import feed_of, read_cluster


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

    @strawberry.field(
        description=(
            "Every node's GPUs with the partitions cut on them, the queue's demand and what "
            "each priority holds. Every member sees the numbers; a partition's run only when "
            "they may see that run."
        )
    )
    async def cluster(self, info: Info) -> ClusterType:
        state = await read_cluster(info.context.platform)
        return ClusterType.from_state(state, info.context.viewer)


@strawberry.type
class ClusterSubscriptions:
    """Live capacity."""

    @strawberry.subscription(
        description=(
            "The `cluster` view now, then again whenever it changes (runs admitted, ended or "
            "preempted, pods gone, nodes added or cordoned); never ends."
        )
    )
    async def cluster_changed(self, info: Info) -> AsyncGenerator[ClusterType, None]:
        platform, viewer = info.context.platform, info.context.viewer
        states = feed_of(platform.hub).states(platform.hub, lambda: read_cluster(platform))
        try:
            async for state in states:
                yield ClusterType.from_state(state, viewer)
        finally:
            await states.aclose()
