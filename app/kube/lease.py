"""Leader election with a `coordination.k8s.io` Lease, as client-go's leaderelection does it.

Loops that must run once however many API replicas there are (following pods' logs and
archiving them) run on the Lease's holder only (DESIGN.md, "Several replicas"). The holder
renews the Lease every `retry_seconds`; the others try as often and take it over once it has
not changed for `duration_seconds`. Expiry is judged by when this replica *saw* the record
change, on its own monotonic clock, never by the timestamps in it: replicas' clocks may
disagree. Writes are conditional on the Lease's resourceVersion, so two replicas taking over at
once cannot both win. A holder that cannot renew for `renew_deadline_seconds` (less than the
duration) steps down before anyone else may take over; one that stops releases the Lease so
that another takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

log = logging.getLogger(__name__)

OnChange = Callable[[bool], Awaitable[None]]


def _micro_time(at: datetime) -> str:
    """A Lease's MicroTime: RFC 3339 with microseconds."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    """Holds (or waits for) one Lease; tells `on_change` when this replica starts or stops
    leading."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        name: str,
        identity: str,
        on_change: OnChange,
        *,
        duration_seconds: float = 15,
        renew_deadline_seconds: float = 10,
        retry_seconds: float = 2,
    ) -> None:
        self._leases = client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity = namespace, name, identity
        self._on_change = on_change
        self.duration = duration_seconds
        self.renew_deadline = renew_deadline_seconds
        self.retry = retry_seconds
        # A request that hangs must not outlive the renew deadline.
        self._timeout = renew_deadline_seconds / 2
        self.leading = False
        self._renewed = 0.0  # when this replica last renewed (monotonic)
        self._seen: tuple[Any, ...] | None = None  # the record as last read
        self._seen_at = 0.0  # when it last changed (monotonic)
        self._task: asyncio.Task[None] | None = None
        self._changing: asyncio.Task[None] | None = None  # telling `on_change`

    def start(self) -> None:
        """Start competing for the Lease."""
        self._task = asyncio.create_task(self._run(), name=f"lease-{self.name}")

    async def stop(self) -> None:
        """Stop competing; release the Lease if held (another replica takes over at once),
        once `on_change(False)` has run."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        held = self.leading
        if held:
            self._change(False)
        if self._changing is not None:
            await self._changing
        if held:
            with contextlib.suppress(Exception):
                await self._release()

    async def _run(self) -> None:
        while True:
            attempt = time.monotonic()
            try:
                held = await self._try_acquire_or_renew()
            except Exception as exc:  # unreachable: keep leading until the renew deadline
                log.warning("lease %s: %r", self.name, exc)
                held = self.leading and attempt - self._renewed < self.renew_deadline
            else:
                if held:
                    self._renewed = attempt  # when the request left: never later than it was
            if held != self.leading:
                self._change(held)
            await asyncio.sleep(self.retry)

    def _change(self, leading: bool) -> None:
        """Tell `on_change`, after the changes before, in a task of its own: renewing goes on
        meanwhile (starting to lead may wait for the cluster to be listed)."""
        self.leading = leading
        self._changing = asyncio.create_task(self._tell(self._changing, leading))

    async def _tell(self, previous: asyncio.Task[None] | None, leading: bool) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        log.info("lease %s: %s leads %s", self.name, self.identity, "now" if leading else "no more")
        try:
            await self._on_change(leading)
        except Exception:
            log.exception("lease %s: handling the change failed", self.name)

    async def _try_acquire_or_renew(self) -> bool:
        now = datetime.now(UTC)
        try:
            lease = await self._leases.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=self._timeout
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            return await self._write(self._body(now, transitions=0, acquired=now), create=True)
        spec = lease.spec
        holder = spec.holder_identity
        record = (holder, spec.renew_time, spec.lease_transitions)
        if record != self._seen:
            self._seen, self._seen_at = record, time.monotonic()
        expired = time.monotonic() - self._seen_at >= self.duration
        if holder and holder != self.identity and not expired:
            return False
        mine = holder == self.identity
        body = self._body(
            now,
            transitions=(spec.lease_transitions or 0) + (0 if mine else 1),
            acquired=spec.acquire_time if mine and spec.acquire_time else now,
        )
        body["metadata"]["resourceVersion"] = lease.metadata.resource_version
        return await self._write(body, create=False)

    def _body(self, now: datetime, *, transitions: int, acquired: datetime) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.duration)),
                "acquireTime": _micro_time(acquired),
                "renewTime": _micro_time(now),
                "leaseTransitions": transitions,
            },
        }

    async def _write(self, body: dict[str, Any], *, create: bool) -> bool:
        """Create or replace the Lease; False if another replica wrote it first (409)."""
        try:
            if create:
                await self._leases.create_namespaced_lease(
                    self.namespace, cast(Any, body), _request_timeout=self._timeout
                )
            else:
                await self._leases.replace_namespaced_lease(
                    self.name, self.namespace, cast(Any, body), _request_timeout=self._timeout
                )
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    async def _release(self) -> None:
        lease = await self._leases.read_namespaced_lease(
            self.name, self.namespace, _request_timeout=self._timeout
        )
        if lease.spec.holder_identity != self.identity:
            return
        body = self._body(datetime.now(UTC), transitions=lease.spec.lease_transitions or 0,
                          acquired=lease.spec.acquire_time or datetime.now(UTC))  # fmt: skip
        body["spec"]["holderIdentity"] = ""
        body["metadata"]["resourceVersion"] = lease.metadata.resource_version
        await self._write(body, create=False)
