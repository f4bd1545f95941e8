"""The OpenAPI v3 documents of the kinds we serve, built from the schema table.

Each group version gets a document as kube-apiserver shapes it: paths with operations carrying
`x-kubernetes-group-version-kind` (`kubectl explain` finds a kind's schema through them, and
kubectl sees server-side field validation in the PATCH parameters), and component schemas for
every type the kinds reach, named after their Go packages (`io.k8s.api.batch.v1.JobSpec`),
with types, descriptions (app.sim.openapi_docs), required fields and the patch merge keys and
strategies of `app.sim.schema`.

Types the table leaves open (`obj`) stay open objects. For that reason the PATCH request body
does not offer strategic merge patch, which the server accepts: kubectl would compute apply
patches from these schemas and stop at an open object, so it keeps using its built-in types.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from app.sim import schema
from app.sim.openapi_docs import DOCS, ENUMS, KIND_FIELDS, REQUIRED
from app.sim.patch import JSON_PATCH, MERGE
from app.sim.resources import GROUPS, RESOURCES, Resource

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_META_TYPES = {"ObjectMeta", "OwnerReference"}
_KIND_GROUPS = {r.kind: r.group for r in RESOURCES.values()}
_SCALARS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "bool": {"type": "boolean"},
    "map": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
    "obj": {"type": "object"},
    "any": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
}
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_LIST_PARAMS = (
    "labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch",
    "timeoutSeconds", "allowWatchBookmarks", "sendInitialEvents",
)  # fmt: skip


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _package(group: str, version: str = "v1") -> str:
    return f"io.k8s.api.{group.split('.')[0] if group else 'core'}.{version}"


def component_name(type_name: str, owner: str) -> str:
    """The schema name of a table type: `JobSpec` → `io.k8s.api.batch.v1.JobSpec`.

    A type belongs to the group of the kind its name starts with (the longest such kind),
    else the core group; the shared `ConditionedStatus` is named after its owner
    (`DeploymentStatus`), as each kind has its own status type in the real API.
    """
    if type_name in _META_TYPES:
        return f"{META}.{type_name}"
    if type_name == "ConditionedStatus":
        type_name = f"{owner}Status"
    kinds = [k for k in _KIND_GROUPS if type_name.startswith(k)]
    group = _KIND_GROUPS[max(kinds, key=len)] if kinds else ""
    return f"{_package(group)}.{type_name}"


def _ref(name: str) -> dict[str, Any]:
    return {"allOf": [{"$ref": f"#/components/schemas/{name}"}], "default": {}}


def _element(type_name: str, owner: str, found: dict[str, str]) -> dict[str, Any]:
    """The schema of one value of `type_name`; table types are recorded in `found`."""
    if type_name == "intstr":
        found[INT_OR_STRING] = ""
        return {"allOf": [{"$ref": f"#/components/schemas/{INT_OR_STRING}"}]}
    if type_name in _SCALARS:
        return dict(_SCALARS[type_name])
    name = component_name(type_name, owner)
    found[name] = type_name
    return _ref(name)


def _field(spec: str, owner: str, found: dict[str, str]) -> dict[str, Any]:
    field = schema.parse(spec)
    item = _element(field.type, owner, found)
    strategies = []
    if field.is_list:
        if item.get("type") == "string":
            item["default"] = ""
        out: dict[str, Any] = {"type": "array", "items": item}
        if field.merge_key:
            out["x-kubernetes-patch-merge-key"] = field.merge_key
        if field.merge_key or field.merge_scalars:
            strategies.append("merge")
    else:
        out = item
    if field.retain_keys:
        strategies.append("retainKeys")
    if strategies:
        out["x-kubernetes-patch-strategy"] = ",".join(strategies)
    return out


def _type_schema(type_name: str, found: dict[str, str]) -> dict[str, Any]:
    """The component schema of a table type (a kind gets apiVersion, kind and its GVK)."""
    docs = DOCS.get(type_name, {})
    res = next((r for r in RESOURCES.values() if r.kind == type_name), None)
    properties: dict[str, Any] = {}
    for name, spec in schema.TYPES[type_name].items():
        prop = _field(spec, type_name, found)
        text = docs.get(name) or (KIND_FIELDS.get(name) if res else None)
        if text:
            prop = {"description": text, **prop}
        if name in ENUMS.get(type_name, {}):
            prop["enum"] = ENUMS[type_name][name]
        properties[name] = prop
    out: dict[str, Any] = {"description": docs.get("", ""), "type": "object"}
    if res is not None:
        for name in ("apiVersion", "kind"):
            properties[name] = {"description": KIND_FIELDS[name], "type": "string"}
        out["x-kubernetes-group-version-kind"] = [
            {"group": res.group, "kind": res.kind, "version": res.version}
        ]
    out["properties"] = dict(sorted(properties.items()))
    if type_name in REQUIRED:
        out["required"] = REQUIRED[type_name]
    if not out["description"]:
        del out["description"]
    return out


def _components(kinds: list[str]) -> dict[str, Any]:
    """The schemas of `kinds` and of every type they reach."""
    schemas: dict[str, Any] = {}
    pending = {component_name(k, k): k for k in kinds}
    while pending:
        name, type_name = pending.popitem()
        if name in schemas:
            continue
        if name == INT_OR_STRING:
            schemas[name] = {
                "description": "A value that is an integer or a string (a port number or a "
                "named port, a count or a percentage).",
                "type": "string",
                "format": "int-or-string",
            }
            continue
        found: dict[str, str] = {}
        schemas[name] = _type_schema(type_name, found)
        pending.update({n: t for n, t in found.items() if n not in schemas})
    return dict(sorted(schemas.items()))


def _params(names: tuple[str, ...]) -> list[dict[str, Any]]:
    types = {"limit": "integer", "timeoutSeconds": "integer", "watch": "boolean",
             "allowWatchBookmarks": "boolean", "sendInitialEvents": "boolean"}  # fmt: skip
    return [
        {"name": n, "in": "query", "schema": {"type": types.get(n, "string"), "uniqueItems": True}}
        for n in names
    ]


def _operation(
    res: Resource, verb: str, action: str, params: tuple[str, ...], body: tuple[str, ...] = ()
) -> dict[str, Any]:
    gvk = {"group": res.group, "version": res.version, "kind": res.kind}
    kind_ref = {"$ref": f"#/components/schemas/{component_name(res.kind, res.kind)}"}
    result = {"application/json": {"schema": kind_ref}}
    op: dict[str, Any] = {
        "operationId": f"{verb}{res.kind}",
        "parameters": _params(params),
        "responses": {"200": {"description": "OK", "content": result}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }
    if body:
        schema_ref = {"$ref": f"#/components/schemas/{META}.Patch"} if action == "patch" \
            else kind_ref  # fmt: skip
        op["requestBody"] = {"content": {t: {"schema": schema_ref} for t in body}}
    if action == "post":
        op["responses"]["201"] = {"description": "Created", "content": result}
    return op


def _paths(gv_path: str, res: Resource) -> dict[str, Any]:
    base = f"/{gv_path}/namespaces/{{namespace}}/{res.plural}" if res.namespaced \
        else f"/{gv_path}/{res.plural}"  # fmt: skip
    objects = ("application/json", "application/yaml")
    return {
        base: {
            "get": _operation(res, "list", "list", _LIST_PARAMS),
            "post": _operation(res, "create", "post", _WRITE_PARAMS, objects),
            "delete": _operation(res, "deletecollection", "deletecollection", ("dryRun",)),
        },
        f"{base}/{{name}}": {
            "get": _operation(res, "read", "get", ()),
            "put": _operation(res, "replace", "put", _WRITE_PARAMS, objects),
            "patch": _operation(res, "patch", "patch", _WRITE_PARAMS, (JSON_PATCH, MERGE)),
            "delete": _operation(res, "delete", "delete", ("dryRun",)),
        },
    }


@cache
def document(gv_path: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group version (`api/v1`, `apis/batch/v1`), or None."""
    served = [r for r in RESOURCES.values() if _gv_path(r.group, r.version) == gv_path]
    if not served:
        return None
    paths: dict[str, Any] = {}
    for res in served:
        paths.update(_paths(gv_path, res))
    components = _components([r.kind for r in served if r.kind in schema.TYPES])
    components[f"{META}.Patch"] = {
        "description": "The body of a PATCH request: a JSON patch or a merge patch.",
        "type": "object",
    }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.31.0"},
        "paths": paths,
        "components": {"schemas": dict(sorted(components.items()))},
    }


@cache
def digest(gv_path: str) -> str:
    """The content hash of a group version's document (clients cache the document by it)."""
    return (
        hashlib.sha512(json.dumps(document(gv_path), sort_keys=True).encode()).hexdigest().upper()
    )


def url(gv_path: str) -> str:
    """Where the current document of a group version is served."""
    return f"/openapi/v3/{gv_path}?hash={digest(gv_path)}"


@cache
def index() -> dict[str, Any]:
    """`/openapi/v3`: where each group version's document lives (with a content hash)."""
    gvs = ["api/v1", *(_gv_path(g, v) for g, v in GROUPS.items())]
    return {"paths": {gv: {"serverRelativeURL": url(gv)} for gv in gvs}}
