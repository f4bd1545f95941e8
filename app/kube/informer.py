"""One list+watch of a kind in a namespace, with a local cache: the platform's view of the cluster.

Like client-go's informer (and kopf's watch loop): list, then watch from the list's
resourceVersion with bookmarks; a watch that ends is resumed from the last version seen; a 410
Gone means the history moved on, so the informer relists and reports objects that vanished.
Errors back off exponentially; cancellation stops it cleanly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.watch import Watch

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Handler = Callable[[str, Obj], Awaitable[None]]
ListFunction = Callable[..., Awaitable[Any]]

LIST_PAGE = 500


class Backoff:
    """Exponential backoff with jitter, reset after a success."""

    def __init__(self, first: float = 0.2, limit: float = 30.0) -> None:
        self.first = first
        self.limit = limit
        self.delay = first

    def reset(self) -> None:
        """Start again from the shortest delay."""
        self.delay = self.first

    async def sleep(self) -> None:
        """Wait the current delay (±20%), then double it up to the limit."""
        await asyncio.sleep(self.delay * random.uniform(0.8, 1.2))
        self.delay = min(self.delay * 2, self.limit)


class Informer:
    """Keeps `cache` (name → object) in step with the cluster and calls `handler` on each change.

    The handler gets ADDED, MODIFIED, DELETED, or SYNCED for every object found by a relist.
    """

    def __init__(
        self,
        kind: str,
        list_function: ListFunction,
        *,
        namespace: str | None,
        label_selector: str,
        handler: Handler,
        timeout_seconds: int = 300,
    ) -> None:
        self.kind = kind
        self._list = list_function
        self.namespace = namespace
        self.label_selector = label_selector
        self._handler = handler
        self.timeout_seconds = timeout_seconds
        self.cache: dict[str, Obj] = {}
        self.synced = asyncio.Event()
        self.watch_restarts = 0
        self.relists = 0
        self._backoff = Backoff()

    @property
    def _scope(self) -> tuple[str, ...]:
        """The namespace argument of a namespaced list; none for a cluster-scoped kind."""
        return (self.namespace,) if self.namespace is not None else ()

    async def run(self) -> None:
        """List and watch until cancelled."""
        version: str | None = None
        while True:
            try:
                if version is None:
                    version = await self._relist()
                version = await self._watch(version)
                self._backoff.reset()
            except ApiException as exc:
                if exc.status == 410:
                    log.info("%s watch expired (410); relisting", self.kind)
                    version = None
                    continue
                log.warning("%s watch failed: %s %s", self.kind, exc.status, exc.reason)
                await self._backoff.sleep()
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                log.warning("%s watch interrupted: %r", self.kind, exc)
                await self._backoff.sleep()
            self.watch_restarts += 1

    async def _relist(self) -> str:
        items: list[Obj] = []
        token: str | None = None
        while True:
            response = await self._list(
                *self._scope,
                label_selector=self.label_selector,
                limit=LIST_PAGE,
                _continue=token,
                _preload_content=False,
            )
            body = json.loads(await response.read())
            items += body.get("items") or []
            token = body.get("metadata", {}).get("continue") or None
            if token is None:
                version: str = body["metadata"]["resourceVersion"]
                break
        fresh = {item["metadata"]["name"]: item for item in items}
        gone = [obj for name, obj in self.cache.items() if name not in fresh]
        self.cache = fresh
        self.relists += 1
        for obj in gone:
            await self._notify("DELETED", obj)
        for obj in items:
            await self._notify("SYNCED", obj)
        self.synced.set()
        return version

    async def _watch(self, version: str) -> str:
        async with Watch(return_type="object") as watch:
            stream = watch.stream(
                self._list,
                *self._scope,
                label_selector=self.label_selector,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=self.timeout_seconds,
            )
            async for event in stream:
                obj: Obj = event["raw_object"]
                version = obj["metadata"]["resourceVersion"]
                kind = event["type"]
                if kind == "BOOKMARK":
                    continue
                name = obj["metadata"]["name"]
                if kind == "DELETED":
                    self.cache.pop(name, None)
                else:
                    self.cache[name] = obj
                await self._notify(kind, obj)
        return version

    async def _notify(self, kind: str, obj: Obj) -> None:
        try:
            await self._handler(kind, obj)
        except asyncio.CancelledError:
            raise
        except Exception:
            # One bad object must not stop the watch for everything else.
            log.exception("handling %s %s failed", kind, obj["metadata"].get("name"))
