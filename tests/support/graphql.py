"""Real GraphQL clients for tests: HTTP POST, and the graphql-transport-ws websocket protocol."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import websockets


def node_uuid(global_id: str) -> str:
    """The database id inside a Relay global id (`base64("Run:<uuid>")`)."""
    return base64.b64decode(global_id).decode().split(":", 1)[1]


class GraphQLHTTP:
    """POSTs operations to /graphql and returns the decoded response."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.url = f"{base_url}/graphql"
        # With a token, every request is authenticated as its user (`Authorization: Bearer`).
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.AsyncClient(timeout=30, headers=headers)

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The whole response: `data` and maybe `errors`."""
        response = await self.client.post(
            self.url, json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """`data` of a response that must have no errors."""
        body = await self.execute(query, variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()


class Subscription:
    """One operation on a graphql-transport-ws connection."""

    def __init__(self, ws: websockets.ClientConnection, op_id: str) -> None:
        self.ws = ws
        self.id = op_id

    async def next(self) -> dict[str, Any] | None:
        """The next `next` payload's data, or None once the server sent `complete`."""
        while True:
            message = json.loads(await self.ws.recv())
            kind = message["type"]
            if kind == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            if message.get("id") != self.id:
                continue
            if kind == "complete":
                return None
            if kind == "error":
                raise AssertionError(f"subscription error: {message['payload']}")
            payload = message["payload"]
            assert not payload.get("errors"), payload["errors"]
            data: dict[str, Any] = payload["data"]
            return data

    async def collect(self) -> list[dict[str, Any]]:
        """Every payload until the server completes the operation."""
        items = []
        while (item := await self.next()) is not None:
            items.append(item)
        return items


def init_payload(token: str | None) -> dict[str, Any]:
    """The `connection_init` payload that authenticates a websocket with a token."""
    return {"authorization": f"Bearer {token}"} if token else {}


@asynccontextmanager
async def subscribe(
    ws_url: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> AsyncIterator[Subscription]:
    """Open a graphql-transport-ws connection and start one subscription on it."""
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": init_payload(token)}))
        ack = json.loads(await ws.recv())
        assert ack["type"] == "connection_ack", ack
        op_id = str(uuid.uuid4())
        await ws.send(
            json.dumps(
                {
                    "id": op_id,
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )
        yield Subscription(ws, op_id)
