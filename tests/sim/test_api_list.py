"""Lists: label and field selectors, pagination, server-side tables."""

from __future__ import annotations

import json

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from app.sim.cluster import SimCluster
from tests.sim.conftest import pod_manifest


@pytest.fixture
async def pods(kube: client.ApiClient, namespace: str, api_cluster: SimCluster) -> list[str]:
    """Five pods with tiers, two of them bound to node-a, one Running."""
    core = client.CoreV1Api(kube)
    tiers = {"a": "web", "b": "web", "c": "db", "d": "cache", "e": ""}
    for name, tier in tiers.items():
        labels = {"tier": tier} if tier else {"unlabelled": "yes"}
        spec = {"nodeName": "node-a"} if name in "ab" else {}
        await core.create_namespaced_pod(namespace, pod_manifest(name, labels, **spec))
    api_cluster.store.mutate("pods", namespace, "a", lambda p: p["status"].update(phase="Running"))
    return list(tiers)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=web", ["a", "b"]),
        ("tier==web", ["a", "b"]),
        ("tier!=web", ["c", "d", "e"]),
        ("tier in (db, cache)", ["c", "d"]),
        ("tier notin (web)", ["c", "d", "e"]),
        ("tier", ["a", "b", "c", "d"]),
        ("!tier", ["e"]),
        ("tier,tier notin (db,cache)", ["a", "b"]),
        ("", ["a", "b", "c", "d", "e"]),
    ],
)
async def test_label_selectors(
    kube: client.ApiClient, namespace: str, pods: list[str], selector: str, expected: list[str]
) -> None:
    result = await client.CoreV1Api(kube).list_namespaced_pod(namespace, label_selector=selector)
    assert [p.metadata.name for p in result.items] == expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=c", ["c"]),
        ("spec.nodeName=node-a", ["a", "b"]),
        ("spec.nodeName=", ["c", "d", "e"]),
        ("status.phase=Running", ["a"]),
        ("status.phase!=Running,spec.nodeName==node-a", ["b"]),
    ],
)
async def test_field_selectors(
    kube: client.ApiClient, namespace: str, pods: list[str], selector: str, expected: list[str]
) -> None:
    result = await client.CoreV1Api(kube).list_namespaced_pod(namespace, field_selector=selector)
    assert [p.metadata.name for p in result.items] == expected


async def test_bad_selectors_are_400(kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    with pytest.raises(ApiException) as bad_field:
        await core.list_namespaced_pod(namespace, field_selector="spec.image=x")
    assert bad_field.value.status == 400
    assert json.loads(bad_field.value.body)["message"] == "field label not supported: spec.image"
    with pytest.raises(ApiException) as bad_label:
        await core.list_namespaced_pod(namespace, label_selector="a in b")
    assert bad_label.value.status == 400


async def test_pagination_with_limit_and_continue(
    kube: client.ApiClient, namespace: str, pods: list[str]
) -> None:
    core = client.CoreV1Api(kube)
    seen, token, pages = [], None, 0
    first_rv = None
    while True:
        page = await core.list_namespaced_pod(namespace, limit=2, _continue=token)
        pages += 1
        seen += [p.metadata.name for p in page.items]
        first_rv = first_rv or page.metadata.resource_version
        assert page.metadata.resource_version == first_rv  # one consistent list version
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == len(pods) - len(seen)
    assert (seen, pages) == (pods, 3)


async def test_list_across_namespaces_includes_every_namespace(
    kube: client.ApiClient, namespace: str, pods: list[str]
) -> None:
    everything = await client.CoreV1Api(kube).list_pod_for_all_namespaces()
    mine = [p.metadata.name for p in everything.items if p.metadata.namespace == namespace]
    assert mine == pods


async def test_table_output_for_kubectl_get(
    kube: client.ApiClient, namespace: str, pods: list[str]
) -> None:
    response = await kube.call_api(
        f"/api/v1/namespaces/{namespace}/pods",
        "GET",
        header_params={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
        _preload_content=False,
    )
    table = json.loads(await response.read())
    assert table["kind"] == "Table"
    columns = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert columns == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert [row["cells"][:3] for row in table["rows"]][:2] == [
        ["a", "0/1", "Running"],
        ["b", "0/1", "Pending"],
    ]
