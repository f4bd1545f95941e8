"""GraphQL types of the cluster: the GPU slices Jobs can ask for, and the capacity view."""

from __future__ import annotations

import strawberry

from app.auth.policy import Viewer, can_see_run
from app.domain.gpu import GpuProfile
from app.domain.priority import Priority
from app.graphql.enums import describe_values
from app.graphql.priority import PriorityEnum  # noqa: F401  (registers the GraphQL enum)
from app.graphql.runs.types import RunType
from app.services.capacity import ClusterState, Partition, PartitionStatus, Slices


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


PartitionStatusEnum = describe_values(
    strawberry.enum(
        PartitionStatus,
        name="PartitionStatus",
        description="Whether a partition is held by its run or is being given back.",
    ),
    {
        PartitionStatus.IN_USE: "Its run is admitted: the slices are taken.",
        PartitionStatus.FREEING: "Its run was stopped or preempted; its pod is stopping.",
    },
)


@strawberry.type(name="SliceCount", description="Slices: how many, taken and left.")
class SliceCountType:
    """Compute or memory slices of one GPU or of the whole cluster."""

    total: int = strawberry.field(description="Slices there are.")
    used: int = strawberry.field(description="Slices taken by partitions (in use or freeing).")
    free: int = strawberry.field(description="Slices not taken.")

    @classmethod
    def from_domain(cls, slices: Slices) -> SliceCountType:
        """Wrap a slice count."""
        return cls(total=slices.total, used=slices.used, free=slices.free)


@strawberry.type(name="GpuPartition", description="A MIG instance cut on a GPU for a run.")
class GpuPartitionType:
    """One partition; its run only for viewers who may see that run."""

    profile: str = strawberry.field(description="The MIG profile, e.g. 3g.40gb.")
    compute_slices: int = strawberry.field(description="Compute slices it takes.")
    status: PartitionStatus = strawberry.field(description="In use, or being freed.")
    priority: Priority = strawberry.field(description="The priority of the run holding it.")
    run: RunType | None = strawberry.field(
        description="The run holding it; null for runs the viewer may not see."
    )

    @classmethod
    def from_domain(cls, partition: Partition, run: RunType | None) -> GpuPartitionType:
        """Wrap a partition with its run, already checked for visibility."""
        return cls(
            profile=partition.profile,
            compute_slices=partition.compute_slices,
            status=partition.status,
            priority=partition.priority,
            run=run,
        )


@strawberry.type(name="ClusterGpu", description="One physical GPU of a node.")
class ClusterGpuType:
    """A GPU's slices, its partitions and what could still be cut on it."""

    index: int = strawberry.field(description="The GPU's index on its node, from 0.")
    model: str = strawberry.field(description="The GPU model, e.g. A100-80GB.")
    compute_slices: SliceCountType = strawberry.field(description="Compute slices (7 a GPU).")
    memory_slices: SliceCountType = strawberry.field(description="Memory slices (8 a GPU).")
    partitions: list[GpuPartitionType] = strawberry.field(
        description="The instances cut on it: in use first, then those being freed."
    )
    cuttable_profiles: list[str] = strawberry.field(
        description="Profiles the GPU could still cut next to its partitions, smallest first."
    )


@strawberry.type(name="ClusterNode", description="A Kubernetes node with MIG GPUs.")
class ClusterNodeType:
    """A node and its GPUs."""

    name: str = strawberry.field(description="The node's name.")
    gpus: list[ClusterGpuType] = strawberry.field(description="Its GPUs, by index.")


@strawberry.type(name="ClusterTotals", description="The whole cluster's GPUs and slices.")
class ClusterTotalsType:
    """Sums over every GPU."""

    gpus: int = strawberry.field(description="GPUs that take runs.")
    compute_slices: SliceCountType = strawberry.field(description="Compute slices of all GPUs.")
    memory_slices: SliceCountType = strawberry.field(description="Memory slices of all GPUs.")


@strawberry.type(name="ProfileDemand", description="Runs waiting for one GPU profile.")
class ProfileDemandType:
    """What the queue asks for, per profile."""

    profile: str = strawberry.field(description="The MIG profile they wait for.")
    runs: int = strawberry.field(description="Runs waiting for admission.")
    compute_slices: int = strawberry.field(description="Compute slices they need together.")


@strawberry.type(name="PriorityLoad", description="Admitted runs of one priority.")
class PriorityLoadType:
    """What one priority holds."""

    priority: Priority = strawberry.field(description="The runs' priority.")
    runs: int = strawberry.field(description="Admitted, unfinished runs.")
    compute_slices: int = strawberry.field(description="Compute slices they hold.")


@strawberry.type(
    name="Cluster", description="What the cluster has, what is used and what waits, now."
)
class ClusterType:
    """The capacity view, as one viewer may see it."""

    nodes: list[ClusterNodeType] = strawberry.field(
        description="Nodes with MIG GPUs that take runs, by name."
    )
    totals: ClusterTotalsType = strawberry.field(description="Sums over every GPU.")
    queued_demand: list[ProfileDemandType] = strawberry.field(
        description="Runs waiting for admission, per profile, smallest profile first."
    )
    running_by_priority: list[PriorityLoadType] = strawberry.field(
        description="Admitted runs per priority, every priority, highest first."
    )

    @classmethod
    def from_state(cls, state: ClusterState, viewer: Viewer) -> ClusterType:
        """The view with each partition's run shown only to viewers who may see it."""
        view = state.view

        def run_of(run_id: str) -> RunType | None:
            run = state.runs.get(run_id)
            return RunType.from_model(run) if run and can_see_run(viewer, run) else None

        nodes = [
            ClusterNodeType(
                name=node.name,
                gpus=[
                    ClusterGpuType(
                        index=gpu.index,
                        model=gpu.model,
                        compute_slices=SliceCountType.from_domain(gpu.compute),
                        memory_slices=SliceCountType.from_domain(gpu.memory),
                        partitions=[
                            GpuPartitionType.from_domain(p, run_of(p.run_id))
                            for p in gpu.partitions
                        ],
                        cuttable_profiles=list(gpu.cuttable),
                    )
                    for gpu in node.gpus
                ],
            )
            for node in view.nodes
        ]
        return cls(
            nodes=nodes,
            totals=ClusterTotalsType(
                gpus=view.totals.gpus,
                compute_slices=SliceCountType.from_domain(view.totals.compute),
                memory_slices=SliceCountType.from_domain(view.totals.memory),
            ),
            queued_demand=[
                ProfileDemandType(profile=d.key, runs=d.runs, compute_slices=d.compute_slices)
                for d in view.queued_demand
            ],
            running_by_priority=[
                PriorityLoadType(
                    priority=Priority(d.key), runs=d.runs, compute_slices=d.compute_slices
                )
                for d in view.running_by_priority
            ],
        )
