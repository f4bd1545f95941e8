"""The HTTP face of the simulated cluster: Kubernetes REST paths, discovery, `/_sim` admin.

Everything runs on one asyncio loop next to the store. Requests are routed and authorized
here; watches and log streams are app.sim.longrun's, discovery documents app.sim.discovery's,
request parsing app.sim.params's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from app.sim import access, discovery, openapi, patch, protobuf, resources, streams
from app.sim.access import Access
from app.sim.errors import ApiError, bad_request, gone, method_not_allowed
from app.sim.faults import Faults
from app.sim.longrun import LogSource, ServerStats, Streams
from app.sim.params import (
    JSON,
    decode_continue,
    dry_run,
    encode_continue,
    error_response,
    field_validation,
    flag,
    int_param,
    json_response,
    media_type,
    path_not_found,
    read_body,
    sort_key,
    wants_table,
    warn,
)
from app.sim.resources import Resource
from app.sim.selectors import matcher
from app.sim.store import Store, dump_json
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
_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results."
)

_dumpb = dump_json


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
        self.faults = faults
        self.stats = ServerStats(store)
        self.streams = Streams(store, log_source, self.stats, bookmark_interval)

    def end_streams(self) -> None:
        """End every open watch and log stream (server stop)."""
        self.streams.end()

    def reopen(self) -> None:
        """Accept long-running streams again after `end_streams`."""
        self.streams.reopen()

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
                    return self.streams.watch(request, t.res, t.namespace)
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
            return await self.streams.log(request, t.namespace or "default", t.name or "")
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
