"""The kinds the simulated API server serves, and what discovery says about them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_RW = ["create", "delete", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    """One REST resource (`pods`, `jobs.batch`, …) as APIResource describes it."""

    plural: str
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # Strategy flags of the real registry (pkg/registry/...).
    create_on_update: bool = False
    return_deleted_object: bool = False
    orphan_by_default: bool = False
    has_generation: bool = False
    verbs: list[str] = field(default_factory=lambda: list(_RW))

    @property
    def api_version(self) -> str:
        """`v1` for the core group, `group/version` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        """Same as `api_version`; the name discovery documents use."""
        return self.api_version


RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        Resource("namespaces", "namespace", "Namespace", "", "v1", False, ("ns",),
                 subresources=("status",)),
        Resource("nodes", "node", "Node", "", "v1", False, ("no",), subresources=("status",)),
        Resource("pods", "pod", "Pod", "", "v1", True, ("po",), ("all",),
                 subresources=("status", "log"), return_deleted_object=True,
                 has_generation=True),
        Resource("secrets", "secret", "Secret", "", "v1", True),
        Resource("configmaps", "configmap", "ConfigMap", "", "v1", True, ("cm",)),
        Resource("persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim",
                 "", "v1", True, ("pvc",), subresources=("status",)),
        Resource("events", "event", "Event", "", "v1", True, ("ev",), create_on_update=True),
        Resource("jobs", "job", "Job", "batch", "v1", True, (), ("all",),
                 subresources=("status",), orphan_by_default=True, has_generation=True),
        Resource("priorityclasses", "priorityclass", "PriorityClass", "scheduling.k8s.io",
                 "v1", False, ("pc",)),
        Resource("leases", "lease", "Lease", "coordination.k8s.io", "v1", True,
                 create_on_update=True),
        # Stored and served (so deploy/ applies), but no controller acts on them.
        Resource("serviceaccounts", "serviceaccount", "ServiceAccount", "", "v1", True, ("sa",)),
        Resource("services", "service", "Service", "", "v1", True, ("svc",), ("all",),
                 subresources=("status",), return_deleted_object=True),
        Resource("deployments", "deployment", "Deployment", "apps", "v1", True, ("deploy",),
                 ("all",), subresources=("status", "scale"), has_generation=True),
        Resource("roles", "role", "Role", "rbac.authorization.k8s.io", "v1", True),
        Resource("rolebindings", "rolebinding", "RoleBinding", "rbac.authorization.k8s.io",
                 "v1", True),
        Resource("clusterroles", "clusterrole", "ClusterRole", "rbac.authorization.k8s.io",
                 "v1", False),
        Resource("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding",
                 "rbac.authorization.k8s.io", "v1", False),
        Resource("networkpolicies", "networkpolicy", "NetworkPolicy", "networking.k8s.io",
                 "v1", True, ("netpol",), has_generation=True),
    )
}  # fmt: skip

GROUPS: dict[str, str] = {
    "apps": "v1",
    "batch": "v1",
    "scheduling.k8s.io": "v1",
    "coordination.k8s.io": "v1",
    "rbac.authorization.k8s.io": "v1",
    "networking.k8s.io": "v1",
}


def lookup(group: str, version: str, plural: str) -> Resource | None:
    """The resource served at `/api[s]/<group>/<version>/<plural>`, if any."""
    res = RESOURCES.get(plural)
    if res is None or res.group != group or res.version != version:
        return None
    return res


def api_resource_list(group: str, version: str) -> dict[str, Any]:
    """The `APIResourceList` of one group version (legacy discovery)."""
    resources: list[dict[str, Any]] = []
    for res in RESOURCES.values():
        if res.group != group or res.version != version:
            continue
        entry: dict[str, Any] = {
            "name": res.plural,
            "singularName": res.singular,
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": res.verbs,
        }
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        resources.append(entry)
        for sub in res.subresources:
            verbs = ["get"] if sub == "log" else ["get", "patch", "update"]
            resources.append(
                {
                    "name": f"{res.plural}/{sub}",
                    "singularName": "",
                    "namespaced": res.namespaced,
                    "kind": res.kind,
                    "verbs": verbs,
                }
            )
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


def api_group_list() -> dict[str, Any]:
    """`/apis`: the named groups, one version each."""
    groups = []
    for group, version in GROUPS.items():
        gv = {"groupVersion": f"{group}/{version}", "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict[str, Any] | None:
    """`/apis/<group>`."""
    version = GROUPS.get(group)
    if version is None:
        return None
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": [gv],
        "preferredVersion": gv,
    }
