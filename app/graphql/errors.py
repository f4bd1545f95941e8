"""Errors clients see: `userErrors` on mutation payloads, and the few errors that are not masked."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from app.domain.errors import ErrorCode, UserError
from app.graphql.enums import describe_values

ErrorCodeEnum = describe_values(
    strawberry.enum(
        ErrorCode,
        name="ErrorCode",
        description="Why an input was refused; stable for clients to branch on.",
    ),
    {
        ErrorCode.REQUIRED: "A value is missing.",
        ErrorCode.INVALID: "The value is malformed (see the message).",
        ErrorCode.TOO_LONG: "The value is longer than allowed.",
        ErrorCode.OUT_OF_RANGE: "The number is outside the allowed bounds.",
        ErrorCode.DUPLICATE: "The value repeats one given before.",
        ErrorCode.UNKNOWN_GPU_PROFILE: "No such GPU profile (see `gpuProfiles`).",
        ErrorCode.NOT_FOUND: "The object does not exist, or is not visible to you.",
        ErrorCode.RESERVED: "The name is reserved for the platform.",
        ErrorCode.CLUSTER_UNAVAILABLE: "The cluster could not be reached or refused the request.",
        ErrorCode.IN_USE: "Runs that have not finished still need the object.",
        ErrorCode.INVALID_CREDENTIALS: "Wrong email or password, or a token that is not valid.",
        ErrorCode.RATE_LIMITED: "Too many failed attempts; wait a few minutes.",
        ErrorCode.ALREADY_FINISHED: "The run has already ended; there is nothing to stop.",
        ErrorCode.QUOTA_EXCEEDED: "The owner's quota has nothing left for this (`viewer.quota`).",
        ErrorCode.NOT_ALLOWED: "You may not use this value (such as priority EXTRA_HIGH).",
    },
)


@strawberry.type(name="UserError", description="A problem with the input of a mutation.")
class UserErrorType:
    """GraphQL view of a domain UserError."""

    field: str | None = strawberry.field(
        description="Dotted path of the input field at fault (`env.2.name`); null: the whole input."
    )
    message: str = strawberry.field(description="What is wrong, in words for a person.")
    code: ErrorCode = strawberry.field(description="Machine-readable kind of problem.")

    @classmethod
    def from_domain(cls, error: UserError) -> UserErrorType:
        """Wrap a domain error."""
        return cls(field=error.field, message=error.message, code=error.code)


class PublicError(Exception):
    """An error whose message is meant for the client (everything else is masked)."""


def should_mask(error: GraphQLError) -> bool:
    """Mask every error but GraphQL's own (syntax, validation, variables) and PublicError."""
    original = error.original_error
    return original is not None and not isinstance(original, PublicError | GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Strawberry's MaskErrors with `should_mask`, checking each result for errors cheaply.

    The stock check is an `isinstance` against a runtime-checkable Protocol: about 18 µs, paid
    for every event of every subscription (with 1,000 clients on a log, more than executing
    the event itself).
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask)

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]
