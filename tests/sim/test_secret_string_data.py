"""Secrets' write-only stringData is folded into data on every write."""

from __future__ import annotations

import base64

from kubernetes_asyncio import client

from app.sim.cluster import SimCluster


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_string_data_is_folded_on_update_and_patch(
    api_cluster: SimCluster, kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_secret(
        namespace, {"metadata": {"name": "s"}, "stringData": {"a": "one"}}
    )
    secret = await core.read_namespaced_secret("s", namespace)
    secret.string_data = {"b": "two"}
    replaced = await core.replace_namespaced_secret("s", namespace, secret)
    assert replaced.data == {"a": b64("one"), "b": b64("two")} and replaced.string_data is None
    patched = await core.patch_namespaced_secret(
        "s", namespace, {"data": {"a": b64("old")}, "stringData": {"a": "new"}}
    )
    assert patched.data == {"a": b64("new"), "b": b64("two")}
    merged = await core.patch_namespaced_secret(
        "s", namespace, {"stringData": {"c": "three"}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip
    assert merged.data["c"] == b64("three")
    assert "stringData" not in api_cluster.store.peek_or_404("secrets", namespace, "s")
