"""Validation of every write (create, update, patch), with the same rules each time.

A stored object is one the controllers can read without surprises: field types follow
`app.sim.schema`, label and annotation keys and values are what kube-apiserver accepts, counts
are not negative, and the fields Kubernetes keeps immutable do not change. Each rule returns
`StatusCause`s; the caller answers 422 Invalid with all of them.
"""

from __future__ import annotations

import re
from typing import Any

from app.sim import schema
from app.sim.errors import field_cause

Causes = list[dict[str, str]]

_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_PREFIX_MSG = (
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
    "'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_TOTAL_ANNOTATIONS = 256 * 1024
_TYPE_NAMES = {"str": "string", "int": "integer", "bool": "boolean", "intstr": "int or string"}


# -- types --------------------------------------------------------------------------------


def _scalar_ok(kind: str, value: Any) -> bool:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return is_int
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "intstr":
        return is_int or isinstance(value, str)
    if kind == "obj":
        return isinstance(value, dict)
    if kind == "map":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    return True  # any


def _type_cause(path: str, value: Any, expected: str) -> dict[str, str]:
    shown = value if isinstance(value, str | int | float | bool) else type(value).__name__
    return field_cause(path, "FieldValueTypeInvalid", f"expected {expected}", shown)


def check_types(type_name: str, obj: Any, path: str = "") -> Causes:
    """Causes for every described field whose JSON type is wrong (null is always accepted)."""
    if not isinstance(obj, dict):
        return [_type_cause(path or "<root>", obj, "object")]
    causes: Causes = []
    for key, value in obj.items():
        field = schema.field_of(type_name, key)
        if field is None or value is None:
            continue
        where = f"{path}.{key}" if path else key
        if field.is_list:
            if not isinstance(value, list):
                causes.append(_type_cause(where, value, "array"))
                continue
            for i, item in enumerate(value):
                causes += _check_value(field.type, item, f"{where}[{i}]")
        else:
            causes += _check_value(field.type, value, where)
    return causes


def _check_value(kind: str, value: Any, path: str) -> Causes:
    if value is None:
        return []
    if kind in schema.SCALARS:
        if _scalar_ok(kind, value):
            return []
        if kind == "map" and isinstance(value, dict):
            return [
                _type_cause(f"{path}[{k}]", v, "string")
                for k, v in value.items()
                if not isinstance(v, str)
            ]
        return [_type_cause(path, value, "object" if kind in ("obj", "map") else _name(kind))]
    return check_types(kind, value, path)


def _name(kind: str) -> str:
    return _TYPE_NAMES.get(kind, kind)


# -- metadata -----------------------------------------------------------------------------


def qualified_name_errors(key: str) -> list[str]:
    """Why `key` is not a qualified name (`prefix/name`), as IsQualifiedName words it."""
    prefix, _, name = key.rpartition("/")
    errors = []
    if "/" in key and not prefix:
        errors.append("prefix part must be non-empty")
    elif prefix and (len(prefix) > 253 or not _PREFIX.match(prefix)):
        errors.append(_PREFIX_MSG)
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    elif not _NAME_PART.match(name):
        errors.append(_NAME_MSG)
    return errors


def _validate_labels(labels: Any, path: str) -> Causes:
    if not isinstance(labels, dict):
        return []
    causes = []
    for key, value in labels.items():
        for message in qualified_name_errors(key):
            causes.append(field_cause(path, "FieldValueInvalid", message, key))
        if isinstance(value, str):
            if len(value) > 63:
                detail = "must be no more than 63 characters"
                causes.append(field_cause(path, "FieldValueInvalid", detail, value))
            elif value and not _NAME_PART.match(value):
                causes.append(field_cause(path, "FieldValueInvalid", _VALUE_MSG, value))
    return causes


def _validate_annotations(annotations: Any, path: str) -> Causes:
    if not isinstance(annotations, dict):
        return []
    causes = []
    for key in annotations:
        for message in qualified_name_errors(key.lower()):
            causes.append(field_cause(path, "FieldValueInvalid", message, key))
    size = sum(len(k) + len(v) for k, v in annotations.items() if isinstance(v, str))
    if size > _TOTAL_ANNOTATIONS:
        detail = f"must have at most {_TOTAL_ANNOTATIONS} bytes"
        causes.append(field_cause(path, "FieldValueTooLong", detail))
    return causes


def validate_meta(meta: dict[str, Any], path: str = "metadata") -> Causes:
    """Labels and annotations of an object (or of a pod template)."""
    return _validate_labels(meta.get("labels"), f"{path}.labels") + _validate_annotations(
        meta.get("annotations"), f"{path}.annotations"
    )


# -- kinds --------------------------------------------------------------------------------


def _non_negative(spec: dict[str, Any], keys: tuple[str, ...], path: str) -> Causes:
    causes = []
    for key in keys:
        value = spec.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            detail = "must be greater than or equal to 0"
            causes.append(field_cause(f"{path}.{key}", "FieldValueInvalid", detail, value))
    return causes


def validate_pod_spec(spec: dict[str, Any], path: str) -> Causes:
    """Containers present, named once each, with an image."""
    causes = []
    if not spec.get("containers"):
        causes.append(field_cause(f"{path}.containers", "FieldValueRequired", ""))
    seen: set[str] = set()
    for key in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(key) or []):
            where = f"{path}.{key}[{i}]"
            if not c.get("name"):
                causes.append(field_cause(f"{where}.name", "FieldValueRequired", ""))
            elif c["name"] in seen:
                causes.append(field_cause(f"{where}.name", "FieldValueDuplicate", "", c["name"]))
            else:
                seen.add(c["name"])
            if not c.get("image"):
                causes.append(field_cause(f"{where}.image", "FieldValueRequired", ""))
    causes += _non_negative(spec, ("terminationGracePeriodSeconds",), path)
    return causes


