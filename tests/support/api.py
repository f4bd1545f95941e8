"""What API tests hold: a running API, and a counter of the SQL it runs."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.services.platform import Platform
from tests.support.graphql import GraphQLHTTP, Subscription, subscribe


@dataclass
class Api:
    """A running API: where to reach it, and its insides for assertions."""

    backend: str
    base_url: str
    ws_url: str
    http: GraphQLHTTP
    platform: Platform
    kubeconfig: Path
    namespace: str
    cluster: Any

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Data of an operation that must succeed."""
        return await self.http.data(query, variables)

    def subscribe(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> AbstractAsyncContextManager[Subscription]:
        """A graphql-transport-ws subscription to this API (`async with api.subscribe(...)`)."""
        return subscribe(self.ws_url, query, variables)


class QueryCounter(logging.Handler):
    """Counts the SQL statements Tortoise runs, except those of the background informers."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        task = asyncio.current_task()
        if task is not None and task.get_name().startswith("informer-"):
            return
        text = record.getMessage().lstrip().upper()
        if text.startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            self.statements.append(record.getMessage())
