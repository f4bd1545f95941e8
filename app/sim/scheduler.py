"""The scheduler: binds pending pods to nodes by priority, MIG placement, and preemption.

What is simulated (and what is not):

- Queue: every pod without ``spec.nodeName`` whose ``schedulerName`` is ``default-scheduler``,
  in order of ``spec.priority`` (high first), then creation. A pass runs whenever pods or nodes
  change; there is no backoff queue, an unschedulable pod is simply retried on the next change.
- Filters: node exists and is not ``spec.unschedulable``; ``spec.nodeSelector`` matches the node
  labels; pod count; cpu and memory requests (requests default to limits; the pod's request is
  the sum over containers and sidecars, or the largest init container if bigger); MIG resources
  ``<prefix><profile>`` placed with the rule in ``app.sim.nodes`` (dynamic partitioning). Taints,
  affinity, topology spread and PodDisruptionBudgets are not simulated.
- Node choice: the first node (configuration order) that fits — bin-packing, which keeps whole
  GPUs free for large profiles. A pod with ``status.nominatedNodeName`` tries that node first.
- Binding: ``spec.nodeName``, condition PodScheduled=True, a ``Scheduled`` event, and the
  annotation ``sim.walkai.io/mig-devices`` (``<gpu>:<profile>@<start>,...``) recording which
  MIG instances the pod holds; the kubelet turns it into ``NVIDIA_VISIBLE_DEVICES``.
- Unschedulable: PodScheduled=False reason Unschedulable with kube-scheduler's message
  (``0/2 nodes are available: 2 Insufficient nvidia.com/mig-3g.40gb. preemption: ...``) and a
  ``FailedScheduling`` Warning event, recorded again only when the message changes.
- Preemption (default preemption plugin): if the pod may preempt (``preemptionPolicy`` is not
  ``Never``) and no preemption it started is still in progress, find per node the victims among
  lower-priority pods: remove them all, then reprieve them one by one (most important first)
  while the pod still fits. The node with the lowest highest-victim priority, then lowest
  priority sum, then fewest victims wins. Victims get condition DisruptionTarget (reason
  PreemptionByScheduler), a ``Preempted`` event, and a graceful delete; the preemptor gets
  ``status.nominatedNodeName``, and its request is reserved on that node against lower-priority
  pods until it binds there once the victims are gone.
- Capacity is held by bound pods that are not Succeeded/Failed (terminating pods keep it until
  the kubelet removes them).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.sim.conditions import get_condition, set_condition
from app.sim.nodes import MigDevice, NodeSpec, SimConfig, allocate, parse_quantity
from app.sim.store import now_rfc3339

log = logging.getLogger(__name__)

SCHEDULER_NAME = "default-scheduler"
MIG_DEVICES_ANNOTATION = "sim.walkai.io/mig-devices"
TERMINAL_PHASES = ("Succeeded", "Failed")


# --- pure part ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What a pod needs from a node."""

    cpu: Decimal = Decimal(0)
    memory: Decimal = Decimal(0)
    mig: Mapping[str, int] = field(default_factory=dict)


def _container_request(container: Mapping[str, Any], config: SimConfig) -> Request:
    resources = container.get("resources") or {}
    values = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    mig = {}
    for name, value in values.items():
        profile = config.profile_of(name)
        if profile is not None:
            mig[profile] = int(parse_quantity(value))
    return Request(
        cpu=parse_quantity(values.get("cpu", 0)),
        memory=parse_quantity(values.get("memory", 0)),
        mig=mig,
    )


def _add(a: Request, b: Request) -> Request:
    mig = dict(a.mig)
    for name, count in b.mig.items():
        mig[name] = mig.get(name, 0) + count
    return Request(a.cpu + b.cpu, a.memory + b.memory, mig)


