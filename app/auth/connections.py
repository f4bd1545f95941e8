"""Open websockets by credential and user, so revoking a credential ends its subscriptions at once.

A websocket authenticates once, in `connection_init`; after that nothing re-reads its credential
per event. So whoever revokes a token, ends a session or deactivates a user closes the sockets
that came with it (code 4403), here, in this process; `recheck` closes, on every replica, the
sockets whose credential stopped working (the API runs it periodically).
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from app.auth.policy import Principal

log = logging.getLogger(__name__)

CLOSE_REVOKED = 4403


class LiveConnections:
    """The authenticated websockets of this process."""

    def __init__(self) -> None:
        # Weak: a socket that ended on its own simply disappears from the index.
        self._sockets: weakref.WeakKeyDictionary[Any, Principal] = weakref.WeakKeyDictionary()

    def add(self, websocket: Any, principal: Principal) -> None:
        """Track an accepted websocket and who it belongs to."""
        self._sockets[websocket] = principal

    def __len__(self) -> int:
        return len(self._sockets)

    async def close_where(self, match: Callable[[Principal], bool]) -> int:
        """Close every socket whose principal matches; returns how many were closed."""
        doomed = [ws for ws, p in list(self._sockets.items()) if match(p)]
        for ws in doomed:
            self._sockets.pop(ws, None)
            with contextlib.suppress(Exception):  # already closing or gone
                await ws.close(code=CLOSE_REVOKED, reason="credential revoked")
        return len(doomed)

    async def close_credential(self, kind: str, id_: UUID) -> int:
        """Close the sockets opened with one access token or session."""
        return await self.close_where(lambda p: p.credential == (kind, id_))

    async def close_user(self, user_id: UUID) -> int:
        """Close every socket of a user (deactivated)."""
        return await self.close_where(lambda p: p.user_id == user_id)

    async def recheck(self, still_valid: Callable[[Principal], Awaitable[bool]]) -> int:
        """Close the sockets whose credential no longer works (revoked by another replica)."""
        closed = 0
        for ws, principal in list(self._sockets.items()):
            if not await still_valid(principal):
                self._sockets.pop(ws, None)
                with contextlib.suppress(Exception):
                    await ws.close(code=CLOSE_REVOKED, reason="credential revoked")
                closed += 1
        return closed
