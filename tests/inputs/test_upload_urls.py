"""Upload URLs are good for the declared file only: its size and content type, while its input is
still being uploaded; and each user's inputs stay within a storage quota.

moto's S3 server checks no presigned signature at all (a forged one is accepted), so on S3 these
tests check what the URL signs (`content-length` and `content-type` among its signed headers,
which S3 itself enforces) and what the API does about the rest: finalizing drops undeclared
objects and refuses wrong sizes, deleting drops the prefix. The local store is checked for the
refusals themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import httpx

from app.db.storage_models import Input
from app.sidecar.credentials import input_prefix, upload_prefix
from app.storage.s3 import S3ObjectStore
from tests.inputs.test_inputs import CREATE_INPUT, DELETE, FINALIZE
from tests.support.api import Api
from tests.support.graphql import node_uuid

MiB = 1 << 20


async def declare(api: Api, name: str, size: int = 5, content_type: str = "text/plain") -> dict:
    files = [{"path": "a.txt", "size": size, "contentType": content_type}]
    name = f"{name}-{uuid.uuid4().hex[:8]}"
    payload = await api.gql(CREATE_INPUT, {"input": {"name": name, "files": files}})
    created: dict = payload["createInput"]
    assert created["userErrors"] == [], created
    return created


async def put(url: str, body: bytes, content_type: str = "text/plain") -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.put(url, content=body, headers={"Content-Type": content_type})


def signed_headers(url: str) -> set[str]:
    return set(parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";"))


async def test_an_upload_url_is_signed_for_the_declared_size_and_type(stack: Api) -> None:
    created = await declare(stack, "sized")
    url = created["uploads"][0]["url"]
    if isinstance(stack.platform.store, S3ObjectStore):
        assert {"content-length", "content-type"} <= signed_headers(url)
        return
    for body, content_type in [
        (b"x" * (50 * MiB), "text/plain"),  # 50 MiB for a 5-byte file
        (b"1234", "text/plain"),
        (b"123456", "text/plain"),
        (b"12345", "image/png"),
    ]:
        refused = await put(url, body, content_type)
        assert refused.status_code in (400, 403), refused.text
    input_id = node_uuid(created["input"]["id"])
    assert not (await stack.platform.store.list(upload_prefix(input_id))).objects
    assert (await put(url, b"12345")).status_code == 200


async def test_a_chunked_body_longer_than_signed_is_cut_off(api: Api) -> None:
    url = (await declare(api, "chunked"))["uploads"][0]["url"]

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(64):
            yield b"x" * MiB

    async with httpx.AsyncClient(timeout=60) as http:
        # No Content-Length: the signed one is missing, so it is refused before any byte.
        response = await http.put(url, content=chunks(), headers={"Content-Type": "text/plain"})
    assert response.status_code == 400


async def test_finalized_and_deleted_inputs_take_no_more_writes(stack: Api) -> None:
    created = await declare(stack, "closed")
    url, input_id = created["uploads"][0]["url"], created["input"]["id"]
    files, uploads = input_prefix(node_uuid(input_id)), upload_prefix(node_uuid(input_id))
    store = stack.platform.store
    s3 = isinstance(store, S3ObjectStore)
    assert (await put(url, b"12345")).status_code == 200
    if s3:  # an object the URL of another file could not make
        await store.put(uploads + "extra.bin", b"stray")
    final = (await stack.gql(FINALIZE, {"id": input_id}))["finalizeInput"]
    assert final["userErrors"] == [] and final["input"]["status"] == "READY"
    assert [o.key for o in (await store.list(files)).objects] == [files + "a.txt"]
    assert not (await store.list(uploads)).objects

    # S3 still takes the write (the URL has not expired), but not where runs read.
    rewrite = await put(url, b"54321")
    assert rewrite.status_code == (200 if s3 else 403)
    assert await store.get(files + "a.txt") == b"12345"
    assert await stack.platform.janitor.sweep_uploads() == (1 if s3 else 0)
    assert not (await store.list(uploads)).objects

    assert (await stack.gql(DELETE, {"id": input_id}))["deleteInput"]["userErrors"] == []
    recreate = await put(url, b"12345")
    assert recreate.status_code == (200 if s3 else 403)
    assert await stack.platform.janitor.sweep_uploads() == (1 if s3 else 0)
    assert not (await store.list(uploads)).objects
    assert not (await store.list(files)).objects


async def test_finalize_refuses_a_file_of_another_size(stack: Api) -> None:
    created = await declare(stack, "wrong-size")
    input_id = created["input"]["id"]
    key = upload_prefix(node_uuid(input_id)) + "a.txt"
    await stack.platform.store.put(key, b"x" * 50)  # as an unchecked PUT to S3 could
    final = (await stack.gql(FINALIZE, {"id": input_id}))["finalizeInput"]
    assert [e["code"] for e in final["userErrors"]] == ["INVALID"]
    assert final["input"]["status"] == "PENDING"


@contextmanager
def quota(api: Api, limit: int | None) -> Iterator[None]:
    settings = api.platform.settings
    previous = settings.storage_quota_bytes_per_user
    settings.storage_quota_bytes_per_user = limit
    try:
        yield
    finally:
        settings.storage_quota_bytes_per_user = previous


async def test_create_input_is_refused_past_the_storage_quota(api: Api) -> None:
    user = await api.as_new_user()
    with quota(user, 1000):
        await declare(user, "first", size=600)
        rows = await Input.all().count()
        files = [{"path": "b.bin", "size": 401}]
        body = await user.gql(CREATE_INPUT, {"input": {"name": "second", "files": files}})
        (error,) = body["createInput"]["userErrors"]
        assert (error["field"], error["code"]) == ("files", "QUOTA_EXCEEDED")
        assert "1000" in error["message"]
        assert body["createInput"]["input"] is None and await Input.all().count() == rows
        await declare(user, "third", size=400)  # exactly up to the quota
