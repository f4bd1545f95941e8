"""GraphQL types of the cluster: the GPU slices Jobs can ask for."""

from __future__ import annotations

import strawberry

from app.domain.gpu import GpuProfile


@strawberry.type(name="GpuProfile", description="A MIG partition a Job can run on.")
class GpuProfileType:
    """One configured GPU profile."""

    name: str = strawberry.field(description="Profile name to pass as `gpu`, e.g. 1g.10gb.")
    memory_gb: int = strawberry.field(description="GPU memory of the slice, in GB.")
    compute_slices: int = strawberry.field(description="Compute slices out of the GPU's 7.")
    gpu_model: str = strawberry.field(description="The GPU model the profile belongs to.")

    @classmethod
    def from_domain(cls, profile: GpuProfile) -> GpuProfileType:
        """Wrap a configured profile."""
        return cls(
            name=profile.name,
            memory_gb=profile.memory_gb,
            compute_slices=profile.compute_slices,
            gpu_model=profile.gpu_model,
        )
