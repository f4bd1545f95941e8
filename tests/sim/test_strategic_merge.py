"""Strategic merge patch picks each list's merge key by the type it belongs to."""

from __future__ import annotations

from pathlib import Path

from kubernetes_asyncio import client

from app.sim.cluster import SimCluster
from tests.sim.kubectl_cli import kubectl

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {namespace}
spec:
  selector:
    app: web
  ports:
{ports}"""
PORT = "  - name: p{port}\n    port: {port}\n    targetPort: {port}\n"


def service(namespace: str, *ports: int) -> str:
    return SERVICE.format(namespace=namespace, ports="".join(PORT.format(port=p) for p in ports))


async def test_apply_adds_a_service_port_keyed_by_port(
    api_cluster: SimCluster, api_kubeconfig: Path, namespace: str
) -> None:
    await kubectl(api_kubeconfig, "apply", "-f", "-", stdin=service(namespace, 80))
    await kubectl(api_kubeconfig, "apply", "-f", "-", stdin=service(namespace, 80, 443))
    stored = api_cluster.store.peek_or_404("services", namespace, "web")
    assert [p["port"] for p in stored["spec"]["ports"]] == [80, 443]
    await kubectl(api_kubeconfig, "apply", "-f", "-", stdin=service(namespace, 443))
    stored = api_cluster.store.peek_or_404("services", namespace, "web")
    assert [p["port"] for p in stored["spec"]["ports"]] == [443]


async def test_container_ports_merge_by_container_port(
    api_cluster: SimCluster, kube: client.ApiClient, namespace: str
) -> None:
    apps = client.AppsV1Api(kube)
    container = {"name": "c", "image": "x", "ports": [{"containerPort": 80, "name": "http"}]}
    deployment = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [container]}},
        },
    }
    await apps.create_namespaced_deployment(namespace, deployment)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [
        {"containerPort": 9090, "name": "metrics"}]}]}}}}  # fmt: skip
    await apps.patch_namespaced_deployment("d", namespace, patch)
    stored = api_cluster.store.peek_or_404("deployments", namespace, "d")
    ports = stored["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert [p["containerPort"] for p in ports] == [80, 9090]
