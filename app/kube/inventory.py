"""The cluster's GPUs as the admission queue sees them, read from Node objects.

A node with MIG GPUs (walk:ai nos's `nos.nebuly.com/gpu-partitioning: mig`) says how many GPUs
it has and of which model (NVIDIA's GPU feature discovery labels `nvidia.com/gpu.count` and
`nvidia.com/gpu.product`), and which profiles it can be cut into: the MIG resources
(`<prefix><profile>`) in its allocatable. Which instance sits on which GPU of a node is the
platform's own bookkeeping (a run's GPU slot); the cluster does not report it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.domain.admission import Gpu

GPU_COUNT = "nvidia.com/gpu.count"
GPU_PRODUCT = "nvidia.com/gpu.product"
HOSTNAME = "kubernetes.io/hostname"


def gpus_of(node: Mapping[str, Any], prefix: str) -> list[Gpu]:
    """The GPUs of one Node object (none when it is unschedulable or has no MIG resources)."""
    meta, spec = node.get("metadata") or {}, node.get("spec") or {}
    labels: Mapping[str, str] = meta.get("labels") or {}
    allocatable: Mapping[str, str] = (node.get("status") or {}).get("allocatable") or {}
    profiles = frozenset(
        name[len(prefix) :]
        for name, value in allocatable.items()
        if name.startswith(prefix) and str(value) not in ("0", "")
    )
    if spec.get("unschedulable") or not profiles:
        return []
    try:
        count = int(labels.get(GPU_COUNT, "1"))
    except ValueError:
        count = 1
    model = labels.get(GPU_PRODUCT, "").removeprefix("NVIDIA-")
    name = str(meta.get("name", ""))
    return [Gpu(node=name, index=i, model=model, profiles=profiles) for i in range(count)]


def inventory(nodes: Iterable[Mapping[str, Any]], prefix: str) -> list[Gpu]:
    """Every GPU of the cluster, nodes in name order (the order placement fills them)."""
    ordered = sorted(nodes, key=lambda n: str((n.get("metadata") or {}).get("name", "")))
    return [gpu for node in ordered for gpu in gpus_of(node, prefix)]


def slot(node: str, index: int) -> str:
    """A run's GPU slot as stored: `<node>/<index>`."""
    return f"{node}/{index}"


def parse_slot(text: str | None) -> tuple[str, int] | None:
    """The (node, index) of a stored slot."""
    if not text or "/" not in text:
        return None
    node, _, index = text.rpartition("/")
    return (node, int(index)) if index.isdigit() else None
