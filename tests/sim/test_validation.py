"""Every write is validated with the same rules: create, update, strategic/merge/JSON patch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from app.sim.cluster import SimCluster
from tests.sim.conftest import job_manifest
from tests.sim.kubectl_cli import run_kubectl

MERGE = "application/merge-patch+json"


async def refused(call: Any) -> dict[str, Any]:
    """The 422 Status of a refused write, as {field: reason}."""
    with pytest.raises(ApiException) as error:
        await call
    body = json.loads(error.value.body)
    assert (error.value.status, body["reason"]) == (422, "Invalid"), body
    return {c["field"]: c["reason"] for c in body["details"]["causes"]}


@pytest.mark.parametrize(
    ("patch", "content_type", "field"),
    [
        ({"spec": {"parallelism": "three"}}, None, "spec.parallelism"),
        ({"spec": {"parallelism": -1}}, MERGE, "spec.parallelism"),
        ({"spec": {"backoffLimit": True}}, None, "spec.backoffLimit"),
        ({"metadata": {"annotations": "x"}}, MERGE, "metadata.annotations"),
        ({"metadata": {"labels": {"a": 1}}}, None, "metadata.labels[a]"),
        ({"metadata": {"labels": {"bad key": "v"}}}, None, "metadata.labels"),
        ({"metadata": {"labels": {"k": "-bad-"}}}, None, "metadata.labels"),
        ({"spec": {"completions": 3}}, None, "spec.completions"),
        ({"spec": {"selector": {"matchLabels": {"a": "b"}}}}, MERGE, "spec.selector"),
        ({"spec": {"template": {"spec": {"nodeSelector": {"n": "1"}}}}}, None, "spec.template"),
        ([{"op": "replace", "path": "/spec/parallelism", "value": "x"}], None, "spec.parallelism"),
    ],
)  # fmt: skip
async def test_invalid_patches_are_refused_with_field_causes(
    api_cluster: SimCluster,
    kube: client.ApiClient,
    namespace: str,
    patch: Any,
    content_type: str | None,
    field: str,
) -> None:
    batch = client.BatchV1Api(kube)
    await batch.create_namespaced_job(namespace, job_manifest("j"))
    before = api_cluster.store.peek_or_404("jobs", namespace, "j")
    options = {"_content_type": content_type} if content_type else {}
    causes = await refused(batch.patch_namespaced_job("j", namespace, patch, **options))
    assert field in causes
    assert api_cluster.store.peek_or_404("jobs", namespace, "j") is before


async def test_update_and_create_use_the_same_rules(kube: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(kube)
    bad = job_manifest("bad", labels={"ok": "yes"})
    bad["metadata"]["labels"]["x/y/z"] = "v"
    assert "metadata.labels" in await refused(batch.create_namespaced_job(namespace, bad))
    await batch.create_namespaced_job(namespace, job_manifest("good"))
    job = await batch.read_namespaced_job("good", namespace)
    job.spec.parallelism = -2
    causes = await refused(batch.replace_namespaced_job("good", namespace, job))
    assert causes == {"spec.parallelism": "FieldValueInvalid"}


async def test_a_suspended_job_may_change_scheduling_directives_only(
    api_cluster: SimCluster, kube: client.ApiClient, namespace: str
) -> None:
    batch = client.BatchV1Api(kube)
    manifest = job_manifest("queued")
    manifest["spec"]["suspend"] = True
    await batch.create_namespaced_job(namespace, manifest)
    template = {"metadata": {"labels": {"slot": "a"}, "annotations": {"why": "admitted"}},
                "spec": {"nodeSelector": {"kubernetes.io/hostname": "node-1"},
                         "tolerations": [{"key": "gpu", "operator": "Exists"}]}}  # fmt: skip
    await batch.patch_namespaced_job("queued", namespace, {"spec": {"template": template}})
    image = {"containers": [{"name": "main", "image": "busybox:1.37"}]}
    causes = await refused(
        batch.patch_namespaced_job("queued", namespace, {"spec": {"template": {"spec": image}}})
    )
    assert causes == {"spec.template": "FieldValueInvalid"}
    # What the platform's admission does: resume and pin to a node in one patch.
    admit = {
        "spec": {
            "suspend": False,
            "template": {"spec": {"nodeSelector": {"kubernetes.io/hostname": "n2"}}},
        }
    }
    await batch.patch_namespaced_job("queued", namespace, admit)  # fmt: skip
    stored = api_cluster.store.peek_or_404("jobs", namespace, "queued")
    assert stored["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/hostname": "n2"}
    assert stored["spec"]["suspend"] is False


async def test_kubectl_reports_an_invalid_label_on_apply(
    api_kubeconfig: Path, namespace: str
) -> None:
    manifest = json.dumps(job_manifest("labelled", labels={"tier": "not valid!"}))
    code, _, err = await run_kubectl(
        api_kubeconfig, "apply", "-n", namespace, "-f", "-", stdin=manifest
    )
    assert code == 1
    assert 'The Job "labelled" is invalid: metadata.labels: Invalid value: "not valid!"' in err
