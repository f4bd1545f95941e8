"""A small OpenAPI v3 description of the kinds we serve.

kubectl reads it to decide that the server validates fields itself (`fieldValidation` on the
PATCH operation of each kind), so `create -f`/`apply -f` validate server-side as with a real
cluster. Schemas are left open: we do not claim more than we check.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.sim.resources import GROUPS, RESOURCES, Resource


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _operation(res: Resource, action: str) -> dict[str, Any]:
    params = [
        {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        for name in ("dryRun", "fieldManager", "fieldValidation")
    ]
    ref = {"$ref": f"#/components/schemas/{_schema_name(res)}"}
    return {
        "operationId": f"{action}{res.kind}",
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": ref}}}
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": res.group,
            "version": res.version,
            "kind": res.kind,
        },
    }


def _schema_name(res: Resource) -> str:
    group = ".".join(reversed(res.group.split("."))) if res.group else "core"
    return f"io.k8s.api.{group}.{res.version}.{res.kind}"


def document(gv_path: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group version (`api/v1`, `apis/batch/v1`), or None."""
    served = [r for r in RESOURCES.values() if _gv_path(r.group, r.version) == gv_path]
    if not served:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for res in served:
        base = (
            f"/{gv_path}/namespaces/{{namespace}}/{res.plural}"
            if res.namespaced
            else (f"/{gv_path}/{res.plural}")
        )
        paths[base] = {"post": _operation(res, "post")}
        paths[f"{base}/{{name}}"] = {
            "put": _operation(res, "put"),
            "patch": _operation(res, "patch"),
        }
        schemas[_schema_name(res)] = {
            "type": "object",
            "x-kubernetes-group-version-kind": [
                {"group": res.group, "version": res.version, "kind": res.kind}
            ],
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.31.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def index() -> dict[str, Any]:
    """`/openapi/v3`: where each group version's document lives (with a content hash)."""
    gvs = ["api/v1", *(_gv_path(g, v) for g, v in GROUPS.items())]
    paths = {}
    for gv in gvs:
        digest = hashlib.sha512(json.dumps(document(gv), sort_keys=True).encode()).hexdigest()
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest.upper()}"}
    return {"paths": paths}
