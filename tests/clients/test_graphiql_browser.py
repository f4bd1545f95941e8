"""GraphiQL served by the app, in headless Chromium: a query and a subscription, screenshotted.

The page must work without the internet: its JavaScript and CSS come from the app (see
app/graphiql), so the browser may fetch nothing but the API's own address.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.clients.conftest import OUTPUT, credentials, lines, run
from tests.contract.scenarios import submit
from tests.support.api import Api

QUERY = "query Profiles { gpuProfiles { name memoryGb gpuModel } }"
SUBSCRIPTION = """subscription Follow($runId: ID!) {
  runStatus(runId: $runId) { status exitCode statusVersion }
}"""


async def graphiql(
    api: Api, clients: Path, chromium: str, name: str, job: dict[str, object]
) -> dict:
    # One folder per database: the SQLite and PostgreSQL suites run side by side in one checkout.
    folder = OUTPUT / api.backend
    folder.mkdir(parents=True, exist_ok=True)
    screenshot = folder / f"{name}.png"
    screenshot.unlink(missing_ok=True)
    headers, _ = credentials(api)
    job = {**job, "headers": headers, "screenshot": str(screenshot)}
    out = await run("node", "graphiql.mjs", f"{api.base_url}/graphql", json.dumps(job), cwd=clients)
    assert screenshot.stat().st_size > 10_000, "a screenshot of the page was written"
    result: dict = lines(out)[-1]
    assert all(url.startswith(api.base_url) for url in result["requests"]), result["requests"]
    return result


async def test_the_graphiql_page_loads_its_assets_from_the_app(
    api: Api, graphiql_assets: None
) -> None:
    async with httpx.AsyncClient() as client:
        page = await client.get(f"{api.base_url}/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "unpkg.com" not in page.text
        script = await client.get(f"{api.base_url}/graphiql/static/graphiql@3.8.3/graphiql.min.js")
    assert script.status_code == 200 and len(script.content) > 1_000_000


async def test_graphiql_runs_a_query(
    api: Api, node_clients: Path, chromium: str, graphiql_assets: None
) -> None:
    result = await graphiql(
        api, node_clients, chromium, "graphiql-query", {"query": QUERY, "expect": ["7g.80gb"]}
    )
    shown = json.loads(result["response"].replace("\xa0", " "))
    assert shown["data"]["gpuProfiles"][0]["name"] == "1g.10gb"


async def test_graphiql_runs_a_subscription(
    api: Api, node_clients: Path, chromium: str, graphiql_assets: None
) -> None:
    created = await submit(api, name="graphiql-sub", command=["sh", "-c", "sleep 1"])
    job = {
        "query": SUBSCRIPTION,
        "variables": {"runId": created["run"]["id"]},
        "expect": ["COMPLETED"],
    }
    result = await graphiql(api, node_clients, chromium, "graphiql-subscription", job)
    shown = json.loads(result["response"].replace("\xa0", " "))
    assert shown["data"]["runStatus"]["status"] == "COMPLETED"
    assert shown["data"]["runStatus"]["exitCode"] == 0
