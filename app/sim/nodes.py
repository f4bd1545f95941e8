"""Simulated nodes: their configuration, capacity and MIG GPU geometry.

A node has cpu, memory and a pod count, plus GPUs that can be cut into MIG instances. The MIG
geometry (7 compute and 8 memory slices per GPU, each profile's valid starts), which decides
whether two profiles can share a GPU, lives in ``app.domain.mig`` so the admission rules use the
same table; its names stay importable from here.

Partitioning is dynamic, like nos's: a GPU is not cut in advance; an instance is carved out of
the free slices when a pod is bound and vanishes when the pod ends, so free space can always be
re-cut for the next pod. (nos keeps idle partitions around until it re-plans; the simulation
re-plans instantly, which is the behaviour pods observe once nos has converged.)

Node ``status.capacity``/``allocatable`` advertise, for every allowed profile, how many instances
of it the node's GPUs could hold if cut to that profile alone (e.g. 7 x ``1g.10gb``, 2 x
``3g.40gb`` per A100). That is what a real node shows for a uniform partitioning; whether a pod
fits next to others is decided by the placement rule above, not by those counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from app.domain.mig import (
    COMPUTE_SLICES,
    GPU_MODELS,
    MEMORY_SLICES,
    MigProfile,
    model_profiles,
    parse_profile,
)

# The geometry lives in the pure domain module; these names stay importable from here.
from app.domain.mig import GEOMETRY as _GEOMETRY  # noqa: F401
from app.sim.runas import RunAsPolicy

DEFAULT_MIG_PREFIX = "nvidia.com/mig-"


@dataclass(frozen=True)
class GpuSpec:
    """One physical GPU of a node and the MIG profiles it may be cut into."""

    model: str
    memory_gb: int
    profiles: tuple[str, ...]

    def profile(self, name: str) -> MigProfile | None:
        """The profile if this GPU allows it."""
        return parse_profile(name, self.memory_gb) if name in self.profiles else None


@dataclass(frozen=True)
class NodeSpec:
    """A node as configured: name, schedulable resources, GPUs and labels."""

    name: str
    cpu: str = "16"
    memory: str = "64Gi"
    pods: int = 110
    gpus: tuple[GpuSpec, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SimConfig:
    """The simulated cluster's nodes and how MIG resources are named."""

    nodes: tuple[NodeSpec, ...]
    mig_resource_prefix: str = DEFAULT_MIG_PREFIX
    # image name without tag -> the argv its ENTRYPOINT would give (used when only args are set)
    image_entrypoints: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Multiplies the cluster's own back-off delays (see app.sim.timing); 1.0 is real time.
    time_factor: float = 1.0
    # Which host users containers run as when the kubelet is root (app.sim.runas; None: its own).
    run_as: RunAsPolicy | None = None

    def mig_resource(self, profile: str) -> str:
        """The extended-resource name pods request for ``profile``."""
        return self.mig_resource_prefix + profile

    def profile_of(self, resource: str) -> str | None:
        """The profile behind a resource name, or None if it is not a MIG resource."""
        if resource.startswith(self.mig_resource_prefix):
            return resource[len(self.mig_resource_prefix) :]
        return None


def default_gpu(model: str = "A100-80GB") -> GpuSpec:
    """A GPU of ``model`` allowing every profile of its geometry."""
    return GpuSpec(model, GPU_MODELS[model], model_profiles(model))


def default_config() -> SimConfig:
    """Two nodes with one A100-80GB each."""
    return SimConfig(
        nodes=tuple(NodeSpec(name=f"sim-node-{i}", gpus=(default_gpu(),)) for i in (1, 2))
    )


def load_config(path: str | Path | None = None) -> SimConfig:
    """Read a SimConfig from YAML, or the default when ``path`` is None.

    Format::

        migResourcePrefix: nvidia.com/mig-     # optional
        timeFactor: 1.0                        # optional: scales back-offs (app.sim.timing)
        imageEntrypoints:                      # optional: argv prefix for containers with args only
          ghcr.io/walkai/jobs: [walkai-jobs]
        nodes:
          - name: gpu-1                        # default sim-node-<n>
            cpu: "16"                          # optional, quantities as in Kubernetes
            memory: 64Gi
            pods: 110
            labels: {zone: a}
            gpus:
              - model: A100-80GB               # or memoryGB for an unknown model
                count: 2                       # default 1
                profiles: [1g.10gb, 3g.40gb]   # default: every profile of the model
    """
    if path is None:
        return default_config()
    data = yaml.safe_load(Path(path).read_text()) or {}
    return config_from_dict(data)


def config_from_dict(data: Mapping[str, Any]) -> SimConfig:
    """Build a SimConfig from the parsed YAML document (see load_config)."""
    nodes = []
    for index, raw in enumerate(data.get("nodes") or [], start=1):
        gpus: list[GpuSpec] = []
        for raw_gpu in raw.get("gpus") or []:
            model = str(raw_gpu.get("model", "A100-80GB"))
            memory = int(raw_gpu.get("memoryGB") or GPU_MODELS.get(model) or 0)
            if not memory:
                raise ValueError(f"unknown GPU model {model!r}: give memoryGB")
            base = default_gpu(model) if model in GPU_MODELS else None
            profiles = tuple(raw_gpu.get("profiles") or (base.profiles if base else ()))
            for name in profiles:
                parse_profile(name, memory)
            gpus.extend(
                GpuSpec(model, memory, profiles) for _ in range(int(raw_gpu.get("count", 1)))
            )
        nodes.append(
            NodeSpec(
                name=str(raw.get("name") or f"sim-node-{index}"),
                cpu=str(raw.get("cpu", "16")),
                memory=str(raw.get("memory", "64Gi")),
                pods=int(raw.get("pods", 110)),
                gpus=tuple(gpus),
                labels=dict(raw.get("labels") or {}),
            )
        )
    if not nodes:
        raise ValueError("a simulated cluster needs at least one node")
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate node names in {names}")
    return SimConfig(
        nodes=tuple(nodes),
        mig_resource_prefix=str(data.get("migResourcePrefix", DEFAULT_MIG_PREFIX)),
        image_entrypoints={
            str(image): tuple(str(part) for part in argv)
            for image, argv in (data.get("imageEntrypoints") or {}).items()
        },
        time_factor=float(data.get("timeFactor", 1.0)),
    )


