"""Fixtures of the simulated-cluster tests: clusters on free ports and real clients for them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config

from app.sim.cluster import SimCluster
from tests.sim.conftest_controllers import sim  # noqa: F401  (the controllers' fixture)


@pytest.fixture(scope="module")
async def api_cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SimCluster]:
    """An API server alone (no scheduler or kubelet), bookmarks every 0.3 s; one per module."""
    cluster = SimCluster(
        workdir=tmp_path_factory.mktemp("sim-api"), controllers=False, bookmark_interval=0.3
    )
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.stop()


@pytest.fixture(scope="module")
def api_kubeconfig(api_cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig file pointing at `api_cluster`."""
    return api_cluster.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")


@pytest.fixture
async def kube(api_kubeconfig: Path) -> AsyncIterator[client.ApiClient]:
    """An unmodified kubernetes-asyncio client configured from the written kubeconfig."""
    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=str(api_kubeconfig), client_configuration=configuration
    )
    async with client.ApiClient(configuration) as api:
        yield api


@pytest.fixture
async def namespace(api_cluster: SimCluster) -> AsyncIterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    api_cluster.store.create("namespaces", None, {"metadata": {"name": name}})
    yield name
    if api_cluster.store.peek("namespaces", None, name) is not None:
        api_cluster.store.delete("namespaces", None, name)


def pod_manifest(name: str, labels: dict[str, str] | None = None, **spec: object) -> dict:
    """A minimal valid Pod."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}], **spec},
    }


def job_manifest(name: str, labels: dict[str, str] | None = None) -> dict:
    """A minimal valid batch/v1 Job."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox:1.36", "command": ["true"]}],
                }
            },
        },
    }
