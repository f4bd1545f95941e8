"""Server-side printing: `meta.k8s.io/v1 Table` rows for `kubectl get` (as=Table)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

Row = list[Any]
Column = tuple[str, str, int]  # (name, type, priority: 1 = only with -o wide)


def human_age(stamp: str | None, now: datetime | None = None) -> str:
    """Go's duration.HumanDuration of the time since `stamp` ("<unknown>" if absent)."""
    if not stamp:
        return "<unknown>"
    then = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return human_duration(((now or datetime.now(UTC)) - then).total_seconds())


def human_duration(seconds: float) -> str:
    """`5s`, `3m20s`, `12m`, `5h3m`, `30h`, `3d4h`, `90d`, `2y10d` as kubectl prints them."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"


def _age(obj: dict[str, Any]) -> str:
    return human_age(obj["metadata"].get("creationTimestamp"))


def _pod_status(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("initContainerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated")
        waiting = (cs.get("state") or {}).get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = f"Init:{term.get('reason') or 'Error'}"
        elif waiting and waiting.get("reason") not in (None, "PodInitializing"):
            reason = f"Init:{waiting['reason']}"
        else:
            reason = "PodInitializing" if waiting else "Init:0/1"
        break
    else:
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif (state.get("terminated") or {}).get("reason"):
                reason = state["terminated"]["reason"]
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_row(pod: dict[str, Any]) -> Row:
    status, spec = pod.get("status") or {}, pod.get("spec") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(cs.get("restartCount", 0) for cs in statuses)
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        _pod_status(pod),
        restarts,
        _age(pod),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _job_status(job: dict[str, Any]) -> str:
    conditions = {
        c["type"]: c
        for c in (job.get("status") or {}).get("conditions") or []
        if c.get("status") == "True"
    }
    for kind in ("Failed", "Complete", "SuccessCriteriaMet", "FailureTarget", "Suspended"):
        if kind in conditions:
            return kind
    return "Running"


def _job_row(job: dict[str, Any]) -> Row:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    completions = spec.get("completions")
    succeeded = status.get("succeeded", 0)
    shown = (
        f"{succeeded}/{completions}"
        if completions is not None
        else f"{succeeded}/1 of {spec.get('parallelism', 1)}"
    )
    start, end = status.get("startTime"), status.get("completionTime")
    duration = ""
    if start:
        began = datetime.strptime(start[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        finished = (
            datetime.strptime(end[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
            if end
            else datetime.now(UTC)
        )
        duration = human_duration((finished - began).total_seconds())
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    selector = ",".join(
        f"{k}={v}" for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items()
    )
    return [
        job["metadata"]["name"],
        _job_status(job),
        shown,
        duration,
        _age(job),
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
        selector,
    ]


def _node_row(node: dict[str, Any]) -> Row:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    state = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    if (node.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = node["metadata"].get("labels") or {}
    roles = ",".join(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return [node["metadata"]["name"], state, roles or "<none>", _age(node),
            info.get("kubeletVersion", "")]  # fmt: skip


def _event_row(event: dict[str, Any]) -> Row:
    involved = event.get("involvedObject") or {}
    last = (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event["metadata"].get("creationTimestamp")
    )
    return [
        human_age(last),
        event.get("type", ""),
        event.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        event.get("message", ""),
    ]


def _service_row(service: dict[str, Any]) -> Row:
    spec = service.get("spec") or {}
    ports = ",".join(
        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}"
        f"/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    pending = "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
    external = ",".join(spec.get("externalIPs") or []) or spec.get("externalName") or pending
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [service["metadata"]["name"], spec.get("type", ""), spec.get("clusterIP") or "<none>",
            external, ports or "<none>", _age(service), selector or "<none>"]  # fmt: skip


_Spec = tuple[list[Column], Callable[[dict[str, Any]], Row]]

_TABLES: dict[str, _Spec] = {
    "pods": (
        [("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0),
         ("Restarts", "string", 0), ("Age", "string", 0), ("IP", "string", 1),
         ("Node", "string", 1), ("Nominated Node", "string", 1), ("Readiness Gates", "string", 1)],
        _pod_row,
    ),
    "jobs": (
        [("Name", "string", 0), ("Status", "string", 0), ("Completions", "string", 0),
         ("Duration", "string", 0), ("Age", "string", 0), ("Containers", "string", 1),
         ("Images", "string", 1), ("Selector", "string", 1)],
        _job_row,
    ),
    "namespaces": (
        [("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
        lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", ""), _age(o)],
    ),
    "nodes": (
        [("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0),
         ("Age", "string", 0), ("Version", "string", 0)],
        _node_row,
    ),
    "secrets": (
        [("Name", "string", 0), ("Type", "string", 0), ("Data", "string", 0), ("Age", "string", 0)],
        lambda o: [o["metadata"]["name"], o.get("type", ""), len(o.get("data") or {}), _age(o)],
    ),
    "configmaps": (
        [("Name", "string", 0), ("Data", "string", 0), ("Age", "string", 0)],
        lambda o: [o["metadata"]["name"],
                   len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o)],
    ),
    "services": (
        [("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0),
         ("External-IP", "string", 0), ("Port(s)", "string", 0), ("Age", "string", 0),
         ("Selector", "string", 1)],
        _service_row,
    ),
    "serviceaccounts": (
        [("Name", "string", 0), ("Secrets", "string", 0), ("Age", "string", 0)],
        lambda o: [o["metadata"]["name"], len(o.get("secrets") or []), _age(o)],
    ),
    "events": (
        [("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
         ("Object", "string", 0), ("Message", "string", 0)],
        _event_row,
    ),
    "priorityclasses": (
        [("Name", "string", 0), ("Value", "integer", 0), ("Global-Default", "boolean", 0),
         ("Age", "string", 0), ("PreemptionPolicy", "string", 0)],
        lambda o: [o["metadata"]["name"], o.get("value"), bool(o.get("globalDefault")), _age(o),
                   o.get("preemptionPolicy", "")],
    ),
    "leases": (
        [("Name", "string", 0), ("Holder", "string", 0), ("Age", "string", 0)],
        lambda o: [o["metadata"]["name"], (o.get("spec") or {}).get("holderIdentity", ""),
                   _age(o)],
    ),
    "persistentvolumeclaims": (
        [("Name", "string", 0), ("Status", "string", 0), ("Volume", "string", 0),
         ("Capacity", "string", 0), ("Access Modes", "string", 0), ("StorageClass", "string", 0),
         ("Age", "string", 0)],
        lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", ""),
                   (o.get("spec") or {}).get("volumeName", ""),
                   ((o.get("status") or {}).get("capacity") or {}).get("storage", ""),
                   ",".join((o.get("status") or {}).get("accessModes") or []),
                   (o.get("spec") or {}).get("storageClassName") or "<unset>", _age(o)],
    ),
}  # fmt: skip


def table(
    resource: str,
    objects: Iterable[dict[str, Any]],
    *,
    resource_version: str,
    include_object: str = "Metadata",
    continue_token: str = "",
    with_columns: bool = True,
) -> dict[str, Any]:
    """A `Table` for `objects`; `include_object` is None, Metadata or Object (as the query asks)."""
    columns, row_of = _TABLES.get(
        resource,
        ([("Name", "string", 0), ("Age", "string", 0)], lambda o: [o["metadata"]["name"], _age(o)]),
    )
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": row_of(obj)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    result: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    if with_columns:
        result["columnDefinitions"] = [
            {
                "name": name,
                "type": type_,
                "format": "name" if name == "Name" else "",
                "description": f"{name} of the object",
                "priority": priority,
            }
            for name, type_, priority in columns
        ]
    else:
        result["columnDefinitions"] = None
    result["rows"] = rows
    return result
