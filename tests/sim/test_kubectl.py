"""A real kubectl against the simulated cluster (scheduler, job controller and kubelet running)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config

from app.sim.cluster import SimCluster

KUBECTL = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"

JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  labels:
    app: demo
spec:
  backoffLimit: 0
  template:
    metadata:
      labels:
        app: demo
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:1.36
        command: ["sh", "-c", "{script}"]
"""


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SimCluster]:
    """A full simulated cluster (controllers included) for this module."""
    sim = SimCluster(workdir=tmp_path_factory.mktemp("sim-kubectl"), bookmark_interval=1)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture(scope="module")
def kubeconfig(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kubeconfig kubectl reads (KUBECONFIG)."""
    return cluster.write_kubeconfig(tmp_path_factory.mktemp("kubectl") / "config")


Manifest = Callable[..., Path]


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    """Write a Job manifest and return its path."""

    def write(name: str, script: str = "echo hello from $HOSTNAME", **edits: str) -> Path:
        text = JOB.format(name=name, script=script)
        for old, new in edits.items():
            text = text.replace(old, new)
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        return path

    return write


async def run_kubectl(kubeconfig: Path, *args: str) -> tuple[int, str, str]:
    """Run kubectl without blocking the loop the server runs on: (exit code, stdout, stderr)."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL), *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def kubectl(kubeconfig: Path, *args: str) -> str:
    """Run kubectl, expect success, return its stdout."""
    code, out, err = await run_kubectl(kubeconfig, *args)
    assert code == 0, f"kubectl {' '.join(args)} failed: {err}"
    return out


async def test_get_namespaces_prints_a_table(kubeconfig: Path) -> None:
    out = await kubectl(kubeconfig, "get", "ns")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE"]
    assert any(line.split()[:2] == ["default", "Active"] for line in lines[1:])


async def test_create_wait_logs_and_json(kubeconfig: Path, manifest: Manifest) -> None:
    path = manifest("hello", "echo line one; echo line two")
    assert (
        await kubectl(kubeconfig, "create", "-f", str(path))
    ).strip() == "job.batch/hello created"
    waited = await kubectl(
        kubeconfig, "wait", "--for=condition=complete", "job/hello", "--timeout=30s"
    )
    assert waited.strip() == "job.batch/hello condition met"
    assert (await kubectl(kubeconfig, "logs", "job/hello")).splitlines() == ["line one", "line two"]
    jobs = json.loads(await kubectl(kubeconfig, "get", "jobs", "-o", "json"))
    hello = next(j for j in jobs["items"] if j["metadata"]["name"] == "hello")
    assert hello["status"]["succeeded"] == 1
    table = (await kubectl(kubeconfig, "get", "job", "hello")).splitlines()
    assert table[0].split()[:3] == ["NAME", "STATUS", "COMPLETIONS"]
    assert table[1].split()[:3] == ["hello", "Complete", "1/1"]


async def test_create_reports_invalid_manifests(kubeconfig: Path, manifest: Manifest) -> None:
    path = manifest("broken", **{"restartPolicy: Never": "restartPolicy: Always"})
    code, out, err = await run_kubectl(kubeconfig, "create", "-f", str(path))
    assert (code, out) == (1, "")
    assert 'The Job "broken" is invalid: spec.template.spec.restartPolicy: Unsupported value' in err


async def test_unknown_fields_are_refused_like_strict_validation(
    kubeconfig: Path, manifest: Manifest
) -> None:
    path = manifest("typo", **{"  name: typo\n": "  name: typo\n  colour: blue\n"})
    code, _, err = await run_kubectl(kubeconfig, "create", "-f", str(path))
    assert code == 1
    assert 'strict decoding error: unknown field "metadata.colour"' in err


async def test_apply_creates_then_configures(kubeconfig: Path, manifest: Manifest) -> None:
    path = manifest("applied", script="sleep 30")
    text = path.read_text().replace("backoffLimit: 0", "backoffLimit: 0\n  suspend: true")
    path.write_text(text)
    assert (await kubectl(kubeconfig, "apply", "-f", str(path))).strip() == (
        "job.batch/applied created"
    )
    path.write_text(text.replace("app: demo\nspec:", "app: changed\nspec:", 1))
    assert (await kubectl(kubeconfig, "apply", "-f", str(path))).strip() == (
        "job.batch/applied configured"
    )
    labels = await kubectl(
        kubeconfig, "get", "job", "applied", "-o", "jsonpath={.metadata.labels.app}"
    )
    assert labels == "changed"
    assert "unchanged" in await kubectl(kubeconfig, "apply", "-f", str(path))
    await kubectl(kubeconfig, "delete", "job", "applied")


async def test_get_pods_watch_streams_changes(
    kubeconfig: Path, manifest: Manifest, cluster: SimCluster
) -> None:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL), "get", "pods", "-w", "-l", "app=demo,job-name=watched", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        while cluster.stats.open_watches.get("pods", 0) == 0:
            await asyncio.sleep(0.05)
        path = manifest("watched", "echo done")
        await kubectl(kubeconfig, "create", "-f", str(path))
        seen: list[list[str]] = []
        while not any(row[2:3] == ["Completed"] for row in seen):
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            seen.append(line.decode().split())
    finally:
        proc.kill()
        await proc.wait()
    rows = [row for row in seen if row and row[0].startswith("watched-")]
    assert rows[0][2] == "Pending" and rows[-1][2] == "Completed"


