"""Label and field selectors, parsed as kube-apiserver parses `labelSelector`/`fieldSelector`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.sim.errors import bad_request
from app.sim.resources import RESOURCES

_KEY = r"[A-Za-z0-9./_-]+"
_VALUE = r"[A-Za-z0-9._-]*"
_SET_RE = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EQ_RE = re.compile(rf"^\s*({_KEY})\s*(==|!=|=)\s*({_VALUE})\s*$")
_CMP_RE = re.compile(rf"^\s*({_KEY})\s*(<|>)\s*(-?\d+)\s*$")
_EXISTS_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")


@dataclass(frozen=True)
class Requirement:
    """One clause: `op` is one of in, notin, exists, !, =, !=, gt, lt."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this clause (labels.Requirement.Matches)."""
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("in", "="):
            return present and value in self.values
        if self.op in ("notin", "!="):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if not present or value is None:
            return False
        try:
            number = int(value)
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.op == "gt" else number < bound


LabelSelector = tuple[Requirement, ...]


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside `( … )` value sets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse `a=b,c!=d,e in (x,y),f notin (z),g,!h,i>3`; empty selects all; 400 if malformed."""
    if not text or not text.strip():
        return ()
    reqs: list[Requirement] = []
    for clause in _split_top_level(text):
        if m := _SET_RE.match(clause):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            if m.group(2) == "in" and not values:
                raise bad_request(
                    "unable to parse requirement: for 'in', 'notin' operators, "
                    f"values set can't be empty: {clause.strip()}"
                )
            reqs.append(Requirement(m.group(1), m.group(2), values))
        elif m := _EQ_RE.match(clause):
            op = "!=" if m.group(2) == "!=" else "="
            reqs.append(Requirement(m.group(1), op, (m.group(3),)))
        elif m := _CMP_RE.match(clause):
            reqs.append(Requirement(m.group(1), "gt" if m.group(2) == ">" else "lt", (m.group(3),)))
        elif m := _EXISTS_RE.match(clause):
            reqs.append(Requirement(m.group(2), "!" if m.group(1) else "exists"))
        else:
            raise bad_request(
                f"unable to parse requirement: found '{clause.strip()}', "
                "expected: valid label selector"
            )
    return tuple(reqs)


def labels_match(selector: LabelSelector, labels: Mapping[str, str] | None) -> bool:
    """Whether every requirement of `selector` holds for `labels`."""
    labels = labels or {}
    return all(req.matches(labels) for req in selector)


def selector_from_spec(spec: Mapping[str, Any] | None) -> LabelSelector | None:
    """A `metav1.LabelSelector` (matchLabels/matchExpressions) as requirements; None: nothing."""
    if spec is None:
        return None
    reqs = [Requirement(k, "=", (v,)) for k, v in (spec.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in spec.get("matchExpressions") or []:
        reqs.append(
            Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ()))
        )
    return tuple(reqs)


FieldGetter = Callable[[Mapping[str, Any]], str]


def _path(path: str) -> FieldGetter:
    return lambda obj: field_value(obj, path)


def _flag(path: str) -> FieldGetter:
    """A Go bool rendered by strconv.FormatBool: absent is "false"."""
    return lambda obj: "true" if field_value(obj, path) == "true" else "false"


def _count(path: str) -> FieldGetter:
    """A Go int rendered by strconv.Itoa: absent is "0"."""
    return lambda obj: field_value(obj, path) or "0"


def _pod_ip(obj: Mapping[str, Any]) -> str:
    ips = (obj.get("status") or {}).get("podIPs") or []
    return str(ips[0].get("ip", "")) if ips else field_value(obj, "status.podIP")


def _event_source(obj: Mapping[str, Any]) -> str:
    return field_value(obj, "source.component") or field_value(obj, "reportingComponent")


_INVOLVED = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")

# The fields each kind's registry adds to metadata.name (and metadata.namespace when namespaced),
# with the values it computes (pkg/registry/<group>/<kind>/strategy.go ToSelectableFields).
_FIELDS: dict[str, dict[str, FieldGetter]] = {
    "pods": {
        "spec.nodeName": _path("spec.nodeName"),
        "spec.restartPolicy": _path("spec.restartPolicy"),
        "spec.schedulerName": _path("spec.schedulerName"),
        "spec.serviceAccountName": _path("spec.serviceAccountName"),
        "spec.hostNetwork": _flag("spec.hostNetwork"),
        "status.phase": _path("status.phase"),
        "status.podIP": _pod_ip,
        "status.nominatedNodeName": _path("status.nominatedNodeName"),
    },
    "events": {
        **{f"involvedObject.{k}": _path(f"involvedObject.{k}") for k in _INVOLVED},
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _event_source,
        "type": _path("type"),
    },
    "secrets": {"type": _path("type")},
    # "name" is a historical duplicate of metadata.name the real registry still serves.
    "namespaces": {"status.phase": _path("status.phase"), "name": _path("metadata.name")},
    "nodes": {"spec.unschedulable": _flag("spec.unschedulable")},
    "jobs": {"status.successful": _count("status.succeeded")},
}


def selectable_fields(resource: str) -> dict[str, FieldGetter]:
    """The field selectors `resource` serves, with how each reads its value."""
    namespaced = RESOURCES[resource].namespaced if resource in RESOURCES else True
    meta = {"metadata.name": _path("metadata.name")}
    if namespaced:
        meta["metadata.namespace"] = _path("metadata.namespace")
    return {**meta, **_FIELDS.get(resource, {})}


@dataclass(frozen=True)
class FieldRequirement:
    """`field` (read by `get`) compared with `value` (`op` is = or !=)."""

    field: str
    op: str
    value: str
    get: FieldGetter = dataclasses.field(compare=False, repr=False)


FieldSelector = tuple[FieldRequirement, ...]


def parse_field_selector(text: str | None, resource: str) -> FieldSelector:
    """Parse `metadata.name=x,status.phase!=Running`; 400 on an unsupported field."""
    if not text or not text.strip():
        return ()
    allowed = selectable_fields(resource)
    reqs = []
    for clause in text.split(","):
        m = re.match(r"^\s*([A-Za-z0-9._]+)\s*(==|!=|=)\s*(.*?)\s*$", clause)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{clause}'")
        name, op, value = m.groups()
        if name not in allowed:
            raise bad_request(f"field label not supported: {name}")
        reqs.append(FieldRequirement(name, "!=" if op == "!=" else "=", value, allowed[name]))
    return tuple(reqs)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string form of a dotted field, "" when absent (as fields.Set renders it)."""
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return ""
        node = node.get(part)
        if node is None:
            return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def fields_match(selector: FieldSelector, obj: Mapping[str, Any]) -> bool:
    """Whether every field requirement holds for `obj`."""
    for req in selector:
        equal = req.get(obj) == req.value
        if equal != (req.op == "="):
            return False
    return True


def matcher(
    resource: str, label_selector: str | None, field_selector: str | None
) -> Callable[[Mapping[str, Any]], bool] | None:
    """One predicate for both selectors (parsed once), or None when nothing is filtered."""
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector, resource)
    if not labels and not fields:
        return None

    def predicate(obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return labels_match(labels, meta.get("labels")) and fields_match(fields, obj)

    return predicate
