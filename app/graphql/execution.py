"""How the API executes operations: graphql-core's executor, with two shortcuts for fan-out.

**Shared events.** A GraphQL subscription executes its selection set per subscriber per event:
with 1,000 clients following one run, a batch of 500 lines would be completed field by field and
encoded to JSON 1,000 times. Here, an event that carries a `shared` dict (a `LogBatchType`,
published once to every subscriber) is executed once per distinct root selection — its text is
the key (the root field's arguments aside: they chose the stream, and an event's root value is
the event itself), so two clients asking for the same fields share, two asking for different
ones do not — and the result's data is kept as pre-serialized JSON (`orjson.Fragment`).
`encode_json` (used by `app.server.GraphQLApp` for every response and websocket message) embeds
it as is: each further subscriber's event costs a dictionary lookup and a copy of bytes. Root
selections with directives or with variables below the root field are not shared (their result
could depend on the values), nor are results with errors or completed asynchronously; those go
the ordinary way, as does anything without field middleware only.

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
import strawberry
from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    OperationDefinitionNode,
    print_ast,
)
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.execution import ExecutionContext as StrawberryExecutionContext
from strawberry.types.field import StrawberryField
from strawberry.utils.await_maybe import await_maybe

_CACHE_LIMIT = 10_000

# The value of each response key: (key, attribute reader, or the type's name for `__typename`;
# the scalar, None for `__typename`; whether null is an error).
Plan = tuple[tuple[str, Any, GraphQLScalarType | None, bool], ...]


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Executes shared events once per root selection, and completes plain objects directly."""

    def build_per_event_executor(self, payload: Any) -> Any:
        shared: dict[Any, Any] | None = getattr(payload, "shared", None)
        key = self._event_key() if isinstance(shared, dict) else None
        if shared is None or key is None:
            return super().build_per_event_executor(payload)
        result = shared.get(key)
        if result is None:
            result = super().build_per_event_executor(payload).execute_operation(False)
            if not isinstance(result, ExecutionResult) or result.errors or not result.data:
                return _Executed(result)  # awaitable, or with errors: this subscriber's own
            data = {name: orjson.Fragment(orjson.dumps(v)) for name, v in result.data.items()}
            result = shared[key] = ExecutionResult(data)
        return _Executed(result)

    def _event_key(self) -> str | None:
        """The operation's root selection as text, or None if its events may not be shared."""
        middleware = self.middleware_manager
        return None if middleware and middleware.middlewares else event_key(self.operation)

    def complete_object_value(
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


class _Executed:
    """A per-event executor whose event was executed already (for another subscriber)."""

    def __init__(self, result: Any) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> Any:
        return self.result


# id(operation node) -> (the node, its event key): computed once per subscription.
_event_keys: dict[int, tuple[OperationDefinitionNode, str | None]] = {}


def event_key(operation: OperationDefinitionNode) -> str | None:
    """What a shared event's result is kept under for this operation: its root selection as
    text; None if its events are not shared."""
    entry = _event_keys.get(id(operation))
    if entry is None or entry[0] is not operation:
        if len(_event_keys) >= _CACHE_LIMIT:
            _event_keys.clear()
        entry = _event_keys[id(operation)] = (operation, _root_signature(operation))
    return entry[1]


def shared_payload(event: Any, operation: OperationDefinitionNode) -> orjson.Fragment | None:
    """The serialized `next` payload of a shared event already executed for this operation's
    root selection (for another subscriber); None if it has not been."""
    shared = getattr(event, "shared", None)
    key = event_key(operation) if isinstance(shared, dict) else None
    if shared is None or key is None or (result := shared.get(key)) is None:
        return None
    payload = shared.get((key, "payload"))
    if payload is None:
        payload = shared[(key, "payload")] = orjson.Fragment(orjson.dumps({"data": result.data}))
    assert isinstance(payload, orjson.Fragment)
    return payload


def _root_signature(operation: OperationDefinitionNode) -> str | None:
    parts = []
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return None
        inner = _signature(selection.selection_set)
        if inner is None:
            return None
        alias = f"{selection.alias.value}:" if selection.alias else ""
        parts.append(f"{alias}{selection.name.value}{inner}")
    return "{" + " ".join(parts) + "}"


def _signature(selection_set: Any) -> str | None:
    """The selection as text: plain fields spelled out (cheap), anything else printed; None if
    it uses variables."""
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


class ExtensionsRunner(SchemaExtensionsRunner):
    """Strawberry's runner, asking only the extensions that report results for them: the stock
    one awaits every extension's `get_results` for every result, subscription events included
    (about 9 µs an event with six extensions, none of which reports anything)."""

    def __init__(
        self, execution_context: StrawberryExecutionContext, extensions: list[SchemaExtension]
    ) -> None:
        super().__init__(execution_context, extensions)
        self._reporting = [
            e for e in extensions if type(e).get_results is not SchemaExtension.get_results
        ]

    async def get_extensions_results(self, ctx: StrawberryExecutionContext) -> dict[str, Any]:
        if not self._reporting and not ctx.extensions_results:
            return {}
        data: dict[str, Any] = {}
        for extension in self._reporting:
            data.update(await await_maybe(extension.get_results()))
        data.update(ctx.extensions_results)
        return data


class Schema(strawberry.Schema):
    """Strawberry's schema with `ExtensionsRunner`."""

    def create_extensions_runner(
        self, execution_context: StrawberryExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return ExtensionsRunner(execution_context=execution_context, extensions=extensions)


def encode_json(data: object) -> str:
    """JSON text of a response or websocket message, embedding shared fragments as they are."""
    return orjson.dumps(data).decode()
