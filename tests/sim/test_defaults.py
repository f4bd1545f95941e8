"""What kube-apiserver and kube-controller-manager fill in without being asked: Service defaults
and status, the `default` ServiceAccount, the system PriorityClasses, the Job tracking finalizer."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from kubernetes_asyncio import client
from kubernetes_asyncio.client.rest import ApiException

from app.sim.cluster import SimCluster
from tests.sim.conftest import eventually, job_manifest, pod_manifest
from tests.sim.kubectl_cli import kubectl, run_kubectl

TRACKING = "batch.kubernetes.io/job-tracking"


def _service(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }


async def test_service_gets_type_cluster_ip_affinity_and_status(
    kube: client.ApiClient, namespace: str, api_kubeconfig: Path
) -> None:
    core = client.CoreV1Api(kube)
    created = await core.create_namespaced_service(namespace, _service("web"))
    spec = created.spec
    assert (spec.type, spec.session_affinity) == ("ClusterIP", "None")
    assert ipaddress.ip_address(spec.cluster_ip) in ipaddress.ip_network("10.96.0.0/12")
    assert spec.cluster_ips == [spec.cluster_ip]
    assert (spec.ip_families, spec.ip_family_policy) == (["IPv4"], "SingleStack")
    assert (spec.ports[0].protocol, spec.ports[0].target_port) == ("TCP", 80)
    assert created.status.load_balancer is not None

    # A replacement that leaves the allocated IP out keeps it; changing it is refused.
    body = _service("web")
    body["metadata"]["resourceVersion"] = created.metadata.resource_version
    replaced = await core.replace_namespaced_service("web", namespace, body)
    assert replaced.spec.cluster_ip == spec.cluster_ip
    try:
        await core.patch_namespaced_service(
            "web", namespace, {"spec": {"clusterIP": "10.96.0.9", "clusterIPs": ["10.96.0.9"]}}
        )
        raise AssertionError("changing clusterIP was accepted")
    except ApiException as exc:
        assert exc.status == 422
        assert "may not change once set" in json.loads(exc.body)["message"]

    table = await kubectl(api_kubeconfig, "get", "service", "web", "-n", namespace)
    header, row = table.splitlines()
    assert header.split()[:5] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"]
    assert row.split()[:5] == ["web", "ClusterIP", spec.cluster_ip, "<none>", "80/TCP"]


async def test_node_port_service_gets_node_ports(kube: client.ApiClient, namespace: str) -> None:
    body = _service("exposed")
    body["spec"]["type"] = "NodePort"
    created = await client.CoreV1Api(kube).create_namespaced_service(namespace, body)
    assert 30000 <= created.spec.ports[0].node_port <= 32767
    assert created.spec.external_traffic_policy == "Cluster"


async def test_namespace_has_its_default_service_account(
    kube: client.ApiClient, namespace: str, api_kubeconfig: Path
) -> None:
    names = await kubectl(api_kubeconfig, "get", "serviceaccounts", "-n", namespace, "-o", "name")
    assert names.split() == ["serviceaccount/default"]
    core = client.CoreV1Api(kube)
    first = await core.read_namespaced_service_account("default", namespace)
    await kubectl(api_kubeconfig, "delete", "serviceaccount", "default", "-n", namespace)
    again = await core.read_namespaced_service_account("default", namespace)
    assert again.metadata.uid != first.metadata.uid  # the controller made a new one
    created = await core.create_namespaced_pod(namespace, pod_manifest("p"))
    assert created.spec.service_account_name == "default"


async def test_system_priority_classes_exist(
    kube: client.ApiClient, namespace: str, api_kubeconfig: Path
) -> None:
    table = await kubectl(api_kubeconfig, "get", "priorityclasses")
    rows = {line.split()[0]: line.split()[1] for line in table.splitlines()[1:]}
    assert rows["system-cluster-critical"] == "2000000000"
    assert rows["system-node-critical"] == "2000001000"
    pod = pod_manifest("critical", priorityClassName="system-node-critical")
    created = await client.CoreV1Api(kube).create_namespaced_pod(namespace, pod)
    assert created.spec.priority == 2000001000


async def test_job_pods_carry_the_tracking_finalizer_until_counted(
    live_cluster: SimCluster, live_kube: client.ApiClient, live_namespace: str
) -> None:
    batch, core = client.BatchV1Api(live_kube), client.CoreV1Api(live_kube)
    job = job_manifest("tracked")
    job["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", "sleep 0.5"]
    await batch.create_namespaced_job(live_namespace, job)

    async def running_pod() -> client.V1Pod | None:
        pods = (await core.list_namespaced_pod(live_namespace)).items
        return next((p for p in pods if p.status.phase == "Running"), None)

    pod = await eventually(running_pod)
    assert pod.metadata.finalizers == [TRACKING]

    async def complete() -> bool:
        status = (await batch.read_namespaced_job("tracked", live_namespace)).status
        return bool(status.succeeded)

    await eventually(complete)

    async def released() -> bool:
        pods = (await core.list_namespaced_pod(live_namespace)).items
        return bool(pods) and all(not p.metadata.finalizers for p in pods)

    await eventually(released)


async def test_deleting_jobs_with_propagation_removes_their_pods(
    live_cluster: SimCluster, live_kube: client.ApiClient, live_namespace: str
) -> None:
    """A finished Job and a running one, deleted the way the platform cleans up: nothing stays."""
    batch, core = client.BatchV1Api(live_kube), client.CoreV1Api(live_kube)
    await batch.create_namespaced_job(live_namespace, job_manifest("done"))
    running = job_manifest("busy")
    running["spec"]["template"]["spec"]["containers"][0]["command"] = ["sleep", "30"]
    running["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 1
    await batch.create_namespaced_job(live_namespace, running)

    async def settled() -> bool:
        done = await batch.read_namespaced_job("done", live_namespace)
        busy = await batch.read_namespaced_job("busy", live_namespace)
        return bool(done.status.succeeded) and bool(busy.status.ready)

    await eventually(settled)
    for name in ("done", "busy"):
        await batch.delete_namespaced_job(name, live_namespace, propagation_policy="Background")
    code, _, err = await run_kubectl(
        live_cluster.write_kubeconfig(live_cluster.workdir / "kubeconfig-defaults"),
        "wait", "--for=delete", "pods", "--all", "-n", live_namespace, "--timeout=30s",
    )  # fmt: skip
    assert code == 0, err
    assert (await core.list_namespaced_pod(live_namespace)).items == []
