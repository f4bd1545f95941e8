"""Build the configured object store from settings values.

`StorageSettings` is a plain pydantic model, meant to be nested in the app's
pydantic-settings class (e.g. `storage: StorageSettings = StorageSettings()` with
`env_nested_delimiter="__"` gives `WALKAI_STORAGE__BACKEND=s3` and so on).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from app.storage.base import ObjectStore
from app.storage.local import LocalObjectStore
from app.storage.s3 import MIN_PART_SIZE, S3ObjectStore

MiB = 1 << 20


class StorageSettings(BaseModel):
    """Which store to use and how to reach it."""

    backend: Literal["local", "s3"] = "local"

    local_root: Path = Path(".walkai/storage")
    #: Signs the local store's URLs. Replicas must share it; without one a random secret is
    #: drawn at start, so URLs handed out before a restart stop working (fine for `dev`).
    signing_secret: SecretStr | None = None

    s3_bucket: str = "walkai"
    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    #: Without keys, the usual AWS chain applies (env, profile, IRSA, instance role).
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_session_token: SecretStr | None = None
    s3_path_style: bool = False
    s3_create_bucket: bool = False

    multipart_threshold: int = Field(default=16 * MiB, ge=1)
    part_size: int = Field(default=16 * MiB, ge=MIN_PART_SIZE)
    max_concurrency: int = Field(default=8, ge=1)
    max_attempts: int = Field(default=5, ge=1)


def build_store(settings: StorageSettings, *, public_base_url: str) -> ObjectStore:
    """The store `settings` describe; `public_base_url` is the API's own address as clients
    see it (the local store's presigned URLs point there)."""
    if settings.backend == "local":
        secret = (
            settings.signing_secret.get_secret_value().encode()
            if settings.signing_secret is not None
            else secrets.token_bytes(32)
        )
        return LocalObjectStore(settings.local_root, public_base_url=public_base_url, secret=secret)
    return S3ObjectStore(
        settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url,
        public_endpoint_url=settings.s3_public_endpoint_url,
        region=settings.s3_region,
        access_key_id=_reveal(settings.s3_access_key_id),
        secret_access_key=_reveal(settings.s3_secret_access_key),
        session_token=_reveal(settings.s3_session_token),
        path_style=settings.s3_path_style,
        create_bucket=settings.s3_create_bucket,
        multipart_threshold=settings.multipart_threshold,
        part_size=settings.part_size,
        max_concurrency=settings.max_concurrency,
        max_attempts=settings.max_attempts,
    )


def _reveal(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
