"""Topics with bounded, per-subscriber buffers.

Publishing never waits: a subscriber whose buffer is full is marked *lagged* and its buffer is
dropped. The subscriber then resumes from its own cursor (re-reading a snapshot), so a slow client
can never slow the watch that publishes, nor the other subscribers. A subscriber waiting for the
next item may take it at once from the publisher's task (`Subscription.deliver`): with many
subscribers, waking one task each per item is most of what publishing costs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

DEFAULT_BUFFER = 1024


class Lagged(Exception):
    """Raised to a subscriber that fell behind; what it missed must be re-read from its cursor."""


class Subscription(Generic[T]):
    """One subscriber's view of a topic: iterate to receive, close (or `with`) to leave."""

    def __init__(self, hub: Hub[T], topic: str, maxsize: int) -> None:
        self._hub = hub
        self.topic = topic
        self._maxsize = maxsize
        self._items: deque[T] = deque()
        # What `next_batch` awaits while there is nothing to take: one future per wait (cheaper
        # than an Event, which a topic with 1,000 subscribers sets 1,000 times a batch).
        self._waiter: asyncio.Future[None] | None = None
        self.lagged = False
        self.closed = False
        # True while the subscriber waits in `next_batch`: it has handled everything so far.
        self.waiting = False
        # Set by a subscriber that can take an item from the publisher's task, without waking
        # its own: while it waits, an item goes there first; True means taken, False buffered.
        self.deliver: Callable[[T], bool] | None = None

    def _offer(self, item: T) -> None:
        if self.lagged:
            return
        if self.waiting and not self._items and self.deliver is not None and self._deliver(item):
            return
        if len(self._items) >= self._maxsize:
            self._items.clear()
            self.lagged = True
        else:
            self._items.append(item)
        self._wake()

    def _deliver(self, item: T) -> bool:
        assert self.deliver is not None
        try:
            return self.deliver(item)
        except Exception:  # the subscriber's bug: never the publisher's problem
            log.exception("delivering to a subscriber of %s failed", self.topic)
            return False

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def drain(self) -> list[T]:
        """Everything buffered now, without waiting (raises Lagged if items were dropped)."""
        self._raise_if_lagged()
        items = list(self._items)
        self._items.clear()
        return items

    async def next_batch(self, timeout: float | None = None) -> list[T]:
        """Wait until something arrives (or `timeout` passes: then []), and take all of it."""
        if not self._items and not self.lagged and not self.closed:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            self.waiting = True
            try:
                if timeout is None:
                    await waiter
                else:
                    await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                return []
            finally:
                self.waiting = False
                self._waiter = None
        return self.drain()

    def _raise_if_lagged(self) -> None:
        if self.lagged:
            self.lagged = False
            raise Lagged(self.topic)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        while not self.closed:
            for item in await self.next_batch():
                yield item

    def close(self) -> None:
        """Leave the topic; idempotent."""
        if not self.closed:
            self.closed = True
            self._hub._remove(self)
            self._wake()

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Hub(Generic[T]):
    """Named topics; `publish` hands an item to every current subscriber of the topic."""

    def __init__(self, buffer: int = DEFAULT_BUFFER) -> None:
        self._buffer = buffer
        self._topics: defaultdict[str, set[Subscription[T]]] = defaultdict(set)

    def subscribe(self, topic: str, *, buffer: int | None = None) -> Subscription[T]:
        """Start receiving what is published on `topic` from now on."""
        sub = Subscription(self, topic, buffer or self._buffer)
        self._topics[topic].add(sub)
        return sub

    def publish(self, topic: str, item: T) -> int:
        """Offer `item` to the topic's subscribers; returns how many there are. Never blocks."""
        subs = self._topics.get(topic)
        if not subs:
            return 0
        for sub in subs:
            sub._offer(item)
        return len(subs)

    def topics(self) -> list[str]:
        """The topics that have subscribers now."""
        return list(self._topics)

    def subscriber_count(self, topic: str, *, waiting: bool = False) -> int:
        """How many subscribers a topic has (for metrics and tests); with `waiting`, only
        those waiting for the next item, having handled everything before it."""
        subs = self._topics.get(topic, ())
        return sum(sub.waiting for sub in subs) if waiting else len(subs)

    def _remove(self, sub: Subscription[T]) -> None:
        subs = self._topics.get(sub.topic)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._topics[sub.topic]
