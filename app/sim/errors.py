"""Kubernetes API errors: each is answered as a `metav1.Status` object with its HTTP code."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Reason strings as kube-apiserver writes them (metav1.StatusReason).
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """A request the API server refuses; `status()` is the body it answers with."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """The `metav1.Status` body of this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(resource: str, name: str, group: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = resource
    return details


def qualified(resource: str, group: str) -> str:
    """`jobs.batch` for grouped resources, `pods` for the core group (as messages spell them)."""
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    """404: the named object does not exist."""
    return ApiError(
        404,
        "NotFound",
        f'{qualified(resource, group)} "{name}" not found',
        _details(resource, name, group),
    )


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    """409 AlreadyExists on create."""
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified(resource, group)} "{name}" already exists',
        _details(resource, name, group),
    )


_STALE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def conflict(resource: str, name: str, group: str = "", why: str = "") -> ApiError:
    """409 Conflict: a write based on a stale resourceVersion (optimistic concurrency)."""
    why = why or _STALE
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        _details(resource, name, group),
    )


def invalid(kind: str, name: str, causes: list[dict[str, str]], group: str = "") -> ApiError:
    """422 Invalid with one cause per rejected field (`field`, `reason`, `message`)."""
    summary = "; ".join(
        f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes
    )
    prefix = f"{kind}.{group}" if group else kind
    details = {**_details(kind, name, group), "causes": causes}
    return ApiError(422, "Invalid", f'{prefix} "{name}" is invalid: {summary}', details)


def field_cause(field: str, reason: str, detail: str, value: Any = None) -> dict[str, str]:
    """One `StatusCause` the way field.Error renders it (`Required value`, `Invalid value: ...`)."""
    messages = {
        "FieldValueRequired": "Required value",
        "FieldValueInvalid": f"Invalid value: {value!r}".replace("'", '"'),
        "FieldValueForbidden": "Forbidden",
        "FieldValueNotSupported": f"Unsupported value: {value!r}".replace("'", '"'),
        "FieldValueDuplicate": f"Duplicate value: {value!r}".replace("'", '"'),
    }
    message = messages.get(reason, reason)
    if detail:
        message = f"{message}: {detail}"
    return {"reason": reason, "message": message, "field": field}


def bad_request(message: str) -> ApiError:
    """400 BadRequest."""
    return ApiError(400, "BadRequest", message)


def forbidden(message: str, resource: str = "", name: str = "", group: str = "") -> ApiError:
    """403 Forbidden (admission refusals)."""
    details = _details(resource, name, group) if resource else None
    return ApiError(403, "Forbidden", message, details)


def gone(message: str) -> ApiError:
    """410 Expired: the asked resourceVersion is older than the retained history."""
    return ApiError(410, "Expired", message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    """405 MethodNotAllowed."""
    return ApiError(405, "MethodNotAllowed", message, {})


def unsupported_media_type(accepted: Iterable[str]) -> ApiError:
    """415 for a body whose content type the verb does not take; the message lists those it does
    (as kube-apiserver's negotiation error does)."""
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def from_code(code: int, message: str) -> ApiError:
    """An error with the standard reason for `code` (used by fault injection)."""
    return ApiError(code, _REASONS.get(code, "Unknown"), message, {})
