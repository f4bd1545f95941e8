"""How the API executes operations: graphql-core's executor, with two shortcuts for fan-out.

**Shared events.** A GraphQL subscription executes its selection set per subscriber per event:
with 1,000 clients following one run, a batch of 500 lines would be completed field by field and
encoded to JSON 1,000 times. Here, an event that carries a `shared` dict (a `LogBatchType`,
published once to every subscriber) is executed once per distinct root selection — its text is
the key (the root field's arguments aside: they chose the stream, and an event's root value is
the event itself), so two clients asking for the same fields share, two asking for different
ones do not — and the result's data is kept as pre-serialized JSON (`orjson.Fragment`).
`encode_json` (used by `app.server.GraphQLApp` for every response and websocket message) embeds
it as is: each further subscriber's event costs a dictionary lookup and a copy of bytes.
`next_payload` gives a subscription the whole serialized `next` payload, executing the event if
nobody has, for `app.graphql.streaming` to send without the pipeline. Root selections with
directives or with variables below the root field are not shared (their result could depend on
the values), nor are results with errors or completed asynchronously, nor anything under field
middleware; those go the ordinary way.

**Plain fields.** A field read by attribute is completed without graphql-core's generic path
(`app.graphql.plans`), alone or, for a whole object or list of them, together.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any

import orjson
import strawberry
from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    OperationDefinitionNode,
    Undefined,
    print_ast,
)
from graphql.pyutils import Path, gather_with_cancel
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.execution import ExecutionContext as StrawberryExecutionContext
from strawberry.utils.await_maybe import await_maybe

from app.graphql import plans
from app.graphql.error_log import log_errors
from app.graphql.sensitive import is_sensitive

# Set as a subscription's root field resolves: its resolver can then execute shared events
# itself (`next_payload`), for `app.graphql.streaming`.
_SUBSCRIPTION: ContextVar[ExecutionContext | None] = ContextVar("subscription", default=None)


def subscription_executor() -> ExecutionContext | None:
    """The executor of the subscription whose resolver is running (in the operation's task)."""
    return _SUBSCRIPTION.get()


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Executes shared events once per root selection, and completes plain objects directly."""

    def build_resolve_info(
        self,
        field_def: GraphQLField,
        field_nodes: list[FieldNode],
        parent_type: GraphQLObjectType,
        path: Path,
    ) -> GraphQLResolveInfo:
        root = path.prev is None and parent_type is self.schema.subscription_type
        if root and not self._per_event:
            _SUBSCRIPTION.set(self)  # in the operation's task, as its root field resolves
        return super().build_resolve_info(field_def, field_nodes, parent_type, path)

    # Whether this executor executes one event (its root field is then the event's value, not
    # the subscription's resolver: `_SUBSCRIPTION` stays the operation's own executor).
    _per_event = False

    def _event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        assert isinstance(executor, ExecutionContext)
        executor._per_event = True
        return executor

    # An event `next_payload` executed whose result is completed asynchronously: kept for the
    # pipeline, which gets the event next, rather than executed twice (or dropped half-run).
    _started: tuple[Any, Any] | None = None

    def build_per_event_executor(self, payload: Any) -> Any:
        started, self._started = self._started, None
        if started is not None and started[0] is payload:
            return _Executed(started[1])
        if started is not None and inspect.iscoroutine(started[1]):
            # The event started for the pipeline never reached it: a lagged subscriber drops
            # what it was handed and reads the current state instead.
            started[1].close()
        result = self._execute_shared(payload)
        return self._event_executor(payload) if result is None else _Executed(result)

    def next_payload(self, event: Any) -> orjson.Fragment | None:
        """The serialized `next` payload of a shared event for this operation, executed now if
        no subscriber with the same root selection has; None if it is not shared (the
        subscription pipeline executes it, as any event)."""
        shared: dict[Any, Any] | None = getattr(event, "shared", None)
        key = self._event_key() if isinstance(shared, dict) else None
        if shared is None or key is None:
            return None
        payload = shared.get((key, "payload"))
        if payload is None:
            if self._started is not None and self._started[0] is event:
                return None  # started already, completed asynchronously: the pipeline's
            result = self._execute_shared(event)
            if result is None or result is not shared.get(key):
                if inspect.isawaitable(result):
                    self._started = (event, result)  # the pipeline completes it
                return None
            payload = orjson.Fragment(orjson.dumps({"data": result.data}))
            shared[(key, "payload")] = payload
        assert isinstance(payload, orjson.Fragment)
        return payload

    def _execute_shared(self, payload: Any) -> Any:
        """The event's result: kept in its `shared` dict for every subscriber with this root
        selection if it can be, else this subscriber's own (awaitable, or with errors); None
        if it is not a shared event."""
        shared: dict[Any, Any] | None = getattr(payload, "shared", None)
        key = self._event_key() if isinstance(shared, dict) else None
        if shared is None or key is None:
            return None
        result = shared.get(key)
        if result is None:
            result = self._event_executor(payload).execute_operation(False)
            if not isinstance(result, ExecutionResult) or result.errors or not result.data:
                return result
            data = {name: orjson.Fragment(orjson.dumps(v)) for name, v in result.data.items()}
            result = shared[key] = ExecutionResult(data)
        return result

    def _event_key(self) -> str | None:
        """The operation's root selection as text, or None if its events may not be shared
        (once per executor: a subscription asks for every event)."""
        try:
            return self._shared_key
        except AttributeError:
            key = None if self._resolvers_wrapped() else event_key(self.operation)
            self._shared_key: str | None = key
            return key

    def _resolvers_wrapped(self) -> bool:
        """Whether field middleware wraps resolvers: then every field is resolved the generic
        way, for every subscriber."""
        middleware = self.middleware_manager
        return bool(middleware and middleware.middlewares)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """As graphql-core's, but plain fields are completed directly (`app.graphql.plans`);
        the others, and a plain one whose value the direct way refuses, the generic way."""
        entries = self._field_entries(parent_type, grouped_field_set)
        if entries is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        awaitable: list[str] = []
        try:
            for (name, details), entry in zip(grouped_field_set.items(), entries, strict=True):
                if entry is not None:
                    try:
                        results[name] = plans.value(entry, source_value)
                        continue
                    except Exception:
                        pass  # the generic way completes it, or reports its error
                field_path = Path(path, name, parent_type.name)
                result = self.execute_field(
                    parent_type, source_value, details, field_path, position_context
                )
                if result is not Undefined:
                    results[name] = result
                    if self.is_awaitable(result):
                        awaitable.append(name)
        except Exception:
            if awaitable:  # settle what other fields started: they may fail too
                self.settle_in_background([results[name] for name in awaitable])
            raise
        if not awaitable:
            return results
        return _awaited(results, awaitable)

    def _field_entries(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> tuple[plans.Entry | None, ...] | None:
        """Each field's plan entry (None: generic), or None if no field is plain. Once per
        grouped field set and execution: graphql-core keeps the sets while it executes."""
        try:
            known = self._known_entries
        except AttributeError:
            known = self._known_entries = {}
        found = known.get(id(grouped_field_set))
        if found is not None:
            return found[1]
        entries: tuple[plans.Entry | None, ...] | None = None
        if not self._resolvers_wrapped():
            entries = tuple(
                plans.field_entry(parent_type, name, tuple(d.node for d in details))
                if all(d.fragment_variable_values is None for d in details)
                else None
                for name, details in grouped_field_set.items()
            )
            if not any(entries):
                entries = None
        known[id(grouped_field_set)] = (grouped_field_set, entries)
        return entries

    _known_entries: dict[int, tuple[Any, tuple[plans.Entry | None, ...] | None]]

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
        if plan is not None and (done := plans.complete_plain(plan, result)) is not None:
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
                items = [plans.complete_plain(plan, item) for item in result]
                if None not in items:
                    return items
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, *args
        )

    def _plan(self, return_type: GraphQLObjectType, field_details_list: Any) -> plans.Plan | None:
        """How to complete plain objects of this type and selection; None: the generic way."""
        if self._resolvers_wrapped():
            return None
        return plans.object_plan(return_type, tuple(d.node for d in field_details_list))


async def _awaited(results: dict[str, Any], awaitable: list[str]) -> dict[str, Any]:
    """`results` with its awaitable fields' values, awaited together (as graphql-core does)."""
    if len(awaitable) == 1:
        results[awaitable[0]] = await results[awaitable[0]]
    else:
        values = await gather_with_cancel(*(results[name] for name in awaitable))
        results.update(zip(awaitable, values, strict=True))
    return results


class _Executed:
    """A per-event executor whose event was executed already (for another subscriber)."""

    def __init__(self, result: Any) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> Any:
        return self.result


_event_keys: plans.Cache = OrderedDict()  # (operation node's id,) -> its event key, or None


def event_key(operation: OperationDefinitionNode) -> str | None:
    """What a shared event's result is kept under for this operation: its root selection as
    text; None if its events are not shared."""
    key: str | None = plans.per_document(
        _event_keys, (id(operation),), (operation,), lambda: _root_signature(operation)
    )
    return key


def _root_signature(operation: OperationDefinitionNode) -> str | None:
    """The root fields as text, their arguments left out (they chose the event stream; an
    event's root value is the event itself); None with directives or a fragment at the root."""
    parts = []
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return None
        if (field := _field_signature(selection)) is None:
            return None
        parts.append(field)
    return "{" + " ".join(parts) + "}"


def _signature(selection_set: Any) -> str | None:
    """The selection as text: plain fields spelled out (cheap), anything else printed; None if
    it uses variables."""
    if selection_set is None:
        return ""
    parts = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode) and not (selection.arguments or selection.directives):
            part = _field_signature(selection)
        else:
            printed = print_ast(selection)
            part = None if "$" in printed else printed
        if part is None:
            return None
        parts.append(part)
    return "{" + " ".join(parts) + "}"


def _field_signature(field: FieldNode) -> str | None:
    """`alias:name{…}` of a field, its arguments and directives aside."""
    inner = _signature(field.selection_set)
    alias = f"{field.alias.value}:" if field.alias else ""
    return None if inner is None else f"{alias}{field.name.value}{inner}"


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
    """Strawberry's schema with `ExtensionsRunner`, logging clients' mistakes at INFO
    (`app.graphql.error_log`)."""

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: StrawberryExecutionContext | None = None,
    ) -> None:
        log_errors(errors, redact=is_sensitive(execution_context))

    def create_extensions_runner(
        self, execution_context: StrawberryExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return ExtensionsRunner(execution_context=execution_context, extensions=extensions)


def encode_json(data: object) -> str:
    """JSON text of a response or websocket message, embedding shared fragments as they are."""
    return orjson.dumps(data).decode()
