"""Sending a subscription's shared events straight to its websocket.

Each event of a GraphQL subscription goes, per subscriber, through graphql-core's execution,
Strawberry's result handling and extension hooks, and the transport's message building: tens of
microseconds of Python before the write, which with 1,000 subscribers on one log is tens of
milliseconds per batch, all of it latency. An event shared by every subscriber is executed once
per root selection (`app.graphql.execution`); once it has been, a subscriber's message needs
none of that: `SharedSender` sends the serialized payload itself, through the operation's own
`send_operation_message` (which keeps the protocol's state: nothing after `complete`), as
exactly the `next` message the pipeline would have sent.

It can do so from the operation's task (`send`), or from whichever task publishes the event
(`send_now`), while the subscriber waits for it: then the operation's task is not even woken,
which at 1,000 subscribers is most of what a batch costs. A websocket send that completes
without waiting (the connection takes it) is run to its end on the spot; one that has to wait
for the connection finishes in a task of its own, and the operation's task waits for it before
it sends anything else, so messages keep their order.

Over graphql-transport-ws only (`TransportWSHandler`); the legacy protocol, and events that are
not shared, go the ordinary way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Coroutine
from contextvars import ContextVar
from typing import Any, TypeVar, cast

import orjson
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import NextMessage

from app.graphql.execution import ExecutionContext, subscription_executor
from app.graphql.ws_messages import message_problem

T = TypeVar("T")

# The graphql-transport-ws operation whose task is running (its resolvers run in that task).
_OPERATION: ContextVar[Operation[Any, Any] | None] = ContextVar("graphql_operation", default=None)


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Strawberry's graphql-transport-ws handler, telling resolvers which operation they serve,
    and closing the socket with 4400 on a malformed message (`app.graphql.ws_messages`)."""

    async def handle_message(self, message: Any) -> None:
        problem = message_problem(message, "subscribe", frozenset({"complete"}))
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        _OPERATION.set(operation)  # in the operation's own task: seen by its resolvers only
        await super().run_operation(operation)

    async def cleanup_operation(self, operation_id: str) -> None:
        # The client completed it (or went away): nothing more goes out for it, whichever task
        # sends (Strawberry only cancels the operation's own task).
        operation = self.operations.get(operation_id)
        if operation is not None:
            operation.completed = True
        await super().cleanup_operation(operation_id)


class SharedSender:
    """Sends one subscription's shared events as its `next` messages."""

    def __init__(self, operation: Operation[Any, Any], executor: ExecutionContext) -> None:
        self._operation = operation
        self._executor = executor
        # A message `send_now` started that had to wait for the connection.
        self._sending: asyncio.Task[None] | None = None

    @classmethod
    def current(cls) -> SharedSender | None:
        """The sender of the subscription whose resolver is running; None if its events go the
        ordinary way (not over graphql-transport-ws)."""
        operation, executor = _OPERATION.get(), subscription_executor()
        return None if operation is None or executor is None else cls(operation, executor)

    def send_now(self, event: Any) -> bool:
        """Send `event` from the running task, whichever it is, without waiting. True: it is
        sent, or on its way in order; False: the operation's own task must handle it (not
        shared, an earlier message still on its way, or the send failed: it fails again there,
        where the protocol handles it)."""
        sending = self._sending
        if sending is not None:
            if not sending.done() or sending.cancelled() or sending.exception() is not None:
                return False
            self._sending = None
        payload = self._executor.next_payload(event)
        if payload is None:
            return False
        try:
            self._sending = start_now(self._operation.send_operation_message(self._next(payload)))
        except Exception:
            return False
        return True

    async def send(self, event: Any) -> bool:
        """Send `event` from the operation's task, after any message still on its way; False:
        it is not shared, and the resolver yields it."""
        await self.flush()
        payload = self._executor.next_payload(event)
        if payload is None:
            return False
        await self._operation.send_operation_message(self._next(payload))
        return True

    async def flush(self) -> None:
        """Until the message `send_now` started is sent (raising what sending it raised)."""
        sending, self._sending = self._sending, None
        if sending is not None:
            await sending

    def close(self) -> None:
        """The subscription is over: a message still waiting for the connection is dropped."""
        sending, self._sending = self._sending, None
        if sending is not None and not sending.cancel() and not sending.cancelled():
            sending.exception()  # retrieved: the connection's failure is the operation's

    def _next(self, payload: orjson.Fragment) -> NextMessage:
        # The payload is JSON already: the view's `encode_json` embeds it as it is.
        return cast("NextMessage", {"id": self._operation.id, "type": "next", "payload": payload})


async def unsent(
    sender: SharedSender | None, events: AsyncGenerator[T, None]
) -> AsyncGenerator[T, None]:
    """`events`, but those `sender` sent itself: what the resolver still yields. At the end the
    last message on its way is waited for; if the subscription ends first, it is dropped (and
    `events` closed)."""
    try:
        async for event in events:
            if sender is None or not await sender.send(event):
                yield event
        if sender is not None:
            await sender.flush()
    finally:
        await events.aclose()
        if sender is not None:
            sender.close()


def start_now(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run `coro` in the running task up to where it first waits: None if it finished without
    waiting, else the task that runs the rest. (Python 3.12's eager tasks, for one coroutine;
    it raises at once what it raises before waiting.)"""
    try:
        waited = coro.send(None)
    except StopIteration:
        return None
    task = asyncio.ensure_future(_finish(coro, waited))
    # However the task ends (even cancelled before its first step), `coro` ends with it.
    task.add_done_callback(lambda _: coro.close())
    return task


async def _finish(coro: Coroutine[Any, Any, None], waited: Any) -> None:
    """Drive `coro` on from what it waited on (a future, or nothing: `sleep(0)`), as a task of
    its own would have; cancelling this task cancels it where it waits."""
    while True:
        cancelled: asyncio.CancelledError | None = None
        try:
            if waited is None:
                await asyncio.sleep(0)
            else:
                waited._asyncio_future_blocking = False  # as a task does with what it awaits
                await asyncio.wait((waited,))
        except asyncio.CancelledError as error:
            cancelled = error
            if waited is not None:
                waited.cancel()  # as a task cancels what it awaits
        try:
            waited = coro.send(None) if cancelled is None else coro.throw(cancelled)
        except StopIteration:
            return
