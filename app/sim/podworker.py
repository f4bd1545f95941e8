"""One pod on a simulated node: its containers as local processes, from start to removal.

See app.sim.kubelet for what a container is here and the lifecycle the kubelet reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.sim.containerproc import StartError, reap, spawn
from app.sim.errors import ApiError
from app.sim.events import container_path
from app.sim.hooks import post_start_command, run_hook
from app.sim.podconfig import ConfigError, PodConfig, expand, rewrite_paths
from app.sim.podlogs import LogWriter
from app.sim.podstatus import ContainerRun, PodState, running_phase, status_writer
from app.sim.runas import become, hand_over, image_name, run_as
from app.sim.store import now_rfc3339

if TYPE_CHECKING:
    from app.sim.kubelet import Kubelet

log = logging.getLogger(__name__)


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
        self.node: str = spec.get("nodeName", "")
        self.dir = kubelet.workdir / "pods" / f"{self.namespace}_{self.name}_{self.uid}"
        self.config = PodConfig(self.store, self.namespace, self.dir)
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
        self.done = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        # Sidecars' supervisors: they end with the pod (`run`'s finally).
        self._supervisors: set[asyncio.Task[None]] = set()
        # One reaper per container process, however many wait for it (a sidecar's supervisor
        # and the pod's stopping both do): two would read its output pipes at once.
        self._reapers: dict[int, asyncio.Task[int]] = {}

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
        # Checked until the pod is done: a container whose process was being started when the
        # deletion came gets its SIGTERM once it runs.
        deadline = time.monotonic() + self.grace
        while not self.done.is_set():
            self._stop_once(self.mains + [c for c in self.inits if not c.sidecar])
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
                stopping = sig == signal.SIGTERM and not run.killed_by_us
                run.killed_by_us = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    # Like containerd: the stop signal goes to the container's first process,
                    # SIGKILL to everything in it.
                    if sig == signal.SIGKILL:
                        os.killpg(run.process.pid, sig)
                    else:
                        os.kill(run.process.pid, sig)
                if stopping:
                    self._event(run, "Killing", f"Stopping container {run.name}")

    def _signal_sidecars_once(self) -> None:
        """The stop signal reaches each native sidecar once, in reverse order, as the kubelet
        sends it (a second SIGTERM would interrupt the sidecar's own handling of the first)."""
        self._stop_once(list(reversed([c for c in self.inits if c.sidecar])))

    def _stop_once(self, runs: list[ContainerRun]) -> None:
        """SIGTERM to each of `runs` whose process runs and has not been told to stop: once per
        process, and only once it has one (a flag set while its process was still starting
        kept one sidecar waiting for a stop signal until the grace period ran out)."""
        pending = [r for r in runs if r.process is not None and not r.killed_by_us]
        self._signal(pending, signal.SIGTERM)

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
        """Directories and volumes; waits (retrying) while a Secret or ConfigMap is missing."""
        while True:
            try:
                self.config.make_volumes(self.pod)
                return True
            except ConfigError as exc:
                self._event(None, "FailedMount", str(exc), "Warning")
                if await self._wait_or_terminate(1.0):
                    return False

    async def _wait_or_terminate(self, seconds: float) -> bool:
        """Sleep; True if the pod is being deleted meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.terminating.wait(), timeout=seconds)
        return self.terminating.is_set()

    def _argv(
        self, run: ContainerRun, env: Mapping[str, str], mounts: Mapping[str, str]
    ) -> list[str]:
        command = list(run.spec.get("command") or [])
        args = list(run.spec.get("args") or [])
        if not command:
            image = str(run.spec.get("image", ""))
            entrypoint = self.kubelet.config.image_entrypoints.get(image_name(image))
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

        # return_exceptions: a main container's wait that ends cancelled while the pod's task
        # is not must neither leave an exception nobody reads nor end the pod's task with the
        # pod unfinished; a real failure is raised still.
        ended = await asyncio.gather(*(keep(run) for run in self.mains), return_exceptions=True)
        self._mains_done = True
        for outcome in ended:
            if isinstance(outcome, Exception):
                raise outcome

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
        # One after another in this task, not gathered: a gather inside a wait_for that is
        # cancelled as the cluster stops leaves an exception nobody reads. Each wait is on its
        # container's reaper, which runs on regardless.
        try:
            async with asyncio.timeout(max(grace, 0.1)):
                for sidecar in sidecars:
                    await self._wait(sidecar)
        except TimeoutError:
            self._signal(sidecars, signal.SIGKILL)
            for sidecar in sidecars:
                await self._wait(sidecar)

    async def _restart(self, run: ContainerRun) -> bool:
        """Wait out the crash-loop back-off, then count a restart; False if the pod is ending.

        Like the real kubelet, the first restart is immediate and a container that keeps
        failing waits longer each time (CrashLoopBackOff: 10 s doubling to 5 min, times the
        time factor), so a broken container cannot flood watchers with status changes.
        """
        delay = self.kubelet.timing.container_backoff(run.restart_count)
        run.last_state = run.state
        if delay > 0:
            shown = f"{delay:.3g}s" if delay < 60 else f"{delay / 60:g}m0s"
            pod_ref = f"{self.name}_{self.namespace}({self.uid})"
            run.state = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {shown} restarting failed container={run.name} "
                    f"pod={pod_ref}",
                }
            }
            self._update_phase()
            self._publish()
            message = f"Back-off restarting failed container {run.name} in pod {pod_ref}"
            self._event(run, "BackOff", message, "Warning")
            if await self._wait_or_terminate(delay):
                return False
        elif self.terminating.is_set():
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
                mounts = self.config.container_mounts(run.spec)
                env = self.config.environment(self.pod, self.pod_ip, run.spec, mounts)
                break
            except ConfigError as exc:
                run.state = {
                    "waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}
                }
                self._publish()
                self._event(run, "Failed", f"Error: {exc}", "Warning")
                if await self._wait_or_terminate(1.0):
                    return False
        argv = self._argv(run, env, mounts)
        workdir = self._workdir(run, mounts)
        user = run_as(self.kubelet.config.run_as, self.pod, run.spec)
        switch: dict[str, Any] = {}
        if user is not None:
            hand_over(Path(workdir), user)
            if env.get("HOME") == os.environ.get("HOME"):
                env["HOME"] = workdir  # the kubelet's own home is not the container's
            switch = {"preexec_fn": become(user)}
        log_path = self.dir / "logs" / run.name / f"{run.restart_count}.log"
        run.writer = LogWriter(log_path)
        run.logs.append(log_path)
        run.container_id = "containerd://" + secrets.token_hex(32)
        run.killed_by_us = False
        now = now_rfc3339()
        self._pull_events(run)
        self._event(run, "Created", f"Created container {run.name}")
        if not argv:
            image = run.spec.get("image", "")
            return self._start_failed(
                run,
                now,
                f"no command to run: the simulated kubelet does not run image {image!r}; "
                "give the container a command",
            )
        try:
            run.process = await spawn(argv, cwd=workdir, env=env, switch=switch)
        except StartError as exc:
            return self._start_failed(run, now, str(exc))
        self.kubelet.processes.add(run.process)
        self.kubelet.pids.record(run.process.pid)
        if (hook := post_start_command(run.spec)) is not None:
            process = run.process
            failure = await run_hook(
                [rewrite_paths(part, mounts) for part in hook],
                env=env,
                cwd=workdir,
                switch=switch,
                going_on=lambda: process.returncode is None and not self.terminating.is_set(),
            )
            if failure is not None:
                message = f"PostStartHook failed: {failure}"
                self._event(run, "FailedPostStartHook", message, "Warning")
                self._signal([run], signal.SIGKILL)
        run.state = {"running": {"startedAt": now}}
        self._update_phase()
        self._publish()
        self._event(run, "Started", f"Started container {run.name}")
        return True

    def _pull_events(self, run: ContainerRun) -> None:
        """The image is never pulled; the events say what the kubelet would have done."""
        image = str(run.spec.get("image", ""))
        if run.spec.get("imagePullPolicy") == "Always":
            self._event(run, "Pulling", f'Pulling image "{image}"')
            message = f'Successfully pulled image "{image}" in 0s (0s including waiting)'
        else:
            message = f'Container image "{image}" already present on machine'
        self._event(run, "Pulled", message)

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
        self._update_phase()
        self._publish()
        self._event(run, "Failed", f"Error: {message}", "Warning")
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
        """Until the container's process ends (its exit code); waiting gives up nothing if
        cancelled: the process is still reaped, once."""
        process = run.process
        if process is None:
            terminated = run.state.get("terminated") or {}
            return int(terminated.get("exitCode", 0))
        reaper = self._reapers.get(process.pid)
        if reaper is None:
            reaper = self._reapers[process.pid] = asyncio.ensure_future(self._reap(run, process))
            reaper.add_done_callback(lambda _: self._reapers.pop(process.pid, None))
        return await asyncio.shield(reaper)

    async def _reap(self, run: ContainerRun, process: asyncio.subprocess.Process) -> int:
        assert run.writer is not None

        def killing() -> None:
            run.killed_by_us = True

        exit_code = await reap(process, run.writer, killing=killing)
        self.kubelet.pids.forget(process.pid)
        self.kubelet.processes.discard(process)
        if run.process is not process:
            return exit_code
        run.process = None
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
        self.phase = running_phase(self.phase, self.restart_policy, self.mains)

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
        state = PodState(
            phase=self.phase,
            inits=self.inits,
            mains=self.mains,
            initialized=self.initialized,
            terminating=self.terminating.is_set(),
            node_shutdown=self.node_shutdown,
            pod_ip=self.pod_ip,
            start_time=self.start_time,
        )
        with contextlib.suppress(ApiError):  # removed meanwhile
            self.pod = self.store.mutate("pods", self.namespace, self.name, status_writer(state))

    def _event(
        self, run: ContainerRun | None, reason: str, message: str, type_: str = "Normal"
    ) -> None:
        """An Event from this node's kubelet about the pod (or one of its containers)."""
        self.store.record_event(
            self.pod, reason, message, type_=type_, component="kubelet", host=self.node,
            field_path=container_path(self.pod, run.name) if run is not None else "",
        )  # fmt: skip