# --- quantities -------------------------------------------------------------------------------

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$")


def parse_quantity(value: str | int | float) -> Decimal:
    """A Kubernetes resource quantity ("500m", "2Gi", "1e3") as a Decimal."""
    match = _QUANTITY_RE.match(str(value).strip())
    if not match or match.group(2) not in _SUFFIXES:
        raise ValueError(f"invalid quantity {value!r}")
    return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]


# --- MIG placement ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MigDevice:
    """A MIG instance carved for a pod: GPU index on the node, profile, first memory slice."""

    gpu: int
    profile: str
    start: int

    def encode(self) -> str:
        """``<gpu>:<profile>@<start>``, the form kept in a pod annotation."""
        return f"{self.gpu}:{self.profile}@{self.start}"

    @classmethod
    def decode(cls, text: str) -> MigDevice:
        """Inverse of encode."""
        gpu, rest = text.split(":", 1)
        profile, start = rest.rsplit("@", 1)
        return cls(int(gpu), profile, int(start))


def _free_start(gpu: GpuSpec, used: Iterable[MigDevice], profile: MigProfile) -> int | None:
    busy = [False] * MEMORY_SLICES
    compute = 0
    for device in used:
        held = parse_profile(device.profile)
        compute += held.compute
        for slot in range(device.start, device.start + held.memory_slices):
            busy[slot] = True
    if compute + profile.compute > COMPUTE_SLICES:
        return None
    for start in profile.starts:
        if not any(busy[start : start + profile.memory_slices]):
            return start
    return None


def allocate(
    node: NodeSpec, used: Sequence[MigDevice], request: Mapping[str, int]
) -> list[MigDevice] | None:
    """Carve MIG instances for ``request`` (profile -> count) next to ``used``, or None.

    Larger profiles are placed first, each on the first GPU (and lowest valid start) where it
    fits — the packing nos's planner converges to for the requests we simulate.
    """
    taken = list(used)
    new: list[MigDevice] = []
    wanted = sorted(
        ((name, count) for name, count in request.items() if count > 0),
        key=lambda item: -parse_profile(item[0]).compute,
    )
    for name, count in wanted:
        for _ in range(count):
            placed = None
            for index, gpu in enumerate(node.gpus):
                profile = gpu.profile(name)
                if profile is None:
                    continue
                start = _free_start(gpu, (d for d in taken if d.gpu == index), profile)
                if start is not None:
                    placed = MigDevice(index, name, start)
                    break
            if placed is None:
                return None
            taken.append(placed)
            new.append(placed)
    return new


def mig_capacity(node: NodeSpec) -> dict[str, int]:
    """Profile -> instances the node could hold if every GPU were cut to that profile alone."""
    counts: dict[str, int] = {}
    for gpu in node.gpus:
        for name in gpu.profiles:
            profile = parse_profile(name, gpu.memory_gb)
            per_gpu = min(len(profile.starts), COMPUTE_SLICES // profile.compute)
            counts[name] = counts.get(name, 0) + per_gpu
    return counts


def node_object(node: NodeSpec, config: SimConfig, now: str) -> dict[str, Any]:
    """The core/v1 Node the simulation registers for ``node`` (Ready, with MIG capacity)."""
    capacity: dict[str, str] = {
        "cpu": node.cpu,
        "memory": node.memory,
        "pods": str(node.pods),
        "ephemeral-storage": "100Gi",
    }
    for profile, count in sorted(mig_capacity(node).items()):
        capacity[config.mig_resource(profile)] = str(count)
    models = sorted({gpu.model for gpu in node.gpus})
    labels = {
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "sim",
        **({"nvidia.com/gpu.product": "NVIDIA-" + models[0]} if models else {}),
        **({"nvidia.com/gpu.count": str(len(node.gpus))} if node.gpus else {}),
        **({"nos.nebuly.com/gpu-partitioning": "mig"} if node.gpus else {}),
        **node.labels,
    }
    condition_times = {"lastHeartbeatTime": now, "lastTransitionTime": now}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node.name, "labels": labels},
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    **condition_times,
                },
                *(
                    {
                        "type": kind,
                        "status": "False",
                        "reason": f"KubeletHasSufficient{word}",
                        "message": f"kubelet has sufficient {word.lower()} available",
                        **condition_times,
                    }
                    for kind, word in (("MemoryPressure", "Memory"), ("DiskPressure", "Disk"))
                ),
            ],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": node.name},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.30.0-sim",
                "containerRuntimeVersion": "sim://1.0",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "walkai simulated node",
                "kernelVersion": "",
                "kubeProxyVersion": "",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        },
    }
