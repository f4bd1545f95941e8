"""Resolving the viewer of an HTTP request or a websocket connection.

HTTP: `Authorization: Bearer <access token>`, else the session cookie together with its CSRF
header (app/auth/csrf.py); anything else is anonymous. Websockets: the `connection_init`
payload carries `{"authorization": "Bearer …"}` or `{"token": "…"}`, or, for the web app, the
session cookie (sent with the upgrade) plus `{"csrfToken": "…"}`; otherwise the connection is
refused.
"""

from __future__ import annotations

from typing import Any

from app.auth import csrf
from app.auth.policy import Principal
from app.auth.sessions import (
    SESSION_COOKIE,
    authenticate_session,
    authenticate_token,
    bearer_token,
)


async def viewer_for_request(request: Any) -> Principal | None:
    """The authenticated user of an HTTP request, or None."""
    token = bearer_token(request.headers.get("authorization"))
    if token is not None:
        return await authenticate_token(token)
    session = request.cookies.get(SESSION_COOKIE)
    if session and csrf.csrf_ok(session, request.headers.get(csrf.HEADER)):
        return await authenticate_session(session)
    return None


async def viewer_for_connection(params: Any, websocket: Any) -> Principal | None:
    """The authenticated user of a websocket, from its `connection_init` payload."""
    if not isinstance(params, dict):
        return None
    token = params.get("token")
    authorization = params.get("authorization") or params.get("Authorization")
    if isinstance(authorization, str):
        token = bearer_token(authorization)
    if isinstance(token, str) and token:
        return await authenticate_token(token)
    session = websocket.cookies.get(SESSION_COOKIE) if websocket is not None else None
    sent = params.get("csrfToken")
    if session and isinstance(sent, str) and csrf.csrf_ok(session, sent):
        return await authenticate_session(session)
    return None
