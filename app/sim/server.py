"""The HTTP face of the simulated cluster: Kubernetes REST paths, watch, discovery, `/_sim` admin.

Everything runs on one asyncio loop next to the store. The watch path is the hot one: each
event is serialised once (cached on the event) whatever the number of watchers, and queued
events are written in one chunk per wake-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from app.sim import access, discovery, openapi, patch, protobuf, resources, streams
from app.sim.access import Access
from app.sim.errors import ApiError, bad_request, gone, method_not_allowed
from app.sim.faults import Faults
from app.sim.params import (
    JSON,
    decode_continue,
    dry_run,
    encode_continue,
    field_validation,
    flag,
    int_param,
    media_type,
    path_not_found,
    read_body,
    sort_key,
    wants_table,
    warn,
)
from app.sim.resources import Resource
from app.sim.selectors import matcher
from app.sim.store import INITIAL_EVENTS_END, Store, Watcher, WatchEvent, dump_json
from app.sim.tables import table

VERSION_INFO = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0-sim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.22.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
DEFAULT_WATCH_SECONDS = 1800
_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results."
)

_dumpb = dump_json


class LogSource(Protocol):
    """Where `pods/log` reads from (the simulated kubelet)."""

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
    ) -> AsyncIterator[bytes]: ...


@dataclass
class ServerStats:
    """Counters tests assert on ("exactly one log stream per pod", "the watch reconnected")."""

    store: Store
    requests: int = 0
    watches_opened: int = 0
    log_streams_opened: int = 0
    open_log_streams: int = 0
    open_log_streams_by_pod: dict[str, int] = field(default_factory=dict)

    @property
    def open_watches(self) -> dict[str, int]:
        """Open HTTP watches per resource."""
        return self.store.open_watches()

    def as_dict(self) -> dict[str, Any]:
        """The body of `GET /_sim/stats`."""
        return {
            "requests": self.requests,
            "openWatches": self.open_watches,
            "watchesOpened": self.watches_opened,
            "openLogStreams": self.open_log_streams,
            "openLogStreamsByPod": {k: v for k, v in self.open_log_streams_by_pod.items() if v},
            "logStreamsOpened": self.log_streams_opened,
            "resourceVersion": self.store.resource_version,
        }


def json_response(body: Any, status: int = 200) -> Response:
    """A compact JSON response ending with a newline, as Go's JSON encoder writes it."""
    return Response(_dumpb(body) + b"\n", status, media_type=JSON)


def error_response(error: ApiError) -> Response:
    """The `Status` body of an API error with its code."""
    return json_response(error.status(), error.code)


def encode_event(event: WatchEvent) -> bytes:
    """One watch line, serialised once per event and shared by all watchers."""
    raw = event.raw or _dumpb(event.object)
    return b'{"type":"%s","object":%s}\n' % (event.type.encode(), raw)


@dataclass
class _Target:
    """What a Kubernetes path names."""

    res: Resource
    namespace: str | None
    name: str | None
    sub: str | None


