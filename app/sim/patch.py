"""PATCH bodies: JSON merge patch (RFC 7386), strategic merge patch, JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch

from app.sim import schema
from app.sim.errors import ApiError, bad_request, unsupported_media_type

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
# The PATCH content types served, in the order kube-apiserver's 415 message lists them.
MEDIA_TYPES = (JSON_PATCH, MERGE, STRATEGIC)


def apply_patch(
    content_type: str, original: dict[str, Any], body: Any, kind: str | None = None
) -> dict[str, Any]:
    """The object after applying `body` of the given content type to `original` (of `kind`)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON_PATCH:
        return json_patch(original, body)
    if not isinstance(body, dict):
        raise bad_request(
            f"json: cannot unmarshal {type(body).__name__} into Go value of type "
            "map[string]interface {}"
        )
    if media == MERGE:
        result = merge_patch(original, body)
    elif media == STRATEGIC:
        result = strategic_merge(original, body, kind)
    else:
        raise unsupported_media_type(MEDIA_TYPES)
    if not isinstance(result, dict):
        raise bad_request("the patch removed the whole object")
    return result


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(original: dict[str, Any], body: Any) -> dict[str, Any]:
    """RFC 6902 through the jsonpatch library; 400 if malformed, 422 if an operation fails.

    Operations apply one at a time so a failure can name its operation, path and values.
    """
    if not isinstance(body, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        patch = jsonpatch.JsonPatch(body)
    except (jsonpatch.InvalidJsonPatch, TypeError) as exc:
        raise bad_request(str(exc)) from None
    result: Any = copy.deepcopy(original)
    for operation in patch.patch:
        try:
            result = jsonpatch.JsonPatch([operation]).apply(result, in_place=True)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError) as exc:
            raise ApiError(422, "Invalid", _failure(operation, result, exc)) from None
    if not isinstance(result, dict):
        raise bad_request("the patch did not produce an object")
    return result


def _failure(operation: dict[str, Any], doc: Any, exc: Exception) -> str:
    """Why an operation failed, naming its path and, for `test`, both values in JSON:
    `testing value /spec/x failed: found "a", expected "b"`."""
    op, path, source = operation.get("op"), operation.get("path", ""), operation.get("from")
    if op == "test":
        if _missing(doc, path):
            return f"testing value {path} failed: the path does not exist"
        found = jsonpatch.JsonPointer(path).resolve(doc)
        return (
            f"testing value {path} failed: found {_json(found)}, "
            f"expected {_json(operation.get('value'))}"
        )
    if op in ("remove", "replace") and _missing(doc, path):
        reason = "the path does not exist"
    elif op in ("move", "copy") and isinstance(source, str) and _missing(doc, source):
        reason = f"the path {source} to {op} from does not exist"
    elif _missing(doc, path.rpartition("/")[0]):
        reason = "its parent does not exist"
    else:
        reason = str(exc)
    return f"{op} operation at {path} failed: {reason}"


def _missing(doc: Any, path: str) -> bool:
    try:
        jsonpatch.JsonPointer(path).resolve(doc)
    except jsonpatch.JsonPointerException:
        return True
    return False


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def strategic_merge(original: Any, patch: Any, type_name: str | None = None) -> Any:
    """Strategic merge patch of a value of type `type_name` (see `app.sim.schema`).

    Lists with a merge key merge item by item and sets of scalars by value;
    `$patch: replace|delete`, `$setElementOrder/<field>`, `$deleteFromPrimitiveList/<field>` and
    `$retainKeys` are honoured; other lists are replaced, as for fields without a patch
    strategy (and for every field of an undescribed type, as for custom resources).
    """
    if not isinstance(patch, dict):
        return patch
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    result = dict(original) if isinstance(original, dict) else {}
    orders: dict[str, list[Any]] = {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name) or [] if v not in value]
            continue
        field = schema.field_of(type_name, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, field.type if field else None)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(field, result.get(key), value)
        else:
            result[key] = value
    for name, order in orders.items():
        if isinstance(result.get(name), list):
            result[name] = _reorder(schema.field_of(type_name, name), result[name], order)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: schema.Field | None, current: Any, patch: list[Any]) -> list[Any]:
    if field is not None and field.merge_scalars:
        base = list(current) if isinstance(current, list) else []
        return base + [v for v in patch if v not in base]
    key = field.merge_key if field is not None else None
    if field is None or key is None or not all(isinstance(item, dict) for item in patch):
        return [item for item in patch if not (isinstance(item, dict) and "$patch" in item)]
    if any(item.get("$patch") == "replace" for item in patch):
        return [item for item in patch if "$patch" not in item]
    element = field.type
    merged = [dict(item) for item in current] if isinstance(current, list) else []
    for item in patch:
        index = next((i for i, e in enumerate(merged) if e.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append(strategic_merge({}, item, element))
        else:
            merged[index] = strategic_merge(merged[index], item, element)
    return merged


def _reorder(field: schema.Field | None, items: list[Any], order: list[Any]) -> list[Any]:
    """Apply `$setElementOrder`: listed elements first in that order, then the rest."""
    key = field.merge_key if field is not None else None

    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [ident(o) for o in order]
    ranked = [i for i in items if ident(i) in wanted]
    ranked.sort(key=lambda i: wanted.index(ident(i)))
    return ranked + [i for i in items if ident(i) not in wanted]
