"""Settings to store: the backend the configuration names is the one the app gets."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from pydantic import SecretStr

from app.storage.factory import StorageSettings, build_store
from app.storage.local import LocalObjectStore
from app.storage.s3 import S3ObjectStore


async def test_local_backend_is_the_default(tmp_path: Path) -> None:
    settings = StorageSettings(local_root=tmp_path, signing_secret=SecretStr("x" * 32))
    store = build_store(settings, public_base_url="http://api.example/")

    assert isinstance(store, LocalObjectStore)
    await store.put("a/b", b"x")
    assert (tmp_path / "objects" / "a" / "b").read_bytes() == b"x"
    url = await store.presign_get("a/b", expires_in=60)
    assert url.startswith("http://api.example/storage/a/b?")


async def test_local_backend_without_a_secret_still_signs(tmp_path: Path) -> None:
    store = build_store(StorageSettings(local_root=tmp_path), public_base_url="http://api")
    assert "sig=" in await store.presign_put("k", expires_in=60)


async def test_s3_backend(moto_endpoint: str) -> None:
    settings = StorageSettings(
        backend="s3",
        s3_bucket=f"factory-{uuid.uuid4().hex[:8]}",
        s3_endpoint_url=moto_endpoint,
        s3_public_endpoint_url="http://storage.example",
        s3_access_key_id=SecretStr("testing"),
        s3_secret_access_key=SecretStr("testing"),
        s3_path_style=True,
        s3_create_bucket=True,
    )
    store = build_store(settings, public_base_url="http://api")
    try:
        assert isinstance(store, S3ObjectStore)
        await store.put("k", b"value")
        assert await store.get("k") == b"value"
        # Presigned URLs name the public endpoint; the API itself uses the internal one.
        url = await store.presign_get("k", expires_in=60)
        assert url.startswith(f"http://storage.example/{settings.s3_bucket}/k?")
        async with httpx.AsyncClient() as http:
            response = await http.get(url.replace("http://storage.example", moto_endpoint))
        assert response.content == b"value"
    finally:
        await store.close()
