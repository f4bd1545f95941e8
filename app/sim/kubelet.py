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
  ``envFrom`` (secretRef, base64-decoded; configMapRef ignored) and ``env`` (value, fieldRef for
  metadata.name/namespace/uid/labels/annotations, spec.nodeName, spec.serviceAccountName,
  status.podIP/hostIP, secretKeyRef), with ``$(VAR)`` expansion as Kubernetes does.
- Volumes are directories under ``<workdir>/pods/<namespace>_<name>_<uid>/volumes/<volume>``:
  emptyDir, ephemeral (a generic ephemeral PVC), persistentVolumeClaim and anything else are
  empty directories; a secret volume holds one file per key (or per ``items``); hostPath is the
  host path itself. A process finds its mounts through path rewriting: every whole path token
  equal to or under a ``mountPath`` (longest first) in ``command``, ``args``, env values and
  ``workingDir`` is replaced by the host directory (``subPath`` appended), and
  ``SIM_VOLUME_MOUNTS`` holds the JSON map ``{mountPath: hostDir}`` for anything else.
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
OnFailure/Always restarts a container in place (restartCount, lastState, a new log file) after a
CrashLoopBackOff wait (0.5 s doubling to 10 s; the real kubelet: 10 s doubling to 5 min).
Conditions PodReadyToStartContainers, Initialized, ContainersReady, Ready; podIP, hostIP,
startTime. Missing secrets keep the container waiting
(CreateContainerConfigError) and are retried every second.

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
import base64
import contextlib
import hashlib
import itertools
import json
import logging
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.sim.conditions import set_condition
from app.sim.errors import ApiError, bad_request
from app.sim.nodes import SimConfig
from app.sim.pidfiles import PidFiles
from app.sim.podlogs import LogWriter, read_log
from app.sim.scheduler import pod_devices
from app.sim.store import now_rfc3339

log = logging.getLogger(__name__)

TERMINAL = ("Succeeded", "Failed")
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
# The real kubelet backs off 10 s doubling to 5 min; shorter here so tests stay quick.
RESTART_BACKOFF_FIRST = 0.5
RESTART_BACKOFF_MAX = 10.0
NODE_SHUTDOWN_REASON = "Terminated"
NODE_SHUTDOWN_MESSAGE = "Pod was terminated in response to imminent node shutdown."


class ConfigError(Exception):
    """A container cannot be created yet (CreateContainerConfigError)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: unknown references stay, ``$$`` is a literal ``$``."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(sub, text)


def rewrite_paths(text: str, mounts: Mapping[str, str]) -> str:
    """Replace whole path tokens equal to or under a mountPath by the host directory."""
    for mount in sorted(mounts, key=len, reverse=True):
        pattern = r"(?<![\w./-])" + re.escape(mount.rstrip("/")) + r"(?=/|$|[^\w.-])"
        text = re.sub(pattern, mounts[mount].replace("\\", "\\\\"), text)
    return text


@dataclass
class ContainerRun:
    """One container of a pod and its current state as the kubelet reports it."""

    spec: dict[str, Any]
    init: bool = False
    state: dict[str, Any] = field(default_factory=dict)
    last_state: dict[str, Any] = field(default_factory=dict)
    restart_count: int = 0
    container_id: str = ""
    process: asyncio.subprocess.Process | None = None
    writer: LogWriter | None = None
    killed_by_us: bool = False
    logs: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The container name."""
        return str(self.spec["name"])

    @property
    def sidecar(self) -> bool:
        """A native sidecar: an init container that keeps running."""
        return self.init and self.spec.get("restartPolicy") == "Always"

    def status(self, pod_ready: bool) -> dict[str, Any]:
        """The containerStatuses entry."""
        image = str(self.spec.get("image", ""))
        running = "running" in self.state
        entry: dict[str, Any] = {
            "name": self.name,
            "state": self.state or {"waiting": {"reason": "ContainerCreating"}},
            "lastState": self.last_state,
            "ready": running and pod_ready if not self.init or self.sidecar else False,
            "restartCount": self.restart_count,
            "image": image,
            "imageID": f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
            "started": running,
        }
        if self.container_id:
            entry["containerID"] = self.container_id
        return entry


