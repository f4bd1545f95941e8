"""The cost of an operation, computed before it runs, and the budget it must fit in.

Depth and token limits bound a document's text, not its answer: 64 aliases of a 1,000-line log
page fit in 2.6 KB. The cost counts the values an answer may hold, as GitHub's node limit does:
every field is 1 (a few large ones more, `FIELD_WEIGHTS`), times the size of each list it sits
in. A connection is as long as its `first`/`last` (its default page size when neither is given)
and its `edges`/`nodes` add no factor of their own; any other list counts the bound its
resolver keeps (`LIST_SIZES`), else `DEFAULT_LIST`. Nested lists multiply. A subscription is
costed per event, by its selection. Introspection is not costed: its answer is bounded by the
schema. Variables count with their values; a fragment is costed once however often it is
spread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from app.graphql.logs.types import DEFAULT_LOG_PAGE
from app.graphql.pagination import DEFAULT_PAGE
from app.services.logs import MAX_BATCH

DEFAULT_MAX_COST = 50_000
CODE = "QUERY_TOO_COSTLY"
# A list that is not a connection, when its resolver keeps no bound of its own.
DEFAULT_LIST = 10
# Bounds resolvers keep on lists that are not connections ("Type.field").
LIST_SIZES = {"LogBatch.lines": MAX_BATCH, "Query.users": 1000}
# Fields whose values may be much larger than most: a log line's text holds up to 16 KiB.
FIELD_WEIGHTS = {"LogLine.text": 16}
# Connections whose page is not DEFAULT_PAGE when `first`/`last` is not given.
PAGE_DEFAULTS = {"Run.logs": DEFAULT_LOG_PAGE}
# The items of a connection: counted by the connection's page size.
_PAGE_ITEMS = frozenset({"edges", "nodes"})


class _Coster:
    """Costs one operation's selections (fragments once each)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self._fragment_costs: dict[str, int] = {}
        self._open: set[str] = set()

    def selections(self, parent: GraphQLNamedType | None, selection_set: SelectionSetNode) -> int:
        """The cost of one object's selection."""
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(inner, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> int:
        if name in self._fragment_costs:
            return self._fragment_costs[name]
        definition = self.fragments.get(name)
        if definition is None or name in self._open:  # unknown or cyclic: validation says so
            return 0
        self._open.add(name)
        kind = self.schema.get_type(definition.type_condition.name.value)
        cost = self._fragment_costs[name] = self.selections(kind, definition.selection_set)
        self._open.discard(name)
        return cost

    def field(self, parent: GraphQLNamedType | None, node: FieldNode) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 1
        fields = getattr(parent, "fields", None) or {}
        definition = fields.get(name)
        if parent is None or definition is None:
            return 1
        inner = FIELD_WEIGHTS.get(f"{parent.name}.{name}", 1) - 1
        if node.selection_set is not None:
            inner += self.selections(get_named_type(definition.type), node.selection_set)
        return self.size(parent, node, definition) * (1 + inner)

    def size(self, parent: Any, node: FieldNode, definition: Any) -> int:
        """How many values the field may hold: its page size, list bound, or 1."""
        key = f"{parent.name}.{node.name.value}"
        if "first" in definition.args or "last" in definition.args:
            asked = [self.argument(node, name) for name in ("first", "last")]
            given = [n for n in asked if n is not None]
            return max(given) if given else PAGE_DEFAULTS.get(key, DEFAULT_PAGE)
        if not _is_list(definition.type):
            return 1
        if node.name.value in _PAGE_ITEMS and parent.name.endswith("Connection"):
            return 1
        return LIST_SIZES.get(key, DEFAULT_LIST)

    def argument(self, node: FieldNode, name: str) -> int | None:
        """An integer argument's value (literal or variable), None when absent or not one."""
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(int(value.value), 0)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                return max(given, 0) if isinstance(given, int) else None
        return None


def _is_list(kind: Any) -> bool:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def _with_defaults(
    operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The operation's variables, with the defaults its definitions give."""
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        default = definition.default_value
        if isinstance(default, IntValueNode):
            values[definition.variable.name.value] = int(default.value)
    values.update(variables or {})
    return values


def operation_cost(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """The cost of the document's operation (0 if it names none that exists)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    coster = _Coster(schema, fragments, _with_defaults(operation, variables))
    return coster.selections(root, operation.selection_set)


def cost_error(cost: int, limit: int) -> GraphQLError:
    """The refusal of an operation over the budget."""
    return GraphQLError(
        f"The query costs {cost:,}, over the limit of {limit:,} (WALKAI_MAX_QUERY_COST): every "
        "field counts once per item of each list around it, and a connection has as many "
        "items as `first`/`last` asks for. Ask for fewer items, fields or aliases.",
        extensions={"code": CODE, "cost": cost, "limit": limit},
    )


class QueryCostLimiter(SchemaExtension):
    """Refuses, before anything runs, an operation whose cost is over `max_cost`.

    The cost is computed before validation, in time linear in the document (fragments once
    each), and an over-budget document is not validated at all: some validation rules (the
    depth limit among them) walk every spread of every fragment, which for fragments spreading
    the next one twice is exponential, and such a document's cost is exponential too. Its
    error is a pre-execution error: queries, mutations and subscriptions are refused alike.
    """

    def __init__(self, max_cost: int = DEFAULT_MAX_COST) -> None:
        self.max_cost = max_cost

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if not context.pre_execution_errors and context.graphql_document is not None:
            cost = operation_cost(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
            )
            if cost > self.max_cost:
                context.pre_execution_errors = [cost_error(cost, self.max_cost)]
        yield


__all__ = ["DEFAULT_MAX_COST", "QueryCostLimiter", "operation_cost"]
