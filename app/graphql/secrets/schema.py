"""Query and Mutation fields of platform secrets."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.errors import UserErrorType
from app.graphql.nodes import uuid_of
from app.graphql.pagination import (
    After,
    First,
    newest_first,
)
from app.graphql.secrets.types import (
    DeleteSecretPayload,
    SecretConnection,
    SecretEntryInput,
    SecretPayload,
    SecretType,
)
from app.graphql.users.schema import viewer_of
from app.services import secrets
from app.services.secrets import Entry, UpdateMode


def _entries(data: list[SecretEntryInput] | None) -> list[Entry]:
    return [Entry(key=e.key, value=e.value) for e in data or ()]


def _payload(changed: secrets.Changed) -> SecretPayload:
    return SecretPayload(
        secret=SecretType.from_model(changed.secret) if changed.secret else None,
        user_errors=[UserErrorType.from_domain(e) for e in changed.errors],
    )


@strawberry.type
class SecretQueries:
    """Reading secrets (names and keys only)."""

    @strawberry.field(description="The secrets you may use, newest first.")
    async def secrets(
        self, info: Info, first: First = None, after: After = None
    ) -> SecretConnection:
        query = secrets.visible_secrets(info.context.viewer)
        return await newest_first(  # type: ignore[return-value]
            SecretConnection, query, first, after, SecretType.from_model
        )

    @strawberry.field(description="A secret by id.")
    async def secret(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The secret's id.")],
    ) -> SecretType | None:
        found = await secrets.find_secret(info.context.viewer, uuid_of(id, "Secret"))
        return SecretType.from_model(found) if found else None


@strawberry.type
class SecretMutations:
    """Changing secrets; values go to the cluster only."""

    @strawberry.mutation(description="Create a secret from key/value pairs.")
    async def create_secret(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="DNS label, unique per owner.")],
        data: Annotated[
            list[SecretEntryInput], strawberry.argument(description="Keys and values.")
        ],
        team_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Share with this team (you must be a member)."),
        ] = None,
    ) -> SecretPayload:
        platform = info.context.platform
        team = uuid_of(team_id, "Team")
        if team_id is not None and team is None:
            return SecretPayload(
                secret=None,
                user_errors=[
                    UserErrorType(
                        field="teamId",
                        message="No team with this id.",
                        code=secrets.ErrorCode.NOT_FOUND,
                    )
                ],
            )
        changed = await secrets.create_secret(
            platform.kube, platform.settings.namespace, viewer_of(info), name, _entries(data), team
        )
        return _payload(changed)

    @strawberry.mutation(description="Set, replace or remove a secret's keys.")
    async def update_secret(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The secret's id.")],
        data: Annotated[
            list[SecretEntryInput] | None,
            strawberry.argument(description="Keys and values to set."),
        ] = None,
        mode: Annotated[
            UpdateMode, strawberry.argument(description="MERGE (default) or REPLACE.")
        ] = UpdateMode.MERGE,
        remove_keys: Annotated[
            list[str] | None, strawberry.argument(description="Keys to remove (MERGE).")
        ] = None,
    ) -> SecretPayload:
        platform = info.context.platform
        changed = await secrets.update_secret(
            platform.kube,
            platform.settings.namespace,
            viewer_of(info),
            uuid_of(id, "Secret"),
            _entries(data),
            mode,
            remove_keys or [],
        )
        return _payload(changed)

    @strawberry.mutation(description="Delete a secret that no unfinished run needs.")
    async def delete_secret(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The secret's id.")],
    ) -> DeleteSecretPayload:
        platform = info.context.platform
        changed = await secrets.delete_secret(
            platform.kube, platform.settings.namespace, viewer_of(info), uuid_of(id, "Secret")
        )
        return DeleteSecretPayload(
            deleted_id=id if changed.secret else None,
            user_errors=[UserErrorType.from_domain(e) for e in changed.errors],
        )
