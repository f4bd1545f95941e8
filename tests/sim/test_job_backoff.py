"""The Job controller waits before replacing a failed pod (10 s doubling to 6 min, times the
cluster's time factor), as `kubectl get job,pods` shows: no replacement during the back-off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from app.sim.cluster import SimCluster
from app.sim.timing import Timing
from tests.sim.conftest import eventually, job_manifest
from tests.sim.kubectl_cli import kubectl


def test_back_off_figures_are_kubernetes_times_the_factor() -> None:
    real = Timing()
    assert [real.job_backoff(n) for n in range(9)] == [0, 10, 20, 40, 80, 160, 320, 360, 360]
    # The kubelet restarts a container at once the first time, then 10 s doubling to 5 min.
    assert [real.container_backoff(n) for n in range(8)] == [0, 10, 20, 40, 80, 160, 300, 300]
    assert Timing(0.01).job_backoff(2) == pytest.approx(0.2)


@pytest.fixture
def slow_back_off(live_cluster: SimCluster) -> Iterator[Timing]:
    """The live cluster's timing, with back-offs of hours until the test speeds them up."""
    timing: Timing = live_cluster.controllers.timing  # type: ignore[union-attr]
    saved = timing.factor
    timing.factor = 1000.0
    try:
        yield timing
    finally:
        timing.factor = saved


async def test_failed_pod_is_replaced_only_after_the_back_off(
    live_kube: client.ApiClient, live_namespace: str, live_kubeconfig: Path, slow_back_off: Timing
) -> None:
    batch, core = client.BatchV1Api(live_kube), client.CoreV1Api(live_kube)
    job = job_manifest("flaky")
    job["spec"]["backoffLimit"] = 2
    job["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", "exit 1"]
    await batch.create_namespaced_job(live_namespace, job)

    async def first_failure() -> client.V1JobStatus | None:
        status = (await batch.read_namespaced_job("flaky", live_namespace)).status
        return status if status.failed else None

    # The sync that counts the failure is the one that decides against a replacement.
    status = await eventually(first_failure)
    assert (status.failed, status.active) == (1, None)
    assert len((await core.list_namespaced_pod(live_namespace)).items) == 1

    # Back-off at a test's pace; any change to the Job makes the controller look again.
    slow_back_off.factor = 0.01
    await kubectl(live_kubeconfig, "label", "job", "flaky", "-n", live_namespace, "poke=1")

    async def failed() -> client.V1Job | None:
        current = await batch.read_namespaced_job("flaky", live_namespace)
        conditions = current.status.conditions or []
        return current if any(c.type == "Failed" for c in conditions) else None

    final = await eventually(failed)
    assert final.status.failed == 3
    reason = next(c.reason for c in final.status.conditions if c.type == "Failed")
    assert reason == "BackoffLimitExceeded"
    pods = (await core.list_namespaced_pod(live_namespace)).items
    assert len(pods) == 3 and all(p.status.phase == "Failed" for p in pods)


async def test_pods_that_succeed_are_followed_at_once(
    live_kube: client.ApiClient, live_namespace: str, slow_back_off: Timing
) -> None:
    """Only failures back off: the next pod of a Job whose pods succeed comes at once, however
    slow the back-off would be."""
    batch = client.BatchV1Api(live_kube)
    job = job_manifest("steady")
    job["spec"]["completions"] = 3
    await batch.create_namespaced_job(live_namespace, job)

    async def complete() -> bool:
        status = (await batch.read_namespaced_job("steady", live_namespace)).status
        return status.succeeded == 3

    await eventually(complete)
