"""Objects a fresh cluster has without anyone creating them.

- The PriorityClasses kube-apiserver creates on start (``system-cluster-critical``,
  ``system-node-critical``): pods may name them, ``kubectl get pc`` lists them.
- The ``default`` ServiceAccount of every namespace, which kube-controller-manager's
  serviceaccounts controller creates with the namespace and again whenever it is deleted while the
  namespace is active: pods default to ``serviceAccountName: default``.
"""

from __future__ import annotations

from typing import Any

DEFAULT_SERVICE_ACCOUNT = "default"

# pkg/apis/scheduling: SystemCriticalPriority = 2 * HighestUserDefinablePriority.
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000
PRIORITY_CLASSES: tuple[dict[str, Any], ...] = (
    {
        "metadata": {"name": "system-node-critical"},
        "value": SYSTEM_CRITICAL_PRIORITY + 1000,
        "description": "Used for system critical pods that must not be moved from their current "
        "node.",
    },
    {
        "metadata": {"name": "system-cluster-critical"},
        "value": SYSTEM_CRITICAL_PRIORITY,
        "description": "Used for system critical pods that must run in the cluster, but can be "
        "moved to another node if necessary.",
    },
)


def priority_classes() -> list[dict[str, Any]]:
    """Fresh copies of the built-in PriorityClasses, ready to create."""
    return [{**pc, "metadata": dict(pc["metadata"])} for pc in PRIORITY_CLASSES]


def service_account(namespace: str) -> dict[str, Any]:
    """The ``default`` ServiceAccount of ``namespace``, ready to create."""
    return {"metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": namespace}}
