"""Discovery documents, error paths and the admin endpoint, over plain HTTP."""

from __future__ import annotations

import aiohttp
from kubernetes_asyncio import client

from app.sim.cluster import SimCluster


async def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """Status code and JSON body of a GET."""
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.json()


async def test_discovery_lists_the_served_kinds(
    api_cluster: SimCluster, kube: client.ApiClient
) -> None:
    version = await client.VersionApi(kube).get_code()
    assert (version.major, version.minor) == ("1", "31")
    status, groups = await get_json(f"{api_cluster.url}/apis")
    assert status == 200
    assert {g["name"] for g in groups["groups"]} == {
        "apps",
        "batch",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "authorization.k8s.io",
        "authentication.k8s.io",
    }
    status, core = await get_json(f"{api_cluster.url}/api/v1")
    names = {r["name"] for r in core["resources"]}
    assert {"pods", "pods/log", "pods/status", "namespaces", "nodes", "secrets",
            "persistentvolumeclaims", "events"} <= names  # fmt: skip
    status, batch = await get_json(f"{api_cluster.url}/apis/batch/v1")
    jobs = next(r for r in batch["resources"] if r["name"] == "jobs")
    assert jobs["namespaced"] and "watch" in jobs["verbs"] and jobs["kind"] == "Job"


async def test_aggregated_discovery_falls_back_to_the_legacy_documents(
    api_cluster: SimCluster,
) -> None:
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    status, body = await get_json(f"{api_cluster.url}/apis", headers={"Accept": accept})
    assert status == 200 and body["kind"] == "APIGroupList"


async def test_unknown_paths_and_methods_get_status_errors(api_cluster: SimCluster) -> None:
    status, body = await get_json(f"{api_cluster.url}/apis/apps/v1/replicasets")
    assert (status, body["kind"], body["reason"]) == (404, "Status", "NotFound")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{api_cluster.url}/api/v1/namespaces/default/pods/x/log") as response,
    ):
        body = await response.json()
    assert (response.status, body["reason"]) == (405, "MethodNotAllowed")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{api_cluster.url}/api/v1/namespaces/default/secrets",
            data=b"{not json",
            headers={"Content-Type": "application/json"},
        ) as response,
    ):
        body = await response.json()
    assert (response.status, body["reason"]) == (400, "BadRequest")


async def test_latency_fault_is_consumed_and_the_request_still_answers(
    api_cluster: SimCluster, kube: client.ApiClient
) -> None:
    api_cluster.faults.delay_next(1, 0.05, path_prefix="/api/v1/namespaces")
    assert api_cluster.faults.describe()["rules"][0]["delay"] == 0.05
    names = [n.metadata.name for n in (await client.CoreV1Api(kube).list_namespace()).items]
    assert "default" in names
    assert api_cluster.faults.describe() == {"rules": []}
