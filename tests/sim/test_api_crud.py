"""Create, read, update, patch and delete through the unmodified kubernetes-asyncio client."""

from __future__ import annotations

import json

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from app.sim.cluster import SimCluster
from tests.sim.conftest import job_manifest, pod_manifest


def status_of(error: ApiException) -> dict:
    """The metav1.Status body of a failed request."""
    body = json.loads(error.body)
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["code"] == error.status
    return body


async def test_create_then_get_returns_server_filled_metadata(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    created = await core.create_namespaced_pod(namespace, pod_manifest("web"))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    assert created.status.phase == "Pending"
    assert created.spec.restart_policy == "Always"  # defaulted like a real API server
    fetched = await core.read_namespaced_pod("web", namespace)
    assert fetched.metadata.uid == created.metadata.uid


async def test_generate_name_gives_a_unique_name(kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    body = pod_manifest("")
    body["metadata"] = {"generateName": "worker-"}
    first = await core.create_namespaced_pod(namespace, body)
    second = await core.create_namespaced_pod(namespace, body)
    assert first.metadata.name.startswith("worker-") and len(first.metadata.name) == 12
    assert first.metadata.name != second.metadata.name


async def test_errors_are_status_objects_with_the_right_codes(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    with pytest.raises(ApiException) as missing:
        await core.read_namespaced_pod("nope", namespace)
    body = status_of(missing.value)
    assert (body["code"], body["reason"]) == (404, "NotFound")
    assert body["message"] == 'pods "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "pods"}

    await core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}})
    with pytest.raises(ApiException) as duplicate:
        await core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}})
    assert status_of(duplicate.value)["reason"] == "AlreadyExists"

    with pytest.raises(ApiException) as invalid:
        await core.create_namespaced_pod(namespace, {"metadata": {"name": "bad"}, "spec": {}})
    body = status_of(invalid.value)
    assert (body["code"], body["reason"]) == (422, "Invalid")
    assert body["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}
    ]

    with pytest.raises(ApiException) as elsewhere:
        await core.create_namespaced_pod("no-such-namespace", pod_manifest("p"))
    assert status_of(elsewhere.value)["message"] == 'namespaces "no-such-namespace" not found'

    with pytest.raises(ApiException) as batch_missing:
        await client.BatchV1Api(kube).read_namespaced_job("nope", namespace)
    body = status_of(batch_missing.value)
    assert body["message"] == 'jobs.batch "nope" not found'
    assert body["details"] == {"name": "nope", "group": "batch", "kind": "jobs"}


