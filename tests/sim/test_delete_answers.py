"""DELETE answers as each kind's registry does: the deleted object, or a Status."""

from __future__ import annotations

import json
from pathlib import Path

from kubernetes_asyncio import client

from tests.sim.kubectl_cli import kubectl


async def test_delete_returns_the_deleted_service(
    api_kubeconfig: Path, kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    service = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    await core.create_namespaced_service(namespace, service)
    response = await core.delete_namespaced_service("web", namespace, _preload_content=False)
    deleted = json.loads(await response.read())
    assert deleted["kind"] == "Service" and deleted["metadata"]["name"] == "web"
    await core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}})
    status = await core.delete_namespaced_secret("s", namespace)
    assert status.kind == "Status" and status.status == "Success"
    out = await kubectl(api_kubeconfig, "get", "services", "-n", namespace, "-o", "name")
    assert out == ""
