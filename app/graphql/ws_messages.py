"""The shape of websocket messages, checked before Strawberry's handlers read them.

Strawberry's handlers index into a message as if it had the protocol's shape: a `subscribe`
whose payload is a string, an id that is a list, or a message that is not an object at all
raised `TypeError` in the connection's task, which dropped the socket without a close code.
The graphql-transport-ws protocol says to close with 4400 on any invalid message; the legacy
graphql-ws protocol names no code, so it gets the same.
"""

from __future__ import annotations

from typing import Any

from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

INVALID_MESSAGE = 4400

# Fields of a `subscribe` (graphql-transport-ws) or `start` (graphql-ws) payload: name ->
# (accepted types, required).
_PAYLOAD: dict[str, tuple[tuple[type, ...], bool]] = {
    "query": ((str,), True),
    "variables": ((dict, type(None)), False),
    "operationName": ((str, type(None)), False),
    "extensions": ((dict, type(None)), False),
}


def message_problem(message: Any, operation: str, with_id: frozenset[str]) -> str | None:
    """Why `message` is not a well-formed protocol message (None when it is). A message of
    type `operation` starts one (an id and a GraphQL request payload); those of `with_id` name
    one."""
    if not isinstance(message, dict):
        return "A message must be a JSON object."
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message needs a string `type`."
    if "id" in message and not isinstance(message["id"], str):
        return "A message's `id` must be a string."
    if kind in with_id | {operation} and "id" not in message:
        return f"A `{kind}` message needs an `id`."
    if kind != operation:
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict):
        return f"The payload of `{kind}` must be an object."
    for name, (types, required) in _PAYLOAD.items():
        if name not in payload:
            if required:
                return f"The payload of `{kind}` needs `{name}`."
        elif not isinstance(payload[name], types):
            return f"`{name}` in the payload of `{kind}` has the wrong type."
    return None


class LegacyWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """Strawberry's graphql-ws handler, closing the socket on a malformed message."""

    async def handle_message(self, message: Any) -> None:
        problem = message_problem(message, "start", frozenset({"stop"}))
        if problem is not None:
            await self.websocket.close(code=INVALID_MESSAGE, reason=problem)
            return
        await super().handle_message(message)
