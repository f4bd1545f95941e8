"""At most one credential-checking mutation per document.

Each of these checks a password or a one-time token (or mails a link), and each is throttled
per attempt; aliases would otherwise fit a hundred guesses into one request and one throttle
check. A document whose mutation selects more than one of them (the same one aliased twice
included, through fragments too) is refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import AddValidationRules

CREDENTIAL_MUTATIONS = frozenset(
    {"login", "changePassword", "resetPassword", "acceptInvitation", "requestPasswordReset"}
)
CODE = "ONE_CREDENTIAL_CHECK"


def _root_fields(
    context: ValidationContext, selection_set: SelectionSetNode, seen: set[str]
) -> Iterator[FieldNode]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(context, selection.selection_set, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = context.get_fragment(selection.name.value)
            if fragment is not None:
                yield from _root_fields(context, fragment.selection_set, seen)


class OneCredentialCheckRule(ValidationRule):
    """Reports a mutation selecting more than one credential-checking field."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        if node.operation is not OperationType.MUTATION:
            return
        names = [
            field.name.value
            for field in _root_fields(self.context, node.selection_set, set())
            if field.name.value in CREDENTIAL_MUTATIONS
        ]
        if len(names) > 1:
            self.report_error(
                GraphQLError(
                    f"At most one of {', '.join(sorted(CREDENTIAL_MUTATIONS))} per request; "
                    f"this one has {len(names)} ({', '.join(names)}).",
                    node,
                    extensions={"code": CODE},
                )
            )


class OneCredentialCheck(AddValidationRules):
    """The rule, as a schema extension."""

    def __init__(self) -> None:
        super().__init__([OneCredentialCheckRule])
