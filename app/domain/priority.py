"""Job priorities and the Kubernetes PriorityClasses that carry them to the scheduler."""

from __future__ import annotations

import enum


class Priority(enum.Enum):
    """How urgently a run should get a GPU slice; higher ones may preempt lower ones."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    EXTRA_HIGH = "EXTRA_HIGH"


# Values stay far below system classes (2e9) and leave room for classes in between.
PRIORITY_VALUES: dict[Priority, int] = {
    Priority.LOW: 1000,
    Priority.MEDIUM: 2000,
    Priority.HIGH: 3000,
    Priority.EXTRA_HIGH: 4000,
}


def priority_class_name(priority: Priority) -> str:
    """The PriorityClass a run's pods name; created by the platform on start."""
    return f"walkai-{priority.value.lower().replace('_', '-')}"


def priority_class_manifest(priority: Priority, *, preempt: bool = False) -> dict[str, object]:
    """The scheduling.k8s.io/v1 PriorityClass for a priority.

    kube-scheduler's preemption is off by default (`preempt`): it can only free the very MIG
    resource a pod asks for and knows nothing of fair share or quotas, so the platform's
    admission queue chooses victims instead."""
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {
            "name": priority_class_name(priority),
            "labels": {"app.kubernetes.io/managed-by": "walkai-jobs"},
        },
        "value": PRIORITY_VALUES[priority],
        "globalDefault": False,
        "preemptionPolicy": "PreemptLowerPriority" if preempt else "Never",
        "description": f"walk:ai runs of priority {priority.value}",
    }
