"""The cluster state: every object, a global resourceVersion, a bounded history and watch feeds.

Objects are plain JSON dicts. A stored dict is never changed in place once stored: every write
stores a fresh dict, so watch events and history can share it with no copying. `get`/`list` hand
out deep copies; `peek`/`scan` hand out the stored dicts for read-only use on hot paths.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

try:
    import orjson
except ImportError:  # optional speed-up; the standard library does the same, slower
    orjson = None  # type: ignore[assignment]

from app.sim import admission, bootstrap
from app.sim.errors import ApiError, already_exists, bad_request, conflict, forbidden, gone
from app.sim.errors import not_found as _not_found
from app.sim.events import EventRecorder
from app.sim.resources import RESOURCES, Resource

Key = tuple[str, str]  # (namespace or "", name)
Objects = list[dict[str, Any]]
Dependents = list[tuple[Resource, Key]]
Events = list["WatchEvent"]
Predicate = Callable[[dict[str, Any]], bool]

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # utilrand's alphabet: no vowels, no 0/1/3


def now_rfc3339() -> str:
    """Now as metadata timestamps are written: `2026-11-27T12:00:00Z`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339_nano() -> str:
    """Now with sub-second precision (Go's RFC3339Nano: trailing zeros trimmed)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return stamp + "Z"


def _clone_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone_tree(v) if isinstance(v, dict | list) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_clone_tree(v) if isinstance(v, dict | list) else v for v in value]
    return value


def clone(value: Any) -> Any:
    """Deep copy of a JSON value: an orjson round trip (4x faster than walking the tree)."""
    if orjson is None:
        return _clone_tree(value)
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:  # not plain JSON (e.g. a tuple key): copy it the slow way
        return _clone_tree(value)


if orjson is not None:
    dump_json: Callable[[Any], bytes] = orjson.dumps
    load_json: Callable[[bytes], Any] = orjson.loads
else:
    _encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

    def dump_json(value: Any) -> bytes:
        """Compact JSON bytes (as the API server writes them)."""
        return _encoder(value).encode()

    load_json = json.loads


@dataclass(frozen=True)
class WatchEvent:
    """One change: `object` is the state after it (the final state for DELETED); read-only."""

    type: str
    resource: str
    object: dict[str, Any]
    resource_version: int
    # `object` serialised once when stored; every watcher and every copy reuses it.
    raw: bytes = field(default=b"", repr=False, compare=False)


class Subscription:
    """An in-process, unbounded feed of store events for controllers (`async for event in sub`)."""

    def __init__(self, store: Store, resource: str | None) -> None:
        self.resource = resource
        self._store = store
        self._queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()
        self.closed = False

    def _push(self, event: WatchEvent) -> None:
        self._queue.put_nowait(event)

    def close(self) -> None:
        """Stop the feed; a pending `async for` ends."""
        if not self.closed:
            self.closed = True
            self._store._subscriptions.discard(self)
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self

    async def __anext__(self) -> WatchEvent:
        if self.closed and self._queue.empty():
            raise StopAsyncIteration
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event


class Watcher:
    """The bounded feed of one HTTP watch; closed (never waited on) when it falls too far behind.

    Selector semantics follow the apiserver's watch cache: an object that starts matching is
    sent as ADDED, one that stops matching as DELETED.
    """

    def __init__(
        self,
        store: Store,
        resource: str,
        namespace: str | None,
        predicate: Predicate | None,
        capacity: int,
    ) -> None:
        self.resource = resource
        self.namespace = namespace
        self.predicate = predicate
        self.capacity = capacity
        self.pending: deque[WatchEvent] = deque()
        self.closed = False
        self.close_reason = ""
        self._store = store
        self._wake = asyncio.Event()

    def _offer(self, event: WatchEvent, old: dict[str, Any] | None) -> None:
        obj = event.object
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return
        if self.predicate is not None:
            now = self.predicate(obj) if event.type != "DELETED" else False
            before = old is not None and self.predicate(old)
            if event.type == "DELETED":
                before = self.predicate(obj)
            if not now and not before:
                return
            if now and not before and event.type != "ADDED":
                event = WatchEvent("ADDED", event.resource, obj, event.resource_version, event.raw)
            elif before and not now and event.type != "DELETED":
                event = WatchEvent(
                    "DELETED", event.resource, obj, event.resource_version, event.raw
                )
        if len(self.pending) >= self.capacity:
            self.close("watcher too slow")
            return
        self.pending.append(event)
        self._wake.set()

    def close(self, reason: str = "closed") -> None:
        """End this watch; the HTTP stream finishes after what is already queued is dropped."""
        if not self.closed:
            self.closed = True
            self.close_reason = reason
            self.pending.clear()
            self._store._watchers[self.resource].discard(self)
            self._wake.set()

    async def wait(self, timeout: float | None) -> bool:
        """Wait until an event is queued or the watch closes; False on timeout."""
        if self.pending or self.closed:
            return True
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def drain(self) -> list[WatchEvent]:
        """Take every queued event."""
        events = list(self.pending)
        self.pending.clear()
        return events


class Store:
    """All objects of the simulated cluster, behind the verbs of the Kubernetes API."""

    def __init__(self, *, history_size: int = 10_000, watch_queue_size: int = 50_000) -> None:
        self.resource_version = 0
        self.history_size = history_size
        self.watch_queue_size = watch_queue_size
        self._objects: dict[str, dict[Key, dict[str, Any]]] = {r: {} for r in RESOURCES}
        self._raw: dict[str, dict[Key, bytes]] = {r: {} for r in RESOURCES}
        # Each change with the object before it (selector transitions need both on replay).
        self._history: dict[str, deque[tuple[WatchEvent, dict[str, Any] | None]]] = {
            r: deque() for r in RESOURCES
        }
        # The oldest version a watch may resume from, per resource (raised by eviction/compaction).
        self._floor: dict[str, int] = dict.fromkeys(RESOURCES, 0)
        self._subscriptions: set[Subscription] = set()
        self._watchers: dict[str, set[Watcher]] = {r: set() for r in RESOURCES}
        self.events = EventRecorder(self)
        for name in DEFAULT_NAMESPACES:
            self.create("namespaces", None, {"metadata": {"name": name}})
        for priority_class in bootstrap.priority_classes():
            self.create("priorityclasses", None, priority_class)

    # -- reads -------------------------------------------------------------------------------

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        """A deep copy of one object; 404 if absent."""
        obj = self.peek_or_404(resource, namespace, name)
        return self._copy(resource, obj)

    def peek(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object itself (read-only), or None."""
        res = _resource(resource)
        return self._objects[resource].get(_key(res, namespace, name))

    def peek_or_404(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        """The stored object itself (read-only); 404 if absent."""
        obj = self.peek(resource, namespace, name)
        if obj is None:
            res = RESOURCES[resource]
            raise _not_found(res.plural, name, res.group)
        return obj

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[Objects, int]:
        """Deep copies of the matching objects sorted by namespace/name, and the list version."""
        from app.sim.selectors import matcher

        items = self.scan(resource, namespace, matcher(resource, label_selector, field_selector))
        return [self._copy(resource, obj) for obj in items], self.resource_version

    def scan(
        self, resource: str, namespace: str | None = None, predicate: Predicate | None = None
    ) -> Objects:
        """The stored objects (read-only) matching, sorted by namespace then name."""
        res = _resource(resource)
        objects = self._objects[resource]
        keys = sorted(objects)
        if namespace is not None and res.namespaced:
            keys = [k for k in keys if k[0] == namespace]
        items = [objects[k] for k in keys]
        if predicate is not None:
            items = [obj for obj in items if predicate(obj)]
        return items

    # -- writes ------------------------------------------------------------------------------

    def create(
        self, resource: str, namespace: str | None, obj: dict[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Admit and store a new object; returns a copy of the stored object.

        With `dry_run` the object is admitted and returned as it would be stored (without a
        resourceVersion, as kube-apiserver answers `dryRun=All`), and nothing is stored.
        """
        res = _resource(resource)
        body = clone(obj)
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            meta = body["metadata"] = {}
        ns = self._namespace_for(res, namespace, meta)
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choices(_GENERATE_ALPHABET, k=5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        admission.validate_name(res, body)
        key = (ns, meta["name"])
        if key in self._objects[resource]:
            raise already_exists(res.plural, meta["name"], res.group)
        if ns:
            self._check_namespace_open(ns)
        for transient in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(transient, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if res.has_generation:
            meta["generation"] = 1
        admission.admit_create(res, body, self._objects["priorityclasses"].values)
        stored = _ordered(res, body)
        if dry_run:
            return clone(stored)
        self._commit("ADDED", res, key, stored, None)
        if resource == "namespaces":
            self.create("serviceaccounts", meta["name"], bootstrap.service_account(meta["name"]))
        return load_json(self._raw[resource][key])

    def update(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        obj: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Replace an object (or only its status); 409 if metadata.resourceVersion is stale.

        With `dry_run` the result is computed and returned but not stored.
        """
        res = _resource(resource)
        key = _key(res, namespace, name)
        old = self._objects[resource].get(key)
        body = clone(obj)
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            meta = body["metadata"] = {}
        if meta.get("name") and meta["name"] != name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        meta["name"] = name
        if old is None:
            if res.create_on_update and subresource is None:
                return self.create(resource, namespace, body, dry_run=dry_run)
            raise _not_found(res.plural, name, res.group)
        self._namespace_for(res, namespace, meta)
        wanted = meta.get("resourceVersion")
        if wanted and wanted != old["metadata"]["resourceVersion"]:
            raise conflict(res.plural, name, res.group)
        if subresource == "status":
            new = {**old, "metadata": old["metadata"]}
            if "status" in body:
                new["status"] = body["status"]
            admission.admit_status(res, new)
        else:
            new = dict(body)
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
            new["metadata"] = _keep_system_meta(old["metadata"], meta)
            admission.admit_update(res, old, new)
            if res.has_generation and new.get("spec") != old.get("spec"):
                new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        new = _ordered(res, new)
        if dry_run:
            new["metadata"] = {
                **new["metadata"],
                "resourceVersion": old["metadata"]["resourceVersion"],
            }
            return self._copy(resource, old if new == old else new)
        return self._copy(resource, self._write(res, key, old, new))

    def mutate(
        self, resource: str, namespace: str | None, name: str, fn: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Edit a copy with `fn` and store it (MODIFIED), skipping no-op edits; 404 if gone."""
        res = _resource(resource)
        key = _key(res, namespace, name)
        old = self._objects[resource].get(key)
        if old is None:
            raise _not_found(res.plural, name, res.group)
        new = self._copy(resource, old)
        fn(new)
        return self._copy(resource, self._write(res, key, old, new))

    def delete(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        *,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Delete like kube-apiserver plus the garbage collector; returns the last state.

        A pod running on a node (not finished, grace not 0) and any object with finalizers is
        only marked with deletionTimestamp; the kubelet (`remove`) or the finalizer's owner
        finishes it. With `dry_run` the preconditions are checked and the state the deletion
        would leave is returned; nothing changes and dependents are left alone.
        """
        res = _resource(resource)
        key = _key(res, namespace, name)
        old = self._objects[resource].get(key)
        if old is None:
            raise _not_found(res.plural, name, res.group)
        if uid and uid != old["metadata"]["uid"]:
            raise conflict(
                res.plural, name, res.group,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                f"{old['metadata']['uid']}",
            )  # fmt: skip
        if resource_version and resource_version != old["metadata"]["resourceVersion"]:
            raise conflict(
                res.plural, name, res.group,
                "Precondition failed: ResourceVersion in precondition: "
                f"{resource_version}, ResourceVersion in object meta: "
                f"{old['metadata']['resourceVersion']}",
            )  # fmt: skip
        policy = propagation_policy or ("Orphan" if res.orphan_by_default else "Background")
        if policy not in ("Orphan", "Background", "Foreground"):
            raise bad_request(f"Unsupported value: {policy!r}")
        if res.plural == "namespaces":
            if dry_run:
                return _marked_for_deletion(old, 0, {"phase": "Terminating"})
            return self._delete_namespace(key, old)
        meta = old["metadata"]
        if meta.get("deletionTimestamp"):
            if resource == "pods" and grace_period_seconds == 0 and not dry_run:
                return self._finish(res, key, old)
            return clone(old)
        dependents = self._dependents(meta["uid"])
        if policy == "Orphan" and not dry_run:
            for dep_res, dep_key in dependents:
                self._orphan(dep_res, dep_key, meta["uid"])
            dependents = Dependents()
        finalizers = list(meta.get("finalizers") or [])
        if policy == "Foreground" and dependents:
            finalizers.append("foregroundDeletion")
        graceful = resource == "pods" and _runs_on_node(old) and grace_period_seconds != 0
        if graceful or finalizers:
            grace = 0
            if graceful:
                spec_grace = old["spec"].get("terminationGracePeriodSeconds", 30)
                grace = spec_grace if grace_period_seconds is None else grace_period_seconds
            new = _marked_for_deletion(old, grace)
            if finalizers:
                new["metadata"]["finalizers"] = finalizers
            if dry_run:
                return new
            result = self._commit("MODIFIED", res, key, new, old)
        elif dry_run:
            return clone(old)
        else:
            result = self._remove(res, key, old)
        for dep_res, dep_key in dependents:
            dep = self._objects[dep_res.plural].get(dep_key)
            if dep is not None:
                self.delete(dep_res.plural, dep_key[0] or None, dep_key[1],
                            propagation_policy="Background")  # fmt: skip
        return clone(result)

    def remove(self, resource: str, namespace: str | None, name: str) -> None:
        """Final removal after graceful termination (the kubelet's last word); DELETED event.

        Objects that still carry finalizers stay (with deletionTimestamp) until those are gone;
        an object already gone is ignored.
        """
        res = _resource(resource)
        key = _key(res, namespace, name)
        old = self._objects[resource].get(key)
        if old is not None:
            self._finish(res, key, old)

    def record_event(
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
        """Create a core/v1 Event about `involved`, as controllers do (repeats bump `count`)."""
        self.events.record(
            involved, reason, message, type_=type_, component=component, host=host,
            field_path=field_path,
        )  # fmt: skip

    # -- watch -------------------------------------------------------------------------------

    def subscribe(self, resource: str | None = None) -> Subscription:
        """An unbounded in-process feed of every future event (of one resource, or all)."""
        if resource is not None:
            _resource(resource)
        sub = Subscription(self, resource)
        self._subscriptions.add(sub)
        return sub

    def watch(
        self,
        resource: str,
        namespace: str | None,
        *,
        since: int | None,
        predicate: Predicate | None = None,
        capacity: int | None = None,
    ) -> tuple[Watcher, Events]:
        """Open a bounded feed; returns it with the events to send first.

        `since=None` starts with a synthetic ADDED per current object (watch from "0"/unset);
        otherwise the history after `since` is replayed; 410 if it is no longer retained.
        """
        res = _resource(resource)
        ns = namespace if res.namespaced else None
        watcher = Watcher(self, resource, ns, predicate, capacity or self.watch_queue_size)
        if since is None:
            initial = [
                WatchEvent(
                    "ADDED",
                    resource,
                    obj,
                    int(obj["metadata"]["resourceVersion"]),
                    self.raw(resource, obj),
                )
                for obj in self.scan(resource, ns, predicate)
            ]
        else:
            if since < self._floor[resource]:
                raise gone(f"too old resource version: {since} ({self._floor[resource]})")
            missed = []
            for entry in reversed(self._history[resource]):
                if entry[0].resource_version <= since:
                    break
                missed.append(entry)
            # Replay through the watcher's own filter so selector transitions apply.
            watcher.capacity = len(missed) + 1
            for event, old in reversed(missed):
                watcher._offer(event, old)
            initial, watcher.pending = list(watcher.pending), deque()
            watcher.capacity = capacity or self.watch_queue_size
        self._watchers[resource].add(watcher)
        return watcher, initial

    def check_version(self, resource: str, version: int) -> None:
        """410 if `version` is older than the history kept for `resource`."""
        if version < self._floor[resource]:
            raise gone(f"too old resource version: {version} ({self._floor[resource]})")

    def compact(self) -> None:
        """Forget the whole history: a watch from any earlier version now gets 410 Gone."""
        for resource, history in self._history.items():
            history.clear()
            self._floor[resource] = self.resource_version

    def close_watches(self) -> int:
        """Close every open HTTP watch (the clients see their streams end); returns how many."""
        watchers = [w for ws in self._watchers.values() for w in ws]
        for watcher in watchers:
            watcher.close("dropped")
        return len(watchers)

    def open_watches(self) -> dict[str, int]:
        """Open HTTP watches per resource (only resources with at least one)."""
        return {r: len(ws) for r, ws in self._watchers.items() if ws}

    def raw(self, resource: str, obj: dict[str, Any]) -> bytes:
        """The JSON bytes of a stored object (as returned by `peek`/`scan`)."""
        meta = obj["metadata"]
        raw = self._raw[resource].get((meta.get("namespace", ""), meta["name"]))
        return raw if raw is not None else dump_json(obj)

    # -- internals ---------------------------------------------------------------------------

    def _copy(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """A private copy of `obj`, decoded from its stored bytes when it is the stored one."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if self._objects[resource].get(key) is obj:
            copy: dict[str, Any] = load_json(self._raw[resource][key])
            return copy
        return clone(obj)

    def _namespace_for(self, res: Resource, namespace: str | None, meta: dict[str, Any]) -> str:
        if not res.namespaced:
            meta.pop("namespace", None)
            return ""
        body_ns = meta.get("namespace")
        if namespace and body_ns and body_ns != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        ns = namespace or body_ns or "default"
        meta["namespace"] = ns
        return ns

    def _check_namespace_open(self, namespace: str) -> None:
        ns = self._objects["namespaces"].get(("", namespace))
        if ns is None:
            raise _not_found("namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise forbidden(
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
                "namespaces",
                namespace,
            )

    def _commit(
        self, type_: str, res: Resource, key: Key, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Give `obj` the next version, store (or drop) it and tell every feed."""
        self.resource_version += 1
        rv = self.resource_version
        obj["metadata"] = {**obj["metadata"], "resourceVersion": str(rv)}
        objects, raws = self._objects[res.plural], self._raw[res.plural]
        raw = dump_json(obj)
        if type_ == "DELETED":
            objects.pop(key, None)
            raws.pop(key, None)
        else:
            objects[key] = obj
            raws[key] = raw
        event = WatchEvent(type_, res.plural, obj, rv, raw)
        history = self._history[res.plural]
        if len(history) >= self.history_size:
            self._floor[res.plural] = history.popleft()[0].resource_version
        history.append((event, old))
        for sub in self._subscriptions:
            if sub.resource is None or sub.resource == res.plural:
                sub._push(event)
        for watcher in list(self._watchers[res.plural]):
            watcher._offer(event, old)
        return obj

    def _write(
        self, res: Resource, key: Key, old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        new["metadata"] = {**new["metadata"], "resourceVersion": old["metadata"]["resourceVersion"]}
        if new == old:
            return old
        stored = self._commit("MODIFIED", res, key, new, old)
        meta = stored["metadata"]
        if not meta.get("deletionTimestamp") or meta.get("finalizers"):
            return stored
        # A bound pod's graceful deletion ends with the kubelet's `remove`, not here.
        kubelet_owned = res.plural == "pods" and meta.get("deletionGracePeriodSeconds") != 0
        if kubelet_owned and _runs_on_node(stored):
            return stored
        return self._remove(res, key, stored)

    def _finish(self, res: Resource, key: Key, old: dict[str, Any]) -> dict[str, Any]:
        meta = old["metadata"]
        if meta.get("finalizers"):
            new = clone(old)
            new["metadata"].setdefault("deletionTimestamp", now_rfc3339())
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            return self._write(res, key, old, new)
        return self._remove(res, key, old)

    def _remove(self, res: Resource, key: Key, old: dict[str, Any]) -> dict[str, Any]:
        final = self._commit("DELETED", res, key, dict(old), old)
        self._after_removal(res, final)
        return final

    def _after_removal(self, res: Resource, obj: dict[str, Any]) -> None:
        """Finish foreground owners and terminating namespaces this removal unblocks."""
        meta = obj["metadata"]
        for ref in meta.get("ownerReferences") or []:
            owner = self._find_uid(ref.get("uid"))
            if owner is None:
                continue
            owner_res, owner_key, owner_obj = owner
            finalizers = owner_obj["metadata"].get("finalizers") or []
            if "foregroundDeletion" in finalizers and not self._dependents(ref["uid"]):
                new = clone(owner_obj)
                new["metadata"]["finalizers"] = [f for f in finalizers if f != "foregroundDeletion"]
                if not new["metadata"]["finalizers"]:
                    del new["metadata"]["finalizers"]
                self._write(owner_res, owner_key, owner_obj, new)
        ns = meta.get("namespace")
        if res.namespaced and ns:
            ns_obj = self._objects["namespaces"].get(("", ns))
            if ns_obj is not None and ns_obj["metadata"].get("deletionTimestamp"):
                self._maybe_finish_namespace(("", ns), ns_obj)
            elif (
                ns_obj is not None
                and res.plural == "serviceaccounts"
                and meta["name"] == bootstrap.DEFAULT_SERVICE_ACCOUNT
            ):
                self.create("serviceaccounts", ns, bootstrap.service_account(ns))

    def _find_uid(self, uid: str | None) -> tuple[Resource, Key, dict[str, Any]] | None:
        if not uid:
            return None
        for plural, objects in self._objects.items():
            for key, obj in objects.items():
                if obj["metadata"]["uid"] == uid:
                    return RESOURCES[plural], key, obj
        return None

    def _dependents(self, uid: str) -> Dependents:
        found = []
        for plural, objects in self._objects.items():
            for key, obj in objects.items():
                refs = obj["metadata"].get("ownerReferences")
                if refs and any(ref.get("uid") == uid for ref in refs):
                    found.append((RESOURCES[plural], key))
        return found

    def _orphan(self, res: Resource, key: Key, owner_uid: str) -> None:
        old = self._objects[res.plural][key]
        new = clone(old)
        refs = [r for r in new["metadata"]["ownerReferences"] if r.get("uid") != owner_uid]
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            del new["metadata"]["ownerReferences"]
        self._write(res, key, old, new)

    def _delete_namespace(self, key: Key, old: dict[str, Any]) -> dict[str, Any]:
        ns_res = RESOURCES["namespaces"]
        if not old["metadata"].get("deletionTimestamp"):
            new = clone(old)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            new["status"] = {"phase": "Terminating"}
            # The "kubernetes" spec finalizer keeps it until its content is gone.
            old = self._commit("MODIFIED", ns_res, key, new, old)
            name = key[1]
            for res in RESOURCES.values():
                if not res.namespaced:
                    continue
                for obj_key in [k for k in self._objects[res.plural] if k[0] == name]:
                    if obj_key in self._objects[res.plural]:
                        self.delete(res.plural, name, obj_key[1], propagation_policy="Background")
        current = self._objects["namespaces"].get(key, old)
        self._maybe_finish_namespace(key, current)
        return clone(current)

    def _maybe_finish_namespace(self, key: Key, ns_obj: dict[str, Any]) -> None:
        name = key[1]
        for res in RESOURCES.values():
            if res.namespaced and any(k[0] == name for k in self._objects[res.plural]):
                return
        if key in self._objects["namespaces"]:
            self._remove(RESOURCES["namespaces"], key, ns_obj)


def _resource(resource: str) -> Resource:
    res = RESOURCES.get(resource)
    if res is None:
        raise ApiError(
            404, "NotFound", f"the server could not find the requested resource ({resource})"
        )
    return res


def _key(res: Resource, namespace: str | None, name: str) -> Key:
    return ((namespace or "default") if res.namespaced else "", name)


def _marked_for_deletion(
    old: dict[str, Any], grace: int, status: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A copy of `old` with deletionTimestamp (now + grace) and deletionGracePeriodSeconds."""
    new = clone(old)
    stamp = datetime.now(UTC) + timedelta(seconds=grace)
    new["metadata"]["deletionTimestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    new["metadata"]["deletionGracePeriodSeconds"] = grace
    if status is not None:
        new["status"] = status
    return new


def _runs_on_node(pod: dict[str, Any]) -> bool:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    return bool(spec.get("nodeName")) and status.get("phase") not in ("Succeeded", "Failed")


_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                "generation", "namespace")  # fmt: skip


def _keep_system_meta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Metadata of an update: the client's, except the fields only the server sets."""
    meta = dict(new)
    for key in _SYSTEM_META:
        if key in old:
            meta[key] = old[key]
        else:
            meta.pop(key, None)
    return meta


def _ordered(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, kind, metadata first, as the API server serialises objects."""
    rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    return {"apiVersion": res.api_version, "kind": res.kind, "metadata": obj["metadata"], **rest}


def all_objects(store: Store) -> Iterable[tuple[str, dict[str, Any]]]:
    """Every stored object with its resource (read-only), for diagnostics."""
    for plural, objects in store._objects.items():
        for obj in objects.values():
            yield plural, obj