async def test_logs_follow_until_the_container_ends(kubeconfig: Path, manifest: Manifest) -> None:
    script = "for i in 1 2 3 4 5; do echo tick $i; sleep 0.2; done"
    await kubectl(kubeconfig, "create", "-f", str(manifest("ticker", script)))
    await kubectl(
        kubeconfig, "wait", "--for=jsonpath={.status.active}=1", "job/ticker", "--timeout=30s"
    )
    out = await kubectl(kubeconfig, "logs", "-f", "job/ticker")
    assert out.splitlines() == [f"tick {i}" for i in range(1, 6)]


async def test_delete_job_removes_its_pods(kubeconfig: Path, manifest: Manifest) -> None:
    await kubectl(kubeconfig, "create", "-f", str(manifest("doomed", "exec sleep 60")))
    await kubectl(
        kubeconfig, "wait", "--for=jsonpath={.status.active}=1", "job/doomed", "--timeout=30s"
    )
    out = await kubectl(kubeconfig, "delete", "job", "doomed")
    assert out.startswith('job.batch "doomed" deleted')
    await kubectl(kubeconfig, "wait", "--for=delete", "pod", "-l", "job-name=doomed",
                  "--timeout=30s")  # fmt: skip
    remaining = await kubectl(kubeconfig, "get", "pods", "-l", "job-name=doomed", "-o", "name")
    assert remaining == ""


async def test_log_follow_through_kubernetes_asyncio_is_one_stream(
    kubeconfig: Path, manifest: Manifest, cluster: SimCluster
) -> None:
    script = "echo first; sleep 1; echo second"
    await kubectl(kubeconfig, "create", "-f", str(manifest("follow", script)))
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        core = client.CoreV1Api(api)
        pod = None
        while pod is None or pod.status.phase == "Pending":
            await asyncio.sleep(0.05)
            pods = await core.list_namespaced_pod("default", label_selector="job-name=follow")
            pod = pods.items[0] if pods.items else None
        response = await core.read_namespaced_pod_log(
            pod.metadata.name, "default", container="main", follow=True, _preload_content=False
        )
        first = await response.content.readline()
        key = f"default/{pod.metadata.name}"
        assert cluster.stats.open_log_streams_by_pod.get(key) == 1
        rest = await response.content.read()
        response.release()
    assert (first + rest).decode().splitlines() == ["first", "second"]
