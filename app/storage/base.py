"""The object store contract: value types, errors, key rules and the `ObjectStore` protocol.

Both implementations (`s3.S3ObjectStore`, `local.LocalObjectStore`) apply the same key rules
so that a key accepted by one is accepted by the other and a test written against one holds
for both.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

#: Content type stored when the caller gives none, by both stores alike.
DEFAULT_CONTENT_TYPE = "application/octet-stream"

#: Bounds of a presigned URL's lifetime; S3 (SigV4) refuses anything longer than a week.
MIN_EXPIRES_IN = 1
MAX_EXPIRES_IN = 7 * 24 * 3600

_MAX_KEY_BYTES = 1024
# A backslash or a control character: refused in keys and prefixes (checked on every listing).
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")


class StorageError(Exception):
    """Base class of the errors an object store raises on purpose."""


class NotFound(StorageError, KeyError):
    """The object does not exist (a `KeyError`, so `except KeyError` also works)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"no object with key {self.key!r}"


class InvalidKey(StorageError, ValueError):
    """The key breaks the key rules (see `validate_key`) or cannot be stored under them."""


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object.

    `etag` is unquoted; on S3 an object written in parts has the `<md5>-<parts>` form.
    `content_type` is None in `list()` results, which neither backend can fill cheaply.
    """

    key: str
    size: int
    last_modified: datetime
    content_type: str | None
    etag: str | None


@dataclass(frozen=True)
class Page:
    """One page of `list()`: objects sorted by key, and the token of the next page if any."""

    objects: list[ObjectInfo]
    next_token: str | None


class ObjectStore(Protocol):
    """An async object store; see the package docstring for the behaviour both stores share."""

    async def put(
        self, key: str, data: bytes | AsyncIterator[bytes], *, content_type: str | None = None
    ) -> ObjectInfo:
        """Write an object whole (replacing any previous one); a stream is never buffered whole."""
        ...

    async def get(self, key: str) -> bytes:
        """Read a whole object; raise `NotFound` when missing."""
        ...

    def stream(self, key: str, *, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Read an object in chunks; `NotFound` is raised by the first iteration."""
        ...

    async def head(self, key: str) -> ObjectInfo:
        """Describe an object; raise `NotFound` when missing."""
        ...

    async def list(
        self,
        prefix: str = "",
        *,
        limit: int = 1000,
        token: str | None = None,
        start_after: str | None = None,
    ) -> Page:
        """List objects whose key starts with `prefix`, sorted by key, at most `limit` a page;
        `start_after` (a key) starts the listing after it, like a keyset cursor."""
        ...

    async def delete(self, key: str) -> None:
        """Delete an object; deleting a missing object is not an error."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` and return how many there were."""
        ...

    async def copy(self, src: str, dst: str) -> None:
        """Copy an object inside the store (no bytes through the caller); keeps content type."""
        ...

    async def presign_get(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """A URL anyone may GET for `expires_in` seconds; `filename` sets Content-Disposition."""
        ...

    async def presign_put(
        self,
        key: str,
        *,
        expires_in: int,
        content_type: str | None = None,
        content_length: int | None = None,
    ) -> str:
        """A URL anyone may PUT one object to; when `content_type` is given it must be sent,
        and when `content_length` is, the body must have exactly that many bytes."""
        ...

    async def upload_file(
        self, key: str, path: Path, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Upload a local file (in concurrent parts when large)."""
        ...

    async def download_file(self, key: str, path: Path) -> None:
        """Download an object to a local file, replacing it atomically."""
        ...

    async def ping(self) -> None:
        """Raise if the store cannot be used (readiness check)."""
        ...

    async def close(self) -> None:
        """Release connections; the store must not be used afterwards."""
        ...


def validate_key(key: str) -> str:
    """Return `key` if it is a valid object key, else raise `InvalidKey`.

    A key is `/`-separated segments, none empty, `.` or `..`, with no leading `/`, no
    backslash and no control characters: so it maps to a relative path that cannot leave
    a directory, and means the same on S3 and on disk.
    """
    if not key:
        raise InvalidKey("an object key cannot be empty")
    _check_characters(key)
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"invalid object key {key!r}: empty, '.' or '..' segment")
    return key


def validate_prefix(prefix: str, *, allow_empty: bool = True) -> str:
    """Return `prefix` if every complete segment of it is valid, else raise `InvalidKey`.

    The last segment (after the last `/`) may be partial or empty: `runs/4` matches `runs/42/…`.
    """
    if not prefix:
        if not allow_empty:
            raise InvalidKey("an empty prefix would mean every object in the store")
        return prefix
    _check_characters(prefix)
    for segment in prefix.split("/")[:-1]:
        if segment in ("", ".", ".."):
            raise InvalidKey(f"invalid prefix {prefix!r}: empty, '.' or '..' segment")
    return prefix


def validate_expiry(expires_in: int) -> int:
    """Return `expires_in` if it is an accepted presigned URL lifetime, else raise ValueError."""
    if not MIN_EXPIRES_IN <= expires_in <= MAX_EXPIRES_IN:
        raise ValueError(f"expires_in must be between {MIN_EXPIRES_IN} and {MAX_EXPIRES_IN}")
    return expires_in


def validate_limit(limit: int) -> int:
    """Return `limit` if it is an accepted page size (1 to 1000, S3's maximum), else ValueError."""
    if not 1 <= limit <= 1000:
        raise ValueError("limit must be between 1 and 1000")
    return limit


def content_disposition(filename: str) -> str:
    """An `attachment` Content-Disposition for `filename` (RFC 6266, UTF-8 when needed)."""
    quoted = quote(filename)
    if quoted != filename:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{filename}"'


def _check_characters(value: str) -> None:
    if value.startswith("/"):
        raise InvalidKey(f"invalid object key {value!r}: starts with '/'")
    if _FORBIDDEN.search(value):
        raise InvalidKey(f"invalid object key {value!r}: backslash or control character")
    if len(value.encode()) > _MAX_KEY_BYTES:
        raise InvalidKey(f"object key longer than {_MAX_KEY_BYTES} bytes")
