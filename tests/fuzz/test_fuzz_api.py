"""Fuzzing the running API as a client would: every mutation's arguments, raw documents and
bodies over HTTP, and graphql-transport-ws frames. Only validation errors or `userErrors` come
back, never a 5xx or a masked internal error; every request is answered (each under a client
timeout); a refused mutation leaves nothing behind; and no secret value or token reaches the
server's log.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db.auth_models import Secret
from app.db.models import Job, Run
from app.db.storage_models import Input
from app.graphql.schema import build_schema
from tests.fuzz.shapes import arguments, document, mutations
from tests.support.api import Api
from tests.support.fuzzing import examples as per_backend
from tests.support.graphql import init_payload
from tests.support.server_log import ServerLog, captured, post_raw

SCHEMA = build_schema()._schema
MUTATIONS = mutations(SCHEMA)
MASKED = "Unexpected error."


def fuzz(examples: int) -> Any:
    return settings(
        max_examples=per_backend(examples),
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.fixture
def server_log() -> Iterator[ServerLog]:
    with captured() as log:
        yield log


_USERS: dict[str, Api] = {}


async def fuzzer(api: Api) -> Api:
    """One fresh member for all fuzzing: whatever a valid draw creates is theirs alone."""
    if api.backend not in _USERS:
        _USERS[api.backend] = await api.as_new_user()
    return _USERS[api.backend]


async def owned(user: Api) -> tuple[int, ...]:
    assert user.user is not None
    uid = user.user.pk
    return (
        await Job.filter(owner_id=uid).count(),
        await Run.filter(owner_id=uid).count(),
        await Input.filter(owner_id=uid).count(),
        await Secret.filter(owner_id=uid).count(),
    )


SECRET_KEYS = ("value", "password", "currentPassword", "newPassword", "token")


def secret_values(variables: Any) -> Iterator[str]:
    """Strings sent where secret values go (long enough not to occur in a log by chance)."""
    if isinstance(variables, dict):
        for key, value in variables.items():
            if key in SECRET_KEYS and isinstance(value, str) and len(value) >= 8:
                yield value
            yield from secret_values(value)
    elif isinstance(variables, list):
        for item in variables:
            yield from secret_values(item)


def assert_clean(log: ServerLog, *needles: str) -> None:
    text = log.text()
    for needle in needles:
        assert needle not in text, f"{needle!r} reached the server log"


def assert_client_errors_only(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 500, response.text
    body: dict[str, Any] = response.json() if "json" in response.headers["content-type"] else {}
    for error in body.get("errors") or ():
        assert error["message"] != MASKED, body
    return body


@fuzz(150)
@given(data=st.data(), name=st.sampled_from(sorted(MUTATIONS)))
async def test_every_mutation_answers_fuzzed_arguments_with_client_errors(
    api: Api, server_log: ServerLog, data: st.DataObject, name: str
) -> None:
    user = await fuzzer(api)
    variables = data.draw(arguments(MUTATIONS[name]), label="variables")
    before = await owned(user)
    async with httpx.AsyncClient(timeout=30, headers=user.headers) as http:
        response = await http.post(
            f"{user.base_url}/graphql",
            json={"query": document(name, MUTATIONS[name]), "variables": variables},
        )
    body = assert_client_errors_only(response)
    payload = (body.get("data") or {}).get(name)
    refused = bool(body.get("errors")) or (
        isinstance(payload, dict) and bool(payload.get("userErrors"))
    )
    if refused:
        assert await owned(user) == before, (name, variables, body)
    assert user.token is not None
    assert_clean(server_log, user.token, *secret_values(variables))


DEEP_SELECTION = "query { " + "viewer { " * 300 + "id" + " }" * 300 + " }"
RAW_BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"\xff\xfe\xfd",
            b'{"query": "\xc3\x28"}',
            b"[" * 100_000,
            b'{"query": "' + b"{" * 50_000 + b'"}',
            json.dumps({"query": DEEP_SELECTION}).encode(),
            json.dumps(
                {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(5000)) + " }"}
            ).encode(),
            json.dumps(
                {"query": "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(3000)) + " }"}
            ).encode(),
            json.dumps(
                {"query": "{ __typename }", "variables": {"x": list(range(200_000))}}
            ).encode(),
            b'{"query": "' + b"x" * (2 << 20) + b'"}',
            json.dumps({"query": 5}).encode(),
            json.dumps([{"query": "{ __typename }"}] * 100).encode(),
            json.dumps({"query": "{ __typename }", "variables": "x"}).encode(),
            json.dumps({"query": "{ __typename }", "operationName": ["x"]}).encode(),
        ]
    ),
    st.text(max_size=300).map(lambda t: json.dumps({"query": t}).encode()),
    st.recursive(
        st.one_of(st.none(), st.integers(), st.text(max_size=5)),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=20,
    ).map(lambda v: json.dumps({"query": "{ __typename }", "variables": v}).encode()),
)


@fuzz(40)
@given(body=RAW_BODIES, content_type=st.sampled_from(["application/json", "text/plain", ""]))
async def test_raw_documents_and_bodies_get_client_errors(
    api: Api, server_log: ServerLog, body: bytes, content_type: str
) -> None:
    user = await fuzzer(api)
    response = await post_raw(user, "/graphql", body, token=user.token, content_type=content_type)
    assert_client_errors_only(response)
    assert user.token is not None
    assert_clean(server_log, user.token)


FRAME = st.one_of(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
        max_leaves=12,
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["subscribe", "complete", "ping", "pong", "connection_init", "next", "error", "x"]
            ),
        },
        optional={
            "id": st.one_of(st.text(max_size=4), st.integers(), st.none()),
            "payload": st.one_of(
                st.none(),
                st.text(max_size=10),
                st.integers(),
                st.fixed_dictionaries(
                    {},
                    optional={
                        "query": st.one_of(
                            st.sampled_from(
                                [
                                    "subscription { runsChanged { id } }",
                                    "query { viewer { id } }",
                                    "mutation { logout }",
                                    "{",
                                ]
                            ),
                            st.text(max_size=20),
                            st.integers(),
                        ),
                        "variables": st.one_of(
                            st.none(),
                            st.integers(),
                            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                        ),
                        "operationName": st.one_of(st.none(), st.text(max_size=4), st.integers()),
                    },
                ),
            ),
        },
    ),
)
CLOSE_CODES = {1000, 4400, 4401, 4403, 4409, 4429}


@fuzz(40)
@given(frames=st.lists(FRAME, min_size=1, max_size=4))
async def test_websocket_frames_are_answered_or_closed_with_a_code(
    api: Api, server_log: ServerLog, frames: list[Any]
) -> None:
    user = await fuzzer(api)
    async with websockets.connect(user.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": init_payload(user.token)}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for frame in frames:
            await ws.send(json.dumps(frame))
        # The socket still answers a ping (or has been closed with a protocol code).
        await ws.send(json.dumps({"type": "ping"}))
        try:
            async with asyncio.timeout(30):  # a hung socket fails this example
                while json.loads(await ws.recv()).get("type") != "pong":
                    pass
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            assert closed.rcvd.code in CLOSE_CODES, closed.rcvd
    assert user.token is not None
    assert_clean(server_log, user.token)
