"""Field selectors: exactly the fields each kind serves, with the values the real registry gives."""

from __future__ import annotations

from pathlib import Path

from kubernetes_asyncio import client

from app.sim.cluster import SimCluster
from tests.sim.conftest import job_manifest, pod_manifest
from tests.sim.kubectl_cli import kubectl, run_kubectl


async def test_absent_counts_and_flags_read_as_go_zero_values(
    api_cluster: SimCluster, api_kubeconfig: Path, namespace: str
) -> None:
    store = api_cluster.store
    store.create("jobs", namespace, job_manifest("fresh"))
    store.create("nodes", None, {"metadata": {"name": f"node-{namespace}"}})
    store.create("pods", namespace, pod_manifest("p"))
    jobs = await kubectl(
        api_kubeconfig, "get", "jobs", "-n", namespace, "-o", "name",
        "--field-selector", "status.successful=0",
    )  # fmt: skip
    assert jobs.split() == ["job.batch/fresh"]
    nodes = await kubectl(
        api_kubeconfig, "get", "nodes", "-o", "name", "--field-selector", "spec.unschedulable=false"
    )
    assert f"node/node-{namespace}" in nodes.split()
    pods = await kubectl(
        api_kubeconfig, "get", "pods", "-n", namespace, "-o", "name",
        "--field-selector", "spec.hostNetwork=false,status.podIP=",
    )  # fmt: skip
    assert pods.split() == ["pod/p"]


async def test_event_source_falls_back_to_the_reporting_component(
    api_cluster: SimCluster, kube: client.ApiClient, namespace: str
) -> None:
    store = api_cluster.store
    involved = {"kind": "Pod", "name": "p", "namespace": namespace}
    store.create("events", namespace, {"metadata": {"name": "old"}, "involvedObject": involved,
                                       "source": {"component": "kubelet"}})  # fmt: skip
    store.create("events", namespace, {"metadata": {"name": "new"}, "involvedObject": involved,
                                       "reportingComponent": "job-controller"})  # fmt: skip
    core = client.CoreV1Api(kube)
    for source, name in (("kubelet", "old"), ("job-controller", "new")):
        found = await core.list_namespaced_event(namespace, field_selector=f"source={source}")
        assert [e.metadata.name for e in found.items] == [name]


async def test_unserved_fields_are_refused(api_kubeconfig: Path) -> None:
    for kind, selector in (("nodes", "metadata.namespace=x"), ("jobs", "status.succeeded=1")):
        code, _, err = await run_kubectl(api_kubeconfig, "get", kind, "--field-selector", selector)
        assert code == 1 and f"field label not supported: {selector.split('=')[0]}" in err
