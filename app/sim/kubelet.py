"""The kubelet: runs the containers of pods bound to the simulated nodes as local processes.

What a container is here:

- A process started with ``asyncio.create_subprocess_exec`` in its own process group:
  ``command + args``. With ``args`` only, the image's entrypoint comes from
  ``SimConfig.image_entrypoints`` (image name without tag -> argv prefix); without one, ``args``
  alone are the command. With neither, the container fails to start (StartError) with a message
  naming the image: the image itself is never pulled or run.
- Environment: ``PATH`` (with the running interpreter's bin directory first, so the project's
  ``walkai-jobs`` console script in the virtualenv is found), ``HOME``, ``LANG`` and ``TMPDIR`` of
  the kubelet's own process, ``HOSTNAME`` (pod name),
  ``NVIDIA_VISIBLE_DEVICES`` (the MIG instances the scheduler carved), then the container's
  ``envFrom`` (secretRef, configMapRef) and ``env`` (value, fieldRef for
  metadata.name/namespace/uid/labels/annotations, spec.nodeName, spec.serviceAccountName,
  status.podIP/hostIP, secretKeyRef, configMapKeyRef), with ``$(VAR)`` expansion as Kubernetes
  does (see podconfig).
- Volumes are directories under ``<workdir>/pods/<namespace>_<name>_<uid>/volumes/<volume>``:
  emptyDir, ephemeral (a generic ephemeral PVC), persistentVolumeClaim and anything else are
  empty directories; a secret or configMap volume holds one file per key (or per ``items``, with
  ``defaultMode``/``mode``); hostPath is the host path itself. A process finds its mounts
  through path rewriting: every whole path token equal to or under a ``mountPath`` (longest
  first) in ``command``, ``args``, env values and ``workingDir`` is replaced by the host
  directory (``subPath`` appended), and ``SIM_VOLUME_MOUNTS`` holds the JSON map
  ``{mountPath: hostDir}`` for anything else.
  ``workingDir`` outside every mount becomes ``<pod dir>/rootfs/<container><workingDir>``; the
  default is ``<pod dir>/rootfs/<container>``.
- Output goes to ``<pod dir>/logs/<container>/<restartCount>.log`` in CRI format (see podlogs).
- Exit codes are real; a process ended by signal N exits ``128+N``. Exit code 137 that the
  kubelet did not cause (the process killed itself with SIGKILL, or ``exit 137``) is reported as
  reason ``OOMKilled`` — the way to simulate running out of memory. A process that cannot be
  executed is ``terminated`` with reason StartError and exit code 128, as containerd reports it.

Pod lifecycle as the kubelet reports it: Pending with containers waiting (ContainerCreating, or
PodInitializing behind init containers), init containers in order (a failure fails the pod with
``restartPolicy: Never``, restarts it otherwise), native sidecars (init containers with
``restartPolicy: Always``) started before the next init container and stopped after the main
containers end, main containers together (Running), then Succeeded/Failed. ``restartPolicy``
OnFailure/Always restarts a container in place (restartCount, lastState, a new log file): the
first restart at once, then after a CrashLoopBackOff wait (10 s doubling to 5 min, times the
time factor of app.sim.timing); meanwhile the pod is Running (see podstatus).
A container's ``lifecycle.postStart`` exec hook runs as the container starts, and the next
container waits for it (see hooks); a failing hook kills the container.
Conditions PodReadyToStartContainers, Initialized, ContainersReady, Ready; podIP, hostIP,
startTime. Missing Secrets or ConfigMaps keep the container waiting
(CreateContainerConfigError) and are retried every second.

Events, as the kubelet records them (source ``kubelet`` on the node, involvedObject the pod with
the container's fieldPath; repeats counted, see app.sim.events): Pulling/Pulled, Created,
Started, Failed (start errors), Killing (each container it stops), BackOff (a restart waits),
FailedMount, FailedPostStartHook.

Deletion: SIGTERM to each container's first process, SIGKILL to its process group after the
grace period, a terminal status and
then ``store.remove``. ``stop()`` kills every process at once.

Node shutdown (``shutdown(grace)``, what ``walkai-jobs dev`` and ``sim`` do when they stop):
like the kubelet's graceful node shutdown, every pod is stopped as in a deletion with its grace
period capped at ``grace`` seconds, and is left Failed with reason ``Terminated`` (not removed).
Each container's process group has a pid file under ``<workdir>/pids`` while it runs, so
``start()`` first ends what a kubelet that died without its shutdown left (see pidfiles).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.sim.errors import ApiError, bad_request
from app.sim.nodes import SimConfig
from app.sim.pidfiles import PidFiles
from app.sim.podlogs import read_log
from app.sim.podstatus import TERMINAL
from app.sim.podworker import PodWorker
from app.sim.timing import Timing

log = logging.getLogger(__name__)


class Kubelet:
    """The kubelet of every simulated node (one object, many nodes), and the pods/log source."""

    def __init__(
        self, store: Any, config: SimConfig, workdir: Path, timing: Timing | None = None
    ) -> None:
        self.store = store
        self.config = config
        self.timing = timing or Timing(config.time_factor)
        self.workdir = Path(workdir)
        self.nodes = {node.name for node in config.nodes}
        self.workers: dict[str, PodWorker] = {}
        self.processes: set[asyncio.subprocess.Process] = set()
        self.pids = PidFiles(self.workdir / "pids")
        self._ips = itertools.count(2)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """End what a previous kubelet on this workdir left running, then run the pods bound to
        our nodes."""
        self.pids.reap()
        self._subscription = self.store.subscribe("pods")
        pods, _ = self.store.list("pods")
        for pod in pods:
            self._handle("ADDED", pod)
        self._task = asyncio.create_task(self._listen(), name="sim-kubelet")

    async def shutdown(self, grace: float) -> None:
        """Node shutdown: stop every pod within its grace period capped at `grace` seconds
        (SIGTERM, then SIGKILL), record each as Failed, then `stop()`."""
        await self._stop_listening()
        for worker in self.workers.values():
            worker.shut_down(grace)
        tasks = [w.task for w in self.workers.values() if w.task is not None]
        if tasks:
            # Past the grace period every process has had its SIGKILL; `stop()` sees to laggards.
            await asyncio.wait(tasks, timeout=grace + 5)
        await self.stop()

    async def _stop_listening(self) -> None:
        self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def stop(self) -> None:
        """Kill every process and wait until they are reaped."""
        await self._stop_listening()
        for worker in self.workers.values():
            worker._kill_all(signal.SIGKILL)
        tasks = [w.task for w in self.workers.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for process in list(self.processes):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await process.wait()
            self.pids.forget(process.pid)
        self.processes.clear()
        self.workers.clear()

    async def _listen(self) -> None:
        async for event in self._subscription:
            try:
                self._handle(event.type, event.object)
            except Exception:
                log.exception("kubelet failed to handle %s", event.type)

    def _handle(self, type_: str, pod: dict[str, Any]) -> None:
        if pod["spec"].get("nodeName") not in self.nodes:
            return
        meta = pod["metadata"]
        uid = meta["uid"]
        worker = self.workers.get(uid)
        if type_ == "DELETED":
            if worker is not None:
                worker.terminate(0)
                worker._kill_all(signal.SIGKILL)
                task = worker.task
                if task is not None:
                    task.add_done_callback(lambda _t: self.workers.pop(uid, None))
            return
        terminal = (pod.get("status") or {}).get("phase") in TERMINAL
        if worker is None:
            if terminal:
                return
            if meta.get("deletionTimestamp"):
                # Never started: nothing to stop; report it finished and let it go.
                with contextlib.suppress(ApiError):
                    self.store.mutate("pods", meta["namespace"], meta["name"], _mark_failed)
                self.store.remove("pods", meta["namespace"], meta["name"])
                return
            worker = PodWorker(self, pod, f"10.244.0.{next(self._ips) % 250 + 2}")
            self.workers[uid] = worker
            worker.task = asyncio.get_running_loop().create_task(
                worker.run(), name=f"pod-{meta['name']}"
            )
            return
        if meta.get("deletionTimestamp"):
            grace = meta.get("deletionGracePeriodSeconds")
            worker.terminate(float(grace if grace is not None else 30))

    # --- logs ---------------------------------------------------------------------------------

    def open_log(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None,
        follow: bool,
        timestamps: bool,
        since_time: str | None,
        since_seconds: int | None,
        tail_lines: int | None,
        limit_bytes: int | None,
        previous: bool,
    ) -> AsyncIterator[bytes]:
        """The pods/log stream; errors are raised before the first byte."""
        obj = self.store.get("pods", namespace, pod)
        spec = obj.get("spec") or {}
        mains = [c["name"] for c in spec.get("containers") or []]
        inits = [c["name"] for c in spec.get("initContainers") or []]
        if container is None:
            if len(mains) != 1:
                message = (
                    f"a container name must be specified for pod {pod}, "
                    f"choose one of: [{' '.join(mains)}]"
                )
                if inits:
                    message += f" or one of the init containers: [{' '.join(inits)}]"
                raise bad_request(message)
            container = mains[0]
        if container not in mains and container not in inits:
            raise bad_request(f"container {container} is not valid for pod {pod}")
        worker = self.workers.get(obj["metadata"]["uid"])
        run = None
        if worker is not None:
            run = next((c for c in worker.inits + worker.mains if c.name == container), None)
        if previous:
            if run is None or len(run.logs) < 2:
                raise bad_request(
                    f'previous terminated container "{container}" in pod "{pod}" not found'
                )
            path, writer = run.logs[-2], None
        else:
            if run is None or not run.logs:
                statuses = (obj.get("status") or {}).get("containerStatuses") or []
                statuses += (obj.get("status") or {}).get("initContainerStatuses") or []
                state = next((s.get("state") for s in statuses if s.get("name") == container), None)
                reason = ((state or {}).get("waiting") or {}).get("reason", "ContainerCreating")
                raise bad_request(
                    f'container "{container}" in pod "{pod}" is waiting to start: {reason}'
                )
            path = run.logs[-1]
            writer = run.writer if follow else None
            if writer is not None and writer.path != path:
                writer = None
        since = None
        if since_time:
            since = datetime.fromisoformat(since_time.replace("Z", "+00:00"))
        elif since_seconds is not None:
            since = datetime.now(UTC) - timedelta(seconds=since_seconds)
        return read_log(
            path,
            writer=writer,
            timestamps=timestamps,
            since=since,
            tail_lines=tail_lines,
            limit_bytes=limit_bytes,
        )


def _mark_failed(pod: dict[str, Any]) -> None:
    pod.setdefault("status", {})["phase"] = "Failed"
