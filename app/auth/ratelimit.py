"""Login rate limiting: failed attempts per account and per client address, in a sliding window.

In-process: each replica counts on its own, which bounds guessing per replica; the limits are
low enough that a handful of replicas still makes online guessing hopeless.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """At most `limit` events per key within `window` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            return deque()
        horizon = self.clock() - self.window
        while events and events[0] <= horizon:
            events.popleft()
        if not events:
            del self._events[key]
        return events

    def blocked(self, key: str) -> bool:
        """Whether the key used up its allowance."""
        return len(self._recent(key)) >= self.limit

    def hit(self, key: str) -> None:
        """Count one event for the key."""
        self._recent(key)
        self._events.setdefault(key, deque()).append(self.clock())

    def clear(self, key: str) -> None:
        """Forget a key's events (after a successful login)."""
        self._events.pop(key, None)


class LoginLimiter:
    """Failed logins: 10 per account and 100 per client address per 15 minutes."""

    def __init__(self, per_account: int = 10, per_address: int = 100, window: float = 900) -> None:
        self.accounts = SlidingWindow(per_account, window)
        self.addresses = SlidingWindow(per_address, window)

    def blocked(self, email: str, address: str) -> bool:
        """Whether a login for this account from this address must be refused unchecked."""
        return self.accounts.blocked(email.lower()) or self.addresses.blocked(address)

    def failed(self, email: str, address: str) -> None:
        """Count a failed attempt."""
        self.accounts.hit(email.lower())
        self.addresses.hit(address)

    def succeeded(self, email: str) -> None:
        """A correct password resets the account's count."""
        self.accounts.clear(email.lower())
