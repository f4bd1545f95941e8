"""The ASGI application: GraphQL over HTTP and websockets, health, and the platform's lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from app.auth.context import viewer_for_connection, viewer_for_request
from app.auth.middleware import BodySizeLimit
from app.config import Settings
from app.graphiql import offline_page
from app.graphiql import routes as graphiql_routes
from app.graphiql.account_pages import routes as account_pages
from app.graphiql.guide import guide
from app.graphql.context import Context
from app.graphql.response_cap import encode_capped
from app.graphql.schema import build_schema
from app.graphql.streaming import TransportWSHandler
from app.graphql.ws_messages import LegacyWSHandler
from app.json_input import MalformedJSON
from app.json_input import loads as load_json
from app.observability.logs import RequestIdMiddleware
from app.observability.metrics import (
    active_subscriptions,
    metrics_endpoint,
    unwatch_platform,
    watch_platform,
)
from app.services.inputs import upload_open
from app.services.platform import Platform
from app.services.run_access import scope_resolver
from app.sidecar.broker import MAX_MANIFEST_BYTES, broker_routes
from app.storage.local import LocalObjectStore
from app.storage.routes import storage_routes

log = logging.getLogger(__name__)


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI app with our context; both websocket sub-protocols are accepted."""

    # Lets subscriptions send events shared by many subscribers directly (app.graphql.streaming).
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, platform: Platform) -> None:
        settings = platform.settings
        super().__init__(
            build_schema(
                settings.max_query_depth, settings.max_query_tokens, settings.max_query_cost
            ),
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        )
        self.platform = platform

    def encode_json(self, data: object) -> str:
        """orjson: faster, and it embeds results shared among subscribers as they are; an
        answer over the byte cap is refused (`app.graphql.response_cap`)."""
        return encode_capped(data, self.platform.settings.max_response_bytes)

    def decode_json(self, data: str | bytes) -> object:
        """Strict and bounded (`app.json_input`): a JSONDecodeError for anything unusable, which
        the websocket handlers answer with 4400."""
        return load_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        """A request's JSON, or 400 saying what is wrong with it."""
        try:
            return load_json(data)
        except MalformedJSON as exc:
            raise HTTPException(400, str(exc)) from None

    async def get_context(self, request: Any, response: Any = None) -> Context:
        """A fresh context (and fresh data loaders) per operation, with the viewer of HTTP
        requests (websockets authenticate in `on_ws_connect`)."""
        context = Context(platform=self.platform, request=request, response=response)
        if request.scope["type"] == "http":
            context.viewer = await viewer_for_request(request)
        return context

    async def on_ws_connect(self, context: Context) -> None:
        """Accept a websocket only with a valid credential in `connection_init`."""
        viewer = await viewer_for_connection(context.connection_params, context.request)
        if viewer is None:
            raise ConnectionRejectionError({"message": "Sign in first: send a token."})
        context.viewer = viewer
        # Kept current from now on: re-read per operation and periodically.
        self.platform.auth.connections.add(context.request, context)

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL, with its assets served by this app when vendored (see app/graphiql),
        opening with the first-run guide (and in `dev` the dev token)."""
        s = self.platform.settings
        return HTMLResponse(offline_page(guide=guide(s.profile, s.data_dir, request.url.netloc)))


async def healthz(request: Request) -> Response:
    """The process is up."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready to serve: the database, the object store and Kubernetes all answer."""
    platform: Platform = request.app.state.platform
    checks = await platform.check_dependencies()
    ready = all(ok for ok in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


def create_app(settings: Settings, platform: Platform | None = None) -> Starlette:
    """The API app; its lifespan starts and stops the platform."""
    platform = platform or Platform(settings)
    graphql = GraphQLApp(platform)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await platform.start()
        watch_platform(platform)
        try:
            yield
        finally:
            # The server has closed every websocket (code 1012) by now, which ended their
            # subscriptions; the platform then stops its watches and log followers.
            log.info("shutting down", extra={"active_subscriptions": active_subscriptions()})
            unwatch_platform(platform)
            await platform.stop()
            log.info("stopped")

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            *graphiql_routes(),
            # What mailed account links open when there is no web app (`dev` only).
            *(account_pages() if settings.profile == "dev" else []),
            *(
                storage_routes(platform.store, may_write=upload_open)
                if isinstance(platform.store, LocalObjectStore)
                else []
            ),
            # Runs' pods trade their credential here for presigned URLs of their own prefix.
            *broker_routes(
                platform.store,
                scope_resolver(platform.run_tokens, platform.settings.upload_grace_seconds),
            ),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(BodySizeLimit, prefixes=("/graphql",)),
            # The largest sidecar body is a run's manifest.
            Middleware(BodySizeLimit, max_bytes=MAX_MANIFEST_BYTES, prefixes=("/sidecar/",)),
        ],
    )
    app.state.platform = platform
    return app
