"""One contract, two stores: every test here runs against the local store and against S3."""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from app.storage.base import InvalidKey, NotFound, ObjectStore
from app.storage.local import LocalObjectStore
from app.storage.s3 import MiB, S3ObjectStore


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def all_keys(store: ObjectStore, prefix: str, limit: int) -> list[list[str]]:
    """Every page of a listing, as lists of keys."""
    pages, token = [], None
    while True:
        page = await store.list(prefix, limit=limit, token=token)
        pages.append([item.key for item in page.objects])
        if (token := page.next_token) is None:
            return pages


def only_local(store: ObjectStore) -> LocalObjectStore:
    if not isinstance(store, LocalObjectStore):
        pytest.skip("moto does not verify presigned URL signatures or expiry")
    return store


async def test_put_get_head_round_trip(store: ObjectStore) -> None:
    written = await store.put("jobs/1/config.json", b'{"a": 1}', content_type="application/json")

    assert await store.get("jobs/1/config.json") == b'{"a": 1}'
    info = await store.head("jobs/1/config.json")
    assert (info.key, info.size, info.content_type) == ("jobs/1/config.json", 8, "application/json")
    assert info.etag == written.etag == hashlib.md5(b'{"a": 1}').hexdigest()
    assert abs(info.last_modified.timestamp() - time.time()) < 60


async def test_content_type_defaults_to_octet_stream(store: ObjectStore) -> None:
    await store.put("blob", b"x")
    assert (await store.head("blob")).content_type == "application/octet-stream"


async def test_put_replaces_an_object(store: ObjectStore) -> None:
    await store.put("k", b"first")
    await store.put("k", b"second")
    assert await store.get("k") == b"second"


async def test_empty_object(store: ObjectStore) -> None:
    await store.put("empty", b"")
    await store.put("empty-stream", chunks(b"", 1))

    assert await store.get("empty") == b""
    assert await collect(store.stream("empty-stream")) == b""
    assert (await store.head("empty-stream")).size == 0


async def test_stream_round_trip_of_a_few_megabytes(store: ObjectStore) -> None:
    data = random.randbytes(3 * MiB + 123)
    written = await store.put("big", chunks(data, 64 * 1024))

    assert written.size == len(data)
    received = [chunk async for chunk in store.stream("big", chunk_size=256 * 1024)]
    assert b"".join(received) == data
    assert len(received) > 1


async def test_stream_longer_than_a_part_is_stored_whole(store: ObjectStore) -> None:
    data = random.randbytes(11 * MiB)
    await store.put("parts", chunks(data, 1 * MiB))
    assert await store.get("parts") == data


