"""Pods the cluster itself takes away (kube-scheduler's preemption for another workload, an
eviction) are requeued by the platform like the runs it preempts."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from app.kube.labels import kube_job_name
from tests.admission.test_queue import cancel_all, gpus_free, submit, until
from tests.support.api import Api
from tests.support.graphql import node_uuid

EVICTOR_CLASS = "test-evictor"


def foreign_pod(name: str) -> dict[str, Any]:
    """Another team's workload, outside the platform, that needs a whole A100 urgently."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "priorityClassName": EVICTOR_CLASS,
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "work",
                    "image": "busybox:1.36",
                    "command": ["sh", "-c", "sleep 300"],
                    "resources": {"limits": {"nvidia.com/mig-7g.80gb": 1}},
                }
            ],
        },
    }


async def test_a_run_evicted_by_the_cluster_is_requeued_and_runs_again(api: Api) -> None:
    await gpus_free(api)
    kube = api.platform.kube
    scheduling, core = client.SchedulingV1Api(kube), client.CoreV1Api(kube)
    try:
        await scheduling.create_priority_class(
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": EVICTOR_CLASS},
                "value": 1_000_000,
                "preemptionPolicy": "PreemptLowerPriority",
            }
        )
    except ApiException as exc:
        assert exc.status == 409
    runs = [await submit(api, "7g.80gb", 6) for _ in range(2)]
    admin = await api.as_new_user("ADMIN")
    await until(admin, runs, lambda rs: all(r["status"] == "RUNNING" for r in rs.values()))
    await core.create_namespaced_pod(api.namespace, foreign_pod("urgent-foreign"))
    try:
        states = await until(
            admin, runs, lambda rs: any(r["reason"] == "PREEMPTED" for r in rs.values())
        )
        (victim,) = [r for r, s in states.items() if s["reason"] == "PREEMPTED"]
        assert states[victim]["status"] == "PENDING"
        # Back in the platform's queue: its Job is suspended, no replacement pod outside it.
        await until(admin, [victim], lambda rs: rs[victim]["admittedAt"] is None)
        job = await client.BatchV1Api(kube).read_namespaced_job(
            kube_job_name(node_uuid(victim)), api.namespace
        )
        assert job.spec.suspend is True
    finally:
        await core.delete_namespaced_pod("urgent-foreign", api.namespace, grace_period_seconds=0)
    # The GPU is back: it runs again and finishes, on a second attempt.
    done = await until(admin, runs, lambda rs: all(r["status"] == "COMPLETED" for r in rs.values()))
    assert done[victim]["attempts"] == 2
    await cancel_all(api, runs)
