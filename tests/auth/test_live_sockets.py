"""Websockets keep only the rights their principal still has: an expired, revoked (on another
replica) or deactivated credential, or a team left, closes them with 4403; an operation sent on
a socket whose token expired never runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets

from app.auth.sessions import issue_access_token
from app.db.auth_models import AccessToken, Team
from app.services.users import create_user
from tests.auth.test_lost_access import remove, team_member
from tests.support.api import Api
from tests.support.graphql import init_payload
from tests.support.servers import Served, serve

RUNS_CHANGED = "subscription { runsChanged { id status } }"
MINT = 'mutation { createAccessToken(name: "forever") { token userErrors { code } } }'
REVOKE = "mutation($id: ID!) { revokeAccessToken(id: $id) { revokedId userErrors { code } } }"
DEACTIVATE = "mutation($id: ID!) { deactivateUser(id: $id) { ok userErrors { code } } }"
RECHECK_SECONDS = 0.3


@pytest.fixture
async def replica(api: Api) -> AsyncIterator[Served]:
    """Another replica of the API on the same database, re-checking its sockets often."""
    settings = api.platform.settings.model_copy(
        update={"connection_recheck_seconds": RECHECK_SECONDS}
    )
    async with serve(settings, share_database=True) as served:
        yield served


@asynccontextmanager
async def socket(url: str, token: str) -> AsyncIterator[websockets.ClientConnection]:
    """An acknowledged graphql-transport-ws connection authenticated with `token`."""
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": init_payload(token)}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        yield ws


async def send(ws: websockets.ClientConnection, query: str) -> str:
    op_id = str(uuid.uuid4())
    message = {"id": op_id, "type": "subscribe", "payload": {"query": query}}
    await ws.send(json.dumps(message))
    return op_id


async def closed_with(
    ws: websockets.ClientConnection, timeout: float = 10
) -> tuple[int, list[Any]]:
    """The close code once the server closes the socket, and every message before it."""
    received: list[Any] = []
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            received.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    assert closed.value.rcvd is not None, "the server sent no close frame"
    return closed.value.rcvd.code, received


async def token_for(email_prefix: str, expires_in: float | None = None) -> tuple[str, str]:
    """A new member's token (expiring in `expires_in` seconds) and the member's id."""
    user = await create_user(f"{email_prefix}-{uuid.uuid4().hex[:8]}@example.com")
    expires = datetime.now(UTC) + timedelta(seconds=expires_in) if expires_in else None
    _, token = await issue_access_token(user, "tests", expires_at=expires)
    return token, str(user.id)


async def test_an_operation_on_a_socket_whose_token_expired_never_runs(api: Api) -> None:
    token, user_id = await token_for("expiring", expires_in=1.5)
    async with socket(api.ws_url, token) as ws:
        await asyncio.sleep(2)
        # The periodic check (every 30 s) may close the socket first; either way, nothing runs.
        with contextlib.suppress(websockets.ConnectionClosed):
            await send(ws, MINT)
        code, received = await closed_with(ws)
    assert code == 4403
    assert "wkp_" not in json.dumps(received)
    assert await AccessToken.filter(user_id=user_id).count() == 1  # nothing minted


async def test_a_subscription_ends_when_its_token_expires(replica: Served) -> None:
    token, _ = await token_for("expiring", expires_in=1.5)
    async with socket(replica.ws_url, token) as ws:
        await send(ws, RUNS_CHANGED)
        code, _ = await closed_with(ws)
    assert code == 4403


@pytest.mark.parametrize("how", ["revoke", "deactivate"])
async def test_revoking_on_one_replica_closes_sockets_on_another(
    api: Api, replica: Served, how: str
) -> None:
    member = await api.as_new_user()
    assert member.token is not None
    admin = await api.as_new_user(role="ADMIN")
    async with socket(replica.ws_url, member.token) as ws:
        await send(ws, RUNS_CHANGED)
        if how == "revoke":
            (token,) = (await member.gql("{ accessTokens { id } }"))["accessTokens"]
            revoked = (await member.gql(REVOKE, {"id": token["id"]}))["revokeAccessToken"]
            assert revoked["revokedId"] == token["id"]
        else:
            user_id = (await member.gql("{ viewer { id } }"))["viewer"]["id"]
            assert (await admin.gql(DEACTIVATE, {"id": user_id}))["deactivateUser"]["ok"]
        # The API that revoked it holds no socket of it; the replica learns from the database.
        code, _ = await closed_with(ws)
    assert code == 4403


async def test_a_member_removed_from_a_team_stops_receiving_its_runs(
    api: Api, replica: Served
) -> None:
    member, team_id, admin = await team_member(api)
    assert member.token is not None
    async with socket(replica.ws_url, member.token) as ws:
        await send(ws, RUNS_CHANGED)
        await remove(admin, member, team_id)
        code, _ = await closed_with(ws)
    assert code == 4403


async def test_joining_a_team_widens_an_open_socket_without_closing_it(
    api: Api, replica: Served
) -> None:
    member = await api.as_new_user()
    assert member.token is not None and member.user is not None
    async with socket(replica.ws_url, member.token) as ws:
        await send(ws, RUNS_CHANGED)
        team, _ = await Team.get_or_create(name=f"team-{uuid.uuid4().hex[:8]}")
        await team.members.add(member.user)
        await asyncio.sleep(RECHECK_SECONDS * 4)
        op_id = await send(ws, "{ teams { name } }")
        while (message := json.loads(await asyncio.wait_for(ws.recv(), 10)))["id"] != op_id:
            pass
    assert message["payload"]["data"]["teams"] == [{"name": team.name}]
