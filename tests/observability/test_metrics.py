"""/metrics speaks Prometheus and counts what an operator watches."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.contract.contract import operation
from tests.contract.scenarios import follow, submit
from tests.support.api import Api


async def scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{api.base_url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_operations_and_errors_are_counted_by_name(api: Api) -> None:
    before = await scrape(api)
    await api.gql(operation("CliGpuProfiles"))
    await api.gql(operation("CliGpuProfiles"))
    body = await api.http.execute("query Broken { nothingHere }")
    assert body["errors"]
    after = await scrape(api)
    ops = "walkai_graphql_operations_total"
    errors = "walkai_graphql_errors_total"
    assert (
        value(after, ops, type="query", operation="CliGpuProfiles")
        - value(before, ops, type="query", operation="CliGpuProfiles")
        == 2
    )
    assert (
        value(after, errors, type="query", operation="other")
        - value(before, errors, type="query", operation="other")
        == 1
    )
    assert value(after, errors, type="query", operation="CliGpuProfiles") == value(
        before, errors, type="query", operation="CliGpuProfiles"
    )


async def test_active_subscriptions_go_up_and_back_down(api: Api) -> None:
    created = await submit(api, name="metrics-sub", command=["sh", "-c", "sleep 2"])
    baseline = value(await scrape(api), "walkai_graphql_active_subscriptions")
    async with api.subscribe(operation("RunStatusUpdates"), {"runId": created["run"]["id"]}) as sub:
        assert await sub.next() is not None
        during = value(await scrape(api), "walkai_graphql_active_subscriptions")
        assert during == baseline + 1
        await asyncio.wait_for(sub.collect(), 60)
    # The server ends the subscription after the final status; the gauge follows.
    for _ in range(100):
        if value(await scrape(api), "walkai_graphql_active_subscriptions") == baseline:
            break
        await asyncio.sleep(0.05)
    assert value(await scrape(api), "walkai_graphql_active_subscriptions") == baseline


async def test_run_transitions_watches_and_platform_figures(api: Api) -> None:
    before = await scrape(api)
    created = await submit(api, name="metrics-run", command=["sh", "-c", "sleep 1"])
    await follow(api, "RunStatusUpdates", created["run"]["id"])
    after = await scrape(api)
    done = {"from_status": "RUNNING", "to_status": "COMPLETED"}
    assert value(after, "walkai_run_transitions_total", **done) >= (
        value(before, "walkai_run_transitions_total", **done) + 1
    )
    for kind in ("jobs", "pods"):
        assert ("walkai_watch_restarts", (("kind", kind),)) in after
    assert ("walkai_log_followers", ()) in after
    assert value(after, "walkai_admission_queue_length") == 0
