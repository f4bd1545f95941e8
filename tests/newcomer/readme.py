"""README.md's examples as a reader runs them: every GraphQL operation of its code blocks, and its
bash commands, against a running `walkai-jobs dev`.

The README writes ids as readable stand-ins (`UnVuOi4uLg==` is base64 of `Run:...`); they are
replaced by real ids of objects the walkthrough made, and nothing else is changed, so a renamed
field or argument fails here instead of in a reader's hands.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from graphql import OperationDefinitionNode, OperationType, parse

from tests.support.graphql import init_payload

README = Path(__file__).resolve().parents[2] / "README.md"
RUN, JOB, INPUT = "UnVuOi4uLg==", "Sm9iOi4uLg==", "SW5wdXQ6Li4u"
_BLOCK = re.compile(r"^\s*```(?P<lang>\w+)\n(?P<body>.*?)^\s*```", re.M | re.S)


@dataclass(frozen=True)
class Operation:
    """One operation as the README writes it; `root` is its first top-level field."""

    text: str
    kind: OperationType
    root: str


def blocks(lang: str, readme: Path = README) -> list[str]:
    """The bodies of the README's code blocks in `lang`, in order (indentation removed)."""
    found = []
    for match in _BLOCK.finditer(readme.read_text()):
        if match["lang"] == lang:
            lines = match["body"].splitlines()
            indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
            found.append("\n".join(x[indent:] for x in lines))
    return found


def operations(readme: Path = README) -> list[Operation]:
    """Every operation of every ```graphql block, in the README's order."""
    found = []
    for body in blocks("graphql", readme):
        document = parse(body)
        for node in document.definitions:
            assert isinstance(node, OperationDefinitionNode), body
            assert node.loc is not None
            root = node.selection_set.selections[0]
            name = getattr(root, "name", None)
            assert name is not None
            found.append(Operation(body[node.loc.start : node.loc.end], node.operation, name.value))
    return found


@dataclass
class Walkthrough:
    """The README's operations executed in order against one `dev`, with what they returned."""

    url: str
    token: str
    ids: dict[str, str] = field(default_factory=dict)
    results: list[tuple[Operation, Any]] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def filled(self, op: Operation) -> str:
        """The operation with the stand-in ids replaced by real ones."""
        text = op.text
        for stand_in, real in self.ids.items():
            text = text.replace(f'"{stand_in}"', json.dumps(real))
        return text

    async def run(self) -> None:
        """Execute every operation; creations feed later operations' ids."""
        async with httpx.AsyncClient(timeout=60, headers=self.headers) as http:
            for op in operations():
                result = await self.execute(http, op)
                self.results.append((op, result))
                await self.learn(http, op, result)

    async def execute(self, http: httpx.AsyncClient, op: Operation) -> Any:
        """A query's or mutation's data, or a subscription's every payload until it completes."""
        query = self.filled(op)
        if op.root == "deleteJob":
            # Its own Job: the walkthrough's is still read by later examples.
            query = query.replace(json.dumps(self.ids[JOB]), json.dumps(self.ids["spare job"]))
        if op.kind == OperationType.SUBSCRIPTION:
            return await asyncio.wait_for(subscription(self.url, query, self.token), 120)
        body = (await http.post(f"{self.url}/graphql", json={"query": query})).json()
        assert not body.get("errors"), (op.text, body["errors"])
        return body["data"]

    async def learn(self, http: httpx.AsyncClient, op: Operation, result: Any) -> None:
        """Keep the ids a creation returned; upload an input's files as the README says."""
        if op.root == "createJob" and JOB not in self.ids:
            payload = result["createJob"]
            assert payload["userErrors"] == [], payload
            self.ids[JOB], self.ids[RUN] = payload["job"]["id"], payload["run"]["id"]
            spare = await http.post(f"{self.url}/graphql", json={"query": self.filled(op)})
            self.ids["spare job"] = spare.json()["data"]["createJob"]["job"]["id"]
        elif op.root == "createInput":
            payload = result["createInput"]
            assert payload["userErrors"] == [], payload
            self.ids[INPUT] = payload["input"]["id"]
            for upload in payload["uploads"]:
                size = declared_size(op.text, upload["path"])
                headers = {"content-type": upload["contentType"]}
                put = await http.put(upload["url"], content=b"x" * size, headers=headers)
                assert put.status_code < 300, put.text

    def first(self, root: str) -> Any:
        """What the first operation on `root` returned."""
        return next(result for op, result in self.results if op.root == root)


def declared_size(text: str, path: str) -> int:
    """The size an operation declares for one file (`{path: "…", size: N, …}`)."""
    match = re.search(rf'path: "{re.escape(path)}", size: (\d+)', text)
    assert match, (path, text)
    return int(match[1])


async def subscription(url: str, query: str, token: str, **payload: Any) -> list[dict[str, Any]]:
    """Every payload of one subscription over graphql-transport-ws, until `complete`; `payload`
    adds `variables` or `operationName`."""
    ws_url = url.replace("http", "ws", 1) + "/graphql"
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": init_payload(token)}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        op_id = str(uuid.uuid4())
        subscribe = {"id": op_id, "type": "subscribe", "payload": {"query": query, **payload}}
        await ws.send(json.dumps(subscribe))
        return [payload async for payload in _payloads(ws, op_id)]


async def _payloads(ws: Any, op_id: str) -> Any:
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
        elif message.get("id") == op_id:
            assert message["type"] in ("next", "complete"), message
            if message["type"] == "complete":
                return
            assert not message["payload"].get("errors"), message["payload"]
            yield message["payload"]["data"]


def commands(block: str) -> Iterator[str]:
    """The shell commands of a ```bash block (continuation lines joined, comments dropped)."""
    for line in block.replace("\\\n", " ").splitlines():
        command = line.split("  #", 1)[0].strip()
        if command and not command.startswith("#"):
            yield command
