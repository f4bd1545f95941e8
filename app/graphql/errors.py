"""Errors clients see: `userErrors` on mutation payloads, and the few errors that are not masked."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from app.domain.errors import ErrorCode, UserError

ErrorCodeEnum = strawberry.enum(
    ErrorCode,
    name="ErrorCode",
    description="Why an input was refused; stable for clients to branch on.",
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
