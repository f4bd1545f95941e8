"""GPU slices a Job can ask for: MIG profiles, as enforced on the cluster by walk:ai nos."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class GpuProfile(BaseModel):
    """One MIG partition: its name, GPU memory and share of the GPU's compute."""

    model_config = ConfigDict(frozen=True)

    name: str
    memory_gb: int
    compute_slices: int
    gpu_model: str = "A100-80GB"


DEFAULT_PROFILES: tuple[GpuProfile, ...] = (
    GpuProfile(name="1g.10gb", memory_gb=10, compute_slices=1),
    GpuProfile(name="2g.20gb", memory_gb=20, compute_slices=2),
    GpuProfile(name="3g.40gb", memory_gb=40, compute_slices=3),
    GpuProfile(name="4g.40gb", memory_gb=40, compute_slices=4),
    GpuProfile(name="7g.80gb", memory_gb=80, compute_slices=7),
)


def resource_name(prefix: str, profile: str) -> str:
    """The extended resource a pod requests for a profile (nos's mixed strategy by default)."""
    return f"{prefix}{profile}"
