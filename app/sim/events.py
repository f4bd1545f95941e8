"""core/v1 Events as the controllers and the kubelet record them (client-go's EventRecorder).

Recording never fails the caller: an event the API server refuses (its namespace is being
deleted) is dropped, as client-go's broadcaster drops it.

Like client-go's EventCorrelator, an event identical to one recorded in the last 10 minutes
(same source, involved object and field path, type, reason and message) is not created again:
the existing one gets ``count + 1`` and a new ``lastTimestamp``. A crash-looping container or an
unschedulable pod therefore keeps one Event with a growing count instead of flooding watchers.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.sim.errors import ApiError

if TYPE_CHECKING:
    from app.sim.store import Store

log = logging.getLogger(__name__)

# client-go record: maxIntervalInSeconds of the correlator's cache.
AGGREGATE_WINDOW = 600.0
# Distinct events remembered for aggregation (client-go: maxLruCacheEntries).
CACHE_SIZE = 4096

_Key = tuple[str, ...]


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def container_path(pod: dict[str, Any], container: str) -> str:
    """The involvedObject.fieldPath of a container's events: ``spec.containers{main}`` (or
    ``spec.initContainers{…}``), as the kubelet writes it."""
    inits = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []}
    key = "initContainers" if container in inits else "containers"
    return f"spec.{key}{{{container}}}"


class EventRecorder:
    """Records Events in a store, aggregating repeats."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._clock = clock
        self._recent: OrderedDict[_Key, tuple[str, float]] = OrderedDict()

    def record(
        self,
        involved: dict[str, Any],
        reason: str,
        message: str,
        *,
        type_: str = "Normal",
        component: str = "default-scheduler",
        host: str = "",
        field_path: str = "",
    ) -> None:
        """An Event about ``involved`` from ``component`` (on node ``host``, for the kubelet)."""
        meta = involved.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        if self.store.peek("namespaces", None, namespace) is None:
            return  # the namespace went away with its object
        ref: dict[str, Any] = {
            "kind": involved.get("kind"),
            "namespace": meta.get("namespace"),
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "apiVersion": involved.get("apiVersion"),
            "resourceVersion": meta.get("resourceVersion"),
        }
        if field_path:
            ref["fieldPath"] = field_path
        key = (namespace, component, host, str(ref["kind"]), str(ref["name"]), str(ref["uid"]),
               field_path, type_, reason, message)  # fmt: skip
        if self._bump(key):
            return
        source = {"component": component, **({"host": host} if host else {})}
        stamp = _stamp()
        name = f"{meta.get('name', 'unknown')}.{uuid.uuid4().int & (1 << 64) - 1:x}"
        event = {
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host,
        }
        try:
            self.store.create("events", namespace, event)
        except ApiError as exc:  # e.g. the namespace is terminating: the recorder only logs
            log.debug("event %s about %s not recorded: %s", reason, ref["name"], exc)
            return
        self._remember(key, name)

    def _bump(self, key: _Key) -> bool:
        """Count a repeat on the recent identical event; False when there is none."""
        found = self._recent.get(key)
        if found is None or self._clock() - found[1] > AGGREGATE_WINDOW:
            return False
        name = found[0]

        def repeat(event: dict[str, Any]) -> None:
            event["count"] = int(event.get("count") or 1) + 1
            event["lastTimestamp"] = _stamp()

        try:
            self.store.mutate("events", key[0], name, repeat)
        except ApiError:  # deleted meanwhile: record it anew
            self._recent.pop(key, None)
            return False
        self._remember(key, name)
        return True

    def _remember(self, key: _Key, name: str) -> None:
        self._recent[key] = (name, self._clock())
        self._recent.move_to_end(key)
        while len(self._recent) > CACHE_SIZE:
            self._recent.popitem(last=False)
