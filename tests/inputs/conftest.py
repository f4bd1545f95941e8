"""Each test here runs against both stores: the session API (local store) and a second API
whose objects live on moto's S3 server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.api import Api
from tests.support.storage_stack import moto_server, s3_api


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 in server mode."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
async def s3_stack(
    api: Api, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """The API with its objects on S3."""
    async with s3_api(api, moto_endpoint, tmp_path_factory.mktemp("s3-api")) as client:
        yield client


@pytest.fixture(params=["local", "s3"])
def stack(request: pytest.FixtureRequest, api: Api) -> Api:
    """The API on each store in turn."""
    if request.param == "local":
        return api
    s3: Api = request.getfixturevalue("s3_stack")
    return s3