def _max(a: Request, b: Request) -> Request:
    mig = dict(a.mig)
    for name, count in b.mig.items():
        mig[name] = max(mig.get(name, 0), count)
    return Request(max(a.cpu, b.cpu), max(a.memory, b.memory), mig)


def pod_request(pod: Mapping[str, Any], config: SimConfig) -> Request:
    """The pod's effective request: containers plus sidecars, or the largest init container."""
    spec = pod.get("spec") or {}
    total = Request()
    for container in spec.get("containers") or []:
        total = _add(total, _container_request(container, config))
    init_peak = Request()
    sidecars = Request()
    for container in spec.get("initContainers") or []:
        request = _container_request(container, config)
        if container.get("restartPolicy") == "Always":
            sidecars = _add(sidecars, request)
            total = _add(total, request)
        else:
            init_peak = _max(init_peak, _add(sidecars, request))
    return _max(total, init_peak)


@dataclass
class NodeState:
    """A node's configuration and what bound pods hold on it."""

    spec: NodeSpec
    labels: Mapping[str, str] = field(default_factory=dict)
    unschedulable: bool = False
    cpu: Decimal = Decimal(0)
    memory: Decimal = Decimal(0)
    pods: int = 0
    devices: list[MigDevice] = field(default_factory=list)

    def take(self, request: Request, devices: Sequence[MigDevice]) -> None:
        """Account a pod's request and its MIG instances."""
        self.cpu += request.cpu
        self.memory += request.memory
        self.pods += 1
        self.devices.extend(devices)

    def copy(self) -> NodeState:
        """An independent copy, for what-if checks."""
        return NodeState(
            self.spec,
            self.labels,
            self.unschedulable,
            self.cpu,
            self.memory,
            self.pods,
            list(self.devices),
        )


@dataclass(frozen=True)
class Fit:
    """The result of checking one pod on one node."""

    devices: list[MigDevice] | None  # None when it does not fit
    reasons: tuple[str, ...] = ()
    resolvable: bool = True  # False when removing pods cannot help (selector, unschedulable)


def check_fit(
    node: NodeState, request: Request, config: SimConfig, selector: Mapping[str, str] | None = None
) -> Fit:
    """Whether ``request`` fits on ``node`` now, with kube-scheduler's reasons when it does not."""
    if node.unschedulable:
        return Fit(None, ("node(s) were unschedulable",), resolvable=False)
    if selector and any(node.labels.get(k) != v for k, v in selector.items()):
        return Fit(None, ("node(s) didn't match Pod's node affinity/selector",), resolvable=False)
    reasons = []
    if node.pods + 1 > node.spec.pods:
        reasons.append("Too many pods")
    if request.cpu and node.cpu + request.cpu > parse_quantity(node.spec.cpu):
        reasons.append("Insufficient cpu")
    if request.memory and node.memory + request.memory > parse_quantity(node.spec.memory):
        reasons.append("Insufficient memory")
    devices = allocate(node.spec, node.devices, request.mig) if request.mig else []
    if devices is None:
        short = [
            name
            for name, count in request.mig.items()
            if allocate(node.spec, node.devices, {name: count}) is None
        ]
        for name in sorted(short or request.mig):
            reasons.append(f"Insufficient {config.mig_resource(name)}")
    if reasons:
        return Fit(None, tuple(reasons))
    return Fit(devices)


def unschedulable_message(total_nodes: int, fits: Iterable[Fit]) -> str:
    """``0/N nodes are available: <count> <reason>, ....`` — kube-scheduler's FitError text."""
    counts: dict[str, int] = {}
    for fit in fits:
        for reason in fit.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    parts = sorted(f"{count} {reason}" for reason, count in counts.items())
    return f"0/{total_nodes} nodes are available: {', '.join(parts)}."


@dataclass(frozen=True)
class Candidate:
    """A pod running on a node, as preemption sees it."""

    key: str  # namespace/name
    priority: int
    start: str  # status.startTime or creationTimestamp, RFC3339 (sorts as text)
    request: Request
    devices: tuple[MigDevice, ...]


