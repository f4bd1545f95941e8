"""Leader election on a Lease of the simulated cluster: one holder, handover, takeover."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from app.kube.client import connect
from app.kube.lease import LeaseElector
from tests.support.kubectl import kubectl
from tests.support.servers import until

NAMESPACE = "default"


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[client.ApiClient]:
    api = await connect(kubeconfig, None)
    try:
        yield api
    finally:
        await api.close()


class Replica:
    """One elector and what it was told, as a replica's log service is."""

    def __init__(self, api: client.ApiClient, lease: str, name: str, **timing: float) -> None:
        self.changes: list[bool] = []
        self.elector = LeaseElector(api, NAMESPACE, lease, name, self._told, **timing)

    async def _told(self, leading: bool) -> None:
        self.changes.append(leading)


async def holder(kubeconfig: Path, lease: str) -> str:
    out = await kubectl(kubeconfig, "get", "lease", lease, "-o", "json", namespace=NAMESPACE)
    return str(json.loads(out)["spec"].get("holderIdentity") or "")


FAST = {"duration_seconds": 1.0, "renew_deadline_seconds": 0.7, "retry_seconds": 0.1}


async def a_leads_b_waits(kube: client.ApiClient) -> tuple[str, Replica, Replica]:
    """A fresh Lease held by replica a, and replica b competing for it."""
    lease = f"test-{uuid.uuid4().hex[:8]}"
    a, b = Replica(kube, lease, "replica-a", **FAST), Replica(kube, lease, "replica-b", **FAST)
    a.elector.start()
    await until(lambda: a.elector.leading)
    b.elector.start()
    return lease, a, b


async def test_one_replica_leads_and_hands_over_when_it_stops(
    kube: client.ApiClient, kubeconfig: Path
) -> None:
    lease, a, b = await a_leads_b_waits(kube)
    await asyncio.sleep(0.5)  # several of b's tries: the Lease is held and renewed
    assert (a.changes, b.changes) == ([True], [])
    assert await holder(kubeconfig, lease) == "replica-a"

    await a.elector.stop()  # releases: b need not wait for the Lease to expire
    await until(lambda: b.elector.leading, timeout=FAST["duration_seconds"])
    assert (a.changes, b.changes) == ([True, False], [True])
    assert await holder(kubeconfig, lease) == "replica-b"
    await b.elector.stop()


async def test_a_holder_that_vanishes_is_replaced_once_the_lease_expires(
    kube: client.ApiClient, kubeconfig: Path
) -> None:
    lease, a, b = await a_leads_b_waits(kube)
    await asyncio.sleep(0.3)
    # a's process dies: no more renewals, no release.
    assert a.elector._task is not None
    a.elector._task.cancel()
    waited = await until(lambda: b.elector.leading)
    assert waited >= FAST["duration_seconds"] - 0.3, "taken over before the Lease expired"
    assert await holder(kubeconfig, lease) == "replica-b"
    await b.elector.stop()
