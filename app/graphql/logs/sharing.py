"""One resolution and one serialization of a log batch, shared by every subscriber.

A GraphQL subscription executes its selection set per subscriber per event: with 1,000 clients
following one run, a batch of 500 lines would be completed field by field and encoded to JSON
1,000 times. Here, an object that carries a `shared` dict (a `LogBatchType`, published once to
every subscriber) is completed once per distinct selection set — the printed selection is the
key, so two clients asking for the same fields share, two asking for different ones do not —
and the result is kept as pre-serialized JSON (`orjson.Fragment`). The view's `encode_json`
(`encode_json` below, used by `app.server.GraphQLApp`) embeds that fragment as is, so each
subscriber's message costs a copy of bytes, not a serialization.

Selections that use variables are not shared (their result could depend on the values), nor
are results completed asynchronously or with errors; those go the ordinary way.
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import FieldNode, GraphQLObjectType, GraphQLResolveInfo, print_ast
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_KEYS_CACHE_LIMIT = 10_000


class SharedResultExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Completes objects that carry a `shared` dict once per selection set."""

    # id(field node) -> (the node, its selection key or None): printing is per operation.
    _keys: dict[int, tuple[Any, str | None]] = {}

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
            return super().complete_object_value(
                return_type, field_details_list, info, path, result, *args
            )
        cached = shared.get(key)
        if cached is not None:
            return cached
        errors_before = len(self.collected_errors.errors)
        completed = super().complete_object_value(
            return_type, field_details_list, info, path, result, *args
        )
        if self.is_awaitable(completed) or len(self.collected_errors.errors) != errors_before:
            return completed
        fragment = orjson.Fragment(orjson.dumps(completed))
        shared[key] = fragment
        return fragment


def _selection_key(field_details_list: Any) -> str | None:
    keys = SharedResultExecutionContext._keys
    parts = []
    for details in field_details_list:
        node = details.node
        entry = keys.get(id(node))
        if entry is None or entry[0] is not node:
            if len(keys) >= _KEYS_CACHE_LIMIT:
                keys.clear()
            entry = keys[id(node)] = (node, _signature(node.selection_set))
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
