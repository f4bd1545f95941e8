"""Object storage: one async interface, two stores.

- `S3ObjectStore` (`s3.py`): AWS S3 or any S3 API (MinIO, Ceph RGW; moto in tests).
- `LocalObjectStore` (`local.py`): files under a directory, the embedded default; its
  presigned URLs are served by the API app through `routes.storage_routes`.

`factory.build_store(StorageSettings)` picks one; `sync.upload_directory` and
`sync.download_prefix` move whole directories (run outputs, job inputs).

The interface (`base.ObjectStore`), shared by both stores and checked by one contract test
suite run against each:

    put(key, data: bytes | AsyncIterator[bytes], *, content_type=None) -> ObjectInfo
    get(key) -> bytes                          # NotFound when missing
    stream(key, *, chunk_size=1 MiB) -> AsyncIterator[bytes]
    head(key) -> ObjectInfo                    # NotFound when missing
    list(prefix="", *, limit=1000, token=None, start_after=None) -> Page   # sorted by key
    delete(key) -> None                        # idempotent
    delete_prefix(prefix) -> int               # how many; an empty prefix is refused
    copy(src, dst) -> None                     # inside the store, keeps the content type
    presign_get(key, *, expires_in, filename=None) -> str
    presign_put(key, *, expires_in, content_type=None) -> str
    upload_file(key, path, *, content_type=None) -> ObjectInfo
    download_file(key, path) -> None           # atomic replace of `path`
    ping() -> None                             # readiness
    close() -> None

Shared rules:

- Keys are `/`-separated segments, none empty, `.` or `..`; no leading `/`, backslash or
  control character; at most 1024 bytes (`base.validate_key`). Both stores raise
  `InvalidKey` (a `ValueError`) for anything else, so no key means a path outside the
  local root. The local store additionally cannot hold both `a` and `a/b`.
- A missing object raises `NotFound` (a `KeyError`); `stream` raises it on first iteration.
- Content type defaults to `application/octet-stream`; `list()` leaves it None.
- `list` pages hold at most `limit` (≤ 1000) objects; `next_token` is opaque.
- Presigned URLs live 1 s to 7 days. A URL signed with a content type must be used with it.
"""

from app.storage.base import (
    InvalidKey,
    NotFound,
    ObjectInfo,
    ObjectStore,
    Page,
    StorageError,
)

# The factory (and so aioboto3, about half a second to import) is not imported here: the run's
# sidecars import `app.storage.base` and need none of it. Import `app.storage.factory` for it.
__all__ = [
    "InvalidKey",
    "NotFound",
    "ObjectInfo",
    "ObjectStore",
    "Page",
    "StorageError",
]
