"""What the API server does to an object before storing it: defaulting, validation, admission.

Pure functions over plain dicts; the store calls them and keeps the I/O (ids, versions, events).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any

from app.sim import validation
from app.sim.errors import field_cause, forbidden, invalid
from app.sim.resources import Resource

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    r"for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)

JOB_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")

PriorityClasses = Callable[[], Iterable[dict[str, Any]]]


_COMMON_FIELDS = {"apiVersion", "kind", "metadata"}
_TOP_FIELDS: dict[str, set[str]] = {
    "secrets": {"data", "stringData", "type", "immutable"},
    "configmaps": {"data", "binaryData", "immutable"},
    "events": {"involvedObject", "reason", "message", "source", "firstTimestamp",
               "lastTimestamp", "count", "type", "eventTime", "series", "action", "related",
               "reportingComponent", "reportingInstance"},
    "priorityclasses": {"value", "globalDefault", "description", "preemptionPolicy"},
    "leases": {"spec"},
    "serviceaccounts": {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    "roles": {"rules"},
    "clusterroles": {"rules", "aggregationRule"},
    "rolebindings": {"subjects", "roleRef"},
    "clusterrolebindings": {"subjects", "roleRef"},
    "networkpolicies": {"spec"},
}  # fmt: skip
_META_FIELDS = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields",
}  # fmt: skip


def unknown_fields(res: Resource, obj: dict[str, Any]) -> list[str]:
    """Top-level and metadata fields the kind does not have (fieldValidation=Strict)."""
    allowed = _COMMON_FIELDS | _TOP_FIELDS.get(res.plural, {"spec", "status"})
    unknown = [key for key in obj if key not in allowed]
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        unknown += [f"metadata.{key}" for key in meta if key not in _META_FIELDS]
    return unknown


def validate_name(res: Resource, obj: dict[str, Any]) -> None:
    """422 unless metadata.name is a valid DNS name (a label for namespaces)."""
    name = obj["metadata"].get("name") or ""
    if not name:
        raise invalid(
            res.kind,
            "",
            [
                field_cause(
                    "metadata.name", "FieldValueRequired", "name or generateName is required"
                )
            ],
            res.group,
        )
    pattern, msg = (
        (_LABEL, _LABEL_MSG) if res.plural == "namespaces" else (_SUBDOMAIN, _SUBDOMAIN_MSG)
    )
    limit = 63 if res.plural == "namespaces" else 253
    if not pattern.match(name) or len(name) > limit:
        cause = field_cause("metadata.name", "FieldValueInvalid", msg, name)
        raise invalid(res.kind, name, [cause], res.group)


def admit_create(res: Resource, obj: dict[str, Any], priority_classes: PriorityClasses) -> None:
    """Validate, default and admit a new object in place (uid and name are already set)."""
    _raise_invalid(res, obj, validation.validate(res.plural, res.kind, obj))
    handler = _CREATE.get(res.plural)
    if handler is not None:
        handler(obj, priority_classes)


def admit_update(res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Validate and default a replacement in place with the rules of create, then refuse changes
    to fields that are immutable (422 Invalid with one cause per field)."""
    _raise_invalid(res, new, validation.validate(res.plural, res.kind, new))
    default = _UPDATE_DEFAULTS.get(res.plural)
    if default is not None:
        default(new)
    keep = _KEEP_ON_UPDATE.get(res.plural)
    if keep is not None:
        keep(old, new)
    _raise_invalid(res, new, validation.validate_update(res.plural, old, new))


def admit_status(res: Resource, new: dict[str, Any]) -> None:
    """A status update: the object's field types still hold (the rest is unchanged)."""
    _raise_invalid(res, new, validation.check_types(res.kind, new))


def _raise_invalid(res: Resource, obj: dict[str, Any], causes: list[dict[str, str]]) -> None:
    if causes:
        raise invalid(res.kind, obj["metadata"].get("name", ""), causes, res.group)


def _image_pull_policy(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _default_containers(containers: list[dict[str, Any]]) -> None:
    for c in containers:
        c.setdefault("resources", {})
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        if c.get("image"):
            c.setdefault("imagePullPolicy", _image_pull_policy(c["image"]))


def _default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    _default_containers(spec.get("containers") or [])
    _default_containers(spec.get("initContainers") or [])


def _admit_priority(name: str, spec: dict[str, Any], priority_classes: PriorityClasses) -> None:
    """The Priority admission plugin: resolve priorityClassName into priority/preemptionPolicy."""
    wanted = spec.get("priorityClassName")
    classes = list(priority_classes())
    if wanted:
        found = next((pc for pc in classes if pc["metadata"]["name"] == wanted), None)
        if found is None:
            raise forbidden(
                f'pods "{name}" is forbidden: no PriorityClass with name {wanted} was found',
                "pods",
                name,
            )
    else:
        found = next((pc for pc in classes if pc.get("globalDefault")), None)
        if found is not None:
            spec["priorityClassName"] = found["metadata"]["name"]
    spec["priority"] = found["value"] if found else 0
    spec["preemptionPolicy"] = (found or {}).get("preemptionPolicy", "PreemptLowerPriority")


def _qos_class(spec: dict[str, Any]) -> str:
    containers = spec.get("containers") or []
    limited = [c.get("resources", {}) for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in limited):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).keys() >= {"cpu", "memory"}
        and all(
            (r.get("requests") or {}).get(k, v) == v for k, v in (r.get("limits") or {}).items()
        )
        for r in limited
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _create_pod(obj: dict[str, Any], priority_classes: PriorityClasses) -> None:
    name = obj["metadata"]["name"]
    spec = obj.setdefault("spec", {})
    _default_pod_spec(spec)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    _admit_priority(name, spec, priority_classes)
    obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}


