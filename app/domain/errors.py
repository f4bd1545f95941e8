"""User-facing validation errors: which field, what is wrong, and a stable code clients can test."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorCode(enum.Enum):
    """Why an input was refused; stable for clients to branch on."""

    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    TOO_LONG = "TOO_LONG"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    DUPLICATE = "DUPLICATE"
    UNKNOWN_GPU_PROFILE = "UNKNOWN_GPU_PROFILE"
    NOT_FOUND = "NOT_FOUND"
    RESERVED = "RESERVED"
    CLUSTER_UNAVAILABLE = "CLUSTER_UNAVAILABLE"
    IN_USE = "IN_USE"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    RATE_LIMITED = "RATE_LIMITED"
    ALREADY_FINISHED = "ALREADY_FINISHED"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    NOT_ALLOWED = "NOT_ALLOWED"


@dataclass(frozen=True)
class UserError:
    """One problem with a client's input; `field` is a dotted path into the input (`env.2.name`)."""

    field: str | None
    message: str
    code: ErrorCode
