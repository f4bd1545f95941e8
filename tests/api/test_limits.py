"""Work without bounds: documents whose answer would be huge are refused before they run, and no
response or websocket message carries more than the byte cap."""

from __future__ import annotations

import json
import uuid
from typing import Any

import websockets

from app.graphql.cost import DEFAULT_MAX_COST, operation_cost
from app.graphql.schema import build_schema
from tests.contract.contract import operations
from tests.support.api import Api
from tests.support.graphql import GraphQLHTTP, init_payload
from tests.support.servers import serve

RUN = "UnVuOjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA=="  # Run:<nil uuid>


def _log_aliases(count: int, first: int) -> str:
    page = f"logs(first: {first}) {{ edges {{ node {{ text }} }} }}"
    fields = " ".join(f"l{i}: {page}" for i in range(count))
    return f'query Flood {{ run(id: "{RUN}") {{ {fields} }} }}'


async def _ws_messages(api: Api, ws_url: str, query: str, count: int = 1) -> list[dict[str, Any]]:
    """The first `count` messages the server sends for one operation on a fresh websocket."""
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": init_payload(api.token)}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        op_id = str(uuid.uuid4())
        payload = {"query": query, "variables": {}}
        await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
        messages = []
        while len(messages) < count:
            message = json.loads(await ws.recv())
            if message.get("id") == op_id:
                messages.append(message)
        return messages


async def test_sixty_four_log_pages_in_one_query_are_refused_naming_the_limit(api: Api) -> None:
    query = _log_aliases(64, 1000)
    assert len(query) < 4000  # a small document asking for a gigabyte
    body = await api.http.execute(query)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["limit"] == DEFAULT_MAX_COST
    assert error["extensions"]["cost"] > DEFAULT_MAX_COST
    assert "WALKAI_MAX_QUERY_COST" in error["message"]
    assert f"{DEFAULT_MAX_COST:,}" in error["message"]


async def test_page_sizes_from_variables_and_defaults_count(api: Api) -> None:
    page = "logs(first: $n) { edges { node { text } } }"
    query = f"query Pages($n: Int = 1000) {{ run(id: $id) {{ a: {page} b: {page} c: {page} }} }}"
    query = query.replace("$id", f'"{RUN}"')
    refused = await api.http.execute(query)
    assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    small = await api.http.execute(query, {"n": 10})
    assert small == {"data": {"run": None}}  # ran: cheap enough
    # No `first`: the default page size counts, so many aliases of it add up.
    many = " ".join(f"a{i}: logs {{ edges {{ node {{ text }} }} }}" for i in range(40))
    body = await api.http.execute(f'{{ run(id: "{RUN}") {{ {many} }} }}')
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_nested_connections_multiply(api: Api) -> None:
    query = """{ jobs(first: 100) { edges { node {
      runs(first: 100) { edges { node { logs(first: 100) { edges { cursor } } } } } } } } }"""
    body = await api.http.execute(query)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert body["errors"][0]["extensions"]["cost"] > 1_000_000


async def test_fragments_spread_many_times_are_costed_without_blowing_up(api: Api) -> None:
    # Each fragment spreads the next twice: 2^30 copies of a log page, costed in linear time.
    fragments = [f"fragment F{i} on Run {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30)] + [
        "fragment F30 on Run { logs(first: 1000) { edges { node { text } } } }"
    ]
    query = f'{{ run(id: "{RUN}") {{ ...F0 }} }} ' + " ".join(fragments)
    body = await api.http.execute(query)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_an_over_budget_subscription_is_refused_before_it_starts(api: Api) -> None:
    texts = " ".join(f"t{i}: text" for i in range(10))
    query = f'subscription {{ runLogs(runId: "{RUN}") {{ lines {{ {texts} }} }} }}'
    (message,) = await _ws_messages(api, api.ws_url, query)
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


def test_every_contract_operation_fits_the_default_budget() -> None:
    schema = build_schema()._schema
    costs = {
        name: operation_cost(schema, operation.document, name)
        for name, operation in operations().items()
    }
    assert max(costs.values()) <= DEFAULT_MAX_COST, costs


INTROSPECTION = "{ __schema { types { name description fields { name description } } } }"


async def test_responses_and_websocket_messages_over_the_byte_cap_are_refused(api: Api) -> None:
    settings = api.platform.settings.model_copy(update={"max_response_bytes": 4096})
    async with serve(settings, share_database=True) as served:
        http = GraphQLHTTP(served.base_url, api.token)
        try:
            body = await http.execute(INTROSPECTION)
            small = await http.execute("{ viewer { email } }")
        finally:
            await http.close()
        (error,) = body["errors"]
        assert body["data"] is None
        assert error["extensions"]["code"] == "RESPONSE_TOO_LARGE"
        assert error["extensions"]["limit"] == 4096
        assert "WALKAI_MAX_RESPONSE_BYTES" in error["message"]
        assert small["data"]["viewer"]["email"]
        (message, done) = await _ws_messages(api, served.ws_url, INTROSPECTION, count=2)
        assert message["type"] == "next"
        assert message["payload"]["errors"][0]["extensions"]["code"] == "RESPONSE_TOO_LARGE"
        assert done["type"] == "complete"


async def test_too_deep_and_too_long_documents_are_refused_every_time(api: Api) -> None:
    """Each limit holds however often a document is sent (parsed documents are shared)."""
    deep = "query Deep { viewer { " + "teams { members { " * 7 + "id" + " } }" * 7 + " } }"
    long = "query Long { " + " ".join(f"a{i}: __typename" for i in range(2100)) + " }"
    for _ in range(2):
        body = await api.http.execute(deep)
        assert body.get("data") is None
        assert "exceeds maximum operation depth" in body["errors"][0]["message"]
        body = await api.http.execute(long)
        assert body.get("data") is None
        assert "token" in body["errors"][0]["message"].lower()


async def test_an_invalid_document_is_refused_alike_every_time_and_variables_still_count(
    api: Api,
) -> None:
    """Validation is shared by every operation with the same text; its errors are not, nor is
    the check of each operation's variables."""
    wrong = "query Wrong($n: Int) { viewer { nosuchField } jobs(first: $m) { totalCount } }"
    first = await api.http.execute(wrong)
    again = await api.http.execute(wrong)
    assert first.get("data") is None and again == first
    messages = sorted(e["message"] for e in first["errors"])
    assert any("nosuchField" in m for m in messages)
    assert any("$m" in m for m in messages) and any("$n" in m for m in messages)
    (over_ws,) = await _ws_messages(api, api.ws_url, wrong.replace("query", "subscription"))
    assert over_ws["type"] == "error"
    node = "query Node($id: ID!) { node(id: $id) { id } }"
    for _ in range(2):
        body = await api.http.execute(node, {})
        assert body.get("data") is None and "$id" in body["errors"][0]["message"]
        assert (await api.http.execute(node, {"id": RUN}))["data"] == {"node": None}
