"""`dryRun=All`: admitted, defaulted and answered as if done, and nothing is stored."""

from __future__ import annotations

import json
from pathlib import Path

from kubernetes_asyncio import client

from app.sim.cluster import SimCluster
from tests.sim.conftest import job_manifest
from tests.sim.kubectl_cli import kubectl, run_kubectl

JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  namespace: {namespace}
  labels:
    tier: {tier}
spec:
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:1.36
        command: ["true"]
"""


def job_yaml(name: str, namespace: str, tier: str = "one") -> str:
    return JOB.format(name=name, namespace=namespace, tier=tier)


async def test_server_dry_run_create_answers_defaulted_and_stores_nothing(
    api_cluster: SimCluster, api_kubeconfig: Path, namespace: str
) -> None:
    before = api_cluster.store.resource_version
    out = await kubectl(
        api_kubeconfig, "create", "--dry-run=server", "-o", "json", "-f", "-",
        stdin=job_yaml("dry", namespace),
    )  # fmt: skip
    job = json.loads(out)
    assert job["metadata"]["uid"] and "resourceVersion" not in job["metadata"]
    assert job["spec"]["backoffLimit"] == 6
    assert api_cluster.store.peek("jobs", namespace, "dry") is None
    assert api_cluster.store.resource_version == before


async def test_diff_and_server_dry_run_apply_leave_the_cluster_untouched(
    api_cluster: SimCluster, api_kubeconfig: Path, namespace: str
) -> None:
    await kubectl(api_kubeconfig, "apply", "-f", "-", stdin=job_yaml("applied", namespace))
    before = api_cluster.store.resource_version
    code, out, err = await run_kubectl(
        api_kubeconfig, "diff", "-f", "-", stdin=job_yaml("applied", namespace, tier="two")
    )
    assert code == 1, err
    assert "-    tier: one" in out and "+    tier: two" in out
    applied = await kubectl(
        api_kubeconfig, "apply", "--dry-run=server", "-f", "-",
        stdin=job_yaml("applied", namespace, tier="two"),
    )  # fmt: skip
    assert applied.strip() == "job.batch/applied configured (server dry run)"
    code, out, err = await run_kubectl(
        api_kubeconfig, "diff", "-f", "-", stdin=job_yaml("fresh", namespace)
    )
    assert code == 1 and "+  name: fresh" in out, err
    deleted = await kubectl(
        api_kubeconfig, "delete", "job", "applied", "-n", namespace, "--dry-run=server"
    )
    assert deleted.strip().endswith("(server dry run)") and "deleted" in deleted
    stored = api_cluster.store.peek_or_404("jobs", namespace, "applied")
    assert stored["metadata"]["labels"]["tier"] == "one"
    assert api_cluster.store.peek("jobs", namespace, "fresh") is None
    assert api_cluster.store.resource_version == before


async def test_client_dry_run_on_every_verb(
    api_cluster: SimCluster, kube: client.ApiClient, namespace: str
) -> None:
    batch = client.BatchV1Api(kube)
    core = client.CoreV1Api(kube)
    await batch.create_namespaced_job(namespace, job_manifest("real"))
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    await core.create_namespaced_pod(namespace, pod)
    before = api_cluster.store.resource_version

    patched = await batch.patch_namespaced_job(
        "real", namespace, {"metadata": {"labels": {"x": "y"}}}, dry_run="All"
    )
    assert patched.metadata.labels == {"x": "y"}
    current = await batch.read_namespaced_job("real", namespace)
    current.spec.backoff_limit = 3
    replaced = await batch.replace_namespaced_job("real", namespace, current, dry_run="All")
    assert replaced.spec.backoff_limit == 3
    gone = await core.delete_namespaced_pod("p", namespace, dry_run="All")
    assert gone.metadata.name == "p"
    await batch.delete_collection_namespaced_job(namespace, dry_run="All")

    assert api_cluster.store.resource_version == before
    stored = api_cluster.store.peek_or_404("jobs", namespace, "real")
    assert stored["spec"]["backoffLimit"] == 0 and not stored["metadata"]["labels"]
    assert api_cluster.store.peek("pods", namespace, "p") is not None


async def test_diff_after_apply_of_deploy_and_a_job_shows_nothing(
    api_cluster: SimCluster, api_kubeconfig: Path, namespace: str, tmp_path: Path
) -> None:
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    job = tmp_path / "job.yaml"
    job.write_text(job_yaml("steady", namespace))
    for source in (["-k", str(deploy)], ["-f", str(job)]):
        await kubectl(api_kubeconfig, "apply", *source)
    before = api_cluster.store.resource_version
    for source in (["-k", str(deploy)], ["-f", str(job)]):
        code, out, err = await run_kubectl(api_kubeconfig, "diff", *source)
        assert (code, out, err) == (0, "", "")
    assert api_cluster.store.resource_version == before