def _default_job(obj: dict[str, Any], _: PriorityClasses) -> None:
    meta, spec = obj["metadata"], obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    template = spec.setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    uid = meta.get("uid", "")
    if not spec.get("manualSelector"):
        spec.setdefault("selector", {"matchLabels": {JOB_UID_LABELS[0]: uid}})
        for key in JOB_UID_LABELS:
            labels.setdefault(key, uid)
        for key in JOB_NAME_LABELS:
            labels.setdefault(key, meta["name"])
    _default_pod_spec(template.setdefault("spec", {}))


def _create_job(obj: dict[str, Any], priority_classes: PriorityClasses) -> None:
    _default_job(obj, priority_classes)
    obj.setdefault("status", {})


def _fold_string_data(obj: dict[str, Any]) -> None:
    """`stringData` is write-only: folded into `data` (winning over it) on every write."""
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.get("data") or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def _create_secret(obj: dict[str, Any], _: PriorityClasses) -> None:
    _fold_string_data(obj)


def _create_namespace(obj: dict[str, Any], _: PriorityClasses) -> None:
    name = obj["metadata"]["name"]
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj["status"] = {"phase": "Active"}


def _create_pvc(obj: dict[str, Any], _: PriorityClasses) -> None:
    obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    obj["status"] = {"phase": "Pending"}


def _create_priority_class(obj: dict[str, Any], _: PriorityClasses) -> None:
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")
    obj.setdefault("globalDefault", False)


_SERVICE_RANGE = ipaddress.IPv4Network("10.96.0.0/12")
_NODE_PORTS = range(30000, 32768)


def _allocate(uid: str, salt: str, size: int) -> int:
    """A stable pick in ``range(size)`` for one object: the uid decides, as a random allocator
    would, without shared state."""
    return int(hashlib.sha256(f"{uid}/{salt}".encode()).hexdigest(), 16) % size


def _default_service(obj: dict[str, Any]) -> None:
    """kube-apiserver's Service defaults (type, affinity, IP families, port protocol and target)."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] == "ExternalName":
        return
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))


def _create_service(obj: dict[str, Any], _: PriorityClasses) -> None:
    """Defaults, then the allocations the registry makes: a cluster IP (none for headless or
    ExternalName services), node ports for NodePort/LoadBalancer; the status starts empty."""
    _default_service(obj)
    spec, uid = obj["spec"], obj["metadata"].get("uid", "")
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP"):
            # Skip the network address and .1 (the `kubernetes` Service's).
            offset = 2 + _allocate(uid, "ip", _SERVICE_RANGE.num_addresses - 3)
            spec["clusterIP"] = str(_SERVICE_RANGE[offset])
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
    if spec["type"] in ("NodePort", "LoadBalancer"):
        for i, port in enumerate(spec.get("ports") or []):
            port.setdefault("nodePort", _NODE_PORTS[_allocate(uid, f"port{i}", len(_NODE_PORTS))])
    obj["status"] = {"loadBalancer": {}}


def _keep_service_allocations(old: dict[str, Any], new: dict[str, Any]) -> None:
    """A replacement that leaves out what the server allocated keeps it (patchAllocatedValues)."""
    old_spec, spec = old.get("spec") or {}, new.setdefault("spec", {})
    for key in ("clusterIP", "clusterIPs"):
        if key in old_spec and not spec.get(key):
            spec[key] = old_spec[key]
    old_ports = {p.get("port"): p for p in old_spec.get("ports") or []}
    for port in spec.get("ports") or []:
        previous = old_ports.get(port.get("port")) or {}
        if "nodePort" in previous and not port.get("nodePort"):
            port["nodePort"] = previous["nodePort"]


def _create_node(obj: dict[str, Any], _: PriorityClasses) -> None:
    obj.setdefault("spec", {})
    obj.setdefault("status", {})


_UPDATE_DEFAULTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "pods": lambda obj: _default_pod_spec(obj.setdefault("spec", {})),
    "jobs": lambda obj: _default_job(obj, lambda: ()),
    "secrets": _fold_string_data,
    "services": _default_service,
}
_KEEP_ON_UPDATE: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "services": _keep_service_allocations,
}

_CREATE: dict[str, Callable[[dict[str, Any], PriorityClasses], None]] = {
    "pods": _create_pod,
    "jobs": _create_job,
    "secrets": _create_secret,
    "namespaces": _create_namespace,
    "persistentvolumeclaims": _create_pvc,
    "priorityclasses": _create_priority_class,
    "nodes": _create_node,
    "services": _create_service,
}
