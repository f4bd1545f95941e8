"""Sending a subscription's shared events straight to its websocket.

Each event of a GraphQL subscription goes, per subscriber, through graphql-core's execution,
Strawberry's result handling and extension hooks, and the transport's message building: tens of
microseconds of Python before the write, which with 1,000 subscribers on one log is tens of
milliseconds per batch, all of it latency. An event shared by every subscriber is executed once
per root selection (`app.graphql.execution`); once it has been, another subscriber's message
needs none of that: the resolver sends the serialized payload itself, through the operation's own
`send_operation_message` (which keeps the protocol's state: nothing after `complete`), as exactly
the `next` message the pipeline would have sent. Over graphql-transport-ws only
(`TransportWSHandler`); the legacy protocol, and an event nobody has executed yet, go the
ordinary way (which executes and keeps it for the others).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, cast

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import NextMessage

from app.graphql.context import Info
from app.graphql.execution import shared_payload

# The graphql-transport-ws operation whose task is running (its resolvers run in that task).
_OPERATION: ContextVar[Operation[Any, Any] | None] = ContextVar("graphql_operation", default=None)


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Strawberry's graphql-transport-ws handler, telling resolvers which operation they serve."""

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        _OPERATION.set(operation)  # in the operation's own task: seen by its resolvers only
        await super().run_operation(operation)


async def send_shared(info: Info, event: Any) -> bool:
    """Send `event` as the current operation's next message if it was executed already for
    another subscriber; False: the resolver yields it instead."""
    operation = _OPERATION.get()
    payload = shared_payload(event, info.operation) if operation is not None else None
    if operation is None or payload is None:
        return False
    # The payload is JSON already: the view's `encode_json` embeds it as it is.
    message = cast("NextMessage", {"id": operation.id, "type": "next", "payload": payload})
    await operation.send_operation_message(message)
    return True
