"""A pod's status as the kubelet reports it: each container's state, the phase, conditions.

The phase follows the kubelet's getPhase: a container waiting to restart (its last state
terminated) counts as stopped, so a pod whose containers keep failing under ``restartPolicy:
Always`` (or OnFailure) is ``Running`` while its containers show ``CrashLoopBackOff``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.sim.conditions import set_condition
from app.sim.podlogs import LogWriter
from app.sim.store import now_rfc3339

TERMINAL = ("Succeeded", "Failed")
NODE_SHUTDOWN_REASON = "Terminated"
NODE_SHUTDOWN_MESSAGE = "Pod was terminated in response to imminent node shutdown."
_CONDITION_ORDER = {
    t: i
    for i, t in enumerate(
        ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
    )
}


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


def running_phase(phase: str, restart_policy: str, mains: list[ContainerRun]) -> str:
    """The phase while the pod's worker runs: Running once a main container runs, or has
    stopped and will be restarted (never back to Pending; terminal phases are set at the end)."""
    if phase in TERMINAL:
        return phase
    for run in mains:
        if "running" in run.state or run.restart_count or "terminated" in run.last_state:
            return "Running"
        if "terminated" in run.state and restart_policy != "Never":
            return "Running"
    return phase


@dataclass
class PodState:
    """What the worker knows of the pod, as the status write needs it."""

    phase: str
    inits: list[ContainerRun]
    mains: list[ContainerRun]
    initialized: bool
    terminating: bool
    node_shutdown: bool
    pod_ip: str
    start_time: str


def status_writer(state: PodState) -> Callable[[dict[str, Any]], None]:
    """The edit that writes ``state`` into a stored pod's status."""
    now = now_rfc3339()
    mains_running = bool(state.mains) and all("running" in c.state for c in state.mains)
    sidecars_running = all("running" in c.state for c in state.inits if c.sidecar)
    phase = state.phase
    terminal = phase in TERMINAL
    ready = (
        state.initialized
        and mains_running
        and sidecars_running
        and not terminal
        and not state.terminating
    )
    unready = [c.name for c in state.mains if not ready]
    incomplete = [
        c.name
        for c in state.inits
        if not c.sidecar and (c.state.get("terminated") or {}).get("exitCode") != 0
    ]
    shut_down = terminal and state.node_shutdown

    def write(pod: dict[str, Any]) -> None:
        status = pod.setdefault("status", {})
        status["phase"] = phase
        if shut_down:
            status["reason"] = NODE_SHUTDOWN_REASON
            status["message"] = NODE_SHUTDOWN_MESSAGE
        status["hostIP"] = "127.0.0.1"
        status["hostIPs"] = [{"ip": "127.0.0.1"}]
        status["podIP"] = state.pod_ip
        status["podIPs"] = [{"ip": state.pod_ip}]
        status["startTime"] = state.start_time
        set_condition(
            pod, "PodReadyToStartContainers", "False" if terminal else "True", now, probe=True
        )
        if state.initialized:
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
        status["conditions"].sort(key=lambda c: _CONDITION_ORDER.get(c["type"], -1))
        if state.inits:
            status["initContainerStatuses"] = [c.status(ready) for c in state.inits]
        status["containerStatuses"] = [c.status(ready) for c in state.mains]

    return write
