"""Open websockets and the rights they hold, kept current for as long as they stay open.

A websocket authenticates once, in `connection_init`, and may then stay open for days: the
rights it opened with must not outlive the credential, the account or the team memberships
they came from. So:

- whoever revokes a token, ends a session or deactivates a user closes the sockets that came
  with it here, in this process, at once (code 4403);
- every operation a socket sends re-reads its principal first (`recheck_socket`);
- every `interval` seconds each replica re-reads the principals of all its sockets from the
  database (`recheck`), which is how a revocation made on another replica, an expiry or a
  change of teams reaches them.

A principal that no longer holds closes its socket (4403). One that lost rights (a team, the
admin role) closes it too, since subscriptions already running were authorized with the old
rights; the client reconnects with what it has now. One that only gained replaces the old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from typing import Any, Protocol
from uuid import UUID

from app.auth.policy import Principal
from app.auth.sessions import reauthenticate

log = logging.getLogger(__name__)

CLOSE_REVOKED = 4403


class Holder(Protocol):
    """What a socket's operations read their viewer from (the connection's GraphQL context)."""

    viewer: Principal | None


def narrowed(before: Principal, now: Principal) -> bool:
    """Whether `now` may see less than `before` did."""
    return (before.is_admin and not now.is_admin) or not before.team_ids <= now.team_ids


class LiveConnections:
    """The authenticated websockets of this process."""

    def __init__(self) -> None:
        # Weak both ways: a socket that ended on its own, and its context, simply disappear.
        self._sockets: weakref.WeakKeyDictionary[Any, weakref.ref[Holder]] = (
            weakref.WeakKeyDictionary()
        )
        self._task: asyncio.Task[None] | None = None

    def add(self, websocket: Any, holder: Holder) -> None:
        """Track an accepted websocket and the context holding its principal."""
        self._sockets[websocket] = weakref.ref(holder)

    def __len__(self) -> int:
        return len(self._live())

    def _live(self) -> list[tuple[Any, Holder, Principal]]:
        out = []
        for ws, ref in list(self._sockets.items()):
            holder = ref()
            if holder is not None and holder.viewer is not None:
                out.append((ws, holder, holder.viewer))
        return out

    async def _close(self, websocket: Any, holder: Holder | None, reason: str) -> None:
        self._sockets.pop(websocket, None)
        if holder is not None:
            holder.viewer = None  # operations still starting on it get no rights
        with contextlib.suppress(Exception):  # already closing or gone
            await websocket.close(code=CLOSE_REVOKED, reason=reason)

    async def close_where(self, match: Callable[[Principal], bool]) -> int:
        """Close every socket whose principal matches; returns how many were closed."""
        doomed = [(ws, holder) for ws, holder, p in self._live() if match(p)]
        for ws, holder in doomed:
            await self._close(ws, holder, "credential revoked")
        return len(doomed)

    async def close_credential(self, kind: str, id_: UUID) -> int:
        """Close the sockets opened with one access token or session."""
        return await self.close_where(lambda p: p.credential == (kind, id_))

    async def close_user(self, user_id: UUID) -> int:
        """Close every socket of a user (deactivated)."""
        return await self.close_where(lambda p: p.user_id == user_id)

    async def recheck_socket(self, websocket: Any) -> bool:
        """Re-read one socket's principal (before each of its operations); False: it no longer
        holds, and the socket is closing."""
        ref = self._sockets.get(websocket)
        holder = ref() if ref is not None else None
        if holder is None or holder.viewer is None:
            return False
        return await self._apply([(websocket, holder, holder.viewer)]) == 0

    async def recheck(self) -> int:
        """Re-read every socket's principal; returns how many sockets were closed."""
        return await self._apply(self._live())

    async def _apply(self, entries: list[tuple[Any, Holder, Principal]]) -> int:
        fresh = await reauthenticate([p for _, _, p in entries])
        closed = 0
        for (ws, holder, before), now in zip(entries, fresh, strict=True):
            if now is None:
                await self._close(ws, holder, "credential no longer valid")
            elif narrowed(before, now):
                await self._close(ws, holder, "access changed")
            else:
                holder.viewer = now
                continue
            closed += 1
        return closed

    def start(self, interval: float) -> None:
        """Re-check every socket every `interval` seconds (in the running task's context, so
        with its database connections)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(interval), name="connection-recheck")

    async def stop(self) -> None:
        """Stop re-checking."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                closed = await self.recheck()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: try again next time
                log.warning("re-checking websockets failed: %r", type(exc).__name__)
                continue
            if closed:
                log.info("closed %d websocket(s) whose access no longer holds", closed)