def _validate_pod(obj: dict[str, Any]) -> Causes:
    return validate_pod_spec(obj.get("spec") or {}, "spec")


def _validate_job(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    template_spec = template.get("spec") or {}
    causes = validate_meta(template.get("metadata") or {}, "spec.template.metadata")
    causes += validate_pod_spec(template_spec, "spec.template.spec")
    policy = template_spec.get("restartPolicy")
    where = "spec.template.spec.restartPolicy"
    detail = 'supported values: "OnFailure", "Never"'
    if policy is None:
        causes.append(field_cause(where, "FieldValueRequired", detail))
    elif policy not in ("Never", "OnFailure"):
        causes.append(field_cause(where, "FieldValueNotSupported", detail, policy))
    counts = ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished")
    causes += _non_negative(spec, counts, "spec")
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= 0:
        detail = "must be greater than 0"
        causes.append(field_cause("spec.activeDeadlineSeconds", "FieldValueInvalid", detail, 0))
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        detail = 'supported values: "NonIndexed", "Indexed"'
        causes.append(field_cause("spec.completionMode", "FieldValueNotSupported", detail, mode))
    return causes


def _validate_service(obj: dict[str, Any]) -> Causes:
    causes = []
    ports = (obj.get("spec") or {}).get("ports") or []
    for i, port in enumerate(ports):
        number = port.get("port")
        where = f"spec.ports[{i}].port"
        if number is None:
            causes.append(field_cause(where, "FieldValueRequired", ""))
        elif isinstance(number, int) and not 0 < number < 65536:
            detail = "must be between 1 and 65535, inclusive"
            causes.append(field_cause(where, "FieldValueInvalid", detail, number))
        if len(ports) > 1 and not port.get("name"):
            causes.append(field_cause(f"spec.ports[{i}].name", "FieldValueRequired", ""))
    return causes


_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)


def _config_keys(obj: dict[str, Any], fields: tuple[str, ...]) -> Causes:
    """Keys of Secret/ConfigMap data: file names a volume can hold, each in one field only."""
    causes = []
    seen: set[str] = set()
    for name in fields:
        for key in obj.get(name) or {}:
            if not _CONFIG_KEY.match(key) or key in (".", ".."):
                causes.append(field_cause(f"{name}[{key}]", "FieldValueInvalid", _CONFIG_KEY_MSG,
                                          key))  # fmt: skip
            elif key in seen:
                detail = "duplicate of key present in data"
                causes.append(field_cause(f"{name}[{key}]", "FieldValueInvalid", detail, key))
            seen.add(key)
    return causes


def _validate_priority_class(obj: dict[str, Any]) -> Causes:
    if obj.get("value") is None:
        return [field_cause("value", "FieldValueRequired", "")]
    return []


_KIND_RULES = {
    "pods": _validate_pod,
    "jobs": _validate_job,
    "services": _validate_service,
    "priorityclasses": _validate_priority_class,
    "configmaps": lambda obj: _config_keys(obj, ("data", "binaryData")),
    "secrets": lambda obj: _config_keys(obj, ("data",)),
}


