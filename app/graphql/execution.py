"""How the API executes operations: graphql-core's executor, with two shortcuts for fan-out.

**Shared results.** A GraphQL subscription executes its selection set per subscriber per event:
with 1,000 clients following one run, a batch of 500 lines would be completed field by field and
encoded to JSON 1,000 times. Here, an object that carries a `shared` dict (a `LogBatchType`,
published once to every subscriber) is completed once per distinct selection set — the printed
selection is the key, so two clients asking for the same fields share, two asking for different
ones do not — and the result is kept as pre-serialized JSON (`orjson.Fragment`). `encode_json`
(used by `app.server.GraphQLApp` for every response and websocket message) embeds that fragment
as is, so each subscriber's message costs a copy of bytes, not a serialization. Selections that
use variables are not shared (their result could depend on the values), nor are results
completed asynchronously or with errors; those go the ordinary way.

**Plain objects.** An object whose selection is only scalar fields without arguments or
directives, each read by Strawberry's default resolver (an attribute), is completed by reading
and serializing those attributes directly, and a list of them in one loop: the generic path
builds a resolve-info object and walks four calls per field, which made completing a 500-line
batch cost more than its delivery to 1,000 subscribers. Anything else — fragments, resolvers,
type checks, field middleware, a null where the schema says non-null, a value the scalar
refuses — goes the generic way, which also reports the error as usual.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import orjson
from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    print_ast,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

_CACHE_LIMIT = 10_000

# The value of each response key: (key, attribute reader, or the type's name for `__typename`;
# the scalar, None for `__typename`; whether null is an error).
Plan = tuple[tuple[str, Any, GraphQLScalarType | None, bool], ...]


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Completes shared objects once per selection set, and plain objects directly."""

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: GraphQLResolveInfo,
        path: Any,
        result: Any,
        *args: Any,
    ) -> Any:
        shared: dict[Any, Any] | None = getattr(result, "shared", None)
        key = _selection_key(field_details_list) if isinstance(shared, dict) else None
        if shared is None or key is None:
            return self._complete(return_type, field_details_list, info, path, result, *args)
        cached = shared.get(key)
        if cached is not None:
            return cached
        errors_before = len(self.collected_errors.errors)
        completed = self._complete(return_type, field_details_list, info, path, result, *args)
        if self.is_awaitable(completed) or len(self.collected_errors.errors) != errors_before:
            return completed
        fragment = orjson.Fragment(orjson.dumps(completed))
        shared[key] = fragment
        return fragment

    def complete_list_value(
        self,
        return_type: GraphQLList[Any],
        field_details_list: Any,
        info: GraphQLResolveInfo,
        path: Any,
        result: Any,
        *args: Any,
    ) -> Any:
        item_type = return_type.of_type
        if isinstance(item_type, GraphQLNonNull):
            item_type = item_type.of_type
        if (
            isinstance(result, list)
            and isinstance(item_type, GraphQLObjectType)
            and not any(details.node.directives for details in field_details_list)  # @stream
        ):
            plan = self._plan(item_type, field_details_list)
            if plan is not None:
                items = [_complete_plain(plan, item) for item in result]
                if None not in items:
                    return items
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, *args
        )

    def _complete(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: GraphQLResolveInfo,
        path: Any,
        result: Any,
        *args: Any,
    ) -> Any:
        plan = self._plan(return_type, field_details_list)
        if plan is not None and (done := _complete_plain(plan, result)) is not None:
            return done
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, *args
        )

    def _plan(self, return_type: GraphQLObjectType, field_details_list: Any) -> Plan | None:
        """How to complete plain objects of this type and selection; None: the generic way."""
        middleware = self.middleware_manager
        if return_type.is_type_of is not None or (middleware and middleware.middlewares):
            return None
        return _plain_plan(return_type, field_details_list)


