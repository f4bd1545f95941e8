"""Containers as local processes: env, secrets, volumes, exit codes, signals."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.sim.conftest_controllers import Sim


LOOP = "while true; do sleep 0.05; done"


def _pod(name: str, script: str, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": "busybox",
        "command": ["sh", "-c", script],
    }
    for key in ("env", "envFrom", "volumeMounts", "workingDir"):
        if key in spec:
            container[key] = spec.pop(key)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [container], **spec},
    }


async def _finished(sim: Sim, name: str) -> dict[str, Any]:
    return await sim.wait_for(
        lambda: (
            (p := sim.store.get("pods", "default", name))["status"].get("phase")
            in ("Succeeded", "Failed")
            and p
        )
    )


async def _log(sim: Sim, pod: str, container: str | None = None) -> str:
    stream = sim.controllers.kubelet.open_log(
        "default", pod, container=container, follow=False, timestamps=False, since_time=None,
        since_seconds=None, tail_lines=None, limit_bytes=None, previous=False,
    )  # fmt: skip
    return b"".join([chunk async for chunk in stream]).decode()


async def test_env_from_secret_and_field_refs_reach_the_process(sim: Sim):
    sim.store.create(
        "secrets",
        "default",
        {"metadata": {"name": "creds"}, "data": {"TOKEN": base64.b64encode(b"s3cr3t").decode()}},
    )
    pod = _pod(
        "envy",
        'echo "$TOKEN $KEY $ME $NS $GREETING"',
        envFrom=[{"secretRef": {"name": "creds"}}],
        env=[
            {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "TOKEN"}}},
            {"name": "ME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "GREETING", "value": "hello-$(ME)"},
        ],
    )
    sim.store.create("pods", "default", pod)
    done = await _finished(sim, "envy")
    assert done["status"]["phase"] == "Succeeded"
    assert await _log(sim, "envy") == "s3cr3t s3cr3t envy default hello-envy\n"


async def test_volume_mount_paths_map_to_pod_directories(sim: Sim):
    sim.store.create(
        "secrets",
        "default",
        {"metadata": {"name": "files"}, "stringData": {"a.txt": "from-secret"}},
    )
    pod = _pod(
        "vols",
        'echo out > /output/result.txt; cat /secrets/a.txt; echo " $OUT"; pwd',
        env=[{"name": "OUT", "value": "/output/result.txt"}],
        volumeMounts=[
            {"name": "out", "mountPath": "/output"},
            {"name": "sec", "mountPath": "/secrets", "readOnly": True},
        ],
        workingDir="/output",
        volumes=[
            {"name": "out", "emptyDir": {}},
            {"name": "sec", "secret": {"secretName": "files"}},
        ],
    )
    created = sim.store.create("pods", "default", pod)
    done = await _finished(sim, "vols")
    assert done["status"]["phase"] == "Succeeded"
    first, cwd = (await _log(sim, "vols")).splitlines()
    secret_text, out_path = first.split(" ")
    assert secret_text == "from-secret"
    host = Path(out_path)
    assert host.read_text() == "out\n"
    assert host.parent.name == "out" and created["metadata"]["uid"] in str(host)
    assert cwd == str(host.parent)


async def test_exit_code_oom_and_start_error(sim: Sim):
    sim.store.create("pods", "default", _pod("oom", "exit 137"))
    missing = _pod("nope", "")
    missing["spec"]["containers"][0]["command"] = ["definitely-not-a-binary-xyz"]
    sim.store.create("pods", "default", missing)
    oom = (await _finished(sim, "oom"))["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (oom["exitCode"], oom["reason"]) == (137, "OOMKilled")
    nope = await _finished(sim, "nope")
    state = nope["status"]["containerStatuses"][0]["state"]["terminated"]
    assert nope["status"]["phase"] == "Failed"
    assert state["reason"] == "StartError"
    assert (
        'exec: "definitely-not-a-binary-xyz": executable file not found in $PATH'
        in state["message"]
    )


async def test_graceful_delete_sends_sigterm(sim: Sim):
    sim.store.create(
        "pods",
        "default",
        _pod("polite", f"trap 'echo got-term; exit 0' TERM; echo ready; {LOOP}",
             terminationGracePeriodSeconds=10),
    )  # fmt: skip
    await sim.wait_for(lambda: "ready" in _safe_log_sync(sim, "polite"))
    seen = []
    subscription = sim.store.subscribe("pods")
    sim.store.delete("pods", "default", "polite")
    async for event in subscription:
        if event.object["metadata"]["name"] == "polite":
            seen.append(event)
            if event.type == "DELETED":
                break
    subscription.close()
    last = seen[-1].object
    assert last["status"]["phase"] == "Succeeded"
    assert last["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    log_file = next(
        (sim.controllers.kubelet.workdir / "pods").glob("default_polite_*/logs/main/0.log")
    )
    assert b"got-term" in log_file.read_bytes()


def _safe_log_sync(sim: Sim, name: str) -> str:
    pods = sim.controllers.kubelet.workdir / "pods"
    files = list(pods.glob(f"default_{name}_*/logs/main/0.log"))
    return files[0].read_text() if files else ""


async def test_init_container_then_sidecar_then_main(sim: Sim):
    pod = _pod("staged", "cat /work/init.txt; echo main-done")
    pod["spec"]["volumes"] = [{"name": "work", "emptyDir": {}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "work", "mountPath": "/work"}]
    pod["spec"]["initContainers"] = [
        {"name": "fetch", "image": "x", "command": ["sh", "-c", "echo fetched > /work/init.txt"],
         "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
        {"name": "uploader", "image": "x", "restartPolicy": "Always",
         "command": ["sh", "-c", f"trap 'echo uploading; exit 0' TERM; {LOOP}"]},
    ]  # fmt: skip
    sim.store.create("pods", "default", pod)
    done = await _finished(sim, "staged")
    assert done["status"]["phase"] == "Succeeded"
    assert await _log(sim, "staged", "main") == "fetched\nmain-done\n"
    inits = {s["name"]: s for s in done["status"]["initContainerStatuses"]}
    assert inits["fetch"]["state"]["terminated"]["reason"] == "Completed"
    uploaded = await _log(sim, "staged", "uploader")
    assert uploaded == "uploading\n"
    conditions = {c["type"]: c["status"] for c in done["status"]["conditions"]}
    assert conditions["Initialized"] == "True"
    assert conditions["Ready"] == "False"


async def test_running_pod_reports_ready_and_ips(sim: Sim):
    sim.store.create("pods", "default", _pod("live", "sleep 30"))
    pod = await sim.wait_for(
        lambda: (
            (p := sim.store.get("pods", "default", "live"))["status"].get("phase") == "Running"
            and p
        )
    )
    conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conditions == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert pod["status"]["podIP"] and pod["status"]["hostIP"] == "127.0.0.1"
    status = pod["status"]["containerStatuses"][0]
    assert status["ready"] and status["started"]
    assert status["containerID"].startswith("containerd://")
    assert "startedAt" in status["state"]["running"]


async def test_a_main_container_whose_reaper_is_cancelled_still_ends_its_pod(sim: Sim):
    """Whatever cancels the task that reaps a container (not the pod's own task), the pod
    must not stay Running with nothing watching its container: it ends, and its process too."""
    sim.store.create("pods", "default", _pod("orphaned", f"echo ready; {LOOP}"))
    await sim.wait_for(lambda: "ready" in _safe_log_sync(sim, "orphaned"))
    (worker,) = [w for w in sim.controllers.kubelet.workers.values() if w.name == "orphaned"]
    reapers = await sim.wait_for(lambda: list(worker._reapers.values()))
    pid = worker.mains[0].process.pid
    for reaper in reapers:
        reaper.cancel()
    done = await _finished(sim, "orphaned")
    assert done["status"]["phase"] == "Failed"
    state = done["status"]["containerStatuses"][0]["state"]
    assert state["terminated"]["exitCode"] == 137, state
    await sim.wait_for(lambda: not Path(f"/proc/{pid}").exists())


async def test_the_main_container_starts_once_the_sidecars_post_start_hook_returned(sim: Sim):
    """As the kubelet does: a native sidecar's postStart hook holds back the containers after
    it, so a sidecar can get ready (here: write a file, late) before the main container runs."""
    pod = _pod("hooked", "test -e /work/ready && echo sidecar-was-ready")
    pod["spec"]["volumes"] = [{"name": "work", "emptyDir": {}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "work", "mountPath": "/work"}]
    wait_for_ready = "until [ -e /work/ready ]; do sleep 0.01; done"
    pod["spec"]["initContainers"] = [
        {"name": "helper", "image": "x", "restartPolicy": "Always",
         "command": ["sh", "-c", f"trap 'exit 0' TERM; sleep 0.3; : > /work/ready; {LOOP}"],
         "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", wait_for_ready]}}},
         "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
    ]  # fmt: skip
    sim.store.create("pods", "default", pod)
    done = await _finished(sim, "hooked")
    assert done["status"]["phase"] == "Succeeded"
    assert await _log(sim, "hooked", "main") == "sidecar-was-ready\n"


async def test_a_failing_post_start_hook_kills_its_container_and_says_why(sim: Sim):
    pod = _pod("unhooked", f"echo started; {LOOP}")
    pod["spec"]["containers"][0]["lifecycle"] = {
        "postStart": {"exec": {"command": ["sh", "-c", "echo no config; exit 3"]}}
    }
    sim.store.create("pods", "default", pod)
    done = await _finished(sim, "unhooked")
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137
    events, _ = sim.store.list("events", "default")
    (failed,) = [e for e in events if e["reason"] == "FailedPostStartHook"]
    assert "exited with 3: no config" in failed["message"]
    assert failed["involvedObject"]["name"] == "unhooked"


async def test_a_pod_deleted_while_its_sidecar_starts_still_stops_that_sidecar(
    sim: Sim, monkeypatch: pytest.MonkeyPatch
):
    """The deletion reaches the kubelet while the sidecar's process is being started: once it
    runs, the sidecar still gets its SIGTERM (and the pod goes, well within its grace period),
    rather than waiting for a stop signal that was spent while it had no process."""
    from app.sim import podworker

    starting = podworker.spawn

    async def deleted_meanwhile(argv: list[str], **options: Any) -> Any:
        if "sidecar-was-here" in " ".join(argv):
            sim.store.delete("pods", "default", "racing")
            await asyncio.sleep(0.3)  # the kubelet handles the deletion before the process runs
        return await starting(argv, **options)

    monkeypatch.setattr(podworker, "spawn", deleted_meanwhile)
    pod = _pod("racing", "echo main")
    pod["spec"]["terminationGracePeriodSeconds"] = 60
    script = f"trap 'echo got-term; exit 0' TERM; echo sidecar-was-here; {LOOP}"
    pod["spec"]["initContainers"] = [
        {"name": "helper", "image": "x", "restartPolicy": "Always",
         "command": ["sh", "-c", script]},
    ]  # fmt: skip
    sim.store.create("pods", "default", pod)
    await sim.wait_for(lambda: _gone(sim, "racing"))
    log_file = next(
        (sim.controllers.kubelet.workdir / "pods").glob("default_racing_*/logs/helper/0.log")
    )
    assert b"got-term" in log_file.read_bytes()


def _gone(sim: Sim, name: str) -> bool:
    try:
        sim.store.get("pods", "default", name)
    except Exception:
        return True
    return False
