"""pods/log through the HTTP server with the unmodified kubernetes-asyncio client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.rest import ApiException

from app.sim.cluster import SimCluster

LOOP = "while true; do sleep 0.05; done"


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SimCluster]:
    """A simulated cluster with controllers, one per module."""
    sim = SimCluster(port=0, config_path=None, workdir=tmp_path_factory.mktemp("sim-logs"))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
async def core(cluster: SimCluster, tmp_path: Path) -> AsyncIterator[client.CoreV1Api]:
    """A CoreV1Api configured from the cluster's kubeconfig."""
    path = cluster.write_kubeconfig(tmp_path / "config")
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(path), client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        yield client.CoreV1Api(api)


def _pod(name: str, script: str, restart: str = "Never", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": restart,
            "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}],
            **spec,
        },
    }


async def _phase(cluster: SimCluster, name: str, phases: tuple[str, ...]) -> dict[str, Any]:
    for _ in range(750):
        pod = cluster.store.get("pods", "default", name)
        if pod["status"].get("phase") in phases:
            return pod
        await asyncio.sleep(0.02)
    raise AssertionError(f"pod {name} never reached {phases}")


async def test_follow_streams_until_the_container_ends(cluster: SimCluster, core):
    cluster.store.create(
        "pods", "default", _pod("follow", "for i in 1 2 3; do echo line$i; sleep 0.2; done")
    )
    await _phase(cluster, "follow", ("Running", "Succeeded"))
    response = await core.read_namespaced_pod_log(
        "follow", "default", follow=True, _preload_content=False
    )
    body = b""
    async for chunk in response.content.iter_any():
        body += chunk
    response.release()
    assert body == b"line1\nline2\nline3\n"


async def test_tail_timestamps_limit_and_since_time(cluster: SimCluster, core):
    cluster.store.create(
        "pods", "default", _pod("stamped", "echo early; sleep 1.2; echo late; echo last")
    )
    await _phase(cluster, "stamped", ("Succeeded",))
    stamped = await core.read_namespaced_pod_log("stamped", "default", timestamps=True)
    lines = stamped.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["early", "late", "last"]
    assert lines[0].split(" ")[0].endswith("Z")
    assert await core.read_namespaced_pod_log("stamped", "default", tail_lines=2) == "late\nlast\n"
    assert await core.read_namespaced_pod_log("stamped", "default", limit_bytes=8) == "early\nla"
    since = lines[1].split(" ")[0].split(".")[0] + "Z"  # whole seconds, as sinceTime is sent
    # The generated client has no sinceTime parameter (platform code sends it on the URL).
    async with httpx.AsyncClient(base_url=cluster.url) as http:
        response = await http.get(
            "/api/v1/namespaces/default/pods/stamped/log", params={"sinceTime": since}
        )
    assert response.text == "late\nlast\n"


async def test_previous_shows_the_run_before_a_restart(cluster: SimCluster, core):
    script = "if [ -f /data/ran ]; then echo second; else touch /data/ran; echo first; exit 1; fi"
    pod = _pod("restarts", script, restart="OnFailure", volumes=[{"name": "d", "emptyDir": {}}])
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "d", "mountPath": "/data"}]
    cluster.store.create("pods", "default", pod)
    done = await _phase(cluster, "restarts", ("Succeeded", "Failed"))
    status = done["status"]["containerStatuses"][0]
    assert done["status"]["phase"] == "Succeeded"
    assert status["restartCount"] == 1
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert await core.read_namespaced_pod_log("restarts", "default") == "second\n"
    previous = await core.read_namespaced_pod_log("restarts", "default", previous=True)
    assert previous == "first\n"


async def test_container_name_required_with_several_containers(cluster: SimCluster, core):
    pod = _pod("two", "echo a")
    pod["spec"]["containers"].append({"name": "other", "image": "x", "command": ["true"]})
    cluster.store.create("pods", "default", pod)
    await _phase(cluster, "two", ("Succeeded",))
    with pytest.raises(ApiException) as error:
        await core.read_namespaced_pod_log("two", "default")
    assert error.value.status == 400
    message = json.loads(error.value.body)["message"]
    assert message == "a container name must be specified for pod two, choose one of: [main other]"
    assert await core.read_namespaced_pod_log("two", "default", container="main") == "a\n"
    with pytest.raises(ApiException) as error:
        await core.read_namespaced_pod_log("two", "default", container="nope")
    assert json.loads(error.value.body)["message"] == "container nope is not valid for pod two"


async def test_graceful_delete_through_the_api(cluster: SimCluster, core):
    cluster.store.create("pods", "default", _pod("term", f"trap 'echo bye; exit 0' TERM; {LOOP}"))
    await _phase(cluster, "term", ("Running",))
    await core.delete_namespaced_pod("term", "default", grace_period_seconds=5)
    for _ in range(250):
        if cluster.store.peek("pods", "default", "term") is None:
            break
        await asyncio.sleep(0.02)
    assert cluster.store.peek("pods", "default", "term") is None
