"""Per-user isolation: another user's object answers exactly like a missing one, everywhere."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import pytest
import websockets

from tests.api.operations import CREATE_JOB, RUN, RUN_STATUS, job_input
from tests.secrets.operations import CREATE_SECRET, DELETE_SECRET, SECRET, UPDATE_SECRET
from tests.support.api import Api
from tests.support.graphql import init_payload

JOB = "query Job($id: ID!) { job(id: $id) { id name } }"
NODE = "query Node($id: ID!) { node(id: $id) { __typename id } }"
JOBS = "{ jobs(first: 100) { edges { node { id } } } }"
SECRETS = "{ secrets(first: 100) { edges { node { id } } } }"
VIEWER = "{ viewer { id email role } }"


def missing(type_name: str) -> str:
    return base64.b64encode(f"{type_name}:{uuid.uuid4()}".encode()).decode()


async def owned_by(api: Api) -> dict[str, str]:
    """A Job, its run and a secret, all belonging to the api's user."""
    job = (await api.gql(CREATE_JOB, {"input": job_input(command=["sh", "-c", "sleep 2"])}))[
        "createJob"
    ]
    secret = (
        await api.gql(
            CREATE_SECRET,
            {"name": f"iso-{uuid.uuid4().hex[:8]}", "data": [{"key": "K", "value": "v"}]},
        )
    )["createSecret"]["secret"]
    return {"Job": job["job"]["id"], "Run": job["run"]["id"], "Secret": secret["id"]}


async def answer(api: Api, query: str, variables: dict[str, Any]) -> str:
    """A response with the ids of the variables blanked, to compare the shapes of answers."""
    body = await api.http.execute(query, variables)
    text = json.dumps(body, sort_keys=True)
    for value in variables.values():
        text = text.replace(str(value), "<id>")
    return text


@pytest.mark.parametrize(
    ("type_name", "query", "variables"),
    [
        ("Job", JOB, {}),
        ("Job", NODE, {}),
        ("Run", RUN, {}),
        ("Run", NODE, {}),
        ("Secret", SECRET, {}),
        ("Secret", NODE, {}),
        ("Secret", UPDATE_SECRET, {"data": [{"key": "X", "value": "y"}]}),
        ("Secret", DELETE_SECRET, {}),
    ],
)
async def test_another_users_object_answers_like_a_missing_one(
    api: Api, type_name: str, query: str, variables: dict[str, Any]
) -> None:
    ids = await owned_by(api)
    other = await api.as_new_user()
    theirs = await answer(other, query, {"id": ids[type_name], **variables})
    absent = await answer(other, query, {"id": missing(type_name), **variables})
    assert theirs == absent
    # The owner still sees (and still has) it.
    if type_name != "Run" and query not in (UPDATE_SECRET, DELETE_SECRET):
        mine = await api.http.execute(query, {"id": ids[type_name], **variables})
        assert "<id>" not in json.dumps(mine) and mine["data"] != json.loads(absent)["data"]
    assert (await api.gql(SECRET, {"id": ids["Secret"]}))["secret"] is not None


async def test_lists_show_only_your_objects_admins_see_all(api: Api) -> None:
    ids = await owned_by(api)
    member = await api.as_new_user()
    admin = await api.as_new_user(role="ADMIN")
    assert ids["Job"] not in json.dumps(await member.gql(JOBS))
    assert ids["Secret"] not in json.dumps(await member.gql(SECRETS))
    assert ids["Job"] in json.dumps(await admin.gql(JOBS))
    assert ids["Secret"] in json.dumps(await admin.gql(SECRETS))
    assert ids["Job"] in json.dumps(await api.gql(JOBS))