async def test_update_with_a_stale_resource_version_conflicts(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_secret(
        namespace, {"metadata": {"name": "cfg"}, "stringData": {"a": "1"}}
    )
    first = await core.read_namespaced_secret("cfg", namespace)
    first.metadata.labels = {"v": "1"}
    updated = await core.replace_namespaced_secret("cfg", namespace, first)
    assert updated.metadata.resource_version != first.metadata.resource_version
    first.metadata.labels = {"v": "2"}  # still carries the old resourceVersion
    with pytest.raises(ApiException) as stale:
        await core.replace_namespaced_secret("cfg", namespace, first)
    body = status_of(stale.value)
    assert (body["code"], body["reason"]) == (409, "Conflict")
    assert "the object has been modified" in body["message"]
    assert (await core.read_namespaced_secret("cfg", namespace)).metadata.labels == {"v": "1"}


async def test_update_keeps_status_and_status_subresource_keeps_spec(
    kube: client.ApiClient, namespace: str
) -> None:
    batch = client.BatchV1Api(kube)
    await batch.create_namespaced_job(namespace, job_manifest("j"))
    status = {"status": {"active": 1, "startTime": "2026-01-01T00:00:00Z"}}
    await batch.patch_namespaced_job_status("j", namespace, status)
    job = kube.sanitize_for_serialization(await batch.read_namespaced_job("j", namespace))
    job["spec"]["parallelism"] = 3
    job["status"] = {}
    replaced = await batch.replace_namespaced_job("j", namespace, job)
    assert replaced.spec.parallelism == 3
    assert replaced.status.active == 1  # the main resource ignores .status
    assert replaced.metadata.generation == 2


async def test_merge_strategic_and_json_patches(kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    pod = pod_manifest("p", labels={"a": "1", "b": "2"})
    pod["spec"]["containers"].append({"name": "side", "image": "busybox:1.36"})
    pod["spec"]["containers"][0]["env"] = [{"name": "X", "value": "1"}]
    await core.create_namespaced_pod(namespace, pod)

    merged = await core.patch_namespaced_pod(
        "p", namespace, {"metadata": {"labels": {"a": None, "c": "3"}}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip
    assert merged.metadata.labels == {"b": "2", "c": "3"}

    # Strategic: containers merge by name (a merge patch would replace the whole list).
    strategic = await core.patch_namespaced_pod(
        "p", namespace, {"spec": {"containers": [{"name": "main", "image": "busybox:1.37"}]}}
    )
    assert [c.name for c in strategic.spec.containers] == ["main", "side"]
    assert strategic.spec.containers[0].image == "busybox:1.37"
    assert [e.name for e in strategic.spec.containers[0].env] == ["X"]

    patched = await core.patch_namespaced_pod(
        "p", namespace, [{"op": "replace", "path": "/metadata/labels/b", "value": "9"}]
    )
    assert patched.metadata.labels["b"] == "9"

    with pytest.raises(ApiException) as failing:
        await core.patch_namespaced_pod(
            "p", namespace, [{"op": "remove", "path": "/metadata/labels/missing"}]
        )
    assert failing.value.status == 422

    with pytest.raises(ApiException) as apply:
        await core.patch_namespaced_pod(
            "p", namespace, {"metadata": {}}, _content_type="application/apply-patch+yaml"
        )
    assert status_of(apply.value)["reason"] == "UnsupportedMediaType"


async def test_patch_status_conditions_merge_by_type(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod(namespace, pod_manifest("p"))
    first = {"status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}}
    await core.patch_namespaced_pod_status("p", namespace, first)
    second = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    pod = await core.patch_namespaced_pod_status("p", namespace, second)
    assert {c.type: c.status for c in pod.status.conditions} == {
        "PodScheduled": "True",
        "Ready": "False",
    }


async def test_priority_class_admission(kube: client.ApiClient, namespace: str) -> None:
    scheduling = client.SchedulingV1Api(kube)
    core = client.CoreV1Api(kube)
    await scheduling.create_priority_class(
        {"metadata": {"name": f"{namespace}-high"}, "value": 1000, "preemptionPolicy": "Never"}
    )
    pod = await core.create_namespaced_pod(
        namespace, pod_manifest("p", priorityClassName=f"{namespace}-high")
    )
    assert (pod.spec.priority, pod.spec.preemption_policy) == (1000, "Never")
    with pytest.raises(ApiException) as missing:
        await core.create_namespaced_pod(namespace, pod_manifest("q", priorityClassName="nope"))
    body = status_of(missing.value)
    assert (body["code"], body["reason"]) == (403, "Forbidden")
    assert "no PriorityClass with name nope was found" in body["message"]
    await scheduling.delete_priority_class(f"{namespace}-high")


async def test_job_defaults_selector_and_pod_labels(kube: client.ApiClient, namespace: str) -> None:
    job = await client.BatchV1Api(kube).create_namespaced_job(namespace, job_manifest("j"))
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    labels = job.spec.template.metadata.labels
    assert labels["batch.kubernetes.io/job-name"] == "j" and labels["controller-uid"] == uid
    assert (job.spec.completions, job.spec.parallelism, job.spec.backoff_limit) == (1, 1, 0)


async def test_delete_cascades_to_owned_objects(
    kube: client.ApiClient, namespace: str, api_cluster: SimCluster
) -> None:
    batch, core = client.BatchV1Api(kube), client.CoreV1Api(kube)

    async def job_with_pod(name: str) -> None:
        job = await batch.create_namespaced_job(namespace, job_manifest(name))
        owner = {"apiVersion": "batch/v1", "kind": "Job", "name": name,
                 "uid": job.metadata.uid, "controller": True}  # fmt: skip
        pod = pod_manifest(f"{name}-pod")
        pod["metadata"]["ownerReferences"] = [owner]
        await core.create_namespaced_pod(namespace, pod)

    await job_with_pod("bg")
    await batch.delete_namespaced_job("bg", namespace, propagation_policy="Background")
    assert [p.metadata.name for p in (await core.list_namespaced_pod(namespace)).items] == []

    await job_with_pod("orphan")
    await batch.delete_namespaced_job("orphan", namespace, propagation_policy="Orphan")
    kept = await core.read_namespaced_pod("orphan-pod", namespace)
    assert kept.metadata.owner_references is None

    await job_with_pod("fg")
    await batch.delete_namespaced_job(
        "fg", namespace, body=client.V1DeleteOptions(propagation_policy="Foreground")
    )
    with pytest.raises(ApiException) as gone_job:
        await batch.read_namespaced_job("fg", namespace)
    assert gone_job.value.status == 404
    assert api_cluster.store.peek("pods", namespace, "fg-pod") is None


async def test_running_pod_is_deleted_gracefully(
    kube: client.ApiClient, namespace: str, api_cluster: SimCluster
) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod(namespace, pod_manifest("p", nodeName="node-a"))
    marked = await core.delete_namespaced_pod("p", namespace, grace_period_seconds=5)
    assert marked.metadata.deletion_timestamp is not None
    assert marked.metadata.deletion_grace_period_seconds == 5
    assert (await core.read_namespaced_pod("p", namespace)).metadata.deletion_timestamp
    api_cluster.store.remove("pods", namespace, "p")  # the kubelet's final word
    with pytest.raises(ApiException) as gone_pod:
        await core.read_namespaced_pod("p", namespace)
    assert gone_pod.value.status == 404


async def test_finalizers_hold_deletion_until_removed(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_secret(
        namespace, {"metadata": {"name": "s", "finalizers": ["example.com/keep"]}}
    )
    await core.delete_namespaced_secret("s", namespace)
    held = await core.read_namespaced_secret("s", namespace)
    assert held.metadata.deletion_timestamp is not None
    await core.patch_namespaced_secret(
        "s", namespace, {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip
    with pytest.raises(ApiException) as gone_secret:
        await core.read_namespaced_secret("s", namespace)
    assert gone_secret.value.status == 404


async def test_cluster_scoped_and_lease_round_trip(kube: client.ApiClient, namespace: str) -> None:
    coordination = client.CoordinationV1Api(kube)
    lease = {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a"}}
    await coordination.create_namespaced_lease(namespace, lease)
    current = await coordination.read_namespaced_lease("leader", namespace)
    current.spec.holder_identity = "b"
    replaced = await coordination.replace_namespaced_lease("leader", namespace, current)
    assert replaced.spec.holder_identity == "b"
    names = [n.metadata.name for n in (await client.CoreV1Api(kube).list_namespace()).items]
    assert {"default", "kube-system", namespace} <= set(names)
