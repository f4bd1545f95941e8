"""`kubectl explain` and the OpenAPI v3 documents it reads, built from the schema table."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from app.sim import openapi_docs, schema
from app.sim.cluster import SimCluster
from tests.sim.kubectl_cli import kubectl


async def test_explain_job_spec_lists_typed_described_fields(api_kubeconfig: Path) -> None:
    out = await kubectl(api_kubeconfig, "explain", "job.spec")
    assert out.startswith("GROUP:      batch\nKIND:       Job\nVERSION:    v1\n")
    assert "FIELD: spec <JobSpec>" in out
    assert "JobSpec describes how a Job runs its pods." in out
    assert "  template\t<PodTemplateSpec> -required-\n" in out
    assert "  backoffLimit\t<integer>\n    Retries before the Job is marked failed." in out
    assert "  suspend\t<boolean>\n" in out
    assert "  completionMode\t<string>\n  enum: Indexed, NonIndexed\n" in out
    assert "<no description>" not in out


async def test_explain_pod_containers_and_service_ports(api_kubeconfig: Path) -> None:
    out = await kubectl(api_kubeconfig, "explain", "pod.spec.containers")
    assert "FIELD: containers <[]Container>" in out
    for line in ("  name\t<string> -required-", "  env\t<[]EnvVar>", "  ports\t<[]ContainerPort>",
                 "  command\t<[]string>", "  resources\t<Object>"):  # fmt: skip
        assert f"{line}\n" in out, line
    out = await kubectl(api_kubeconfig, "explain", "service.spec.ports")
    assert "KIND:       Service" in out and "FIELD: ports <[]ServicePort>" in out
    assert "  port\t<integer> -required-\n" in out
    out = await kubectl(api_kubeconfig, "explain", "pods.spec.containers.env.valueFrom")
    assert "FIELD: valueFrom <Object>" in out


async def test_documents_carry_kinds_and_patch_merge_keys(api_cluster: SimCluster) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{api_cluster.url}/openapi/v3") as response:
            index = await response.json()
        url = index["paths"]["apis/batch/v1"]["serverRelativeURL"]
        async with http.get(f"{api_cluster.url}{url}") as response:
            assert response.headers["Cache-Control"] == "public, immutable"
            batch = (await response.json())["components"]["schemas"]
        stale = f"{api_cluster.url}/openapi/v3/apis/batch/v1?hash=0BSOLETE"
        async with http.get(stale, allow_redirects=False) as response:
            assert (response.status, response.headers["Location"]) == (301, url)
        core_url = index["paths"]["api/v1"]["serverRelativeURL"]
        async with http.get(f"{api_cluster.url}{core_url}") as response:
            core = (await response.json())["components"]["schemas"]
    job = batch["io.k8s.api.batch.v1.Job"]
    assert job["x-kubernetes-group-version-kind"] == [
        {"group": "batch", "kind": "Job", "version": "v1"}
    ]
    containers = batch["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["items"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    ]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    volumes = batch["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"]
    assert volumes["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    ports = core["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "port"
    container_ports = core["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert container_ports["x-kubernetes-patch-merge-key"] == "containerPort"
    finalizers = core["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"]
    assert finalizers == {
        "description": openapi_docs.DOCS["ObjectMeta"]["finalizers"],
        "type": "array", "items": {"type": "string", "default": ""},
        "x-kubernetes-patch-strategy": "merge",
    }  # fmt: skip


def test_descriptions_name_only_fields_of_the_schema_table() -> None:
    stray = [
        f"{type_name}.{field}"
        for type_name, fields in openapi_docs.DOCS.items()
        for field in fields
        if field and field not in schema.TYPES.get(type_name, {})
    ]
    for table in (openapi_docs.REQUIRED, openapi_docs.ENUMS):
        stray += [
            f"{type_name}.{field}"
            for type_name, fields in table.items()
            for field in fields
            if field not in schema.TYPES.get(type_name, {})
        ]
    assert stray == []