async def test_a_failing_stream_leaves_nothing_behind(store: ObjectStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield random.randbytes(6 * MiB)
        yield random.randbytes(6 * MiB)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.put("half", broken())

    with pytest.raises(NotFound):
        await store.head("half")
    if isinstance(store, S3ObjectStore):
        uploads = await store._call("", "list_multipart_uploads")
        assert uploads.get("Uploads", []) == []
    else:
        assert isinstance(store, LocalObjectStore)
        assert list((store.root / "tmp").iterdir()) == []


async def test_list_is_sorted_paginated_and_filtered_by_prefix(store: ObjectStore) -> None:
    inside = [f"p/{n:02d}" for n in range(20)] + ["p/sub/a", "p/sub/b", "p/z"]
    around = ["p-x", "p0", "q/p/1", "o"]
    for key in random.sample(inside + around, len(inside + around)):
        await store.put(key, key.encode())

    pages = await all_keys(store, "p/", limit=7)

    assert [len(page) for page in pages] == [7, 7, 7, 2]
    assert [key for page in pages for key in page] == sorted(inside)
    # Byte order, as S3 lists: "-" < "/" < "0".
    assert [key for page in await all_keys(store, "p", 1000) for key in page] == [
        "p-x",
        *sorted(inside),
        "p0",
    ]
    assert [key for page in await all_keys(store, "p/s", 1000) for key in page] == [
        "p/sub/a",
        "p/sub/b",
    ]


async def test_list_reports_sizes(store: ObjectStore) -> None:
    await store.put("d/a", b"12345")
    page = await store.list("d/")
    assert [(item.key, item.size) for item in page.objects] == [("d/a", 5)]
    assert page.next_token is None


async def test_list_of_an_unknown_prefix_is_empty(store: ObjectStore) -> None:
    page = await store.list("nothing/here/")
    assert (page.objects, page.next_token) == ([], None)


async def test_missing_object_raises_not_found(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        await store.get("missing")
    with pytest.raises(NotFound):
        await store.head("missing")
    with pytest.raises(KeyError):
        await collect(store.stream("missing"))
    with pytest.raises(NotFound):
        await store.copy("missing", "elsewhere")
    with pytest.raises(NotFound):
        await store.download_file("missing", tmp_path / "never-written")
    assert not [path for path in tmp_path.iterdir() if "never-written" in path.name]


async def test_delete_is_idempotent(store: ObjectStore) -> None:
    await store.put("gone/soon", b"x")
    await store.delete("gone/soon")
    await store.delete("gone/soon")
    await store.delete("never/existed")

    with pytest.raises(NotFound):
        await store.head("gone/soon")
    assert (await store.list("gone/")).objects == []


async def test_delete_prefix_deletes_only_under_the_prefix(store: ObjectStore) -> None:
    for key in ["runs/1/a", "runs/1/b/c", "runs/1/b/d", "runs/10/a", "runs/2/a"]:
        await store.put(key, b"x")

    assert await store.delete_prefix("runs/1/") == 3
    assert await store.delete_prefix("runs/1/") == 0

    remaining = await store.list("runs/")
    assert [item.key for item in remaining.objects] == ["runs/10/a", "runs/2/a"]
    with pytest.raises(InvalidKey):
        await store.delete_prefix("")
    assert len((await store.list("")).objects) == 2


async def test_copy_keeps_bytes_and_content_type(store: ObjectStore) -> None:
    await store.put("runs/1/outputs/model.bin", b"weights", content_type="application/x-model")
    await store.copy("runs/1/outputs/model.bin", "inputs/7/model.bin")

    assert await store.get("inputs/7/model.bin") == b"weights"
    assert (await store.head("inputs/7/model.bin")).content_type == "application/x-model"
    assert await store.get("runs/1/outputs/model.bin") == b"weights"


async def test_upload_copy_and_download_a_large_file(store: ObjectStore, tmp_path: Path) -> None:
    data = random.randbytes(20 * MiB)
    tmp_path = tmp_path / "files"
    tmp_path.mkdir()
    source = tmp_path / "source.bin"
    source.write_bytes(data)

    info = await store.upload_file("large/file.bin", source, content_type="application/x-data")
    await store.copy("large/file.bin", "large/copy.bin")
    target = tmp_path / "target.bin"
    target.write_bytes(b"old content is replaced")
    await store.download_file("large/copy.bin", target)

    assert info.size == len(data)
    assert (await store.head("large/copy.bin")).content_type == "application/x-data"
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.bin", "target.bin"]
    if isinstance(store, S3ObjectStore):
        # 20 MiB in 5 MiB parts: S3 marks a multipart object's ETag with its part count.
        assert info.etag is not None and info.etag.endswith("-4")


async def test_upload_and_download_an_empty_file(store: ObjectStore, tmp_path: Path) -> None:
    (tmp_path / "empty").touch()
    await store.upload_file("e", tmp_path / "empty")
    await store.download_file("e", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == b""


async def test_presigned_get_returns_the_bytes(store: ObjectStore) -> None:
    data = random.randbytes(300_000)
    await store.put("share/report.pdf", data, content_type="application/pdf")

    url = await store.presign_get("share/report.pdf", expires_in=60, filename="report.pdf")
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
        ranged = await http.get(url, headers={"Range": "bytes=10-19"})

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'attachment; filename="report.pdf"'
    assert ranged.status_code == 206
    assert ranged.content == data[10:20]


async def test_presigned_get_of_a_missing_object_is_404(store: ObjectStore) -> None:
    url = await store.presign_get("not/there", expires_in=60)
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 404


async def test_presigned_get_names_a_unicode_filename(store: ObjectStore) -> None:
    await store.put("u", b"x")
    url = await store.presign_get("u", expires_in=60, filename="résumé 1.txt")
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.headers["content-disposition"] == (
        "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%201.txt"
    )


async def test_presigned_put_uploads(store: ObjectStore) -> None:
    data = random.randbytes(2 * MiB)
    url = await store.presign_put("inputs/9/data.csv", expires_in=60, content_type="text/csv")
    async with httpx.AsyncClient() as http:
        response = await http.put(url, content=data, headers={"Content-Type": "text/csv"})

    assert response.status_code == 200
    assert await store.get("inputs/9/data.csv") == data
    assert (await store.head("inputs/9/data.csv")).content_type == "text/csv"


async def test_key_with_url_special_characters(store: ObjectStore) -> None:
    key = "odd/a b?c#d%e&f+g=h é.txt"
    await store.put(key, b"odd")
    url = await store.presign_get(key, expires_in=60)
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.content == b"odd"
    assert [item.key for item in (await store.list("odd/")).objects] == [key]


async def test_tampered_presigned_urls_are_refused(store: ObjectStore) -> None:
    local = only_local(store)
    await local.put("secret/a", b"a")
    await local.put("secret/b", b"b")
    url = await local.presign_get("secret/a", expires_in=60)
    put_url = await local.presign_put("secret/c", expires_in=60, content_type="text/plain")
    signature = httpx.URL(url).params["sig"]
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]

    async with httpx.AsyncClient() as http:
        bad_signature = await http.get(url.replace(signature, flipped))
        other_key = await http.get(url.replace("secret/a", "secret/b"))
        longer = await http.get(url.replace("expires=", "expires=9"))
        as_put = await http.put(url, content=b"overwrite")
        wrong_type = await http.put(put_url, content=b"x", headers={"Content-Type": "text/html"})
        unsigned = await http.get(url.split("?")[0])

    for response in (bad_signature, other_key, longer, as_put, wrong_type, unsigned):
        assert response.status_code == 403
    assert await local.get("secret/a") == b"a"
    with pytest.raises(NotFound):
        await local.head("secret/c")


async def test_expired_presigned_urls_are_refused(
    store: ObjectStore, local_store_factory: Callable[..., LocalObjectStore], tmp_path: Path
) -> None:
    only_local(store)
    # Signed by a replica whose clock runs an hour behind: expired when the server checks.
    late = local_store_factory(tmp_path / "store", clock=lambda: time.time() - 3600)
    await late.put("old", b"x")
    async with httpx.AsyncClient() as http:
        get = await http.get(await late.presign_get("old", expires_in=60))
        put = await http.put(await late.presign_put("old", expires_in=60), content=b"y")
    assert (get.status_code, put.status_code) == (403, 403)
    assert "expired" in get.text


async def test_a_presigned_url_lives_at_least_as_long_as_asked(
    store: ObjectStore, local_store_factory: Callable[..., LocalObjectStore], tmp_path: Path
) -> None:
    only_local(store)
    # Signed at the very end of a second (by a replica a few milliseconds behind the server,
    # which is just past the second): a one-second URL must still work now, not expire at the
    # next whole second.
    edge = local_store_factory(tmp_path / "store", clock=lambda: math.floor(time.time()) - 0.001)
    await edge.put("brief", b"x")
    await asyncio.sleep(1.01 - time.time() % 1)
    async with httpx.AsyncClient() as http:
        get = await http.get(await edge.presign_get("brief", expires_in=1))
    assert (get.status_code, get.content) == (200, b"x")


@pytest.mark.parametrize(
    "key", ["../x", "a/../../x", "/etc/passwd", "a//b", "a/./b", "", "a/", ".", "a\\..\\b", "a\nb"]
)
async def test_keys_that_could_escape_are_rejected(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        await store.put(key, b"x")
    with pytest.raises(InvalidKey):
        await store.get(key)
    with pytest.raises(InvalidKey):
        await store.presign_put(key, expires_in=60)
    with pytest.raises(InvalidKey):
        await store.delete_prefix(key + "/")


async def test_local_store_never_writes_outside_its_root(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "root", public_base_url="http://x", secret=b"s" * 16)
    for key in ["../outside", "a/../../outside", "/tmp/outside"]:
        with pytest.raises(InvalidKey):
            await store.put(key, b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]


async def test_local_store_cannot_hold_a_key_and_a_prefix_of_the_same_name(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path, public_base_url="http://x", secret=b"s" * 16)
    await store.put("a/b", b"x")
    with pytest.raises(InvalidKey):
        await store.put("a", b"y")
    await store.put("c", b"x")
    with pytest.raises(InvalidKey):
        await store.put("c/d", b"y")

    # Once "a/b" is gone, "a" is free again.
    await store.delete("a/b")
    await store.put("a", b"y")
    assert await store.get("a") == b"y"


async def test_ping(store: ObjectStore) -> None:
    await store.ping()


async def test_s3_ping_fails_without_the_bucket(moto_endpoint: str) -> None:
    store = S3ObjectStore(
        "no-such-bucket-here",
        endpoint_url=moto_endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        path_style=True,
        max_attempts=1,
    )
    try:
        with pytest.raises(NotFound):
            await store.ping()
    finally:
        await store.close()
