"""The kubelet's side of a pod as `kubectl get pods` and `kubectl get events` show it: events
with their source and container, CrashLoopBackOff in a Running pod, repeats counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from app.sim.cluster import SimCluster
from tests.sim.conftest import eventually
from tests.sim.kubectl_cli import kubectl


def _pod(name: str, command: list[str], restart: str = "Never") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": "busybox:1.36", "command": command}],
        },
    }


async def _events(kubeconfig: Path, namespace: str, pod: str) -> dict[str, dict[str, Any]]:
    """The pod's events by reason, as `kubectl get events -o json` lists them."""
    out = await kubectl(
        kubeconfig, "get", "events", "-n", namespace, "-o", "json",
        "--field-selector", f"involvedObject.name={pod}",
    )  # fmt: skip
    return {e["reason"]: e for e in json.loads(out)["items"]}


async def test_a_pod_that_runs_has_the_kubelets_events(
    live_cluster: SimCluster, live_kube: client.ApiClient, live_namespace: str,
    live_kubeconfig: Path,
) -> None:  # fmt: skip
    core = client.CoreV1Api(live_kube)
    created = await core.create_namespaced_pod(live_namespace, _pod("hello", ["true"]))

    async def succeeded() -> client.V1Pod | None:
        pod = await core.read_namespaced_pod("hello", live_namespace)
        return pod if pod.status.phase == "Succeeded" else None

    pod = await eventually(succeeded)

    async def recorded() -> dict[str, dict[str, Any]] | None:
        events = await _events(live_kubeconfig, live_namespace, "hello")
        return events if {"Scheduled", "Pulled", "Created", "Started"} <= events.keys() else None

    events = await eventually(recorded)
    scheduled = events["Scheduled"]
    assert scheduled["source"] == {"component": "default-scheduler"}
    node = pod.spec.node_name
    assert scheduled["message"] == f"Successfully assigned {live_namespace}/hello to {node}"
    for reason, message in (
        ("Pulled", 'Container image "busybox:1.36" already present on machine'),
        ("Created", "Created container main"),
        ("Started", "Started container main"),
    ):
        event = events[reason]
        assert (event["type"], event["message"], event["count"]) == ("Normal", message, 1)
        assert event["source"] == {"component": "kubelet", "host": node}
        involved = event["involvedObject"]
        assert (involved["kind"], involved["name"], involved["uid"]) == (
            "Pod", "hello", created.metadata.uid,
        )  # fmt: skip
        assert involved["fieldPath"] == "spec.containers{main}"

    table = await kubectl(live_kubeconfig, "get", "events", "-n", live_namespace)
    assert any(
        line.split()[1:4] == ["Normal", "Started", "pod/hello"] for line in table.splitlines()
    )


async def test_deleting_a_running_pod_records_killing(
    live_cluster: SimCluster, live_kube: client.ApiClient, live_namespace: str,
    live_kubeconfig: Path,
) -> None:  # fmt: skip
    core = client.CoreV1Api(live_kube)
    await core.create_namespaced_pod(live_namespace, _pod("busy", ["sleep", "30"]))

    async def running() -> bool:
        pod = await core.read_namespaced_pod("busy", live_namespace)
        return pod.status.phase == "Running"

    await eventually(running)
    await kubectl(live_kubeconfig, "delete", "pod", "busy", "-n", live_namespace)
    killing = (await _events(live_kubeconfig, live_namespace, "busy"))["Killing"]
    assert (killing["type"], killing["message"]) == ("Normal", "Stopping container main")
    assert killing["source"]["component"] == "kubelet"


async def test_container_that_cannot_start_crash_loops_in_a_running_pod(
    live_cluster: SimCluster, live_kube: client.ApiClient, live_namespace: str,
    live_kubeconfig: Path,
) -> None:  # fmt: skip
    core = client.CoreV1Api(live_kube)
    pod = _pod("broken", ["/no/such/program"], restart="Always")
    await core.create_namespaced_pod(live_namespace, pod)

    async def backing_off() -> dict[str, dict[str, Any]] | None:
        events = await _events(live_kubeconfig, live_namespace, "broken")
        back_off = events.get("BackOff")
        return events if back_off and back_off["count"] >= 2 else None

    events = await eventually(backing_off)
    back_off = events["BackOff"]
    assert back_off["type"] == "Warning"
    assert back_off["message"].startswith("Back-off restarting failed container main in pod broken")
    assert back_off["involvedObject"]["fieldPath"] == "spec.containers{main}"
    assert events["Failed"]["type"] == "Warning"
    assert "executable file not found" in events["Failed"]["message"]
    assert events["Created"]["count"] >= 2  # one event, counted, per attempt

    async def crash_looping() -> client.V1Pod | None:
        current = await core.read_namespaced_pod("broken", live_namespace)
        waiting = current.status.container_statuses[0].state.waiting
        return current if waiting is not None and waiting.reason == "CrashLoopBackOff" else None

    current = await eventually(crash_looping)
    assert current.status.phase == "Running"
    status = current.status.container_statuses[0]
    assert status.last_state.terminated.reason == "StartError"
    assert status.restart_count >= 1

    async def shown() -> bool:
        table = await kubectl(live_kubeconfig, "get", "pod", "broken", "-n", live_namespace)
        return table.splitlines()[1].split()[1:3] == ["0/1", "CrashLoopBackOff"]

    await eventually(shown)
    await kubectl(live_kubeconfig, "delete", "pod", "broken", "-n", live_namespace)


async def test_deleting_the_namespace_stops_its_running_pods(
    live_cluster: SimCluster, live_kube: client.ApiClient, live_kubeconfig: Path
) -> None:
    """Events about the pods of a terminating namespace are refused; the pods still stop, even
    one that ignores SIGTERM (SIGKILL after its grace period)."""
    core = client.CoreV1Api(live_kube)
    await core.create_namespace({"metadata": {"name": "leaving"}})
    stubborn = _pod("busy", ["sh", "-c", "trap '' TERM; sleep 30"])
    await core.create_namespaced_pod("leaving", stubborn)

    async def running() -> bool:
        pod = await core.read_namespaced_pod("busy", "leaving")
        return pod.status.phase == "Running"

    await eventually(running)
    await kubectl(live_kubeconfig, "delete", "namespace", "leaving", "--wait=false")

    async def gone() -> bool:
        names = await kubectl(live_kubeconfig, "get", "namespaces", "-o", "name")
        return "namespace/leaving" not in names.split()

    await eventually(gone)  # well before the container's own 30 s are up
