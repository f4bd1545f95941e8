"""ConfigMaps: stored and watched like other kinds, and consumed by pods (env, envFrom, volume
files), with the same rules as Secrets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.rest import ApiException

from app.sim.cluster import SimCluster
from tests.sim.conftest import eventually
from tests.sim.kubectl_cli import kubectl, run_kubectl


async def test_kubectl_creates_lists_patches_and_deletes_config_maps(
    api_kubeconfig: Path, namespace: str
) -> None:
    ns = ("-n", namespace)
    # (`kubectl create configmap` itself sends protobuf, which the simulator does not read.)
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
    manifest += "data:\n  GREETING: hello\n  level: '3'\n"
    created = await kubectl(api_kubeconfig, "apply", "-f", "-", *ns, stdin=manifest)
    assert created.strip() == "configmap/settings created"
    table = await kubectl(api_kubeconfig, "get", "cm", *ns)
    assert [line.split()[:2] for line in table.splitlines()] == [["NAME", "DATA"],
                                                                 ["settings", "2"]]  # fmt: skip
    await kubectl(api_kubeconfig, "patch", "configmap", "settings", *ns, "--type=merge",
                  "-p", '{"data": {"level": "4"}}')  # fmt: skip
    level = await kubectl(api_kubeconfig, "get", "cm", "settings", *ns,
                          "-o", "jsonpath={.data.level}")  # fmt: skip
    assert level == "4"
    await kubectl(api_kubeconfig, "delete", "configmap", "settings", *ns)
    code, _, err = await run_kubectl(api_kubeconfig, "get", "cm", "settings", *ns)
    assert code == 1 and 'configmaps "settings" not found' in err


async def test_config_maps_are_watched(kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    listed = await core.list_namespaced_config_map(namespace)
    seen: list[tuple[str, dict[str, str] | None]] = []

    async def follow() -> None:
        async with watch.Watch().stream(
            core.list_namespaced_config_map, namespace,
            resource_version=listed.metadata.resource_version, timeout_seconds=10,
        ) as stream:  # fmt: skip
            async for event in stream:
                seen.append((event["type"], event["object"].data))
                if event["type"] == "DELETED":
                    return

    watcher = asyncio.create_task(follow())
    body = {"metadata": {"name": "watched"}, "data": {"a": "1"}}
    await core.create_namespaced_config_map(namespace, body)
    await core.patch_namespaced_config_map("watched", namespace, {"data": {"a": "2"}})
    await core.delete_namespaced_config_map("watched", namespace)
    await asyncio.wait_for(watcher, 10)
    assert seen == [("ADDED", {"a": "1"}), ("MODIFIED", {"a": "2"}), ("DELETED", {"a": "2"})]


async def test_immutable_config_map_and_bad_keys_are_refused(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    body = {"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True}
    await core.create_namespaced_config_map(namespace, body)
    for call, args in (
        (core.patch_namespaced_config_map, ("frozen", namespace, {"data": {"a": "2"}})),
        (core.create_namespaced_config_map,
         (namespace, {"metadata": {"name": "bad"}, "data": {"no/slash": "x"}})),
    ):  # fmt: skip
        try:
            await call(*args)
            raise AssertionError(f"{call.__name__} was accepted")
        except ApiException as exc:
            assert exc.status == 422, exc.body


def _pod(name: str, script: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script]}
    for key in ("env", "envFrom", "volumeMounts"):
        if key in spec:
            container[key] = spec.pop(key)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [container], **spec},
    }


async def _finished(core: client.CoreV1Api, namespace: str, name: str) -> client.V1Pod:
    async def done() -> client.V1Pod | None:
        pod = await core.read_namespaced_pod(name, namespace)
        return pod if pod.status.phase in ("Succeeded", "Failed") else None

    return await eventually(done)


async def test_pods_read_config_maps_as_env_and_files(
    live_cluster: SimCluster, live_kube: client.ApiClient, live_namespace: str,
    live_kubeconfig: Path,
) -> None:  # fmt: skip
    core = client.CoreV1Api(live_kube)
    config = {
        "metadata": {"name": "app-config"},
        "data": {"GREETING": "hello", "app.json": json.dumps({"debug": True})},
        "binaryData": {"blob.bin": "AAEC"},  # bytes 0, 1, 2
    }
    await core.create_namespaced_config_map(live_namespace, config)
    script = (
        'echo "$GREETING $CFG_GREETING"; cat /etc/app/settings.json; echo; '
        "od -An -tu1 /etc/app/blob.bin; ls /etc/only"
    )
    pod = _pod(
        "reader", script,
        env=[{"name": "GREETING",
              "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "GREETING"}}}],
        envFrom=[{"configMapRef": {"name": "app-config"}, "prefix": "CFG_"}],
        volumeMounts=[{"name": "config", "mountPath": "/etc/app"},
                      {"name": "only", "mountPath": "/etc/only"}],
        volumes=[
            {"name": "config", "configMap": {"name": "app-config", "items": [
                {"key": "app.json", "path": "settings.json"},
                {"key": "blob.bin", "path": "blob.bin"},
            ]}},
            {"name": "only", "configMap": {"name": "app-config"}},
        ],
    )  # fmt: skip
    await core.create_namespaced_pod(live_namespace, pod)
    done = await _finished(core, live_namespace, "reader")
    assert done.status.phase == "Succeeded"
    logs = await kubectl(live_kubeconfig, "logs", "reader", "-n", live_namespace)
    assert logs.splitlines() == [
        "hello hello", '{"debug": true}', "   0   1   2", "GREETING", "app.json", "blob.bin",
    ]  # fmt: skip


async def test_missing_config_map_holds_the_container_until_created(
    live_cluster: SimCluster, live_kube: client.ApiClient, live_namespace: str
) -> None:
    core = client.CoreV1Api(live_kube)
    ref = {"configMapKeyRef": {"name": "late", "key": "WORD"}}
    await core.create_namespaced_pod(
        live_namespace, _pod("waiting", 'echo "$WORD"', env=[{"name": "WORD", "valueFrom": ref}])
    )

    async def held() -> client.V1ContainerStateWaiting | None:
        pod = await core.read_namespaced_pod("waiting", live_namespace)
        statuses = pod.status.container_statuses or []
        waiting = statuses[0].state.waiting if statuses else None
        return waiting if waiting and waiting.reason == "CreateContainerConfigError" else None

    waiting = await eventually(held)
    assert waiting.message == 'configmap "late" not found'
    body = {"metadata": {"name": "late"}, "data": {"WORD": "finally"}}
    await core.create_namespaced_config_map(live_namespace, body)
    done = await _finished(core, live_namespace, "waiting")
    assert done.status.phase == "Succeeded"
    assert await core.read_namespaced_pod_log("waiting", live_namespace) == "finally\n"
