"""GraphQL types of platform secrets: names, keys and timestamps — values are write-only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import strawberry
from strawberry import relay

from app.db.auth_models import Secret
from app.graphql.context import Info
from app.graphql.enums import describe_values
from app.graphql.errors import UserErrorType
from app.graphql.nodes import parse_uuid
from app.services.secrets import UpdateMode, find_secret

UpdateModeEnum = describe_values(
    strawberry.enum(UpdateMode, name="SecretUpdateMode", description="How updateSecret applies."),
    {
        UpdateMode.MERGE: "Set the given keys, keep the others.",
        UpdateMode.REPLACE: "The given keys become the whole secret.",
    },
)


@strawberry.type(
    name="Secret",
    description="A platform secret injected into runs as environment variables; values are "
    "write-only and never returned.",
)
class SecretType(relay.Node):
    """A secret's name and keys."""

    id: relay.NodeID[str]
    name: str = strawberry.field(description="Name (DNS label), unique per owner.")
    keys: list[str] = strawberry.field(description="Its keys: the variables a run receives.")
    team_id: strawberry.Private[str | None]
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When its keys or values last changed.")

    @classmethod
    def from_model(cls, secret: Secret) -> SecretType:
        """Wrap a stored secret (it holds no values)."""
        team_id = secret.team_id  # type: ignore[attr-defined]
        return cls(
            id=str(secret.id),
            name=secret.name,
            keys=list(secret.keys),
            team_id=str(team_id) if team_id else None,
            created_at=secret.created_at,
            updated_at=secret.updated_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[SecretType | None]:
        found = [await find_secret(info.context.viewer, parse_uuid(i)) for i in node_ids]
        return [cls.from_model(s) if s else None for s in found]


@strawberry.type(name="SecretConnection", description="A page of secrets.")
class SecretConnection(relay.Connection[SecretType]):
    """Secrets, newest first."""


@strawberry.input(name="SecretEntryInput", description="One key and its value.")
class SecretEntryInput:
    """A key/value pair; the value is stored only in the cluster."""

    key: str = strawberry.field(description="An environment variable name.")
    value: str = strawberry.field(description="The value (write-only).")


@strawberry.type(name="SecretPayload", description="The result of a secret mutation.")
class SecretPayload:
    """The secret after the change, or what was wrong."""

    secret: SecretType | None = strawberry.field(
        description="The secret, when the change was made."
    )
    user_errors: list[UserErrorType] = strawberry.field(description="Problems; empty on success.")


@strawberry.type(name="DeleteSecretPayload", description="The result of deleteSecret.")
class DeleteSecretPayload:
    """Which secret was deleted, or why not."""

    deleted_id: strawberry.ID | None = strawberry.field(description="The deleted secret's id.")
    user_errors: list[UserErrorType] = strawberry.field(description="Problems; empty on success.")
