"""An object store in a local directory: the embedded default of `walkai-jobs dev`.

Layout under `root`:

- `objects/<key>`: the bytes, at the path the key names, so the tree can be browsed by hand;
- `meta/<key>`: a JSON sidecar with the content type and the MD5 ETag;
- `tmp/`: writes land here first and are renamed into place, so a reader sees the old
  object or the new one, never a torn one.

Keys pass `validate_key` before they touch a path, and every path is built from the key's
segments under `objects/`, so no key can reach outside the root. One thing S3 allows and a
file system does not: `a` and `a/b` cannot both be objects here; the second write raises
`InvalidKey`.

Presigned URLs point at the API app itself (`storage_routes` in `routes.py` serves them),
signed by `signing.UrlSigner`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from app.storage.base import (
    DEFAULT_CONTENT_TYPE,
    InvalidKey,
    NotFound,
    ObjectInfo,
    Page,
    StorageError,
    validate_expiry,
    validate_key,
    validate_limit,
    validate_prefix,
)
from app.storage.signing import UrlSigner

_COPY_CHUNK = 1 << 20
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class LocalObjectStore:
    """`ObjectStore` over a directory; presigned URLs are `{public_base_url}/storage/{key}?…`."""

    def __init__(
        self,
        root: Path,
        *,
        public_base_url: str,
        secret: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.public_base_url = public_base_url.rstrip("/")
        self.signer = UrlSigner(secret, clock=clock)
        self._objects = root / "objects"
        self._meta = root / "meta"
        self._tmp = root / "tmp"
        for directory in (self._objects, self._meta, self._tmp):
            directory.mkdir(parents=True, exist_ok=True)

    def file_path(self, key: str) -> Path:
        """Where the bytes of `key` live (whether or not the object exists)."""
        return self._objects.joinpath(*validate_key(key).split("/"))

    async def put(
        self, key: str, data: bytes | AsyncIterator[bytes], *, content_type: str | None = None
    ) -> ObjectInfo:
        """Write to a temporary file, then rename it over the object."""
        validate_key(key)
        tmp, file = await asyncio.to_thread(self._open_tmp)
        md5 = hashlib.md5()
        try:
            with file:
                if isinstance(data, bytes):
                    await asyncio.to_thread(_write, file, md5, data)
                else:
                    async for chunk in data:
                        await asyncio.to_thread(_write, file, md5, chunk)
            return await asyncio.to_thread(self._commit, key, tmp, content_type, md5.hexdigest())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        """Read the whole file."""
        path = self.file_path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except _MISSING:
            raise NotFound(key) from None

    async def stream(self, key: str, *, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Read the file in chunks; the file stays open until the iteration ends."""
        path = self.file_path(key)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except _MISSING:
            raise NotFound(key) from None
        try:
            while chunk := await asyncio.to_thread(file.read, chunk_size):
                yield chunk
        finally:
            file.close()

    async def head(self, key: str) -> ObjectInfo:
        """Stat the file and read its sidecar."""
        return await asyncio.to_thread(self._head, key)

    async def list(
        self,
        prefix: str = "",
        *,
        limit: int = 1000,
        token: str | None = None,
        start_after: str | None = None,
    ) -> Page:
        """Walk the tree in key order; the token is the last key of the previous page."""
        validate_prefix(prefix)
        validate_limit(limit)
        after = token if token is not None else start_after
        return await asyncio.to_thread(self._list, prefix, limit, after)

    async def delete(self, key: str) -> None:
        """Remove the file and its sidecar, then any directories left empty."""
        validate_key(key)
        await asyncio.to_thread(self._delete, key)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under the prefix."""
        validate_prefix(prefix, allow_empty=False)

        def delete_all() -> int:
            keys = [key for key, _ in self._walk_prefix(prefix, None)]
            for key in keys:
                self._delete(key)
            return len(keys)

        return await asyncio.to_thread(delete_all)

    async def copy(self, src: str, dst: str) -> None:
        """Copy the file and its sidecar (through a temporary file, like every write)."""
        validate_key(dst)
        source = self.file_path(src)

        def copy() -> None:
            meta = self._read_meta(src)
            try:
                tmp, etag = self._copy_to_tmp(source)
            except _MISSING:
                raise NotFound(src) from None
            try:
                self._commit(dst, tmp, meta.get("content_type"), etag)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

        await asyncio.to_thread(copy)

    async def presign_get(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """A URL served by `routes.storage_routes` (GET and HEAD)."""
        query = self.signer.query(
            "GET", validate_key(key), expires_in=validate_expiry(expires_in), filename=filename
        )
        return f"{self.public_base_url}/storage/{quote(key)}?{query}"

    async def presign_put(
        self,
        key: str,
        *,
        expires_in: int,
        content_type: str | None = None,
        content_length: int | None = None,
    ) -> str:
        """A URL served by `routes.storage_routes`; the body is streamed to the object, and
        refused unless it has exactly `content_length` bytes when that is given."""
        query = self.signer.query(
            "PUT",
            validate_key(key),
            expires_in=validate_expiry(expires_in),
            content_type=content_type,
            content_length=content_length,
        )
        return f"{self.public_base_url}/storage/{quote(key)}?{query}"

    async def upload_file(
        self, key: str, path: Path, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Copy the file into the store."""
        validate_key(key)

        def upload() -> ObjectInfo:
            tmp, etag = self._copy_to_tmp(path)
            try:
                return self._commit(key, tmp, content_type, etag)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

        return await asyncio.to_thread(upload)

    async def download_file(self, key: str, path: Path) -> None:
        """Copy the object next to `path`, then rename it into place."""
        source = self.file_path(key)

        def download() -> None:
            try:
                src = source.open("rb")
            except _MISSING:
                raise NotFound(key) from None
            with src:
                fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
                try:
                    with os.fdopen(fd, "wb") as out:
                        while chunk := src.read(_COPY_CHUNK):
                            out.write(chunk)
                    os.replace(name, path)
                except BaseException:
                    Path(name).unlink(missing_ok=True)
                    raise

        await asyncio.to_thread(download)

    async def ping(self) -> None:
        """The root must still be a writable directory."""
        if not (self._objects.is_dir() and os.access(self._objects, os.W_OK)):
            raise StorageError(f"{self._objects} is not a writable directory")

    async def close(self) -> None:
        """Nothing to release: every file is closed after each call."""

    # Blocking helpers, run in worker threads.

    def _open_tmp(self) -> tuple[Path, BinaryIO]:
        fd, name = tempfile.mkstemp(dir=self._tmp)
        return Path(name), os.fdopen(fd, "wb")

    def _copy_to_tmp(self, source: Path) -> tuple[Path, str]:
        md5 = hashlib.md5()
        tmp, out = self._open_tmp()
        try:
            with out, source.open("rb") as src:
                while chunk := src.read(_COPY_CHUNK):
                    _write(out, md5, chunk)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, md5.hexdigest()

    def _meta_path(self, key: str) -> Path:
        return self._meta.joinpath(*key.split("/"))

    def _read_meta(self, key: str) -> dict[str, Any]:
        try:
            meta: dict[str, Any] = json.loads(self._meta_path(key).read_bytes())
        except (*_MISSING, ValueError):
            # A file placed by hand has no sidecar; it is still an object.
            return {}
        return meta

    def _commit(self, key: str, tmp: Path, content_type: str | None, etag: str) -> ObjectInfo:
        path = self.file_path(key)
        meta_path = self._meta_path(key)
        meta = {"content_type": content_type or DEFAULT_CONTENT_TYPE, "etag": etag}
        meta_tmp, meta_file = self._open_tmp()
        with meta_file:
            meta_file.write(json.dumps(meta).encode())
        try:
            # A concurrent delete may remove a parent directory it found empty between our
            # mkdir and rename; trying again is enough.
            for attempt in range(3):
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    meta_path.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(meta_tmp, meta_path)
                    os.replace(tmp, path)
                    break
                except FileNotFoundError:
                    if attempt == 2:
                        raise
                except (FileExistsError, NotADirectoryError, IsADirectoryError):
                    raise InvalidKey(
                        f"{key!r} conflicts with an existing object or prefix "
                        "(the local store cannot hold both 'a' and 'a/b')"
                    ) from None
        finally:
            meta_tmp.unlink(missing_ok=True)
        stat = path.stat()
        return ObjectInfo(key, stat.st_size, _mtime(stat), meta["content_type"], etag)

    def _head(self, key: str) -> ObjectInfo:
        path = self.file_path(key)
        try:
            stat = path.stat()
        except _MISSING:
            raise NotFound(key) from None
        if not path.is_file():
            raise NotFound(key)
        meta = self._read_meta(key)
        return ObjectInfo(
            key,
            stat.st_size,
            _mtime(stat),
            meta.get("content_type", DEFAULT_CONTENT_TYPE),
            meta.get("etag"),
        )

    def _list(self, prefix: str, limit: int, token: str | None) -> Page:
        objects: list[ObjectInfo] = []
        for key, stat in self._walk_prefix(prefix, token):
            if len(objects) == limit:
                return Page(objects, next_token=objects[-1].key)
            objects.append(ObjectInfo(key, stat.st_size, _mtime(stat), None, None))
        return Page(objects, next_token=None)

    def _walk_prefix(self, prefix: str, after: str | None) -> Iterator[tuple[str, os.stat_result]]:
        directory, _, name_prefix = prefix.rpartition("/")
        if not directory:
            return self._walk(self._objects, "", name_prefix, after)
        return self._walk(
            self._objects.joinpath(*directory.split("/")), directory + "/", name_prefix, after
        )

    def _walk(
        self, directory: Path, key_base: str, name_prefix: str, after: str | None
    ) -> Iterator[tuple[str, os.stat_result]]:
        """Yield (key, stat) in key order for keys after `after`.

        Sorting a directory's entries as `name/` for directories and `name` for files makes
        a depth-first walk come out in the byte order S3 lists in (`a-b` < `a/c` < `a0`).
        """
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        named = []
        for entry in entries:
            if not entry.name.startswith(name_prefix):
                continue
            if entry.is_dir(follow_symlinks=False):
                named.append((key_base + entry.name + "/", entry))
            elif entry.is_file(follow_symlinks=False):
                named.append((key_base + entry.name, entry))
        named.sort(key=lambda item: item[0])
        for key, entry in named:
            if key.endswith("/"):
                # Skip a subtree whose keys all sort before `after`.
                if after is None or after < key or after.startswith(key):
                    yield from self._walk(Path(entry.path), key, "", after)
            elif after is None or key > after:
                yield key, entry.stat(follow_symlinks=False)

    def _delete(self, key: str) -> None:
        for tree, path in (
            (self._objects, self.file_path(key)),
            (self._meta, self._meta_path(key)),
        ):
            try:
                path.unlink()
            except _MISSING:
                continue
            # Drop directories the delete left empty, as S3 prefixes vanish with their objects.
            parent = path.parent
            while parent != tree:
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent


def _write(file: BinaryIO, md5: Any, chunk: bytes) -> None:
    md5.update(chunk)
    file.write(chunk)


def _mtime(stat: os.stat_result) -> datetime:
    return datetime.fromtimestamp(stat.st_mtime, tz=UTC)
