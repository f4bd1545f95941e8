"""Long-running responses: watches and `pods/log` streams, and the counters tests read.

The watch path is the hot one: each event is serialised once (cached on the event) whatever
the number of watchers, and queued events are written in one chunk per wake-up. Every stream
ends when the server stops (`end`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.sim import resources
from app.sim.errors import ApiError, bad_request
from app.sim.params import JSON, error_response, flag, int_param, wants_table
from app.sim.resources import Resource
from app.sim.selectors import matcher
from app.sim.store import INITIAL_EVENTS_END, Store, Watcher, WatchEvent, dump_json
from app.sim.tables import table

DEFAULT_WATCH_SECONDS = 1800
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


def encode_event(event: WatchEvent) -> bytes:
    """One watch line, serialised once per event and shared by all watchers."""
    raw = event.raw or _dumpb(event.object)
    return b'{"type":"%s","object":%s}\n' % (event.type.encode(), raw)


class Streams:
    """Watches and log streams over one store and log source."""

    def __init__(
        self,
        store: Store,
        log_source: LogSource | None,
        stats: ServerStats,
        bookmark_interval: float,
    ) -> None:
        self.store = store
        self.log_source = log_source
        self.stats = stats
        self.bookmark_interval = bookmark_interval
        self.stopping = asyncio.Event()

    def end(self) -> None:
        """End every open watch and log stream (server stop)."""
        self.stopping.set()
        self.store.close_watches()

    def reopen(self) -> None:
        """Accept long-running streams again after `end`."""
        self.stopping = asyncio.Event()

    def watch(self, request: Request, res: Resource, namespace: str | None) -> Response:
        """A watch response: initial events if asked, changes, bookmarks, until timeout."""
        q = request.query_params
        predicate = matcher(res.plural, q.get("labelSelector"), q.get("fieldSelector"))
        rv = q.get("resourceVersion") or ""
        send_initial = flag(q.get("sendInitialEvents"))
        bookmarks = flag(q.get("allowWatchBookmarks"))
        timeout = int_param(q.get("timeoutSeconds"), "timeoutSeconds") or DEFAULT_WATCH_SECONDS
        since = None if send_initial or rv in ("", "0") else int_param(rv, "resourceVersion")
        as_table = wants_table(request)
        try:
            watcher, initial = self.store.watch(
                res.plural, namespace, since=since, predicate=predicate
            )
        except ApiError as error:
            if error.code != 410:
                raise
            line = _dumpb({"type": "ERROR", "object": error.status()}) + b"\n"
            return Response(line, media_type=JSON)
        self.stats.watches_opened += 1
        encode = self._table_encoder(res.plural) if as_table else encode_event
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
        stopping = self.stopping
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

    async def log(self, request: Request, namespace: str, name: str) -> Response:
        """`pods/log`: the container's output, followed while it runs if asked."""
        q = request.query_params
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
        # Read here or by `_log_stream`; but a client that goes before its body is streamed
        # leaves it to end unread (the log's end is a StopAsyncIteration, not an error).
        first.add_done_callback(_seen)
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
        stop = asyncio.ensure_future(self.stopping.wait())
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


def _seen(future: asyncio.Future[bytes]) -> None:
    """Mark the future's outcome as read, so an unread end is not reported as an error."""
    if not future.cancelled():
        future.exception()
