"""The running platform: settings, database, cluster connection, event hub and run tracker."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from tortoise import Tortoise

from app.auth.mail import build_mailer
from app.auth.state import AuthState
from app.config import Settings
from app.db.models import Run
from app.db.setup import close_database, open_database
from app.domain.admission import Policy
from app.domain.jobspec import Limits
from app.domain.priority import Priority, priority_class_manifest
from app.events.hub import Hub
from app.kube.client import connect
from app.kube.informer import Informer
from app.kube.lease import LeaseElector
from app.kube.manifests import ManifestSettings
from app.services.admission import AdmissionLoop
from app.services.janitor import Janitor
from app.services.logs import LogService
from app.services.outputs import settle_outputs
from app.services.quotas import quotas_for, recent_usage
from app.services.tracker import RunTracker
from app.sidecar.credentials import RunTokens
from app.storage.base import ObjectStore
from app.storage.factory import build_store

log = logging.getLogger(__name__)

# The Lease whose holder, among the API's replicas, follows and archives logs and runs the
# loops that must run once (admission, clean-up, schedules).
LOGS_LEASE = "walkai-jobs-logs"


class LeaderLoop(Protocol):
    """A loop that runs on the Lease holder only: started when this replica leads, stopped when
    it no longer does (another replica's loop then takes over from the database)."""

    async def set_leading(self, leading: bool) -> None:
        """Start (True) or stop (False) the loop; idempotent."""


@dataclass
class Platform:
    """Everything a request needs, created once per process by the app's lifespan."""

    settings: Settings
    hub: Hub[Run] = field(default_factory=Hub)
    api: client.ApiClient | None = None
    tracker: RunTracker | None = None
    store: ObjectStore = field(init=False)
    # Issues and checks the credentials of runs' pods (app/sidecar).
    run_tokens: RunTokens = field(init=False)
    # Log followers (one per pod and container), the line store and the log topics.
    logs: LogService = field(init=False)
    # Open websockets by credential, login attempts, account mail (app/auth).
    auth: AuthState = field(default_factory=AuthState)
    # Competes for the logs Lease: the holder follows pods' logs and archives them.
    elector: LeaseElector | None = None
    # Deletes finished runs' Kubernetes objects and deleted Jobs' data (a leader loop).
    janitor: Janitor | None = None
    # The cluster's nodes (their GPUs), watched by every replica.
    nodes: Informer | None = None
    _nodes_task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    # Admits queued runs by priority, fair share and quota (a leader loop).
    admission: AdmissionLoop | None = None
    # Loops that run on the Lease holder only, told in order after the log service.
    leader_loops: list[LeaderLoop] = field(default_factory=list)
    # Where the database was opened: Tortoise keeps connections per context, and tasks started
    # from there (the watches, the log followers) share them; stop() closes them there.
    _db_context: contextvars.Context | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # Built here, not in start(): the local store's URL routes are mounted with the app.
        self.store = build_store(
            self.settings.storage, public_base_url=self.settings.resolved_public_url
        )
        self.logs = LogService(self.store, max_lines=self.settings.max_log_lines_per_run)
        self.auth.mailer = build_mailer(self.settings)
        # Replicas share the storage signing secret when one is configured.
        secret = self.settings.storage.signing_secret
        self.run_tokens = RunTokens(
            secret.get_secret_value().encode() if secret else secrets.token_bytes(32)
        )

    @property
    def limits(self) -> Limits:
        """Validation bounds from configuration."""
        s = self.settings
        return Limits(
            profiles=s.gpu_profiles,
            storage_gi_min=s.storage_gi_min,
            storage_gi_max=s.storage_gi_max,
            runtime_seconds_default=s.runtime_seconds_default,
            runtime_seconds_max=s.runtime_seconds_max,
            storage_quota_bytes=s.storage_quota_bytes_per_user,
        )

    @property
    def manifest_settings(self) -> ManifestSettings:
        """Manifest choices from configuration."""
        s = self.settings
        return ManifestSettings(
            namespace=s.namespace,
            gpu_resource_prefix=s.gpu_resource_prefix,
            output_volume=s.output_volume,
            storage_class=s.storage_class,
            sidecar_image=s.sidecar_image,
            api_url=s.sidecar_api_url or s.resolved_public_url,
            upload_grace_seconds=s.upload_grace_seconds,
            service_account=s.run_service_account,
        )

    @property
    def admission_queue_length(self) -> int:
        """Runs the last admission pass left waiting (0 on a replica that does not lead)."""
        return self.admission.queue_length if self.admission is not None else 0

    @property
    def kube(self) -> client.ApiClient:
        """The cluster connection (only after start())."""
        assert self.api is not None, "the platform is not started"
        return self.api

    async def start(self) -> None:
        """Open the database, connect to the cluster, prepare it, and start following runs."""
        await open_database(self.settings.resolved_database_url)
        self._db_context = contextvars.copy_context()
        self.api = await connect(self.settings.kubeconfig, self.settings.kube_context)
        await self._prepare_cluster()
        self.tracker = RunTracker(
            self.api, self.settings.namespace, self.hub, self.settings.watch_timeout_seconds
        )
        self.logs.start(self.api, self.settings.namespace, self.tracker, self.hub)
        self.tracker.outputs_listener = self._settle_outputs
        # Started anew with everything else: a platform stopped and started again must not
        # keep (and lead with) the loops of its last start, which hold its closed client.
        self.leader_loops = []
        self.janitor = Janitor(
            self.api,
            self.settings.namespace,
            self.hub,
            self.store,
            self.tracker,
            self.logs,
            grace_seconds=self.settings.cleanup_grace_seconds,
            interval_seconds=self.settings.cleanup_interval_seconds,
        )
        self.leader_loops.append(self.janitor)
        from app.services.schedules import ScheduleLoop

        self.leader_loops.append(ScheduleLoop(self))
        self.nodes = Informer(
            "nodes",
            _list_nodes(self.api),
            namespace=None,
            label_selector="",
            handler=self._on_node,
            timeout_seconds=self.settings.watch_timeout_seconds,
        )
        self.admission = AdmissionLoop(
            self.api,
            self.settings.namespace,
            self.hub,
            self.tracker,
            self.nodes,
            resource_prefix=self.settings.gpu_resource_prefix,
            policy=Policy(
                min_runtime_seconds=self.settings.preemption_min_runtime_seconds,
                preemption=self.settings.preemption,
            ),
            quotas=functools.partial(quotas_for, settings=self.settings),
            usage=lambda now: recent_usage(now, self.settings.fair_share_half_life_seconds),
            interval=self.settings.admission_interval_seconds,
            eviction_backoff=self.settings.eviction_backoff_seconds,
        )
        self.tracker.pod_listeners.append(self.admission.on_pod)
        self.tracker.eviction_listener = self.admission.requeue_evicted
        self.leader_loops.append(self.admission)
        self._nodes_task = asyncio.create_task(self.nodes.run(), name="informer-nodes")
        await self.tracker.start()
        identity = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        duration = self.settings.lease_duration_seconds
        self.elector = LeaseElector(
            self.api, self.settings.namespace, LOGS_LEASE, identity, self._set_leading,
            duration_seconds=duration, renew_deadline_seconds=duration * 2 / 3,
            retry_seconds=duration * 2 / 15,
        )  # fmt: skip
        self.elector.start()
        self.auth.connections.start(self.settings.connection_recheck_seconds)

    async def _on_node(self, kind: str, node: dict[str, object]) -> None:
        if self.admission is not None:
            self.admission.poke()

    async def _settle_outputs(self, run_id: str, pod: dict[str, object] | None) -> None:
        await settle_outputs(self.store, self.hub, run_id, pod)

    async def _set_leading(self, leading: bool) -> None:
        """Hand leadership to the log service and every leader loop; they stop in reverse."""
        if leading:
            await self.logs.set_leading(True)
            for loop in self.leader_loops:
                await loop.set_leading(True)
            return
        for loop in reversed(self.leader_loops):
            await loop.set_leading(False)
        await self.logs.set_leading(False)

    async def stop(self) -> None:
        """Stop following runs and close connections."""
        await self.auth.connections.stop()
        if self.elector is not None:
            await self.elector.stop()  # released: another replica takes over at once
            self.elector = None
        if self.tracker is not None:
            await self.tracker.stop()
        if self._nodes_task is not None:
            self._nodes_task.cancel()
            await asyncio.gather(self._nodes_task, return_exceptions=True)
            self._nodes_task = None
        await self.logs.stop()
        if self.api is not None:
            await self.api.close()
        await self.store.close()
        context, self._db_context = self._db_context, None
        await asyncio.create_task(close_database(), context=context)

    async def check_dependencies(self) -> dict[str, bool]:
        """Whether the database, the object store and Kubernetes answer (for /readyz)."""
        checks: dict[str, bool] = {}
        probes = {
            "database": lambda: Tortoise.get_connection("default").execute_query("SELECT 1"),
            "objectStore": self.store.ping,
            "kubernetes": lambda: client.VersionApi(self.kube).get_code(_request_timeout=5),
        }
        for name, probe in probes.items():
            try:
                await probe()
                checks[name] = True
            except Exception as exc:  # any failure means not ready; the reason goes to the log
                log.warning("readiness: %s is not reachable: %r", name, exc)
                checks[name] = False
        return checks

    async def _prepare_cluster(self) -> None:
        """Create what the platform's runs rely on: the namespace (if asked) and PriorityClasses."""
        core = client.CoreV1Api(self.kube)
        if self.settings.create_namespace:
            await _create_if_missing(
                core.create_namespace,
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": self.settings.namespace},
                },
            )
        scheduling = client.SchedulingV1Api(self.kube)
        for priority in Priority:
            await _create_if_missing(
                scheduling.create_priority_class,
                priority_class_manifest(priority, preempt=self.settings.scheduler_preemption),
            )


def _list_nodes(api: client.ApiClient) -> Any:
    """`list_node` called the way a namespaced list is (the informer passes no namespace)."""
    core = client.CoreV1Api(api)

    async def list_nodes(**kwargs: Any) -> Any:
        return await core.list_node(**kwargs)

    return list_nodes


async def _create_if_missing(create: object, body: dict[str, object]) -> None:
    try:
        await create(body)  # type: ignore[operator]
    except ApiException as exc:
        if exc.status != 409:
            raise