def _complete_plain(plan: Plan, result: Any) -> dict[str, Any] | None:
    """The object's response, or None to leave it to the generic path."""
    if result is None:
        return None
    out: dict[str, Any] = {}
    try:
        for key, read, scalar, non_null in plan:
            if scalar is None:
                out[key] = read
                continue
            value = read(result)
            if value is None:
                if non_null:
                    return None
                out[key] = None
            else:
                out[key] = scalar.serialize(value)
    except Exception:
        return None
    return out


# (type name, ids of the field nodes) -> (the nodes, the plan or None): nodes are per operation.
_plans: dict[tuple[str, tuple[int, ...]], tuple[tuple[Any, ...], Plan | None]] = {}


def _plain_plan(return_type: GraphQLObjectType, field_details_list: Any) -> Plan | None:
    nodes = tuple(details.node for details in field_details_list)
    cache_key = (return_type.name, tuple(map(id, nodes)))
    entry = _plans.get(cache_key)
    if entry is None or any(a is not b for a, b in zip(entry[0], nodes, strict=True)):
        if len(_plans) >= _CACHE_LIMIT:
            _plans.clear()
        entry = _plans[cache_key] = (nodes, _build_plan(return_type, nodes))
    return entry[1]


def _build_plan(return_type: GraphQLObjectType, nodes: tuple[Any, ...]) -> Plan | None:
    plan: list[tuple[str, Any, GraphQLScalarType | None, bool]] = []
    seen: set[str] = set()
    for node in nodes:
        if node.selection_set is None:
            return None
        for selection in node.selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.arguments or selection.directives:
                return None
            key = selection.alias.value if selection.alias else selection.name.value
            if key in seen:
                continue
            seen.add(key)
            if selection.name.value == "__typename":
                plan.append((key, return_type.name, None, True))
                continue
            field = return_type.fields.get(selection.name.value)
            read = _attribute_reader(field) if field is not None else None
            leaf = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            if read is None or not isinstance(leaf, GraphQLScalarType):
                return None
            plan.append((key, read, leaf, isinstance(field.type, GraphQLNonNull)))
    return tuple(plan)


def _attribute_reader(field: GraphQLField) -> Callable[[Any], Any] | None:
    """How a field Strawberry resolves by reading an attribute reads it; None for others."""
    definition = (field.extensions or {}).get("strawberry-definition")
    if not (
        isinstance(definition, StrawberryField)
        and definition.is_basic_field
        and getattr(field.resolve, "_is_default", False)
    ):
        return None
    name, resolver = definition.python_name, definition.default_resolver
    if resolver is getattr:
        return operator.attrgetter(name)
    return lambda source: resolver(source, name)


# id(field node) -> (the node, its selection key or None): printing is per operation.
_keys: dict[int, tuple[Any, str | None]] = {}


def _selection_key(field_details_list: Any) -> str | None:
    parts = []
    for details in field_details_list:
        node = details.node
        entry = _keys.get(id(node))
        if entry is None or entry[0] is not node:
            if len(_keys) >= _CACHE_LIMIT:
                _keys.clear()
            entry = _keys[id(node)] = (node, _signature(node.selection_set))
        if entry[1] is None:
            return None
        parts.append(entry[1])
    return "|".join(parts)


def _signature(selection_set: Any) -> str | None:
    """The selection as text: plain fields spelled out (cheap: every subscriber's document is
    parsed anew), anything else printed; None if it uses variables."""
    if selection_set is None:
        return ""
    parts = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode) and not (selection.arguments or selection.directives):
            inner = _signature(selection.selection_set)
            if inner is None:
                return None
            alias = f"{selection.alias.value}:" if selection.alias else ""
            parts.append(f"{alias}{selection.name.value}{inner}")
        else:
            printed = print_ast(selection)
            if "$" in printed:
                return None
            parts.append(printed)
    return "{" + " ".join(parts) + "}"


def encode_json(data: object) -> str:
    """JSON text of a response or websocket message, embedding shared fragments as they are."""
    return orjson.dumps(data).decode()
