"""What API tests hold: a running API, and a counter of the SQL it runs."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.auth.sessions import issue_access_token
from app.db.auth_models import Role, Team, User
from app.observability.logs import REQUEST_ID
from app.services.platform import Platform
from app.services.users import create_user
from tests.support.graphql import GraphQLHTTP, Subscription, init_payload, subscribe


async def new_account(role: str = "MEMBER", email: str | None = None) -> tuple[User, str]:
    """A user (a fresh email unless given) and a personal access token for it."""
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    user = await create_user(email, role=Role(role), name=email.split("@")[0])
    _, token = await issue_access_token(user, "tests")
    return user, token


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
    # The credential every request of this client sends (None: anonymous), and its user.
    token: str | None = None
    user: User | None = None
    # Every client made from this one, closed together by the fixture.
    clients: list[GraphQLHTTP] = field(default_factory=list)

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Data of an operation that must succeed."""
        return await self.http.data(query, variables)

    def subscribe(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> AbstractAsyncContextManager[Subscription]:
        """A graphql-transport-ws subscription to this API (`async with api.subscribe(...)`)."""
        return subscribe(self.ws_url, query, variables, token=self.token)

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers that authenticate as this client's user (for other GraphQL clients)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @property
    def connection_params(self) -> dict[str, Any]:
        """The websocket `connection_init` payload that authenticates as this client's user."""
        return init_payload(self.token)

    def with_token(self, token: str | None, user: User | None = None) -> Api:
        """This API, called with another credential (None: anonymous)."""
        http = GraphQLHTTP(self.base_url, token)
        self.clients.append(http)
        return dataclasses.replace(self, http=http, token=token, user=user)

    def anonymous(self) -> Api:
        """This API, called without any credential."""
        return self.with_token(None)

    async def as_new_user(
        self, role: str = "MEMBER", email: str | None = None, teams: tuple[str, ...] = ()
    ) -> Api:
        """This API, called as a brand-new user (member of the named teams, made if missing)."""
        user, token = await new_account(role, email)
        for name in teams:
            team, _ = await Team.get_or_create(name=name)
            await team.members.add(user)
        return self.with_token(token, user)

    async def close(self) -> None:
        """Close this client and every client made from it."""
        for http in {id(h): h for h in [self.http, *self.clients]}.values():
            await http.close()


class QueryCounter(logging.Handler):
    """Counts the SQL statements made while serving the requests that carry its request id.

    Runs, sidecars and log followers keep the database busy in the background; only the
    statements of the request under test (and of the data loaders it starts, which inherit its
    context) are counted.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.request_id = f"sql-count-{uuid.uuid4().hex}"
        self.statements: list[str] = []

    @property
    def headers(self) -> dict[str, str]:
        """Send these with the request whose statements are counted."""
        return {"X-Request-Id": self.request_id}

    def emit(self, record: logging.LogRecord) -> None:
        if REQUEST_ID.get() != self.request_id:
            return
        # Authentication costs the same few statements per request whatever the operation
        # (tests/auth counts them); pages are measured without them.
        if '"auth_' in record.getMessage():
            return
        text = record.getMessage().lstrip().upper()
        if text.startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            self.statements.append(record.getMessage())