def select_victims(
    node: NodeState,
    others: Sequence[Candidate],
    request: Request,
    priority: int,
    config: SimConfig,
) -> list[Candidate] | None:
    """The fewest, least important lower-priority pods to evict from ``node`` so the pod fits.

    ``node`` accounts every pod in ``others``. Returns None when evicting all lower-priority
    pods is not enough.
    """
    lower = [c for c in others if c.priority < priority]
    if not lower:
        return None
    base = node.copy()
    base.cpu -= sum((c.request.cpu for c in lower), Decimal(0))
    base.memory -= sum((c.request.memory for c in lower), Decimal(0))
    base.pods -= len(lower)
    removed = {d for c in lower for d in c.devices}
    base.devices = [d for d in base.devices if d not in removed]
    if check_fit(base, request, config).devices is None:
        return None
    victims = []
    # Reprieve the most important first: higher priority, then the one running longer.
    for candidate in sorted(lower, key=lambda c: (-c.priority, c.start)):
        trial = base.copy()
        trial.take(candidate.request, candidate.devices)
        if check_fit(trial, request, config).devices is not None:
            base = trial
        else:
            victims.append(candidate)
    return victims


def pick_preemption(options: Mapping[str, list[Candidate]]) -> str | None:
    """The node whose victims hurt least: lowest top priority, lowest sum, fewest pods."""
    if not options:
        return None

    def cost(item: tuple[str, list[Candidate]]) -> tuple[int, int, int]:
        victims = item[1]
        return (
            max((v.priority for v in victims), default=-(2**31)),
            sum(v.priority for v in victims),
            len(victims),
        )

    return min(options.items(), key=cost)[0]


# --- the controller ---------------------------------------------------------------------------


def _key(pod: Mapping[str, Any]) -> str:
    return f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"


def _priority(pod: Mapping[str, Any]) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


