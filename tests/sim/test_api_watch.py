"""Watch through kubernetes-asyncio's `watch.Watch`: resume, bookmarks, 410, timeouts, faults."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from app.sim.cluster import SimCluster
from tests.sim.conftest import pod_manifest


async def take(stream: watch.Watch, count: int, kinds: tuple[str, ...] = ()) -> list[Any]:
    """The next `count` events (only of `kinds` if given), with a safety timeout."""
    events: list[Any] = []

    async def collect() -> None:
        async for event in stream:
            if not kinds or event["type"] in kinds:
                events.append(event)
                if len(events) == count:
                    return

    await asyncio.wait_for(collect(), 10)
    return events


def summary(events: list[Any]) -> list[tuple[str, str]]:
    return [(e["type"], e["raw_object"]["metadata"]["name"]) for e in events]


async def test_list_then_watch_sees_every_change_in_order(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod(namespace, pod_manifest("before"))
    listed = await core.list_namespaced_pod(namespace)
    async with watch.Watch() as w:
        stream = w.stream(core.list_namespaced_pod, namespace,
                          resource_version=listed.metadata.resource_version)  # fmt: skip
        await core.create_namespaced_pod(namespace, pod_manifest("p"))
        await core.patch_namespaced_pod("p", namespace, {"metadata": {"labels": {"x": "1"}}})
        await core.delete_namespaced_pod("p", namespace)
        events = await take(stream, 3)
    assert summary(events) == [("ADDED", "p"), ("MODIFIED", "p"), ("DELETED", "p")]
    assert events[1]["object"].metadata.labels == {"x": "1"}  # deserialised as V1Pod
    versions = [int(e["raw_object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and len(set(versions)) == 3


async def test_watch_without_version_starts_with_the_current_objects(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    for name in ("a", "b"):
        await core.create_namespaced_pod(namespace, pod_manifest(name))
    for version in (None, "0"):
        kwargs = {"resource_version": version} if version else {}
        async with watch.Watch() as w:
            stream = w.stream(core.list_namespaced_pod, namespace, timeout_seconds=5, **kwargs)
            assert summary(await take(stream, 2)) == [("ADDED", "a"), ("ADDED", "b")]


async def test_resume_from_a_resource_version_replays_only_what_was_missed(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    listed = await core.list_namespaced_pod(namespace)
    async with watch.Watch() as w:
        stream = w.stream(core.list_namespaced_pod, namespace,
                          resource_version=listed.metadata.resource_version)  # fmt: skip
        await core.create_namespaced_pod(namespace, pod_manifest("one"))
        (seen,) = await take(stream, 1)
    last = seen["raw_object"]["metadata"]["resourceVersion"]
    await core.create_namespaced_pod(namespace, pod_manifest("two"))
    await core.delete_namespaced_pod("one", namespace)
    async with watch.Watch() as w:
        stream = w.stream(core.list_namespaced_pod, namespace, resource_version=last)
        assert summary(await take(stream, 2)) == [("ADDED", "two"), ("DELETED", "one")]


async def test_bookmarks_carry_the_latest_version(
    kube: client.ApiClient, namespace: str, api_cluster: SimCluster
) -> None:
    core = client.CoreV1Api(kube)
    listed = await core.list_namespaced_pod(namespace)
    async with watch.Watch() as w:
        stream = w.stream(core.list_namespaced_pod, namespace, allow_watch_bookmarks=True,
                          resource_version=listed.metadata.resource_version)  # fmt: skip
        # A change in another namespace moves the version without an event for this watch.
        await core.create_namespaced_secret("default", {"metadata": {"generateName": "s-"}})
        (bookmark,) = await take(stream, 1, ("BOOKMARK",))
        assert bookmark["raw_object"]["kind"] == "Pod"
        version = int(bookmark["raw_object"]["metadata"]["resourceVersion"])
        assert version >= int(listed.metadata.resource_version) + 1
        assert w.resource_version == bookmark["raw_object"]["metadata"]["resourceVersion"]


async def test_too_old_version_gets_410_and_a_relist_recovers(
    kube: client.ApiClient, namespace: str, api_cluster: SimCluster
) -> None:
    core = client.CoreV1Api(kube)
    listed = await core.list_namespaced_pod(namespace)
    await core.create_namespaced_pod(namespace, pod_manifest("p"))
    api_cluster.faults.compact()
    async with watch.Watch() as w:
        stream = w.stream(core.list_namespaced_pod, namespace, timeout_seconds=5,
                          resource_version=listed.metadata.resource_version)  # fmt: skip
        with pytest.raises(ApiException) as expired:
            await take(stream, 1)
    assert expired.value.status == 410
    assert "too old resource version" in expired.value.reason
    relisted = await core.list_namespaced_pod(namespace)
    assert [p.metadata.name for p in relisted.items] == ["p"]
    async with watch.Watch() as w:
        stream = w.stream(core.list_namespaced_pod, namespace,
                          resource_version=relisted.metadata.resource_version)  # fmt: skip
        await core.delete_namespaced_pod("p", namespace)
        assert summary(await take(stream, 1)) == [("DELETED", "p")]


async def test_410_is_an_error_event_on_a_200_stream(
    api_cluster: SimCluster, namespace: str
) -> None:
    api_cluster.faults.compact()
    url = f"{api_cluster.url}/api/v1/namespaces/{namespace}/pods?watch=true&resourceVersion=1"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        event = json.loads(await response.content.readline())
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")


async def test_watch_ends_after_timeout_seconds(kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    async with watch.Watch() as w:
        events = [e async for e in w.stream(core.list_namespaced_pod, namespace, timeout_seconds=1)]
    assert events == []


async def test_selector_watch_sees_objects_enter_and_leave(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod(namespace, pod_manifest("p", {"team": "a"}))
    listed = await core.list_namespaced_pod(namespace, label_selector="team=b")
    async with watch.Watch() as w:
        stream = w.stream(core.list_namespaced_pod, namespace, label_selector="team=b",
                          resource_version=listed.metadata.resource_version)  # fmt: skip
        for team in ("b", "c"):
            await core.patch_namespaced_pod(
                "p", namespace, {"metadata": {"labels": {"team": team}}}
            )
        assert summary(await take(stream, 2)) == [("ADDED", "p"), ("DELETED", "p")]


async def test_send_initial_events_ends_with_an_annotated_bookmark(
    api_cluster: SimCluster, namespace: str
) -> None:
    api_cluster.store.create("secrets", namespace, {"metadata": {"name": "s"}})
    url = (
        f"{api_cluster.url}/api/v1/namespaces/{namespace}/secrets?watch=1&sendInitialEvents=true"
        "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2"
    )
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        first = json.loads(await response.content.readline())
        second = json.loads(await response.content.readline())
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "s")
    assert second["type"] == "BOOKMARK"
    assert second["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_dropped_watches_end_and_are_counted(
    kube: client.ApiClient, namespace: str, api_cluster: SimCluster
) -> None:
    core = client.CoreV1Api(kube)
    opened = api_cluster.stats.watches_opened
    async with watch.Watch() as w:
        stream = w.stream(core.list_namespaced_pod, namespace, timeout_seconds=30)
        consumer = asyncio.create_task(take(stream, 1))
        while api_cluster.stats.open_watches.get("pods", 0) == 0:
            await asyncio.sleep(0.01)
        assert api_cluster.stats.watches_opened == opened + 1
        assert api_cluster.faults.drop_watches() >= 1
        assert await consumer == []  # the stream ended (no retry: timeout_seconds is set)
    assert api_cluster.stats.open_watches.get("pods", 0) == 0


async def test_injected_errors_answer_with_status_then_recover(
    kube: client.ApiClient, namespace: str, api_cluster: SimCluster
) -> None:
    core = client.CoreV1Api(kube)
    async with aiohttp.ClientSession() as http:
        rule = {"action": "fail", "count": 2, "code": 503, "pathPrefix": "/api/v1/namespaces"}
        async with http.post(f"{api_cluster.url}/_sim/faults", json=rule) as response:
            assert (await response.json())["rules"][0]["remaining"] == 2
        for _ in range(2):
            with pytest.raises(ApiException) as unavailable:
                await core.list_namespaced_pod(namespace)
            body = json.loads(unavailable.value.body)
            assert (body["code"], body["reason"]) == (503, "ServiceUnavailable")
        assert (await core.list_namespaced_pod(namespace)).items == []
        async with http.get(f"{api_cluster.url}/_sim/stats") as response:
            stats = await response.json()
    assert stats["requests"] >= 3 and "openWatches" in stats


async def test_restart_keeps_state_and_resources_versions(
    kube: client.ApiClient, namespace: str, api_cluster: SimCluster
) -> None:
    core = client.CoreV1Api(kube)
    created = await core.create_namespaced_pod(namespace, pod_manifest("survivor"))
    async with watch.Watch() as w:
        stream = w.stream(core.list_namespaced_pod, namespace, timeout_seconds=30,
                          resource_version=created.metadata.resource_version)  # fmt: skip
        consumer = asyncio.create_task(take(stream, 1))
        while api_cluster.stats.open_watches.get("pods", 0) == 0:
            await asyncio.sleep(0.01)
        await api_cluster.restart()
        assert await consumer == []
    fetched = await core.read_namespaced_pod("survivor", namespace)
    assert fetched.metadata.resource_version == created.metadata.resource_version
    async with watch.Watch() as w:  # resuming from the old version works after the restart
        stream = w.stream(core.list_namespaced_pod, namespace,
                          resource_version=created.metadata.resource_version)  # fmt: skip
        await core.delete_namespaced_pod("survivor", namespace)
        assert summary(await take(stream, 1)) == [("DELETED", "survivor")]
