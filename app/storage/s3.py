"""An object store on S3 or anything that speaks its API (MinIO, Ceph RGW, moto).

One aiobotocore client per store, opened on first use and kept until `close()`; its pool
is shared by every call. Each request is retried by botocore ("standard" mode: connection
errors, 5xx, throttling) up to `max_attempts`, so a transient failure of one part of a
multipart transfer costs that part only.

Writes of at least `multipart_threshold` bytes (files, bytes) or longer than one part
(streams) go up in `part_size` parts, `max_concurrency` at a time; a failed multipart upload
is aborted so it leaves no hidden parts behind. Copies and downloads above the threshold
are split the same way (UploadPartCopy, ranged GETs).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError

from app.storage.base import (
    DEFAULT_CONTENT_TYPE,
    NotFound,
    ObjectInfo,
    Page,
    StorageError,
    content_disposition,
    validate_expiry,
    validate_key,
    validate_limit,
    validate_prefix,
)

MiB = 1 << 20
#: S3 refuses parts smaller than this (except the last one).
MIN_PART_SIZE = 5 * MiB
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}


class S3ObjectStore:
    """`ObjectStore` over one S3 bucket."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        public_endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        path_style: bool = False,
        create_bucket: bool = False,
        multipart_threshold: int = 16 * MiB,
        part_size: int = 16 * MiB,
        max_concurrency: int = 8,
        max_attempts: int = 5,
        max_connections: int = 32,
    ) -> None:
        """`public_endpoint_url` is the endpoint presigned URLs name, when clients reach the
        store by another address than the API does (an in-cluster MinIO service, say).
        `path_style` is needed by most MinIO, Ceph and moto setups; `create_bucket` is for
        development and tests."""
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self.bucket = bucket
        self._endpoint_url = endpoint_url
        self._public_endpoint_url = public_endpoint_url
        self._region = region
        self._create_bucket = create_bucket
        self._threshold = max(multipart_threshold, 1)
        self._part_size = part_size
        self._max_concurrency = max_concurrency
        self._session = aioboto3.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            region_name=region,
        )
        self._config = AioConfig(
            s3={"addressing_style": "path" if path_style else "auto"},
            signature_version="s3v4",
            retries={"max_attempts": max_attempts, "mode": "standard"},
            max_pool_connections=max_connections,
            # Newer botocore adds CRC checksums to every upload by default; several
            # S3-compatible servers reject them, so only send them where S3 requires one.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._lock = asyncio.Lock()
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None
        self._presigner: Any = None

    async def put(
        self, key: str, data: bytes | AsyncIterator[bytes], *, content_type: str | None = None
    ) -> ObjectInfo:
        """PutObject, or a multipart upload for large data."""
        validate_key(key)
        if isinstance(data, bytes):
            parts = _slices(data, self._part_size if len(data) >= self._threshold else len(data))
        else:
            parts = _rechunk(data, self._part_size)
        return await self._write(key, parts, content_type or DEFAULT_CONTENT_TYPE)

    async def get(self, key: str) -> bytes:
        """GetObject, read whole."""
        response = await self._call(key, "get_object", Key=validate_key(key))
        body = response["Body"]
        async with body:
            data: bytes = await body.read()
        return data

    async def stream(self, key: str, *, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """GetObject, read in chunks as the consumer asks for them."""
        response = await self._call(key, "get_object", Key=validate_key(key))
        body = response["Body"]
        async with body:
            async for chunk in body.iter_chunks(chunk_size):
                yield chunk

    async def head(self, key: str) -> ObjectInfo:
        """HeadObject."""
        response = await self._call(key, "head_object", Key=validate_key(key))
        return ObjectInfo(
            key=key,
            size=response["ContentLength"],
            last_modified=response["LastModified"],
            content_type=response.get("ContentType"),
            etag=_etag(response.get("ETag")),
        )

    async def list(
        self,
        prefix: str = "",
        *,
        limit: int = 1000,
        token: str | None = None,
        start_after: str | None = None,
    ) -> Page:
        """ListObjectsV2; the token is S3's continuation token."""
        params: dict[str, Any] = {
            "Prefix": validate_prefix(prefix),
            "MaxKeys": validate_limit(limit),
        }
        if start_after is not None:
            params["StartAfter"] = start_after
        if token is not None:
            params["ContinuationToken"] = token
        response = await self._call(prefix, "list_objects_v2", **params)
        objects = [
            ObjectInfo(
                key=item["Key"],
                size=item["Size"],
                last_modified=item["LastModified"],
                content_type=None,
                etag=_etag(item.get("ETag")),
            )
            for item in response.get("Contents", [])
        ]
        next_token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
        return Page(objects, next_token)

    async def delete(self, key: str) -> None:
        """DeleteObject (S3 answers success for a missing key)."""
        await self._call(key, "delete_object", Key=validate_key(key))

    async def delete_prefix(self, prefix: str) -> int:
        """List the first page and DeleteObjects it, until nothing is left."""
        validate_prefix(prefix, allow_empty=False)
        deleted = 0
        while page := (await self.list(prefix)).objects:
            response = await self._call(
                prefix,
                "delete_objects",
                Delete={"Objects": [{"Key": item.key} for item in page], "Quiet": True},
            )
            if errors := response.get("Errors"):
                raise StorageError(f"could not delete {len(errors)} objects: {errors[0]}")
            deleted += len(page)
        return deleted

    async def copy(self, src: str, dst: str) -> None:
        """CopyObject, or UploadPartCopy in parallel ranges for a large object."""
        validate_key(dst)
        source = await self.head(src)
        copy_source = {"Bucket": self.bucket, "Key": src}
        if source.size < self._threshold:
            await self._call(src, "copy_object", Key=dst, CopySource=copy_source)
            return

        async def ranges() -> AsyncIterator[dict[str, Any]]:
            for start in range(0, source.size, self._part_size):
                end = min(start + self._part_size, source.size) - 1
                yield {"CopySource": copy_source, "CopySourceRange": f"bytes={start}-{end}"}

        await self._multipart(dst, source.content_type or DEFAULT_CONTENT_TYPE, ranges())

    async def presign_get(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """A SigV4 presigned GetObject URL (on the public endpoint when configured)."""
        params = {"Bucket": self.bucket, "Key": validate_key(key)}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        presigner = await self._get_presigner()
        url: str = await presigner.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=validate_expiry(expires_in)
        )
        return url

    async def presign_put(
        self,
        key: str,
        *,
        expires_in: int,
        content_type: str | None = None,
        content_length: int | None = None,
    ) -> str:
        """A SigV4 presigned PutObject URL; a signed content type, and a signed length
        (`content-length` among the signed headers), must be sent as they are: S3 refuses a
        request whose headers differ from the signed ones."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": validate_key(key)}
        if content_type is not None:
            params["ContentType"] = content_type
        if content_length is not None:
            params["ContentLength"] = content_length
        presigner = await self._get_presigner()
        url: str = await presigner.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=validate_expiry(expires_in)
        )
        return url

    @property
    def part_size(self) -> int:
        """Size of each part of a multipart upload (the last one may be shorter)."""
        return self._part_size

    def multipart_for(self, size: int) -> bool:
        """Whether an object of `size` bytes goes up in parts."""
        return size >= self._threshold

    async def start_multipart(self, key: str, *, content_type: str | None = None) -> str:
        """Begin a multipart upload whose parts a client sends through presigned URLs."""
        created = await self._call(
            key,
            "create_multipart_upload",
            Key=validate_key(key),
            ContentType=content_type or DEFAULT_CONTENT_TYPE,
        )
        upload_id: str = created["UploadId"]
        return upload_id

    async def presign_part(self, key: str, upload_id: str, number: int, *, expires_in: int) -> str:
        """A URL anyone may PUT part `number` (from 1) of the upload to."""
        presigner = await self._get_presigner()
        url: str = await presigner.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.bucket,
                "Key": validate_key(key),
                "UploadId": upload_id,
                "PartNumber": number,
            },
            ExpiresIn=validate_expiry(expires_in),
        )
        return url

    async def complete_multipart(
        self, key: str, upload_id: str, etags: Sequence[str]
    ) -> str | None:
        """Join the parts (ETags in part order) into the object; returns its ETag."""
        response = await self._call(
            key,
            "complete_multipart_upload",
            Key=validate_key(key),
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [
                    {"ETag": etag, "PartNumber": number}
                    for number, etag in enumerate(etags, start=1)
                ]
            },
        )
        return _etag(response.get("ETag"))

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an unfinished upload and its parts."""
        await self._call(key, "abort_multipart_upload", Key=validate_key(key), UploadId=upload_id)

    async def upload_file(
        self, key: str, path: Path, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Read the file part by part (only `max_concurrency` parts in memory at once)."""
        validate_key(key)
        size = (await asyncio.to_thread(path.stat)).st_size
        return await self._write(
            key,
            _read_file(path, self._part_size if size >= self._threshold else max(size, 1)),
            content_type or DEFAULT_CONTENT_TYPE,
        )

    async def download_file(self, key: str, path: Path) -> None:
        """Ranged GETs in parallel into a temporary file next to `path`, then rename it."""
        info = await self.head(key)
        # Every range must come from the version of the object that was measured.
        same_version = {"IfMatch": f'"{info.etag}"'} if info.etag else {}
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            slots = asyncio.Semaphore(self._max_concurrency)

            async def fetch(start: int, end: int) -> None:
                async with slots:
                    response = await self._call(
                        key, "get_object", Key=key, Range=f"bytes={start}-{end}", **same_version
                    )
                    offset = start
                    body = response["Body"]
                    async with body:
                        async for chunk in body.iter_chunks(MiB):
                            await asyncio.to_thread(_pwrite_all, fd, chunk, offset)
                            offset += len(chunk)

            if info.size:
                size = self._part_size if info.size >= self._threshold else info.size
                async with asyncio.TaskGroup() as group:
                    for start in range(0, info.size, size):
                        group.create_task(fetch(start, min(start + size, info.size) - 1))
            os.close(fd)
            fd = -1
            os.replace(name, path)
        except BaseExceptionGroup as group_error:
            raise _first(group_error) from None
        finally:
            if fd != -1:
                os.close(fd)
            Path(name).unlink(missing_ok=True)

    async def ping(self) -> None:
        """HeadBucket."""
        await self._call("", "head_bucket")

    async def close(self) -> None:
        """Close the client and its connection pool."""
        async with self._lock:
            if self._stack is not None:
                await self._stack.aclose()
            self._stack = self._client = self._presigner = None

    async def _get_client(self) -> Any:
        async with self._lock:
            if self._client is None:
                stack = contextlib.AsyncExitStack()
                try:
                    client = await stack.enter_async_context(self._new_client(self._endpoint_url))
                    if self._create_bucket:
                        await self._ensure_bucket(client)
                except BaseException:
                    await stack.aclose()
                    raise
                self._stack, self._client = stack, client
            return self._client

    async def _get_presigner(self) -> Any:
        client = await self._get_client()
        if self._public_endpoint_url is None:
            return client
        async with self._lock:
            if self._presigner is None:
                assert self._stack is not None
                self._presigner = await self._stack.enter_async_context(
                    self._new_client(self._public_endpoint_url)
                )
            return self._presigner

    def _new_client(self, endpoint_url: str | None) -> Any:
        return self._session.client(
            "s3", endpoint_url=endpoint_url, region_name=self._region, config=self._config
        )

    async def _ensure_bucket(self, client: Any) -> None:
        try:
            await client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in _NOT_FOUND_CODES | {"NoSuchBucket"}:
                raise
            params: dict[str, Any] = {"Bucket": self.bucket}
            if self._region != "us-east-1":
                params["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                await client.create_bucket(**params)

    async def _call(self, key: str, operation: str, **params: Any) -> Any:
        """Call `operation` on the bucket, turning S3's not-found answers into `NotFound`."""
        client = await self._get_client()
        try:
            return await getattr(client, operation)(Bucket=self.bucket, **params)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND_CODES:
                raise NotFound(key) from None
            raise

    async def _write(self, key: str, parts: AsyncIterator[bytes], content_type: str) -> ObjectInfo:
        """PutObject when `parts` holds one part (or none), else a multipart upload."""
        first = await anext(parts, b"")
        second = await anext(parts, None)
        if second is None:
            response = await self._call(
                key, "put_object", Key=key, Body=first, ContentType=content_type
            )
            return _written(key, len(first), content_type, response)

        size = len(first) + len(second)

        async def bodies() -> AsyncIterator[dict[str, Any]]:
            nonlocal size
            yield {"Body": first}
            yield {"Body": second}
            async for part in parts:
                size += len(part)
                yield {"Body": part}

        response = await self._multipart(key, content_type, bodies())
        return _written(key, size, content_type, response)

    async def _multipart(
        self, key: str, content_type: str, parts: AsyncIterator[dict[str, Any]]
    ) -> dict[str, Any]:
        """Send each part (UploadPart with a Body, or UploadPartCopy), `max_concurrency` at once.

        The next part is only produced once a slot is free, so memory stays bounded by
        `max_concurrency * part_size` whatever the object's size.
        """
        client = await self._get_client()
        created = await self._call(
            key, "create_multipart_upload", Key=key, ContentType=content_type
        )
        upload = {"Bucket": self.bucket, "Key": key, "UploadId": created["UploadId"]}
        slots = asyncio.Semaphore(self._max_concurrency)
        etags: dict[int, str] = {}

        async def send(number: int, params: dict[str, Any]) -> None:
            try:
                if "Body" in params:
                    response = await client.upload_part(**upload, PartNumber=number, **params)
                    etags[number] = response["ETag"]
                else:
                    response = await client.upload_part_copy(**upload, PartNumber=number, **params)
                    etags[number] = response["CopyPartResult"]["ETag"]
            finally:
                slots.release()

        try:
            async with asyncio.TaskGroup() as group:
                number = 0
                while True:
                    await slots.acquire()
                    params = await anext(parts, None)
                    if params is None:
                        slots.release()
                        break
                    number += 1
                    group.create_task(send(number, params))
            completed: dict[str, Any] = await client.complete_multipart_upload(
                **upload,
                MultipartUpload={
                    "Parts": [{"ETag": etags[n], "PartNumber": n} for n in sorted(etags)]
                },
            )
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await asyncio.shield(client.abort_multipart_upload(**upload))
            if isinstance(exc, BaseExceptionGroup):
                raise _first(exc) from None
            raise
        return completed


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else None


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first real error of a TaskGroup, so callers can catch `NotFound` and the like."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def _written(key: str, size: int, content_type: str, response: dict[str, Any]) -> ObjectInfo:
    """Describe a fresh write from its response; the server's Date stands for Last-Modified."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    last_modified = parsedate_to_datetime(date) if date else datetime.now(UTC)
    return ObjectInfo(key, size, last_modified, content_type, _etag(response.get("ETag")))


async def _slices(data: bytes, size: int) -> AsyncIterator[bytes]:
    """`data` in `size`-byte parts, each copied only when its turn comes."""
    for start in range(0, len(data), max(size, 1)):
        yield data[start : start + size]


async def _rechunk(data: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """Regroup a stream of arbitrary chunks into `size`-byte parts (the last may be shorter)."""
    buffer = bytearray()
    async for chunk in data:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


async def _read_file(path: Path, size: int) -> AsyncIterator[bytes]:
    file = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(file.read, size):
            yield chunk
    finally:
        file.close()


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
