"""The API side of run credentials: `/sidecar/v1/*`, where a run's containers get presigned URLs.

Every request carries `Authorization: Bearer <run token>`; `resolve` turns the token into the
run's `RunScope` (or None: unknown, forged, or expired — 401). Every key is checked against
that scope (403 otherwise), so a run can write only under `runs/<its id>/outputs/` and read
only the inputs its Job names. Bytes never pass through the API: the answers are presigned
URLs of the configured store, valid for `url_ttl` seconds and minted just before use.

- `POST /sidecar/v1/upload {key, size, contentType}` → `{url, headers}` for one PUT, or, on
  S3 for large objects, `{uploadId, partSize, partCount}` for a multipart upload;
- `POST /sidecar/v1/uploads {files: [{key, size, contentType}…]}` → `{plans: [{url, headers}
  | null…]}`: single-PUT URLs for many small files in one request (null for a file that needs
  a multipart upload, which `/upload` starts when its turn comes);
- `POST /sidecar/v1/part {key, uploadId, number}` → `{url}` for one part, asked for just before
  it is sent, so no URL can expire however long a large file takes;
- `POST /sidecar/v1/complete {key, uploadId, etags}` → `{key, etag}`;
  `POST /sidecar/v1/abort {key, uploadId}`;
- `POST /sidecar/v1/download {key}` → `{url}`;
- `GET /sidecar/v1/inputs` → `{inputs: [{name, prefix, files: [{key, path, size}]}]}`;
- `PUT /sidecar/v1/manifest` (JSON body) → stored as the run's manifest.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.json_input import MalformedJSON
from app.json_input import loads as load_json
from app.sidecar.credentials import RunScope, manifest_key
from app.storage.base import InvalidKey, ObjectStore, validate_key
from app.storage.s3 import S3ObjectStore

Resolver = Callable[[str], Awaitable[RunScope | None]]
MAX_MANIFEST_BYTES = 64 << 20
MAX_BATCH = 500
_MAX_PARTS = 10_000


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def broker_routes(store: ObjectStore, resolve: Resolver, *, url_ttl: int = 900) -> list[BaseRoute]:
    """The broker's routes, to mount at the API's root."""

    async def scope_of(request: Request) -> RunScope:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        scope = await resolve(token.strip()) if scheme.lower() == "bearer" else None
        if scope is None:
            raise _Refused(401, "missing, invalid or expired run credential")
        return scope

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            body = load_json(await request.body())
        except MalformedJSON as exc:
            raise _Refused(400, f"the body must be JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _Refused(400, "the body must be a JSON object")
        return body

    def key_in_scope(scope: RunScope, method: str, body: dict[str, Any]) -> str:
        key = body.get("key")
        try:
            validate_key(key if isinstance(key, str) else "")
        except InvalidKey as exc:
            raise _Refused(400, str(exc)) from None
        assert isinstance(key, str)
        if not scope.allows(method, key):
            raise _Refused(403, f"the run's credential does not cover {method} {key!r}")
        return key

    def handler(
        action: Callable[[Request, RunScope], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await action(request, await scope_of(request))
            except _Refused as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status)

        return endpoint

    async def upload(request: Request, scope: RunScope) -> Response:
        body = await body_of(request)
        key = key_in_scope(scope, "PUT", body)
        size = body.get("size")
        if not isinstance(size, int) or size < 0:
            raise _Refused(400, "size must be a non-negative integer")
        content_type = body.get("contentType") or "application/octet-stream"
        if isinstance(store, S3ObjectStore) and store.multipart_for(size):
            count = math.ceil(size / store.part_size)
            if count > _MAX_PARTS:
                raise _Refused(400, "the file is too large for a multipart upload")
            upload_id = await store.start_multipart(key, content_type=content_type)
            return JSONResponse(
                {"uploadId": upload_id, "partSize": store.part_size, "partCount": count}
            )
        url = await store.presign_put(key, expires_in=url_ttl, content_type=content_type)
        return JSONResponse({"url": url, "headers": {"Content-Type": content_type}})

    async def uploads(request: Request, scope: RunScope) -> Response:
        files = (await body_of(request)).get("files")
        if not isinstance(files, list) or len(files) > MAX_BATCH:
            raise _Refused(400, f"files must be a list of at most {MAX_BATCH}")
        plans: list[dict[str, Any] | None] = []
        for item in files:
            if not isinstance(item, dict):
                raise _Refused(400, "each file must be an object")
            key = key_in_scope(scope, "PUT", item)
            size = item.get("size")
            if not isinstance(size, int) or size < 0:
                raise _Refused(400, "size must be a non-negative integer")
            if isinstance(store, S3ObjectStore) and store.multipart_for(size):
                plans.append(None)
                continue
            content_type = item.get("contentType") or "application/octet-stream"
            url = await store.presign_put(key, expires_in=url_ttl, content_type=content_type)
            plans.append({"url": url, "headers": {"Content-Type": content_type}})
        return JSONResponse({"plans": plans})

    async def part(request: Request, scope: RunScope) -> Response:
        body = await body_of(request)
        key = key_in_scope(scope, "PUT", body)
        number = body.get("number")
        if not isinstance(store, S3ObjectStore) or not isinstance(number, int):
            raise _Refused(400, "no multipart upload")
        if not 1 <= number <= _MAX_PARTS:
            raise _Refused(400, "part numbers go from 1 to 10000")
        url = await store.presign_part(key, str(body.get("uploadId")), number, expires_in=url_ttl)
        return JSONResponse({"url": url})

    async def complete(request: Request, scope: RunScope) -> Response:
        body = await body_of(request)
        key = key_in_scope(scope, "PUT", body)
        etags = body.get("etags")
        if not isinstance(store, S3ObjectStore) or not isinstance(etags, list):
            raise _Refused(400, "no multipart upload to complete")
        etag = await store.complete_multipart(
            key, str(body.get("uploadId")), [str(e) for e in etags]
        )
        return JSONResponse({"key": key, "etag": etag})

    async def abort(request: Request, scope: RunScope) -> Response:
        body = await body_of(request)
        key = key_in_scope(scope, "PUT", body)
        if isinstance(store, S3ObjectStore):
            await store.abort_multipart(key, str(body.get("uploadId")))
        return JSONResponse({"key": key})

    async def download(request: Request, scope: RunScope) -> Response:
        key = key_in_scope(scope, "GET", await body_of(request))
        return JSONResponse({"url": await store.presign_get(key, expires_in=url_ttl)})

    async def inputs(request: Request, scope: RunScope) -> Response:
        return JSONResponse(
            {
                "inputs": [
                    {
                        "name": grant.name,
                        "prefix": grant.prefix,
                        "files": [
                            {"key": grant.prefix + path, "path": path, "size": size}
                            for path, size in grant.files
                        ],
                    }
                    for grant in scope.inputs
                ]
            }
        )

    async def manifest(request: Request, scope: RunScope) -> Response:
        data = await request.body()
        if len(data) > MAX_MANIFEST_BYTES:
            raise _Refused(413, "manifest too large")
        try:
            load_json(data)
        except MalformedJSON as exc:
            raise _Refused(400, f"the manifest must be JSON: {exc}") from None
        await store.put(manifest_key(scope.run_id), data, content_type="application/json")
        return Response(status_code=204)

    return [
        Route("/sidecar/v1/upload", handler(upload), methods=["POST"]),
        Route("/sidecar/v1/uploads", handler(uploads), methods=["POST"]),
        Route("/sidecar/v1/part", handler(part), methods=["POST"]),
        Route("/sidecar/v1/complete", handler(complete), methods=["POST"]),
        Route("/sidecar/v1/abort", handler(abort), methods=["POST"]),
        Route("/sidecar/v1/download", handler(download), methods=["POST"]),
        Route("/sidecar/v1/inputs", handler(inputs), methods=["GET"]),
        Route("/sidecar/v1/manifest", handler(manifest), methods=["PUT"]),
    ]
