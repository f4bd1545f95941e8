"""Malformed input gets a clear 4xx, never a 500 or a dropped socket, and client mistakes are
logged at INFO without tracebacks: each test sends what an attacker would, over the wire."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from app.db.models import Job
from app.sidecar.broker import MAX_MANIFEST_BYTES
from app.sidecar.credentials import outputs_prefix
from tests.api.operations import CREATE_JOB
from tests.artifacts.flows import submit
from tests.support.api import Api
from tests.support.graphql import init_payload, node_uuid
from tests.support.server_log import ServerLog, captured, post_raw

DEEP = 5000


def nested(depth: int) -> bytes:
    return b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * depth + b"]" * depth + b"}}"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"query": "{ __typename \xff\xfe }"}', "UTF-8"),
        (b'{"query": "{ __typename }", "variables": {"a": "\\ud800"}}', "UTF-8"),
        (nested(DEEP), "deeper"),
        (nested(200), "deeper"),  # parses, but deeper than anything walks safely
    ],
)
async def test_graphql_answers_400_to_bodies_it_cannot_read(
    api: Api, body: bytes, reason: str
) -> None:
    response = await post_raw(api, "/graphql", body, token=api.token)
    assert response.status_code == 400, response.text
    assert reason in response.text


async def test_sidecar_broker_answers_400_to_bodies_it_cannot_read(api: Api) -> None:
    run = node_uuid(await submit(api, "print('x')"))
    token = api.platform.run_tokens.issue(run)
    key = outputs_prefix(run) + "f"
    for path in ("/sidecar/v1/upload", "/sidecar/v1/uploads", "/sidecar/v1/download"):
        for body, reason in [
            (b'{"key": "' + key.encode() + b'\xff"}', "UTF-8"),
            (b"[" * DEEP + b"]" * DEEP, "deeper"),
            (b'{"key": ' + b"[" * 100 + b"]" * 100 + b"}", "deeper"),
        ]:
            response = await post_raw(api, path, body, token=token)
            assert response.status_code == 400, (path, response.text)
            assert reason in response.json()["error"]
    async with httpx.AsyncClient(timeout=30) as http:
        manifest = await http.put(
            f"{api.base_url}/sidecar/v1/manifest",
            content=b"[" * DEEP + b"]" * DEEP,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert manifest.status_code == 400, manifest.text


async def ws_close_code(api: Api, frames: list[Any], protocol: str) -> int | None:
    """Send `frames` after a successful handshake; the close code the server answers with."""
    async with websockets.connect(api.ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": init_payload(api.token)}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for frame in frames:
            await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
        try:
            async with asyncio.timeout(30):  # a hung socket fails the test, not the suite
                while True:
                    await ws.recv()
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


QUERY = "subscription { runsChanged { id } }"


@pytest.mark.parametrize(
    "frame",
    [
        {"id": "1", "type": "subscribe", "payload": "not an object"},
        {"id": "1", "type": "subscribe", "payload": ["x"]},
        {"id": "1", "type": "subscribe", "payload": {"query": 5}},
        {"id": "1", "type": "subscribe", "payload": {"query": QUERY, "variables": [1]}},
        {"id": "1", "type": "subscribe", "payload": {"query": QUERY, "operationName": 1}},
        {"id": "1", "type": "subscribe", "payload": {}},
        {"id": ["1"], "type": "subscribe", "payload": {"query": QUERY}},
        {"id": {}, "type": "complete"},
        {"type": 7},
        [1, 2],
        "just a string",
        "[" * DEEP + "]" * DEEP,
        '{"id": "1", "type": "subscribe", "payload": {"query": "\\ud800"}}',
    ],
)
async def test_a_malformed_transport_ws_message_closes_with_4400(api: Api, frame: Any) -> None:
    assert await ws_close_code(api, [frame], "graphql-transport-ws") == 4400


@pytest.mark.parametrize(
    "frame",
    [
        {"id": "1", "type": "start", "payload": "x"},
        {"id": "1", "type": "start", "payload": {"query": []}},
        {"id": 1, "type": "stop"},
        [],
        {"type": None},
    ],
)
async def test_a_malformed_legacy_ws_message_closes_the_socket(api: Api, frame: Any) -> None:
    assert await ws_close_code(api, [frame], "graphql-ws") == 4400


async def test_a_malformed_id_is_one_user_error_among_the_others(api: Api) -> None:
    jobs = await Job.all().count()
    body = await api.http.execute(
        CREATE_JOB,
        {
            "input": {
                "image": "",
                "gpu": "9g.999gb",
                "storageGi": 1,
                "inputIds": ["!!!", "Sm9iOjE="],
                "teamId": "%%%",
            }
        },
    )
    assert not body.get("errors"), body
    payload = body["data"]["createJob"]
    fields = {e["field"]: e["code"] for e in payload["userErrors"]}
    assert fields["inputIds.0"] == fields["inputIds.1"] == "NOT_FOUND"
    assert fields["teamId"] == "NOT_FOUND"
    assert {"image", "gpu"} <= set(fields)
    assert payload["job"] is None and await Job.all().count() == jobs


@pytest.fixture
def server_log() -> Iterator[ServerLog]:
    with captured() as log:
        yield log


async def test_client_mistakes_are_logged_at_info_without_tracebacks(
    api: Api, server_log: ServerLog
) -> None:
    mistakes = [
        ('query { run(id: "!!!") { id } }', api),  # malformed id
        ('query { run(id: "UnVuOnh4eA==") { id } }', api),  # an id of nothing
        ("query { jobs(status: NOPE) { edges { node { id } } } }", api),  # unknown enum
        ("query { nope }", api),  # validation
        ("query { jobs(first: 100000) { edges { node { id } } } }", api),  # refused page size
        ("query { jobs { edges { node { id } } } }", api.anonymous()),  # no token
        ("query {", api),  # syntax
    ]
    for query, client in mistakes:
        body = await client.http.execute(query)
        assert body.get("errors") or body["data"]["run"] is None, body
    graphql_records = [r for r in server_log.records if r.name.startswith(("strawberry", "walkai"))]
    errors = [r for r in graphql_records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert not [r for r in graphql_records if r.exc_info], "a traceback for a client mistake"
    assert any("client error" in r.getMessage() for r in graphql_records)


# Every mutation that takes an id, with a malformed one ("%%%") and, where it has other
# arguments, a mistake in one of them too: both come back as userErrors naming their field.
MALFORMED_IDS = [
    (
        'mutation { createSecret(name: "Not A Name!", data: [], teamId: "%%%") '
        "{ userErrors { field code } } }",
        "createSecret",
        {"teamId"},
    ),
    (
        'mutation { createSchedule(jobId: "%%%", cron: "not cron") { userErrors { field code } } }',
        "createSchedule",
        {"jobId"},
    ),
    (
        'mutation { setQuota(input: {userId: "%%%", maxSlices: -1}) '
        "{ userErrors { field code } } }",
        "setQuota",
        {"userId"},
    ),
    (
        'mutation { inviteUser(email: "not-an-address", teamIds: ["%%%"]) '
        "{ userErrors { field code } } }",
        "inviteUser",
        {"teamIds"},
    ),
    (
        'mutation { rerunJob(jobId: "%%%", overrides: {maxRuntimeSeconds: -5}) '
        "{ userErrors { field code } } }",
        "rerunJob",
        {"jobId"},
    ),
    ('mutation { cancelRun(runId: "%%%") { userErrors { field code } } }', "cancelRun", {"runId"}),
    ('mutation { deleteJob(id: "%%%") { userErrors { field code } } }', "deleteJob", {"id"}),
    ('mutation { deleteInput(id: "%%%") { userErrors { field code } } }', "deleteInput", {"id"}),
    (
        'mutation { addTeamMember(teamId: "%%%", userId: "%%%") { userErrors { field code } } }',
        "addTeamMember",
        None,
    ),
]


@pytest.mark.parametrize(("document", "name", "fields"), MALFORMED_IDS)
async def test_a_malformed_id_is_a_user_error_of_its_field_in_every_mutation(
    api: Api, document: str, name: str, fields: set[str] | None
) -> None:
    admin = await api.as_new_user("ADMIN")
    body = await admin.http.execute(document)
    assert not body.get("errors"), body  # a userError, not a request that failed whole
    errors = body["data"][name]["userErrors"]
    assert errors, body
    named = {e["field"] for e in errors}
    if fields is not None:
        assert fields <= named, errors
        assert any(e["code"] == "NOT_FOUND" for e in errors if e["field"] in fields), errors


async def test_sidecar_bodies_over_the_manifest_limit_are_refused_before_they_are_read(
    api: Api,
) -> None:
    """A streamed body past the largest the broker takes is a clear 413 (the limit stops
    reading it there), not a 500 or a dropped connection."""
    run = node_uuid(await submit(api, "print('x')"))
    token = api.platform.run_tokens.issue(run)

    chunk = b" " * (1 << 20)

    async def endless():  # type: ignore[no-untyped-def]
        for _ in range(2 * MAX_MANIFEST_BYTES // len(chunk)):
            yield chunk

    async with httpx.AsyncClient(timeout=60) as http:
        streamed = await http.put(
            f"{api.base_url}/sidecar/v1/manifest",
            content=endless(),
            headers={"Authorization": f"Bearer {token}"},
        )
    assert streamed.status_code == 413