async def test_a_team_shares_its_objects_with_its_members(api: Api) -> None:
    team = f"team-{uuid.uuid4().hex[:8]}"
    alice = await api.as_new_user(teams=(team,))
    bob = await api.as_new_user(teams=(team,))
    outsider = await api.as_new_user()
    (team_id,) = [t["id"] for t in (await alice.gql("{ teams { id name } }"))["teams"]]
    created = (await alice.gql(CREATE_JOB, {"input": job_input(command=["true"], teamId=team_id)}))[
        "createJob"
    ]
    job_id = created["job"]["id"]
    assert (await bob.gql(JOB, {"id": job_id}))["job"] is not None
    assert (await outsider.gql(JOB, {"id": job_id}))["job"] is None
    # Only a team of one's own can be used.
    refused = (await outsider.gql(CREATE_JOB, {"input": job_input(teamId=team_id)}))["createJob"]
    assert [e["code"] for e in refused["userErrors"]] == ["NOT_FOUND"]


async def test_subscriptions_to_another_users_run_answer_like_a_missing_run(api: Api) -> None:
    ids = await owned_by(api)
    other = await api.as_new_user()

    async def first_error(run_id: str) -> str:
        async with websockets.connect(other.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(
                json.dumps({"type": "connection_init", "payload": other.connection_params})
            )
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            start = {"query": RUN_STATUS, "variables": {"runId": run_id}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": start}))
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            return json.dumps(message["payload"]).replace(run_id, "<id>")

    assert await first_error(ids["Run"]) == await first_error(missing("Run"))


async def test_another_users_secret_cannot_be_injected(api: Api) -> None:
    name = f"mine-{uuid.uuid4().hex[:8]}"
    await api.gql(CREATE_SECRET, {"name": name, "data": [{"key": "K", "value": "v"}]})
    other = await api.as_new_user()
    payload = (await other.gql(CREATE_JOB, {"input": job_input(secretNames=[name])}))["createJob"]
    assert payload["job"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]


async def test_unauthenticated_requests_are_refused(api: Api) -> None:
    anonymous = api.anonymous()
    response = await anonymous.http.client.post(anonymous.http.url, json={"query": JOBS})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await anonymous.gql(VIEWER))["viewer"] is None
    bogus = api.with_token("wkp_not-a-real-token")
    assert (await bogus.http.client.post(bogus.http.url, json={"query": JOBS})).status_code == 401
    for protocol, payload in [("graphql-transport-ws", {}), ("graphql-ws", {}),
                              ("graphql-transport-ws", init_payload("wkp_nope"))]:  # fmt: skip
        async with websockets.connect(api.ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert message["type"] != "connection_ack", message


async def test_a_revoked_token_stops_at_once_including_an_open_subscription(api: Api) -> None:
    create = 'mutation { createAccessToken(name: "cli") { token accessToken { id } } }'
    created = (await api.gql(create))["createAccessToken"]
    cli = api.with_token(created["token"])
    assert (await cli.gql(VIEWER))["viewer"]["email"] == api.user.email  # type: ignore[union-attr]
    tokens = (await api.gql("{ accessTokens { id lastUsedAt } }"))["accessTokens"]
    used = next(t for t in tokens if t["id"] == created["accessToken"]["id"])
    assert used["lastUsedAt"] is not None
    run = (await cli.gql(CREATE_JOB, {"input": job_input(command=["sh", "-c", "sleep 30"])}))[
        "createJob"
    ]["run"]
    async with cli.subscribe(RUN_STATUS, {"runId": run["id"]}) as sub:
        assert await asyncio.wait_for(sub.next(), 30) is not None
        revoked = (await api.gql(
            "mutation($id: ID!) { revokeAccessToken(id: $id) { revokedId userErrors { code } } }",
            {"id": created["accessToken"]["id"]},
        ))["revokeAccessToken"]  # fmt: skip
        assert revoked["revokedId"] == created["accessToken"]["id"]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while await asyncio.wait_for(sub.next(), 30) is not None:
                pass
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    response = await cli.http.client.post(cli.http.url, json={"query": VIEWER})
    assert response.json()["data"]["viewer"] is None
