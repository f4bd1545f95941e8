"""Fixtures of the simulated-cluster tests: clusters on free ports and real clients for them."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from kubernetes_asyncio import client, config

from app.sim.cluster import SimCluster
from tests.sim.conftest_controllers import sim  # noqa: F401  (the controllers' fixture)

T = TypeVar("T")


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


@contextlib.asynccontextmanager
async def kube_client(kubeconfig: Path) -> AsyncIterator[client.ApiClient]:
    """An unmodified kubernetes-asyncio client configured from a written kubeconfig."""
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        yield api


@contextlib.asynccontextmanager
async def fresh_namespace(cluster: SimCluster) -> AsyncIterator[str]:
    """A new namespace of `cluster`, deleted afterwards (if the test left it)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.store.create("namespaces", None, {"metadata": {"name": name}})
    yield name
    if cluster.store.peek("namespaces", None, name) is not None:
        cluster.store.delete("namespaces", None, name)


@pytest.fixture
async def kube(api_kubeconfig: Path) -> AsyncIterator[client.ApiClient]:
    """An unmodified kubernetes-asyncio client for `api_cluster`."""
    async with kube_client(api_kubeconfig) as api:
        yield api


@pytest.fixture
async def namespace(api_cluster: SimCluster) -> AsyncIterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    async with fresh_namespace(api_cluster) as name:
        yield name


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


# Back-offs of the `live_cluster` at 1/100 of real time (10 s → 0.1 s).
LIVE_TIME_FACTOR = 0.01


@pytest.fixture(scope="module")
async def live_cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SimCluster]:
    """A full cluster (scheduler, job controller, kubelet), back-offs at LIVE_TIME_FACTOR; one
    per module. A test that changes `controllers.timing.factor` restores it."""
    cluster = SimCluster(
        workdir=tmp_path_factory.mktemp("sim-live"), bookmark_interval=1,
        time_factor=LIVE_TIME_FACTOR,
    )  # fmt: skip
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.stop()


@pytest.fixture(scope="module")
def live_kubeconfig(live_cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig file pointing at `live_cluster` (kubectl and kubernetes-asyncio)."""
    return live_cluster.write_kubeconfig(tmp_path_factory.mktemp("kube-live") / "config")


@pytest.fixture
async def live_kube(live_kubeconfig: Path) -> AsyncIterator[client.ApiClient]:
    """An unmodified kubernetes-asyncio client for `live_cluster`."""
    async with kube_client(live_kubeconfig) as api:
        yield api


@pytest.fixture
async def live_namespace(live_cluster: SimCluster) -> AsyncIterator[str]:
    """A fresh namespace of `live_cluster` per test, deleted afterwards."""
    async with fresh_namespace(live_cluster) as name:
        yield name


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 20.0) -> T:
    """Poll the async `check` until it returns something truthy (its value)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {check.__qualname__}")
        await asyncio.sleep(0.05)
