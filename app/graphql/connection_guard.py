"""Every operation on a websocket re-reads the socket's principal before it runs.

A websocket's context (and so its viewer) is made once, in `connection_init`; without this, a
query or subscription sent hours later would run with the rights the socket opened with, even
after its token expired or was revoked, its user was deactivated or left a team. A principal
that no longer holds closes the socket (4403, app/auth/connections.py) and leaves the context
without a viewer, so `RequireViewer` refuses the operation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension


class RecheckConnection(SchemaExtension):
    """Re-authenticate the websocket an operation arrives on (HTTP requests already are)."""

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        request = getattr(context, "request", None)
        scope = getattr(request, "scope", None)
        if isinstance(scope, dict) and scope.get("type") == "websocket":
            connections = context.platform.auth.connections
            if context.viewer is not None and not await connections.recheck_socket(request):
                context.viewer = None
        yield
