"""The HTTP side of the local store's presigned URLs: `GET|HEAD|PUT /storage/{key}`.

The API app mounts `storage_routes(store)` at its root when it runs with a local store, so
the URLs `LocalObjectStore.presign_get/put` hand out work like S3's: no session or token,
only the signed query string. 403 for a bad or expired signature, 404 for a missing object;
GET answers Range requests (Starlette's `FileResponse`).

A PUT signed with a `content_length` must declare that length and send exactly that many bytes
(400 otherwise, and nothing is written: a longer body is cut off as soon as it goes over).
`may_write(key)` is asked before every PUT, so the owner of the keys can close them (an input
once finalized or deleted) while URLs handed out earlier are still unexpired: 403.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from app.storage.base import InvalidKey, NotFound
from app.storage.local import LocalObjectStore
from app.storage.signing import SignatureError


class WrongLength(Exception):
    """The body's length differs from the signed one."""


WriteGuard = Callable[[str], Awaitable[bool]]


async def _always(key: str) -> bool:
    return True


async def _exactly(body: AsyncIterator[bytes], length: int) -> AsyncIterator[bytes]:
    """`body`, raising WrongLength as soon as it has more bytes than `length`, or at its end
    if it has fewer."""
    received = 0
    async for chunk in body:
        received += len(chunk)
        if received > length:
            raise WrongLength
        yield chunk
    if received != length:
        raise WrongLength


def storage_routes(store: LocalObjectStore, may_write: WriteGuard = _always) -> list[BaseRoute]:
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
        body: AsyncIterator[bytes] = request.stream()
        if signed.content_length is not None:
            if request.headers.get("content-length") != str(signed.content_length):
                return PlainTextResponse(
                    f"This URL takes a body of exactly {signed.content_length} bytes, with that "
                    "Content-Length",
                    status_code=400,
                )
            body = _exactly(body, signed.content_length)
        if not await may_write(key):
            return PlainTextResponse("This object can no longer be written", status_code=403)
        try:
            info = await store.put(key, body, content_type=content_type)
        except InvalidKey as exc:
            return PlainTextResponse(str(exc), status_code=400)
        except WrongLength:
            return PlainTextResponse(
                f"The body is not {signed.content_length} bytes long", status_code=400
            )
        return Response(status_code=200, headers={"ETag": f'"{info.etag}"'})

    return [
        Route("/storage/{key:path}", download, methods=["GET", "HEAD"]),
        Route("/storage/{key:path}", upload, methods=["PUT"]),
    ]
