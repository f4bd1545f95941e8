"""Anonymous requests reach only the fields that sign in; everything else needs a viewer.

One check for the whole schema, so a field added tomorrow is private by default. Websockets are
authenticated before any operation (`connection_init`), so only HTTP requests get here without
a viewer; they are answered 401 with an UNAUTHENTICATED error.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult, FieldNode, GraphQLError
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

# Root fields an anonymous client may use.
PUBLIC_FIELDS = frozenset(
    {
        "viewer",
        "login",
        "acceptInvitation",
        "requestPasswordReset",
        "resetPassword",
        "__typename",
        "__schema",
        "__type",
    }
)
UNAUTHENTICATED = "UNAUTHENTICATED"


class RequireViewer(SchemaExtension):
    """Refuse operations of anonymous clients that select anything but the public fields."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        context = ctx.context
        if getattr(context, "viewer", None) is None and not self._public_only():
            ctx.result = ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        "Sign in first: send `Authorization: Bearer <token>`, or log in.",
                        extensions={"code": UNAUTHENTICATED},
                    )
                ],
            )
            response = getattr(context, "response", None)
            if response is not None and hasattr(response, "status_code"):
                response.status_code = 401
        yield

    def _public_only(self) -> bool:
        document = self.execution_context.graphql_document
        if document is None:
            return False
        operation = get_operation_ast(document, self.execution_context.operation_name)
        if operation is None:
            return False
        return all(
            isinstance(selection, FieldNode) and selection.name.value in PUBLIC_FIELDS
            for selection in operation.selection_set.selections
        )
