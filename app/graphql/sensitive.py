"""Operations whose arguments are secrets or credentials, so that nothing of them is logged.

A secret's values, a password, an invitation or reset token, and a new access token travel in
the arguments of these fields. Error messages may quote what the client sent (graphql-core's
"Variable '$data' got invalid value {…}", a syntax error's unexpected token), and an internal
error's text may quote whatever the failing call was given; for these operations the logs get
the kind of error and where it happened, never its message (`app.graphql.error_log`).
"""

from __future__ import annotations

from typing import Any

from graphql import DocumentNode, FieldNode, Visitor, visit
from graphql.language.visitor import BREAK

# Root fields that take or return a secret value or a credential.
SENSITIVE_FIELDS = frozenset(
    {
        "createSecret",
        "updateSecret",
        "login",
        "changePassword",
        "requestPasswordReset",
        "resetPassword",
        "inviteUser",
        "acceptInvitation",
        "createAccessToken",
    }
)


class _FindSensitive(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        if node.name.value in SENSITIVE_FIELDS:
            self.found = True
            return BREAK
        return None


def document_is_sensitive(document: DocumentNode) -> bool:
    """Whether a parsed document selects any of the sensitive fields (fragments included)."""
    finder = _FindSensitive()
    visit(document, finder)
    return finder.found


def is_sensitive(execution_context: Any) -> bool:
    """Whether an operation's errors must be logged without their messages: it selects a
    sensitive field, or it could not be parsed and its text names one (or has no text)."""
    if execution_context is None:
        return True
    document = getattr(execution_context, "graphql_document", None)
    if document is not None:
        return document_is_sensitive(document)
    query = getattr(execution_context, "query", None)
    return not isinstance(query, str) or any(name in query for name in SENSITIVE_FIELDS)