class ApiServer:
    """Request handlers bound to one store, log source and fault set."""

    def __init__(
        self,
        store: Store,
        log_source: LogSource | None,
        faults: Faults,
        *,
        bookmark_interval: float = 60.0,
        access: Access | None = None,
    ) -> None:
        self.store = store
        self.access = access or Access()
        self.log_source = log_source
        self.faults = faults
        self.bookmark_interval = bookmark_interval
        self.stats = ServerStats(store)
        self._stopping = asyncio.Event()

    def end_streams(self) -> None:
        """End every open watch and log stream (server stop)."""
        self._stopping.set()
        self.store.close_watches()

    def reopen(self) -> None:
        """Accept long-running streams again after `end_streams`."""
        self._stopping = asyncio.Event()

    # -- routing -----------------------------------------------------------------------------

    async def kube(self, request: Request) -> Response:
        """Every `/api` and `/apis` path."""
        try:
            return await self._dispatch(request)
        except ApiError as error:
            return error_response(error)

    async def kube_websocket(self, websocket: WebSocket) -> None:
        """A WebSocket upgrade under `/api` or `/apis`: refused with a Status (see streams)."""
        parts = [p for p in websocket.url.path.split("/") if p]
        try:
            group, version, rest = discovery.split(parts) if len(parts) > 1 else ("", "", [])
            if rest and group not in access.REVIEWS:
                target = self._target(group, version, rest)
                named = target.name is not None
                verb = "get" if named else "watch"  # an upgrade is a GET
                self.access.check(verb, target.res, target.namespace, target.name, target.sub)
                self._refuse_streams(target)
            error = streams.no_websocket(websocket.url.path)
        except ApiError as refused:
            error = refused
        await websocket.send_denial_response(error_response(error))

    async def _dispatch(self, request: Request) -> Response:
        parts = [p for p in request.url.path.split("/") if p]
        doc = discovery.document(parts, request.url.netloc)
        if doc is not None:
            return json_response(doc)
        group, version, rest = discovery.split(parts)
        if group in access.REVIEWS:
            return await self._review(request, group, rest)
        target = self._target(group, version, rest)
        named = target.name is not None
        verb = access.verb_of(request.method, named, flag(request.query_params.get("watch")))
        self.access.check(verb, target.res, target.namespace, target.name, target.sub)
        self._refuse_streams(target)
        return await self._handle(request, target)

    def _refuse_streams(self, t: _Target) -> None:
        """exec, attach and portforward of an existing pod: a Status, whatever the protocol."""
        if t.sub in streams.STREAMING and t.name is not None:
            self.store.peek_or_404("pods", t.namespace, t.name)
            raise streams.refusal(t.name, t.sub)

    async def _review(self, request: Request, group: str, rest: list[str]) -> Response:
        """A SelfSubject review (authorization, authentication): answered, never stored."""
        if len(rest) != 1 or rest[0] not in access.REVIEWS[group]:
            raise path_not_found()
        if request.method != "POST":
            raise method_not_allowed()
        if media_type(request) == protobuf.MEDIA_TYPE:  # what kubectl's typed clients send
            body = protobuf.decode(await request.body())
        else:
            body = await read_body(request)
        return json_response(self.access.review(group, rest[0], body), 201)

    def _target(self, group: str, version: str, rest: list[str]) -> _Target:
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise path_not_found()
        res = resources.lookup(group, version, rest[0])
        if res is None or (namespace is not None and not res.namespaced):
            raise path_not_found()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        streaming = res.plural == "pods" and name is not None and sub in streams.STREAMING
        if sub is not None and sub not in res.subresources and not streaming:
            raise path_not_found()
        return _Target(res, namespace, name, sub)

    async def _handle(self, request: Request, t: _Target) -> Response:
        method = request.method
        q = request.query_params
        if t.name is None:
            if method == "GET":
                if flag(q.get("watch")):
                    return self._watch(request, t)
                return self._list(request, t)
            if method == "POST":
                body = await read_body(request)
                warnings = field_validation(request, t.res, body)
                return warn(self._create(t, body, dry_run(request)), warnings)
            if method == "DELETE":
                return self._delete_collection(request, t, await read_body(request, optional=True))
            raise method_not_allowed()
        if t.sub == "log":
            if method != "GET":
                raise method_not_allowed()
            return await self._log(request, t)
        if method == "GET":
            obj = self.store.peek_or_404(t.res.plural, t.namespace, t.name)
            return self._object_response(request, t, obj)
        if method == "PUT":
            body = await read_body(request)
            self._check_kind(t.res, body)
            warnings = field_validation(request, t.res, body)
            updated = self.store.update(
                t.res.plural, t.namespace, t.name, body, subresource=t.sub,
                dry_run=dry_run(request),
            )  # fmt: skip
            return warn(json_response(updated), warnings)
        if method == "PATCH":
            return self._patch(request, t, await read_body(request))
        if method == "DELETE" and t.sub is None:
            return self._delete(request, t, await read_body(request, optional=True))
        raise method_not_allowed()

    # -- verbs -------------------------------------------------------------------------------

    def _object_response(self, request: Request, t: _Target, obj: dict[str, Any]) -> Response:
        if wants_table(request):
            return json_response(
                table(t.res.plural, [obj], resource_version=obj["metadata"]["resourceVersion"],
                      include_object=request.query_params.get("includeObject", "Metadata"))
            )  # fmt: skip
        return json_response(obj)

    def _list(self, request: Request, t: _Target) -> Response:
        q = request.query_params
        predicate = matcher(t.res.plural, q.get("labelSelector"), q.get("fieldSelector"))
        items = self.store.scan(t.res.plural, t.namespace, predicate)
        list_rv = self.store.resource_version
        token = q.get("continue")
        if token:
            list_rv, after = decode_continue(token)
            try:
                self.store.check_version(t.res.plural, list_rv)
            except ApiError:
                raise gone(_CONTINUE_EXPIRED) from None
            items = [o for o in items if sort_key(o) > after]
        limit = int_param(q.get("limit"), "limit") or 0
        next_token, remaining = "", None
        if limit > 0 and len(items) > limit:
            remaining = len(items) - limit
            items = items[:limit]
            next_token = encode_continue(list_rv, sort_key(items[-1]))
        if wants_table(request):
            return json_response(
                table(t.res.plural, items, resource_version=str(list_rv),
                      include_object=q.get("includeObject", "Metadata"),
                      continue_token=next_token)
            )  # fmt: skip
        meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if next_token:
            meta["continue"] = next_token
            meta["remainingItemCount"] = remaining
        head = _dumpb(
            {"kind": f"{t.res.kind}List", "apiVersion": t.res.api_version, "metadata": meta}
        )
        # Splice the items in without rebuilding a large dict.
        raws = [self.store.raw(t.res.plural, obj) for obj in items]
        body = b'%s,"items":[%s]}\n' % (head[:-1], b",".join(raws))
        return Response(body, media_type=JSON)

    def _create(self, t: _Target, body: Any, dry_run: bool) -> Response:
        if t.sub is not None:
            raise method_not_allowed()
        self._check_kind(t.res, body)
        created = self.store.create(t.res.plural, t.namespace, body, dry_run=dry_run)
        return json_response(created, 201)

    def _patch(self, request: Request, t: _Target, body: Any) -> Response:
        content_type = request.headers.get("content-type", "")
        current = self.store.peek_or_404(t.res.plural, t.namespace, t.name or "")
        patched = patch.apply_patch(content_type, current, body, t.res.kind)
        warnings = field_validation(request, t.res, patched)
        wanted_rv = ((body if isinstance(body, dict) else {}).get("metadata") or {}).get(
            "resourceVersion"
        )
        meta = dict(patched.get("metadata") or {})
        meta["resourceVersion"] = wanted_rv or current["metadata"]["resourceVersion"]
        patched["metadata"] = meta
        result = self.store.update(
            t.res.plural, t.namespace, t.name or "", patched, subresource=t.sub,
            dry_run=dry_run(request),
        )  # fmt: skip
        return warn(json_response(result), warnings)

    def _delete(self, request: Request, t: _Target, body: Any) -> Response:
        q = request.query_params
        options = body if isinstance(body, dict) else {}
        policy = options.get("propagationPolicy") or q.get("propagationPolicy")
        if options.get("orphanDependents") is True or flag(q.get("orphanDependents")):
            policy = policy or "Orphan"
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = int_param(q.get("gracePeriodSeconds"), "gracePeriodSeconds")
        pre = options.get("preconditions") or {}
        name = t.name or ""
        result = self.store.delete(
            t.res.plural, t.namespace, name, propagation_policy=policy,
            grace_period_seconds=grace, uid=pre.get("uid"),
            resource_version=pre.get("resourceVersion"),
            dry_run=dry_run(request, options.get("dryRun")),
        )  # fmt: skip
        if result["metadata"].get("deletionTimestamp"):
            # Still there (graceful, finalizers): the object; 202 only when the client asked
            # for cascading deletion with orphanDependents=false, as kube-apiserver does.
            orphan = options.get("orphanDependents", q.get("orphanDependents"))
            return json_response(result, 202 if orphan in (False, "false") else 200)
        if t.res.return_deleted_object:
            return json_response(result)
        details = {"name": name, "kind": t.res.plural, "uid": result["metadata"]["uid"]}
        if t.res.group:
            details["group"] = t.res.group
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                  "details": details}  # fmt: skip
        return json_response(status)

    def _delete_collection(self, request: Request, t: _Target, body: Any) -> Response:
        q = request.query_params
        options = body if isinstance(body, dict) else {}
        predicate = matcher(t.res.plural, q.get("labelSelector"), q.get("fieldSelector"))
        items = self.store.scan(t.res.plural, t.namespace, predicate)
        dry = dry_run(request, options.get("dryRun"))
        deleted = []
        for obj in list(items):
            meta = obj["metadata"]
            try:
                deleted.append(
                    self.store.delete(t.res.plural, meta.get("namespace"), meta["name"],
                                      propagation_policy=q.get("propagationPolicy"),
                                      dry_run=dry)
                )  # fmt: skip
            except ApiError as error:
                if error.code != 404:
                    raise
        return json_response(
            {"kind": f"{t.res.kind}List", "apiVersion": t.res.api_version,
             "metadata": {"resourceVersion": str(self.store.resource_version)}, "items": deleted}
        )  # fmt: skip

    def _check_kind(self, res: Resource, body: Any) -> None:
        if not isinstance(body, dict):
            raise bad_request(
                "the object provided is unrecognized (must be of type " + res.kind + ")"
            )
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != res.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({res.api_version})"
            )
        if kind and kind != res.kind:
            raise bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({res.kind})"
            )

    # -- watch -------------------------------------------------------------------------------

    def _watch(self, request: Request, t: _Target) -> Response:
        q = request.query_params
        predicate = matcher(t.res.plural, q.get("labelSelector"), q.get("fieldSelector"))
        rv = q.get("resourceVersion") or ""
        send_initial = flag(q.get("sendInitialEvents"))
        bookmarks = flag(q.get("allowWatchBookmarks"))
        timeout = int_param(q.get("timeoutSeconds"), "timeoutSeconds") or DEFAULT_WATCH_SECONDS
        since = None if send_initial or rv in ("", "0") else int_param(rv, "resourceVersion")
        as_table = wants_table(request)
        try:
            watcher, initial = self.store.watch(
                t.res.plural, t.namespace, since=since, predicate=predicate
            )
        except ApiError as error:
            if error.code != 410:
                raise
            line = _dumpb({"type": "ERROR", "object": error.status()}) + b"\n"
            return Response(line, media_type=JSON)
        self.stats.watches_opened += 1
        encode = self._table_encoder(t.res.plural) if as_table else encode_event
        stream = self._watch_stream(watcher, initial, encode, bookmarks, send_initial, timeout)
        return StreamingResponse(stream, media_type=JSON)

    def _table_encoder(self, resource: str) -> Callable[[WatchEvent], bytes]:
        first = [True]

        def encode(event: WatchEvent) -> bytes:
            obj = table(resource, [event.object], resource_version=str(event.resource_version),
                        with_columns=first[0])  # fmt: skip
            first[0] = False
            return _dumpb({"type": event.type, "object": obj}) + b"\n"

        return encode

    def _bookmark(self, resource: str, initial_end: bool = False) -> bytes:
        res = resources.RESOURCES[resource]
        meta: dict[str, Any] = {"resourceVersion": str(self.store.resource_version)}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        obj = {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}
        return _dumpb({"type": "BOOKMARK", "object": obj}) + b"\n"

    async def _watch_stream(
        self,
        watcher: Watcher,
        initial: list[WatchEvent],
        encode: Callable[[WatchEvent], bytes],
        bookmarks: bool,
        send_initial: bool,
        timeout: int,
    ) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        next_bookmark = loop.time() + self.bookmark_interval
        stopping = self._stopping
        try:
            for start in range(0, len(initial), 500):
                yield b"".join(map(encode, initial[start : start + 500]))
            if send_initial and bookmarks:
                yield self._bookmark(watcher.resource, initial_end=True)
            while not watcher.closed and not stopping.is_set():
                now = loop.time()
                if now >= deadline:
                    break
                wake = min(deadline, next_bookmark) if bookmarks else deadline
                await watcher.wait(max(wake - now, 0))
                if watcher.pending:
                    yield b"".join(map(encode, watcher.drain()))
                elif bookmarks and loop.time() >= next_bookmark and not watcher.closed:
                    yield self._bookmark(watcher.resource)
                    next_bookmark = loop.time() + self.bookmark_interval
        finally:
            watcher.close()

    # -- logs --------------------------------------------------------------------------------

    async def _log(self, request: Request, t: _Target) -> Response:
        q = request.query_params
        name, namespace = t.name or "", t.namespace or "default"
        self.store.peek_or_404("pods", namespace, name)
        if self.log_source is None:
            raise bad_request(f'container logs are not available for pod "{name}"')
        chunks = self.log_source.open_log(
            namespace, name, container=q.get("container"),
            follow=flag(q.get("follow")), timestamps=flag(q.get("timestamps")),
            since_time=q.get("sinceTime"),
            since_seconds=int_param(q.get("sinceSeconds"), "sinceSeconds"),
            tail_lines=int_param(q.get("tailLines"), "tailLines"),
            limit_bytes=int_param(q.get("limitBytes"), "limitBytes"),
            previous=flag(q.get("previous")),
        )  # fmt: skip
        # Errors come before the first byte: wait briefly for it so they become a Status.
        first: asyncio.Future[bytes] = asyncio.ensure_future(anext(chunks))
        await asyncio.wait({first}, timeout=0.2)
        error = first.exception() if first.done() else None
        if isinstance(error, StopAsyncIteration):
            return Response(b"", media_type="text/plain")
        if isinstance(error, ApiError):
            return error_response(error)
        if error is not None:
            raise error
        key = f"{namespace}/{name}"
        return StreamingResponse(self._log_stream(key, first, chunks), media_type="text/plain")

    async def _log_stream(
        self, key: str, first: asyncio.Future[bytes], chunks: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        stats = self.stats
        stats.log_streams_opened += 1
        stats.open_log_streams += 1
        stats.open_log_streams_by_pod[key] = stats.open_log_streams_by_pod.get(key, 0) + 1
        stop = asyncio.ensure_future(self._stopping.wait())
        step: asyncio.Future[bytes] | None = None
        try:
            try:
                yield await first
            except StopAsyncIteration:
                return
            while True:
                step = asyncio.ensure_future(anext(chunks))
                done, _ = await asyncio.wait({step, stop}, return_when=asyncio.FIRST_COMPLETED)
                if step not in done:
                    step.cancel()
                    return
                try:
                    yield step.result()
                except StopAsyncIteration:
                    return
        finally:
            stop.cancel()
            stats.open_log_streams -= 1
            stats.open_log_streams_by_pod[key] -= 1
            if step is not None and not step.done():  # the client went away mid-read
                step.cancel()
                await asyncio.gather(step, return_exceptions=True)
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    # -- discovery and admin -----------------------------------------------------------------

    async def version(self, request: Request) -> Response:
        """`/version`."""
        return json_response(VERSION_INFO)

    async def openapi_v2(self, request: Request) -> Response:
        """`/openapi/v2`: not served (clients use v3, which kubectl prefers)."""
        return error_response(path_not_found())

    async def openapi_v3(self, request: Request) -> Response:
        """`/openapi/v3` and `/openapi/v3/<group-version>`."""
        path = request.path_params.get("path", "")
        if not path:
            return json_response(openapi.index())
        doc = openapi.document(path)
        if doc is None:
            return error_response(path_not_found())
        wanted, current = request.query_params.get("hash"), openapi.digest(path)
        if wanted is None:
            return json_response(doc)
        if wanted != current:  # an old hash: where the current document is, as kube answers
            return Response(status_code=301, headers={"Location": openapi.url(path)})
        response = json_response(doc)
        response.headers["Cache-Control"] = "public, immutable"
        response.headers["ETag"] = f'"{current}"'
        return response

    async def admin_stats(self, request: Request) -> Response:
        """`GET /_sim/stats`."""
        return json_response(self.stats.as_dict())

    async def admin_faults(self, request: Request) -> Response:
        """`GET/POST/DELETE /_sim/faults`: inspect, add or clear injected faults."""
        try:
            if request.method == "POST":
                return json_response(self.faults.apply(await read_body(request)))
            if request.method == "DELETE":
                self.faults.clear()
            return json_response(self.faults.describe())
        except ApiError as error:
            return error_response(error)


class FaultMiddleware:
    """Counts requests and answers Kubernetes paths with injected errors or latency."""

    def __init__(self, app: ASGIApp, server: ApiServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        self.server.stats.requests += 1
        rule = self.server.faults.take(scope["path"])
        if rule is not None:
            if rule.delay:
                await asyncio.sleep(rule.delay)
            if rule.code:
                response = error_response(rule.error())
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_app(
    store: Store,
    *,
    log_source: LogSource | None,
    faults: Faults,
    bookmark_interval: float = 60.0,
    access: Access | None = None,
) -> Starlette:
    """The ASGI app of the simulated API server; `app.state.api` is its `ApiServer`."""
    api = ApiServer(store, log_source, faults, bookmark_interval=bookmark_interval, access=access)
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes = [
        Route("/version", api.version),
        Route("/openapi/v2", api.openapi_v2),
        Route("/openapi/v3", api.openapi_v3),
        Route("/openapi/v3/{path:path}", api.openapi_v3),
        Route("/_sim/stats", api.admin_stats),
        Route("/_sim/faults", api.admin_faults, methods=["GET", "POST", "DELETE"]),
        Route("/api", api.kube, methods=methods),
        Route("/api/{path:path}", api.kube, methods=methods),
        Route("/apis", api.kube, methods=methods),
        Route("/apis/{path:path}", api.kube, methods=methods),
        WebSocketRoute("/api/{path:path}", api.kube_websocket),
        WebSocketRoute("/apis/{path:path}", api.kube_websocket),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _http_error, 405: _http_error})
    app.add_middleware(FaultMiddleware, server=api)
    app.state.api = api
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """A path or method no route serves: a Status, as for every other error."""
    code = getattr(exc, "status_code", 404)
    return error_response(method_not_allowed() if code == 405 else path_not_found())