class PodWorker:
    """Runs one pod's containers and keeps its status."""

    def __init__(self, kubelet: Kubelet, pod: dict[str, Any], pod_ip: str) -> None:
        self.kubelet = kubelet
        self.store = kubelet.store
        meta = pod["metadata"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.uid: str = meta["uid"]
        self.pod = pod
        self.pod_ip = pod_ip
        spec = pod["spec"]
        self.restart_policy = spec.get("restartPolicy", "Always")
        self.dir = kubelet.workdir / "pods" / f"{self.namespace}_{self.name}_{self.uid}"
        self.inits = [ContainerRun(c, init=True) for c in spec.get("initContainers") or []]
        self.mains = [ContainerRun(c) for c in spec.get("containers") or []]
        for run in self.inits + self.mains:
            reason = "PodInitializing" if self.inits else "ContainerCreating"
            run.state = {"waiting": {"reason": reason}}
        self.initialized = not [c for c in self.inits if not c.sidecar] and not self.inits
        self.phase = "Pending"
        self.start_time = now_rfc3339()
        self.terminating = asyncio.Event()
        self.grace: float = 30
        self.node_shutdown = False
        self._sidecars_signalled = False
        self.done = asyncio.Event()
        self.mounts: dict[str, str] = {}
        self.task: asyncio.Task[None] | None = None
        # Sidecars' supervisors: they end with the pod (`run`'s finally).
        self._supervisors: set[asyncio.Task[None]] = set()

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """The whole life of the pod on its node."""
        try:
            self._publish()
            ready = await self._prepare()
            if ready and await self._run_inits():
                self.initialized = True
                await self._run_mains()
            await self._stop_sidecars()
            self._finish()
        except asyncio.CancelledError:
            self._kill_all(signal.SIGKILL)
            raise
        except Exception:
            log.exception("pod %s/%s failed in the kubelet", self.namespace, self.name)
            self._kill_all(signal.SIGKILL)
            self._finish()
        finally:
            for supervisor in self._supervisors:
                supervisor.cancel()
            await asyncio.gather(*self._supervisors, return_exceptions=True)
            for run in self.inits + self.mains:
                if run.writer is not None:
                    run.writer.close()
            self.done.set()

    def terminate(self, grace: float) -> None:
        """Graceful deletion: SIGTERM now, SIGKILL after ``grace`` seconds."""
        if self.terminating.is_set():
            self.grace = min(self.grace, grace)
            if grace == 0:
                self._kill_all(signal.SIGKILL)
            return
        self.grace = grace
        self.terminating.set()
        asyncio.get_running_loop().create_task(self._kill_after_grace())

    async def _kill_after_grace(self) -> None:
        # Main containers first; sidecars get their SIGTERM once the main containers are gone.
        self._signal(self.mains + [c for c in self.inits if not c.sidecar], signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while not self.done.is_set():
            if not any(c.process for c in self.mains):
                self._signal_sidecars_once()
            if time.monotonic() >= deadline:
                self._kill_all(signal.SIGKILL)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), timeout=0.05)

    def _signal(self, runs: list[ContainerRun], sig: int) -> None:
        for run in runs:
            if run.process is not None and (
                run.process.returncode is None or sig == signal.SIGKILL
            ):
                run.killed_by_us = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    # Like containerd: the stop signal goes to the container's first process,
                    # SIGKILL to everything in it.
                    if sig == signal.SIGKILL:
                        os.killpg(run.process.pid, sig)
                    else:
                        os.kill(run.process.pid, sig)

    def _signal_sidecars_once(self) -> None:
        """The stop signal reaches each native sidecar once, in reverse order, as the kubelet
        sends it (a second SIGTERM would interrupt the sidecar's own handling of the first)."""
        if self._sidecars_signalled:
            return
        self._sidecars_signalled = True
        self._signal(list(reversed([c for c in self.inits if c.sidecar])), signal.SIGTERM)

    def shut_down(self, grace_cap: float) -> None:
        """Stop for the node's shutdown: as a deletion, within the pod's grace period capped at
        `grace_cap`, leaving the pod Failed in the store."""
        self.node_shutdown = True
        own = self.pod["spec"].get("terminationGracePeriodSeconds")
        self.terminate(min(float(own if own is not None else 30), grace_cap))

    def _kill_all(self, sig: int = signal.SIGKILL) -> None:
        self._signal(self.inits + self.mains, sig)

    # --- preparation --------------------------------------------------------------------------

    async def _prepare(self) -> bool:
        """Directories and volumes; waits (retrying) while a secret is missing."""
        while True:
            try:
                self._make_volumes()
                return True
            except ConfigError as exc:
                self.store.record_event(
                    self._involved(), "FailedMount", str(exc), type_="Warning", component="kubelet"
                )
                if await self._wait_or_terminate(1.0):
                    return False

    async def _wait_or_terminate(self, seconds: float) -> bool:
        """Sleep; True if the pod is being deleted meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.terminating.wait(), timeout=seconds)
        return self.terminating.is_set()

    def _make_volumes(self) -> None:
        volumes_dir = self.dir / "volumes"
        volumes_dir.mkdir(parents=True, exist_ok=True)
        self.volume_dirs: dict[str, Path] = {}
        for volume in self.pod["spec"].get("volumes") or []:
            name = volume["name"]
            if "hostPath" in volume:
                path = Path(volume["hostPath"]["path"])
                path.mkdir(parents=True, exist_ok=True)
                self.volume_dirs[name] = path
                continue
            path = volumes_dir / name
            path.mkdir(parents=True, exist_ok=True)
            self.volume_dirs[name] = path
            if "secret" in volume:
                source = volume["secret"]
                data = self._secret_data(source.get("secretName", ""), source.get("optional"))
                items = source.get("items") or [{"key": k, "path": k} for k in data]
                for item in items:
                    if item["key"] in data:
                        target = path / item["path"]
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(data[item["key"]])

    def _secret_data(self, name: str, optional: bool | None) -> dict[str, bytes]:
        try:
            secret = self.store.get("secrets", self.namespace, name)
        except ApiError as exc:
            if optional:
                return {}
            raise ConfigError(f'secret "{name}" not found') from exc
        return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}

    def _container_mounts(self, run: ContainerRun) -> dict[str, str]:
        mounts = {}
        for mount in run.spec.get("volumeMounts") or []:
            base = self.volume_dirs.get(mount["name"])
            if base is None:
                continue
            host = base / mount["subPath"] if mount.get("subPath") else base
            host.mkdir(parents=True, exist_ok=True)
            mounts[mount["mountPath"].rstrip("/") or "/"] = str(host)
        return mounts

    def _field(self, path: str) -> str:
        meta = self.pod["metadata"]
        simple = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "metadata.uid": self.uid,
            "spec.nodeName": self.pod["spec"].get("nodeName", ""),
            "spec.serviceAccountName": self.pod["spec"].get("serviceAccountName", ""),
            "status.podIP": self.pod_ip,
            "status.podIPs": self.pod_ip,
            "status.hostIP": "127.0.0.1",
            "status.hostIPs": "127.0.0.1",
        }
        if path in simple:
            return simple[path]
        match = re.match(r"metadata\.(labels|annotations)\['(.+)'\]$", path)
        if match:
            return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
        return ""

    def _environment(self, run: ContainerRun, mounts: Mapping[str, str]) -> dict[str, str]:
        env: dict[str, str] = {k: os.environ[k] for k in _INHERITED_ENV if k in os.environ}
        # The interpreter's own bin directory first: the project's console scripts (the
        # sidecar's `walkai-jobs`) are found whether or not the virtualenv is activated.
        env["PATH"] = os.pathsep.join(
            p for p in (str(Path(sys.executable).parent), env.get("PATH", "")) if p
        )
        env["HOSTNAME"] = self.name
        devices = pod_devices(self.pod)
        if devices:
            env["NVIDIA_VISIBLE_DEVICES"] = ",".join(
                f"MIG-{self.pod['spec'].get('nodeName')}-gpu{d.gpu}-{d.profile}-{d.start}"
                for d in devices
            )
        env["SIM_VOLUME_MOUNTS"] = json.dumps(mounts)
        for source in run.spec.get("envFrom") or []:
            prefix = source.get("prefix", "")
            ref = source.get("secretRef")
            if ref:
                for key, value in self._secret_data(ref["name"], ref.get("optional")).items():
                    env[prefix + key] = value.decode(errors="replace")
        for var in run.spec.get("env") or []:
            name = var["name"]
            if "value" in var:
                env[name] = rewrite_paths(expand(str(var["value"]), env), mounts)
            elif "valueFrom" in var:
                source = var["valueFrom"]
                if "fieldRef" in source:
                    env[name] = self._field(source["fieldRef"]["fieldPath"])
                elif "secretKeyRef" in source:
                    ref = source["secretKeyRef"]
                    data = self._secret_data(ref["name"], ref.get("optional"))
                    if ref["key"] in data:
                        env[name] = data[ref["key"]].decode(errors="replace")
                    elif not ref.get("optional"):
                        raise ConfigError(
                            f"couldn't find key {ref['key']} in Secret "
                            f"{self.namespace}/{ref['name']}"
                        )
            else:
                env[name] = ""
        return env

    def _argv(
        self, run: ContainerRun, env: Mapping[str, str], mounts: Mapping[str, str]
    ) -> list[str]:
        command = list(run.spec.get("command") or [])
        args = list(run.spec.get("args") or [])
        if not command:
            image = str(run.spec.get("image", ""))
            entrypoint = self.kubelet.config.image_entrypoints.get(_image_name(image))
            command = list(entrypoint or [])
        argv = [rewrite_paths(expand(part, env), mounts) for part in command + args]
        return argv

    # --- running ------------------------------------------------------------------------------

    async def _run_inits(self) -> bool:
        for run in self.inits:
            if self.terminating.is_set():
                return False
            if run.sidecar:
                if not await self._start(run):
                    return False
                self._supervisors.add(asyncio.create_task(self._supervise_sidecar(run)))
                continue
            while True:
                code = await self._run_once(run)
                if code == 0:
                    break
                if self.restart_policy == "Never" or self.terminating.is_set():
                    return False
                if not await self._restart(run):
                    return False
        return not self.terminating.is_set()

    async def _supervise_sidecar(self, run: ContainerRun) -> None:
        while True:
            await self._wait(run)
            if self.terminating.is_set() or self._mains_done or self.done.is_set():
                return
            if not await self._restart(run) or self._mains_done:
                return
            if not await self._start(run):
                return

    _mains_done = False

    async def _run_mains(self) -> None:
        async def keep(run: ContainerRun) -> None:
            while True:
                code = await self._run_once(run)
                if self.terminating.is_set() or self.restart_policy == "Never":
                    return
                if self.restart_policy == "OnFailure" and code == 0:
                    return
                if not await self._restart(run):
                    return

        await asyncio.gather(*(keep(run) for run in self.mains))
        self._mains_done = True

    async def _stop_sidecars(self) -> None:
        sidecars = [c for c in self.inits if c.sidecar and c.process is not None]
        if not sidecars:
            return
        self._mains_done = True
        self._signal_sidecars_once()
        grace = (
            self.grace
            if self.terminating.is_set()
            else float(self.pod["spec"].get("terminationGracePeriodSeconds", 30))
        )
        try:
            await asyncio.wait_for(
                asyncio.gather(*(self._wait(c) for c in sidecars)), timeout=max(grace, 0.1)
            )
        except TimeoutError:
            self._signal(sidecars, signal.SIGKILL)
            await asyncio.gather(*(self._wait(c) for c in sidecars))

    async def _restart(self, run: ContainerRun) -> bool:
        """Wait out the crash-loop back-off, then count a restart; False if the pod is ending.

        Like the real kubelet, a container that keeps failing waits longer each time
        (CrashLoopBackOff), so a broken container cannot flood watchers with status changes.
        """
        delay = min(RESTART_BACKOFF_FIRST * 2**run.restart_count, RESTART_BACKOFF_MAX)
        run.last_state = run.state
        run.state = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off {delay:g}s restarting failed container={run.name} "
                f"pod={self.name}_{self.namespace}({self.pod['metadata'].get('uid')})",
            }
        }
        self._publish()
        if await self._wait_or_terminate(delay):
            return False
        run.restart_count += 1
        self._publish()
        return True

    async def _run_once(self, run: ContainerRun) -> int:
        if not await self._start(run):
            terminated = run.state.get("terminated") or {}
            return int(terminated.get("exitCode", 128))
        return await self._wait(run)

    async def _start(self, run: ContainerRun) -> bool:
        """Start the container process; False if it could not (state says why)."""
        while True:
            if self.terminating.is_set():
                return False
            try:
                mounts = self._container_mounts(run)
                env = self._environment(run, mounts)
                break
            except ConfigError as exc:
                run.state = {
                    "waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}
                }
                self._publish()
                if await self._wait_or_terminate(1.0):
                    return False
        argv = self._argv(run, env, mounts)
        workdir = self._workdir(run, mounts)
        log_path = self.dir / "logs" / run.name / f"{run.restart_count}.log"
        run.writer = LogWriter(log_path)
        run.logs.append(log_path)
        run.container_id = "containerd://" + secrets.token_hex(32)
        run.killed_by_us = False
        now = now_rfc3339()
        if not argv:
            image = run.spec.get("image", "")
            return self._start_failed(
                run,
                now,
                f"no command to run: the simulated kubelet does not run image {image!r}; "
                "give the container a command",
            )
        try:
            run.process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=workdir,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            detail = (
                f'exec: "{argv[0]}": executable file not found in $PATH'
                if isinstance(exc, FileNotFoundError)
                else f'exec: "{argv[0]}": {exc.strerror or exc}'
            )
            return self._start_failed(
                run,
                now,
                "failed to create containerd task: failed to create shim task: OCI runtime "
                "create failed: runc create failed: unable to start container process: "
                f"{detail}: unknown",
            )
        self.kubelet.processes.add(run.process)
        self.kubelet.pids.record(run.process.pid)
        run.state = {"running": {"startedAt": now}}
        self._update_phase()
        self._publish()
        return True

    def _start_failed(self, run: ContainerRun, now: str, message: str) -> bool:
        run.state = {
            "terminated": {
                "exitCode": 128,
                "reason": "StartError",
                "message": message,
                "startedAt": "1970-01-01T00:00:00Z",
                "finishedAt": now,
                "containerID": run.container_id,
            }
        }
        if run.writer is not None:
            run.writer.close()
        self._publish()
        return False

    def _workdir(self, run: ContainerRun, mounts: Mapping[str, str]) -> str:
        rootfs = self.dir / "rootfs" / run.name
        wanted = run.spec.get("workingDir")
        if not wanted:
            path = rootfs
        else:
            mapped = rewrite_paths(wanted, mounts)
            path = Path(mapped) if mapped != wanted else rootfs / wanted.lstrip("/")
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    async def _wait(self, run: ContainerRun) -> int:
        process = run.process
        if process is None:
            terminated = run.state.get("terminated") or {}
            return int(terminated.get("exitCode", 0))
        writer = run.writer
        assert writer is not None and process.stdout is not None and process.stderr is not None
        pumps = [
            asyncio.create_task(_pump(process.stdout, writer, b"stdout")),
            asyncio.create_task(_pump(process.stderr, writer, b"stderr")),
        ]
        # asyncio's wait() also waits for the pipes, which a left-over child may hold open:
        # watch the exit status itself.
        waiter = asyncio.ensure_future(process.wait())
        while process.returncode is None and not waiter.done():
            await asyncio.wait({waiter}, timeout=0.05)
        code = process.returncode if process.returncode is not None else waiter.result()
        # When a container's first process exits, everything else in it dies too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        await waiter
        self.kubelet.pids.forget(process.pid)
        await asyncio.gather(*pumps, return_exceptions=True)
        writer.close()
        self.kubelet.processes.discard(process)
        if run.process is not process:
            return code if code >= 0 else 128 - code
        run.process = None
        exit_code = code if code >= 0 else 128 - code
        if exit_code == 0:
            reason = "Completed"
        elif exit_code == 137 and not run.killed_by_us:
            reason = "OOMKilled"
        else:
            reason = "Error"
        started = (run.state.get("running") or {}).get("startedAt", now_rfc3339())
        run.state = {
            "terminated": {
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": started,
                "finishedAt": now_rfc3339(),
                "containerID": run.container_id,
            }
        }
        self._update_phase()
        self._publish()
        return exit_code

    # --- status -------------------------------------------------------------------------------

    def _update_phase(self) -> None:
        if self.phase in TERMINAL:
            return
        if any("running" in c.state for c in self.mains) or any(
            c.restart_count for c in self.mains
        ):
            self.phase = "Running"

    def _finish(self) -> None:
        """Terminal phase, final status; remove the pod if it is being deleted."""
        codes = [(c.state.get("terminated") or {}).get("exitCode") for c in self.mains]
        started = all("terminated" in c.state for c in self.mains)
        self.phase = "Succeeded" if started and all(code == 0 for code in codes) else "Failed"
        if self.node_shutdown:
            self.phase = "Failed"
        self._publish()
        if self.terminating.is_set() and not self.node_shutdown:
            self.store.remove("pods", self.namespace, self.name)

    def _publish(self) -> None:
        now = now_rfc3339()
        initialized = self.initialized
        mains_running = bool(self.mains) and all("running" in c.state for c in self.mains)
        sidecars_running = all("running" in c.state for c in self.inits if c.sidecar)
        ready = (
            initialized
            and mains_running
            and sidecars_running
            and self.phase not in TERMINAL
            and not self.terminating.is_set()
        )
        unready = [c.name for c in self.mains if not ready]
        incomplete = [
            c.name
            for c in self.inits
            if not c.sidecar and (c.state.get("terminated") or {}).get("exitCode") != 0
        ]
        terminal = self.phase in TERMINAL
        phase = self.phase
        shut_down = terminal and self.node_shutdown

        def write(pod: dict[str, Any]) -> None:
            status = pod.setdefault("status", {})
            status["phase"] = phase
            if shut_down:
                status["reason"] = NODE_SHUTDOWN_REASON
                status["message"] = NODE_SHUTDOWN_MESSAGE
            status["hostIP"] = "127.0.0.1"
            status["hostIPs"] = [{"ip": "127.0.0.1"}]
            status["podIP"] = self.pod_ip
            status["podIPs"] = [{"ip": self.pod_ip}]
            status["startTime"] = self.start_time
            set_condition(
                pod, "PodReadyToStartContainers", "False" if terminal else "True", now, probe=True
            )
            if initialized:
                set_condition(pod, "Initialized", "True", now, probe=True)
            else:
                set_condition(
                    pod,
                    "Initialized",
                    "False",
                    now,
                    reason="ContainersNotInitialized",
                    message=f"containers with incomplete status: [{' '.join(incomplete)}]",
                    probe=True,
                )
            for type_ in ("Ready", "ContainersReady"):
                if ready:
                    set_condition(pod, type_, "True", now, probe=True)
                elif phase == "Succeeded":
                    set_condition(pod, type_, "False", now, reason="PodCompleted", probe=True)
                else:
                    set_condition(
                        pod,
                        type_,
                        "False",
                        now,
                        reason="ContainersNotReady",
                        message=f"containers with unready status: [{' '.join(unready)}]",
                        probe=True,
                    )
            _order_conditions(status)
            if self.inits:
                status["initContainerStatuses"] = [c.status(ready) for c in self.inits]
            status["containerStatuses"] = [c.status(ready) for c in self.mains]

        with contextlib.suppress(ApiError):  # removed meanwhile
            self.pod = self.store.mutate("pods", self.namespace, self.name, write)

    def _involved(self) -> dict[str, Any]:
        return self.pod


_CONDITION_ORDER = {
    t: i
    for i, t in enumerate(
        ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
    )
}


def _order_conditions(status: dict[str, Any]) -> None:
    status["conditions"].sort(key=lambda c: _CONDITION_ORDER.get(c["type"], -1))


def _image_name(image: str) -> str:
    """The image reference without tag or digest."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name


async def _pump(stream: asyncio.StreamReader, writer: LogWriter, name: bytes) -> None:
    while True:
        data = await stream.read(1 << 16)
        if not data:
            return
        writer.write(name, data)


class Kubelet:
    """The kubelet of every simulated node (one object, many nodes), and the pods/log source."""

    def __init__(self, store: Any, config: SimConfig, workdir: Path) -> None:
        self.store = store
        self.config = config
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
