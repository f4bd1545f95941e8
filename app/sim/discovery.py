"""Legacy discovery documents (`/api`, `/apis`, one per group and group version).

kubectl asks for aggregated discovery first and falls back to these when the answer is a plain
APIGroupList. The stored kinds come from app.sim.resources, the review kinds from app.sim.access.
"""

from __future__ import annotations

from typing import Any

from app.sim import access, resources
from app.sim.params import path_not_found


def document(parts: list[str], netloc: str) -> dict[str, Any] | None:
    """The discovery document at the path `parts` (`["apis", "batch", "v1"]`), or None when the
    path goes deeper (a resource); 404 for an unknown group or version."""
    if parts == ["api"]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": netloc}],
        }
    if parts == ["apis"]:
        groups = resources.api_group_list()
        groups["groups"] = [*groups["groups"], *access.api_groups()]
        return groups
    if parts[0] == "apis" and len(parts) == 2:
        doc = resources.api_group(parts[1]) or access.api_group(parts[1])
        if doc is None:
            raise path_not_found()
        return doc
    group, version, rest = split(parts)
    if rest:
        return None
    if group in access.REVIEWS:
        return access.api_resource_list(group)
    return resources.api_resource_list(group, version)


def split(parts: list[str]) -> tuple[str, str, list[str]]:
    """(group, version, the rest) of a path under a served group version; 404 otherwise."""
    if parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    else:
        group, version, rest = parts[1], parts[2], parts[3:]
    served = (
        "v1"
        if group in access.REVIEWS
        else resources.GROUPS.get(group, "v1" if not group else None)
    )
    if version != served:
        raise path_not_found()
    return group, version, rest
