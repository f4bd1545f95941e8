"""Reading the Kubernetes protobuf encoding of the review kinds kubectl sends.

kubectl's typed clients (`auth can-i`, `auth whoami`) POST `application/vnd.kubernetes.protobuf`
only: the magic `k8s\\0`, then a `runtime.Unknown` holding the TypeMeta and the object's own
message. The review kinds are small, so their fields are listed here by number (as in
k8s.io/api's generated.proto) and the wire format is read by hand; answers go back as JSON,
which the clients also accept.
"""

from __future__ import annotations

from typing import Any

from app.sim.errors import bad_request

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"

# message → field number → (JSON name, message type or None for a string)
_FIELDS: dict[str, dict[int, tuple[str, str | None]]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta"), 2: ("raw", "bytes")},
    "TypeMeta": {1: ("apiVersion", None), 2: ("kind", None)},
    "SelfSubjectAccessReview": {2: ("spec", "SelfSubjectAccessReviewSpec")},
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes"),
        2: ("nonResourceAttributes", "NonResourceAttributes"),
    },
    "ResourceAttributes": {
        1: ("namespace", None), 2: ("verb", None), 3: ("group", None), 4: ("version", None),
        5: ("resource", None), 6: ("subresource", None), 7: ("name", None),
    },
    "NonResourceAttributes": {1: ("path", None), 2: ("verb", None)},
    "SelfSubjectRulesReview": {2: ("spec", "SelfSubjectRulesReviewSpec")},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", None)},
    "SelfSubjectReview": {},
}  # fmt: skip


def decode(raw: bytes) -> dict[str, Any]:
    """The JSON form of an enveloped review object (its TypeMeta and the listed fields)."""
    if not raw.startswith(_MAGIC):
        raise bad_request("the protobuf body does not start with the Kubernetes magic prefix")
    unknown = _message(raw[len(_MAGIC) :], "Unknown")
    meta = unknown.get("typeMeta") or {}
    kind = meta.get("kind", "")
    if kind not in _FIELDS or kind in ("Unknown", "TypeMeta"):
        raise bad_request(f"protobuf bodies of kind {kind!r} are not served; send JSON")
    obj = _message(unknown.get("raw", b""), kind)
    return {"apiVersion": meta.get("apiVersion"), "kind": kind, **obj}


def _message(data: bytes, name: str) -> dict[str, Any]:
    fields = _FIELDS[name]
    out: dict[str, Any] = {}
    pos = 0
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            number, wire = key >> 3, key & 7
            if wire == 0:
                _, pos = _varint(data, pos)
                continue
            if wire in (1, 5):
                pos += 8 if wire == 1 else 4
                continue
            if wire != 2:
                raise ValueError(f"wire type {wire}")
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
            if number in fields:
                json_name, kind = fields[number]
                out[json_name] = (
                    value.decode() if kind is None
                    else value if kind == "bytes" else _message(value, kind)
                )  # fmt: skip
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"malformed protobuf body: {exc}") from None
    return out


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
