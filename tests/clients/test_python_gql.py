"""The Python `gql` client: HTTP, and websockets with both sub-protocols."""

from __future__ import annotations

import asyncio

import pytest
from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.websockets import WebsocketsTransport

from tests.clients.conftest import credentials
from tests.contract.contract import operation
from tests.contract.scenarios import job_input
from tests.support.api import Api


async def test_gql_over_http_submits_and_reads_a_job(api: Api) -> None:
    headers, _ = credentials(api)
    transport = AIOHTTPTransport(url=f"{api.base_url}/graphql", headers=headers)
    # Fetching the schema makes gql validate every request locally, as codegen'd clients do.
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        variables = {"input": job_input(name="gql-http", command=["true"])}
        created = await session.execute(
            GraphQLRequest(operation("CliSubmit"), variable_values=variables)
        )
        payload = created["createJob"]
        assert payload["userErrors"] == [] and payload["job"]["name"] == "gql-http"
        read = GraphQLRequest(operation("CliRun"), variable_values={"id": payload["run"]["id"]})
        run = await session.execute(read)
        assert run["run"]["job"]["name"] == "gql-http"
        assert session.client.schema is not None
        assert session.client.schema.get_type("Run") is not None


@pytest.mark.parametrize(
    "subprotocol",
    [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, WebsocketsTransport.APOLLO_SUBPROTOCOL],
    ids=["graphql-transport-ws", "legacy-graphql-ws"],
)
async def test_gql_over_websockets_follows_a_run(api: Api, subprotocol: str) -> None:
    headers, init_payload = credentials(api)
    http = AIOHTTPTransport(url=f"{api.base_url}/graphql", headers=headers)
    async with Client(transport=http) as session:
        variables = {"input": job_input(name="gql-ws", command=["sh", "-c", "sleep 1"])}
        created = await session.execute(
            GraphQLRequest(operation("CliSubmit"), variable_values=variables)
        )
    run_id = created["createJob"]["run"]["id"]

    transport = WebsocketsTransport(
        url=api.ws_url, headers=headers, init_payload=init_payload, subprotocols=[subprotocol]
    )
    async with Client(transport=transport) as session:
        request = GraphQLRequest(operation("CliFollowRun"), variable_values={"runId": run_id})

        async def follow() -> list[str]:
            return [e["runStatus"]["status"] async for e in session.subscribe(request)]

        statuses = await asyncio.wait_for(follow(), 60)
        if subprotocol == WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL:
            # Queries over the socket: graphql-transport-ws only (Strawberry's legacy
            # graphql-ws handler accepts subscriptions alone).
            profiles = await session.execute(GraphQLRequest(operation("CliGpuProfiles")))
            assert profiles["gpuProfiles"][0]["name"] == "1g.10gb"
    # The current state first, the final one last (changes in between may coalesce).
    assert statuses[0] in ("SUBMITTED", "PENDING", "RUNNING") and statuses[-1] == "COMPLETED"
