"""The HTTP side of the local store's presigned URLs: `GET|HEAD|PUT /storage/{key}`.

The API app mounts `storage_routes(store)` at its root when it runs with a local store, so
the URLs `LocalObjectStore.presign_get/put` hand out work like S3's: no session or token,
only the signed query string. 403 for a bad or expired signature, 404 for a missing object;
GET answers Range requests (Starlette's `FileResponse`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from app.storage.base import InvalidKey, NotFound
from app.storage.local import LocalObjectStore
from app.storage.signing import SignatureError


def storage_routes(store: LocalObjectStore) -> list[BaseRoute]:
    """The routes that serve `store`'s presigned URLs (mount them at the app's root)."""

    async def download(request: Request) -> Response:
        key = request.path_params["key"]
        try:
            signed = store.signer.verify("GET", key, request.query_params)
            info = await store.head(key)
        except SignatureError as exc:
            return PlainTextResponse(str(exc), status_code=403)
        except (NotFound, InvalidKey):
            return PlainTextResponse("no such object", status_code=404)
        return FileResponse(
            store.file_path(key),
            media_type=info.content_type,
            filename=signed.filename,
            headers={"Cache-Control": "private, no-store"},
        )

    async def upload(request: Request) -> Response:
        key = request.path_params["key"]
        try:
            signed = store.signer.verify("PUT", key, request.query_params)
        except SignatureError as exc:
            return PlainTextResponse(str(exc), status_code=403)
        content_type = request.headers.get("content-type")
        if signed.content_type is not None and content_type != signed.content_type:
            return PlainTextResponse("Content-Type differs from the signed one", status_code=403)
        try:
            info = await store.put(key, request.stream(), content_type=content_type)
        except InvalidKey as exc:
            return PlainTextResponse(str(exc), status_code=400)
        return Response(status_code=200, headers={"ETag": f'"{info.etag}"'})

    return [
        Route("/storage/{key:path}", download, methods=["GET", "HEAD"]),
        Route("/storage/{key:path}", upload, methods=["PUT"]),
    ]