def validate(plural: str, kind: str, obj: dict[str, Any]) -> Causes:
    """Every rule for an object about to be stored (types first: later rules trust them)."""
    causes = check_types(kind, obj)
    if causes:
        return causes
    causes = validate_meta(obj.get("metadata") or {})
    rule = _KIND_RULES.get(plural)
    if rule is not None:
        causes += rule(obj)
    return causes


# -- updates ------------------------------------------------------------------------------

# What an update of a suspended Job's pod template may change (mutable scheduling directives).
_SUSPENDED_TEMPLATE_META = ("labels", "annotations")
_SUSPENDED_TEMPLATE_SPEC = ("nodeSelector", "affinity", "tolerations", "schedulingGates")
_POD_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds",
                "schedulingGates", "nodeName")  # fmt: skip


def _immutable(path: str, old: Any, new: Any) -> Causes:
    if old == new:
        return []
    shown = new if isinstance(new, str | int | bool) or new is None else "..."
    return [field_cause(path, "FieldValueInvalid", "field is immutable", shown)]


def _template_view(template: dict[str, Any], suspended: bool) -> dict[str, Any]:
    if not suspended:
        return template
    meta = {k: v for k, v in (template.get("metadata") or {}).items()
            if k not in _SUSPENDED_TEMPLATE_META}  # fmt: skip
    spec = {k: v for k, v in (template.get("spec") or {}).items()
            if k not in _SUSPENDED_TEMPLATE_SPEC}  # fmt: skip
    return {**template, "metadata": meta, "spec": spec}


def _job_update(old: dict[str, Any], new: dict[str, Any]) -> Causes:
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    causes: Causes = []
    for key in ("completions", "selector", "completionMode", "podFailurePolicy",
                "backoffLimitPerIndex", "manualSelector"):  # fmt: skip
        causes += _immutable(f"spec.{key}", old_spec.get(key), new_spec.get(key))
    # A suspended Job may change its pods' scheduling directives, labels and annotations.
    suspended = bool(old_spec.get("suspend"))
    old_template = _template_view(old_spec.get("template") or {}, suspended)
    new_template = _template_view(new_spec.get("template") or {}, suspended)
    if old_template != new_template:
        causes.append(field_cause("spec.template", "FieldValueInvalid", "field is immutable"))
    return causes


def _mutable_pod_view(spec: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in spec.items() if k not in _POD_MUTABLE}
    for key in ("containers", "initContainers"):
        view[key] = [{**c, "image": None} for c in spec.get(key) or []]
    return view


def _pod_update(old: dict[str, Any], new: dict[str, Any]) -> Causes:
    if _mutable_pod_view(old.get("spec") or {}) == _mutable_pod_view(new.get("spec") or {}):
        return []
    detail = (
        "pod updates may not change fields other than `spec.containers[*].image`, "
        "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, "
        "`spec.tolerations` (only additions to existing tolerations), "
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)"
    )
    return [field_cause("spec", "FieldValueForbidden", detail)]


def _frozen_data(old: dict[str, Any], new: dict[str, Any], fields: tuple[str, ...]) -> Causes:
    """An `immutable` Secret or ConfigMap keeps its data (and stays immutable)."""
    if not old.get("immutable"):
        return []
    causes = []
    if not new.get("immutable"):
        detail = "field is immutable when `immutable` is set"
        causes.append(field_cause("immutable", "FieldValueForbidden", detail))
    for name in fields:
        if old.get(name) != new.get(name):
            detail = "field is immutable when `immutable` is set"
            causes.append(field_cause(name, "FieldValueForbidden", detail))
    return causes


def _secret_update(old: dict[str, Any], new: dict[str, Any]) -> Causes:
    causes = _immutable("type", old.get("type"), new.get("type"))
    return causes + _frozen_data(old, new, ("data",))


def _service_update(old: dict[str, Any], new: dict[str, Any]) -> Causes:
    before = (old.get("spec") or {}).get("clusterIP")
    after = (new.get("spec") or {}).get("clusterIP")
    if before and after != before:
        detail = "may not change once set"
        return [field_cause("spec.clusterIPs[0]", "FieldValueInvalid", detail, after)]
    return []


_UPDATE_RULES = {
    "jobs": _job_update,
    "pods": _pod_update,
    "secrets": _secret_update,
    "configmaps": lambda old, new: _frozen_data(old, new, ("data", "binaryData")),
    "services": _service_update,
}


def validate_update(plural: str, old: dict[str, Any], new: dict[str, Any]) -> Causes:
    """What may not change between the stored object and its replacement."""
    rule = _UPDATE_RULES.get(plural)
    return rule(old, new) if rule is not None else []
