"""Following one container's log: `pods/log?follow=true&timestamps=true`, split into lines.

One `LogFollower` reads one container of one pod, whatever the number of clients watching (the
service fans its lines out). A followed stream is not the container's lifetime: it can end early,
stay silent while the container prints nothing, or close while the container still runs. So the
follower reconnects with `sinceTime` until a stream that was opened *after* the container was
seen terminated (or the pod gone) has ended: that stream necessarily held the whole rest of the
log.

`sinceTime`: kubernetes-asyncio's `read_namespaced_pod_log` has no `since_time` argument, so the
request is built with the same `ApiClient.call_api` the generated method uses (same host,
credentials, TLS and connection pool), adding the `sinceTime` query parameter. It is sent at
whole-second precision, the precision `metav1.Time` guarantees; the server then resends up to a
second of lines the platform already stored, and `Dedup` drops them: lines stamped before the
last stored timestamp are old; lines stamped exactly at it are compared by content and position
with the lines stored at that instant (several lines can share a timestamp).

Limits: a line longer than `MAX_LINE_BYTES` (16 KiB, the size at which container runtimes split
records too) becomes several lines of at most that size, cut on a UTF-8 character boundary, each
with the original timestamp. Bytes that are not UTF-8 are replaced with U+FFFD, and so is NUL
(PostgreSQL text cannot hold it); neither ever stops a follower.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass

import aiohttp
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 16 * 1024
# A silent stream is reopened after this long: a hung connection looks exactly like silence.
IDLE_RECONNECT_SECONDS = 30.0
_LOG_PATH = "/api/v1/namespaces/{namespace}/pods/{name}/log"
_TS_WIDTH = len("2006-01-02T15:04:05.000000000Z")


@dataclass(frozen=True, slots=True)
class RawLine:
    """A line as read from Kubernetes: its timestamp (fixed-width RFC 3339) and text."""

    ts: str
    text: str


def normalize_timestamp(stamp: bytes) -> str | None:
    """`…T10:00:00.5Z` → `…T10:00:00.500000000Z` (sorts as text); None if not a timestamp."""
    if len(stamp) == _TS_WIDTH and stamp[-1:] == b"Z" and stamp[19:20] == b".":
        return stamp.decode("ascii", "replace")
    if len(stamp) < 20 or stamp[-1:] != b"Z" or stamp[10:11] != b"T":
        return None
    whole, _, fraction = stamp[:-1].decode("ascii", "replace").partition(".")
    if len(whole) != 19 or (not fraction.isdigit() and fraction):
        return None
    return f"{whole}.{(fraction + '000000000')[:9]}Z"


def since_time(ts: str) -> str:
    """The `sinceTime` to resume after `ts`: the same second (the server's precision)."""
    return ts[:19] + "Z"


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _cut(text: bytes) -> list[bytes]:
    """`text` in pieces of at most MAX_LINE_BYTES, never inside a UTF-8 character."""
    pieces = []
    while len(text) > MAX_LINE_BYTES:
        cut = MAX_LINE_BYTES
        while cut > MAX_LINE_BYTES - 3 and (text[cut] & 0xC0) == 0x80:
            cut -= 1
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


class LineSplitter:
    """Bytes of a `timestamps=true` log stream → `RawLine`s, splitting very long lines."""

    def __init__(self) -> None:
        self._buf = b""
        # Set while the buffer holds the rest of a long line already partly emitted.
        self._continued: str | None = None
        self._last_ts = ""

    def feed(self, data: bytes) -> list[RawLine]:
        """The complete lines (and pieces of over-long ones) that `data` finishes."""
        *complete, self._buf = (self._buf + data).split(b"\n")
        out: list[RawLine] = []
        for raw in complete:
            ts, text = self._head(raw)
            self._continued = None
            out.extend(RawLine(ts, _decode(piece)) for piece in _cut(text))
        if len(self._buf) > MAX_LINE_BYTES + _TS_WIDTH:
            ts, text = self._head(self._buf)
            *pieces, rest = _cut(text)
            out.extend(RawLine(ts, _decode(piece)) for piece in pieces)
            self._continued, self._buf = ts, rest
        return out

    def end(self, *, keep_partial: bool) -> list[RawLine]:
        """At the end of a stream: the unterminated last line if it is to be kept; then reset.

        A stream cut mid-line is re-read after reconnecting, so its partial line is dropped;
        only the last stream of a finished container keeps it.
        """
        rest, continued = self._buf, self._continued
        self._buf, self._continued = b"", None
        if not keep_partial or not rest:
            return []
        self._continued = continued
        ts, text = self._head(rest)
        self._continued = None
        return [RawLine(ts, _decode(piece)) for piece in _cut(text)]

    def _head(self, raw: bytes) -> tuple[str, bytes]:
        if self._continued is not None:
            return self._continued, raw
        stamp, _, text = raw.partition(b" ")
        ts = normalize_timestamp(stamp)
        if ts is None:  # not a stamped line (never from a kubelet): keep it whole
            return self._last_ts, raw
        self._last_ts = ts
        return ts, text


class Dedup:
    """Drops the lines a reconnected stream resends; knows the last stored instant's lines."""

    def __init__(self, last_ts: str | None = None, texts_at_last: list[str] | None = None) -> None:
        self.last_ts = last_ts
        self._at_last = list(texts_at_last or [])
        self._checking = last_ts is not None
        self._position = 0

    def reconnected(self) -> None:
        """A new stream starts (from `sinceTime`): what it resends must be recognised."""
        self._checking = self.last_ts is not None
        self._position = 0

    def filter(self, lines: list[RawLine]) -> list[RawLine]:
        """The lines not stored yet; once one is new, every later line of the stream is new."""
        if not self._checking:
            return lines
        last = self.last_ts or ""
        for index, line in enumerate(lines):
            if line.ts < last:
                continue
            if (
                line.ts == last
                and self._position < len(self._at_last)
                and self._at_last[self._position] == line.text
            ):
                self._position += 1
                continue
            self._checking = False
            return lines[index:]
        return []

    def stored(self, lines: list[RawLine]) -> None:
        """Remember what was stored, to recognise it after the next reconnection."""
        for line in lines:
            if line.ts != self.last_ts:
                self.last_ts, self._at_last = line.ts, []
            self._at_last.append(line.text)

    @property
    def since(self) -> str | None:
        """The `sinceTime` to reconnect with (None: from the start)."""
        return since_time(self.last_ts) if self.last_ts else None


Sink = Callable[[list[RawLine]], Awaitable[None]]


class LogFollower:
    """Reads one container's log until it is whole, handing new lines to `sink` in batches
    of at most `max_batch`.

    `finished()` says whether the container has terminated or the pod is gone (the pod watch
    knows; the log stream does not). Lines reach `sink` in the order Kubernetes sent them, each
    once; a failing `sink` makes the follower reconnect and offer the lines again.
    """

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        pod: str,
        container: str,
        sink: Sink,
        finished: Callable[[], bool],
        dedup: Dedup,
        *,
        idle_timeout: float = IDLE_RECONNECT_SECONDS,
        max_batch: int = 500,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self._sink = sink
        self._finished = finished
        self.dedup = dedup
        self._idle_timeout = idle_timeout
        self._max_batch = max_batch
        self.streams_opened = 0

    async def run(self) -> None:
        """Follow until a stream opened after the container ended has been read to its end."""
        delay = 0.1
        while True:
            final = self._finished()
            splitter = LineSplitter()
            self.dedup.reconnected()
            try:
                async with aclosing(self._stream(self.dedup.since)) as chunks:
                    async for chunk in chunks:
                        await self._deliver(splitter.feed(chunk))
                        delay = 0.1
                await self._deliver(splitter.end(keep_partial=final))
            except ApiException as exc:
                if exc.status == 404:
                    return  # the pod is gone: nothing more can be read
                log.info("log %s/%s: %s %s", self.pod, self.container, exc.status, exc.reason)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("log %s/%s: stream interrupted: %r", self.pod, self.container, exc)
            except Exception:  # the sink failed (database down?): offer the lines again later
                log.exception("log %s/%s: storing lines failed", self.pod, self.container)
            else:
                if final:
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _deliver(self, lines: list[RawLine]) -> None:
        new = self.dedup.filter(lines)
        for start in range(0, len(new), self._max_batch):
            batch = new[start : start + self._max_batch]
            await self._sink(batch)
            self.dedup.stored(batch)

    async def _stream(self, since: str | None) -> AsyncGenerator[bytes]:
        query: list[tuple[str, object]] = [
            ("container", self.container),
            ("follow", True),
            ("timestamps", True),
        ]
        if since is not None:
            query.append(("sinceTime", since))
        response: aiohttp.ClientResponse = await self.api.call_api(
            _LOG_PATH,
            "GET",
            path_params={"namespace": self.namespace, "name": self.pod},
            query_params=query,
            header_params={"Accept": "text/plain"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=aiohttp.ClientTimeout(sock_connect=10, sock_read=self._idle_timeout),
        )
        self.streams_opened += 1
        try:
            if response.status != 200:
                body = await response.read()
                raise ApiException(status=response.status, reason=body.decode(errors="replace"))
            while chunk := await response.content.readany():
                yield chunk
        finally:
            response.close()
