"""The run's side of the broker: an HTTP client that uploads and downloads through it.

`BrokerClient.upload_file` has the `ObjectStore.upload_file` signature, so
`app.storage.sync.upload_directory` drives it (bounded concurrency, retries with backoff)
exactly as it drives a store. Bytes go straight to the store's presigned URLs; a large file on
S3 goes up in parts, `part_concurrency` at a time, each read from disk only when its turn
comes. A refused credential (401/403) raises `PermissionError`, which the transfer loop does
not retry; anything else (connection errors, 5xx) is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from app.storage.base import DEFAULT_CONTENT_TYPE, ObjectInfo

_CHUNK = 1 << 20
# A prepared URL is used well within the broker's lifetime for it (15 min), or asked again.
_PLAN_MAX_AGE = 300.0
_PLAN_BATCH = 200


class BrokerError(Exception):
    """The broker or the store answered with an error another attempt may fix."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def unavailable(exc: BaseException) -> bool:
    """Whether an error says the API or the store is unreachable or unavailable for now (a
    restart, an outage): worth retrying for longer than a few attempts."""
    if isinstance(exc, BrokerError):
        return exc.status >= 500 or exc.status in (408, 429)
    return isinstance(exc, httpx.TransportError | OSError | TimeoutError)


def _check(response: httpx.Response) -> None:
    if response.status_code in (401, 403):
        raise PermissionError(f"{response.status_code}: {response.text[:200]}")
    if response.status_code >= 400:
        raise BrokerError(
            f"{response.request.method} answered {response.status_code}: {response.text[:200]}",
            response.status_code,
        )


class BrokerClient:
    """Uploads and downloads for one run, authenticated by its run token."""

    def __init__(
        self, api_url: str, token: str, *, part_concurrency: int = 4, timeout: float = 300
    ) -> None:
        self._api = api_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {token}"}
        self._parts = asyncio.Semaphore(part_concurrency)
        # (key, size, content type) -> (single-PUT plan, when it was minted), from `prepare`.
        self._plans: dict[tuple[str, int, str], tuple[dict[str, Any], float]] = {}
        # No overall deadline: only a stalled connection (no byte for `timeout` s) fails.
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=30),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    async def __aenter__(self) -> BrokerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        response = await self._http.request(
            method,
            f"{self._api}/sidecar/v1/{path}",
            headers={**self._auth, **(headers or {})},
            **kwargs,
        )
        _check(response)
        return response.json() if response.content else None

    async def prepare(self, files: list[tuple[str, int, str | None]]) -> None:
        """Ask for the single-PUT URLs of many (key, size, content type) at once, so small files
        cost one round trip to the store each instead of two. Best effort: a file without a
        prepared URL asks for one when it is uploaded."""
        for start in range(0, len(files), _PLAN_BATCH):
            batch = [
                (key, size, ct or DEFAULT_CONTENT_TYPE)
                for key, size, ct in files[start : start + _PLAN_BATCH]
            ]
            body = {"files": [{"key": k, "size": s, "contentType": c} for k, s, c in batch]}
            try:
                plans = (await self._call("POST", "uploads", json=body))["plans"]
            except (BrokerError, httpx.HTTPError):
                return
            now = time.monotonic()
            for item, plan in zip(batch, plans, strict=True):
                if plan is not None:
                    self._plans[item] = (plan, now)

    async def upload_file(
        self, key: str, path: Path, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Upload `path` to `key` (which must be in the run's outputs)."""
        size = (await asyncio.to_thread(path.stat)).st_size
        content_type = content_type or DEFAULT_CONTENT_TYPE
        # A prepared URL is used once: a retry asks for a fresh one.
        prepared = self._plans.pop((key, size, content_type), None)
        if prepared is not None and time.monotonic() - prepared[1] < _PLAN_MAX_AGE:
            plan = prepared[0]
        else:
            plan = await self._call(
                "POST", "upload", json={"key": key, "size": size, "contentType": content_type}
            )
        if "uploadId" in plan:
            etag = await self._multipart(key, path, size, plan)
        else:
            headers = {**plan.get("headers", {}), "Content-Length": str(size)}
            response = await self._http.put(
                plan["url"], content=_read(path, 0, size), headers=headers
            )
            _check(response)
            etag = response.headers.get("etag", "").strip('"') or None
        return ObjectInfo(key, size, datetime.now(UTC), content_type, etag)

    async def _multipart(self, key: str, path: Path, size: int, plan: dict[str, Any]) -> str | None:
        part_size: int = plan["partSize"]
        upload = {"key": key, "uploadId": plan["uploadId"]}
        etags: list[str] = [""] * plan["partCount"]

        async def send(index: int) -> None:
            start = index * part_size
            length = min(part_size, size - start)
            async with self._parts:
                # Minted just before use: no URL can expire however long the file takes.
                url = (await self._call("POST", "part", json={**upload, "number": index + 1}))[
                    "url"
                ]
                response = await self._http.put(
                    url, content=_read(path, start, length), headers={"Content-Length": str(length)}
                )
            _check(response)
            etags[index] = response.headers["etag"]

        try:
            async with asyncio.TaskGroup() as group:
                for index in range(len(etags)):
                    group.create_task(send(index))
            done = await self._call("POST", "complete", json={**upload, "etags": etags})
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._call("POST", "abort", json=upload))
            if isinstance(exc, BaseExceptionGroup):
                raise exc.exceptions[0] from None
            raise
        etag: str | None = done.get("etag")
        return etag

    async def inputs(self) -> list[dict[str, Any]]:
        """The inputs the run may read, with their files."""
        body = await self._call("GET", "inputs")
        inputs: list[dict[str, Any]] = body["inputs"]
        return inputs

    async def download_file(self, key: str, path: Path) -> None:
        """Download `key` (one of the run's inputs) to `path`, replacing it atomically."""
        url = (await self._call("POST", "download", json={"key": key}))["url"]
        tmp = path.with_name(f".{path.name}.part")
        try:
            async with self._http.stream("GET", url) as response:
                _check(response)
                file = await asyncio.to_thread(tmp.open, "wb")
                try:
                    async for chunk in response.aiter_bytes(_CHUNK):
                        await asyncio.to_thread(file.write, chunk)
                finally:
                    file.close()
            await asyncio.to_thread(os.replace, tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    async def put_manifest(self, manifest: bytes) -> None:
        """Store the run's manifest (the upload's last act)."""
        await self._call(
            "PUT", "manifest", content=manifest, headers={"Content-Type": "application/json"}
        )


async def _read(path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    """`length` bytes of the file from `start`, a chunk at a time."""
    file = await asyncio.to_thread(path.open, "rb")
    try:
        await asyncio.to_thread(file.seek, start)
        left = length
        while left > 0:
            chunk = await asyncio.to_thread(file.read, min(_CHUNK, left))
            if not chunk:
                raise BrokerError(f"{path} shrank while it was uploaded", 0)
            left -= len(chunk)
            yield chunk
    finally:
        file.close()