def _terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def pod_devices(pod: Mapping[str, Any]) -> list[MigDevice]:
    """The MIG instances recorded on a bound pod."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(MIG_DEVICES_ANNOTATION)
    return [MigDevice.decode(part) for part in text.split(",") if part] if text else []


class Scheduler:
    """Watches pods and nodes and runs scheduling passes on a store."""

    def __init__(self, store: Any, config: SimConfig) -> None:
        self.store = store
        self.config = config
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._seen: dict[str, int] = {}
        self._order = itertools.count()

    async def start(self) -> None:
        """Start reacting to pod and node changes."""
        self._subscription = self.store.subscribe(None)
        self._tasks = [
            asyncio.create_task(self._listen(), name="sim-scheduler-listen"),
            asyncio.create_task(self._work(), name="sim-scheduler"),
        ]
        self._wake.set()

    async def stop(self) -> None:
        """Stop the loop."""
        self._subscription.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _listen(self) -> None:
        async for event in self._subscription:
            if event.resource in ("pods", "nodes"):
                self._wake.set()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                self.schedule_once()
            except Exception:
                log.exception("scheduling pass failed")
            await asyncio.sleep(0)

    # A pass is synchronous: the store lives on this loop, so nothing changes underneath it.
    def schedule_once(self) -> None:
        """Run one scheduling pass over every pending pod."""
        nodes = self._node_states()
        pods, _ = self.store.list("pods")
        running: dict[str, list[tuple[dict[str, Any], Candidate]]] = {n: [] for n in nodes}
        pending = []
        for pod in pods:
            node_name = pod["spec"].get("nodeName")
            if node_name:
                if _terminal(pod) or node_name not in nodes:
                    continue
                request = pod_request(pod, self.config)
                devices = pod_devices(pod)
                if not devices and request.mig:
                    devices = (
                        allocate(nodes[node_name].spec, nodes[node_name].devices, request.mig) or []
                    )
                nodes[node_name].take(request, devices)
                start = pod.get("status", {}).get("startTime") or pod["metadata"].get(
                    "creationTimestamp", ""
                )
                candidate = Candidate(_key(pod), _priority(pod), start, request, tuple(devices))
                running[node_name].append((pod, candidate))
            elif (
                not _terminal(pod)
                and not pod["metadata"].get("deletionTimestamp")
                and pod["spec"].get("schedulerName", SCHEDULER_NAME) == SCHEDULER_NAME
            ):
                uid = pod["metadata"].get("uid", _key(pod))
                self._seen.setdefault(uid, next(self._order))
                pending.append(pod)
        live = {p["metadata"].get("uid", _key(p)) for p in pods}
        self._seen = {uid: seq for uid, seq in self._seen.items() if uid in live}
        pending.sort(
            key=lambda p: (
                -_priority(p),
                p["metadata"].get("creationTimestamp", ""),
                self._seen[p["metadata"].get("uid", _key(p))],
            )
        )
        for pod in pending:
            self._schedule(pod, nodes, running)

    def _node_states(self) -> dict[str, NodeState]:
        specs = {spec.name: spec for spec in self.config.nodes}
        objects, _ = self.store.list("nodes")
        states = {}
        for obj in objects:
            spec = specs.get(obj["metadata"]["name"])
            if spec is not None:
                states[spec.name] = NodeState(
                    spec,
                    labels=obj["metadata"].get("labels") or {},
                    unschedulable=bool((obj.get("spec") or {}).get("unschedulable")),
                )
        # configuration order, which is the bin-packing order
        return {name: states[name] for name in specs if name in states}

    def _schedule(
        self,
        pod: dict[str, Any],
        nodes: dict[str, NodeState],
        running: dict[str, list[tuple[dict[str, Any], Candidate]]],
    ) -> None:
        request = pod_request(pod, self.config)
        selector = pod["spec"].get("nodeSelector") or {}
        nominated = (pod.get("status") or {}).get("nominatedNodeName")
        order = sorted(nodes, key=lambda n: n != nominated)
        fits = {name: check_fit(nodes[name], request, self.config, selector) for name in order}
        chosen = next((name for name in order if fits[name].devices is not None), None)
        if chosen is not None:
            devices = fits[chosen].devices or []
            self._bind(pod, chosen, devices)
            nodes[chosen].take(request, devices)
            candidate = Candidate(_key(pod), _priority(pod), "", request, tuple(devices))
            running[chosen].append((pod, candidate))
            return
        message = unschedulable_message(len(nodes), fits.values())
        priority = _priority(pod)
        if pod["spec"].get("preemptionPolicy") == "Never":
            message += " preemption: not eligible due to preemptionPolicy=Never."
        elif nominated in nodes and self._preemption_in_progress(running[nominated], priority):
            self._reserve(nodes[nominated], request)
        else:
            options: dict[str, list[Candidate]] = {}
            for name in order:
                if not fits[name].resolvable:
                    continue
                others = [c for p, c in running[name] if not p["metadata"].get("deletionTimestamp")]
                victims = select_victims(nodes[name], others, request, priority, self.config)
                if victims is not None:
                    options[name] = victims
            target = pick_preemption(options)
            if target is None:
                helpful = sum(1 for f in fits.values() if f.resolvable)
                parts = []
                if helpful:
                    parts.append(f"{helpful} No preemption victims found for incoming pod")
                if len(nodes) - helpful:
                    parts.append(f"{len(nodes) - helpful} Preemption is not helpful for scheduling")
                message += (
                    f" preemption: 0/{len(nodes)} nodes are available: {', '.join(sorted(parts))}."
                )
            else:
                self._preempt(pod, target, options[target], running[target])
                self._reserve(nodes[target], request)
                nominated = target
        self._mark_unschedulable(pod, message, nominated)

    @staticmethod
    def _preemption_in_progress(
        running: list[tuple[dict[str, Any], Candidate]], priority: int
    ) -> bool:
        return any(
            p["metadata"].get("deletionTimestamp") and c.priority < priority for p, c in running
        )

    def _reserve(self, node: NodeState, request: Request) -> None:
        # Hold the nominated pod's place against lower-priority pods later in this pass. When
        # the victims still occupy the GPU the instances cannot be placed yet; the pods' counts
        # still are held so nothing smaller sneaks in on cpu/memory.
        devices = allocate(node.spec, node.devices, request.mig) if request.mig else []
        if devices is None:
            # Like kube-scheduler adding the nominated pod's counts to the node: the node's GPUs
            # are over-committed for every lower-priority pod until the victims are gone.
            devices = [
                MigDevice(index, f"7g.{gpu.memory_gb}gb", 0)
                for index, gpu in enumerate(node.spec.gpus)
            ]
        node.take(request, devices)

    def _bind(self, pod: dict[str, Any], node: str, devices: Sequence[MigDevice]) -> None:
        now = now_rfc3339()

        def bind(obj: dict[str, Any]) -> None:
            obj["spec"]["nodeName"] = node
            if devices:
                annotations = obj["metadata"].setdefault("annotations", {})
                annotations[MIG_DEVICES_ANNOTATION] = ",".join(d.encode() for d in devices)
            status = obj.setdefault("status", {})
            status.pop("nominatedNodeName", None)
            status.setdefault("phase", "Pending")
            set_condition(obj, "PodScheduled", "True", now, probe=True)

        try:
            bound = self.store.mutate(
                "pods", pod["metadata"]["namespace"], pod["metadata"]["name"], bind
            )
        except Exception:
            log.debug("pod %s vanished before binding", _key(pod))
            return
        self.store.record_event(bound, "Scheduled", f"Successfully assigned {_key(pod)} to {node}")

    def _mark_unschedulable(self, pod: dict[str, Any], message: str, nominated: str | None) -> None:
        now = now_rfc3339()
        previous = get_condition(pod, "PodScheduled")
        changed = previous is None or previous.get("message") != message

        def mark(obj: dict[str, Any]) -> None:
            status = obj.setdefault("status", {})
            status.setdefault("phase", "Pending")
            if nominated:
                status["nominatedNodeName"] = nominated
            set_condition(
                obj,
                "PodScheduled",
                "False",
                now,
                reason="Unschedulable",
                message=message,
                probe=True,
            )

        try:
            updated = self.store.mutate(
                "pods", pod["metadata"]["namespace"], pod["metadata"]["name"], mark
            )
        except Exception:
            return
        if changed:
            self.store.record_event(updated, "FailedScheduling", message, type_="Warning")

    def _preempt(
        self,
        preemptor: dict[str, Any],
        node: str,
        victims: Sequence[Candidate],
        running: list[tuple[dict[str, Any], Candidate]],
    ) -> None:
        now = now_rfc3339()
        chosen = {v.key for v in victims}
        for pod, _ in running:
            if _key(pod) not in chosen:
                continue
            namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]

            def disrupt(obj: dict[str, Any]) -> None:
                set_condition(
                    obj,
                    "DisruptionTarget",
                    "True",
                    now,
                    reason="PreemptionByScheduler",
                    message=f"{SCHEDULER_NAME}: preempting to accommodate a higher priority pod",
                    probe=True,
                )

            try:
                marked = self.store.mutate("pods", namespace, name, disrupt)
                self.store.record_event(
                    marked,
                    "Preempted",
                    f"Preempted by pod {preemptor['metadata'].get('uid')} on node {node}",
                )
                self.store.delete("pods", namespace, name)
            except Exception:
                log.debug("victim %s/%s vanished", namespace, name)
            # The victim keeps its place until the kubelet removes it; marking it lets this pass
            # see the preemption as in progress.
            pod["metadata"]["deletionTimestamp"] = now
