"""Which GraphQL errors are the client's mistake, and how each kind is logged.

Strawberry logs every error at ERROR with its traceback. Most are a client's doing — a syntax
or validation error, a value that does not fit its type, an unknown enum value, a malformed id,
no token, a refused page size — and a flood of them would bury the real failures and cost a
traceback each. Those are logged at INFO, message only; anything else (what `MaskErrors`
hides from the client) stays at ERROR with its traceback. Only the error's own message goes
in the line, never its printed form, which quotes the document's source.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable

from graphql import GraphQLError

from app.graphql.errors import PublicError

log = logging.getLogger("walkai.graphql.errors")


def is_client_error(error: GraphQLError) -> bool:
    """GraphQL's own errors (syntax, validation, coercion), errors raised as GraphQL errors by
    the schema's types (Strawberry's input coercion, malformed global ids), and PublicError."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | PublicError)


def log_errors(errors: Iterable[GraphQLError], *, redact: bool = False) -> None:
    """One line per error: INFO for the client's mistakes, ERROR with a traceback otherwise.
    `redact` (operations carrying secrets or credentials, `app.graphql.sensitive`): no message,
    which may quote what the client sent, and a traceback without the exception's text."""
    for error in errors:
        path = ".".join(map(str, error.path)) if error.path else None
        if redact:
            _log_redacted(error, path)
        elif is_client_error(error):
            log.info("client error: %s", error.message, extra={"path": path})
        else:
            log.error("%s", error.message, exc_info=error.original_error, extra={"path": path})


def _log_redacted(error: GraphQLError, path: str | None) -> None:
    where = [f"{loc.line}:{loc.column}" for loc in error.locations or ()]
    extra = {"path": path, "locations": where}
    original = error.original_error
    if is_client_error(error):
        log.info("client error in an operation carrying secrets (message withheld)", extra=extra)
        return
    assert original is not None
    frames = "".join(traceback.format_tb(original.__traceback__))
    log.error(
        "%s in an operation carrying secrets (message withheld)",
        type(original).__name__,
        extra={**extra, "traceback": frames},
    )
