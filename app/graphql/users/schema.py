"""Query and Mutation fields of accounts: the viewer, access tokens, sessions, users and teams."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry import relay

from app.db.auth_models import AccessToken, User
from app.graphql.context import Info
from app.graphql.errors import UserErrorType
from app.graphql.runs.types import parse_uuid
from app.graphql.users.types import AccessTokenType, UserType
from app.services import users


def viewer_of(info: Info) -> users.Principal:
    """The authenticated viewer (the guard lets no anonymous request reach private fields)."""
    viewer = info.context.viewer
    assert viewer is not None
    return viewer


@strawberry.type(name="CreateAccessTokenPayload", description="The result of createAccessToken.")
class CreateAccessTokenPayload:
    """The new token: its secret is here once and never again."""

    access_token: AccessTokenType | None = strawberry.field(description="The token's metadata.")
    token: str | None = strawberry.field(
        description="The secret to send as `Authorization: Bearer <token>`; shown only now."
    )
    user_errors: list[UserErrorType] = strawberry.field(description="Problems with the input.")


@strawberry.type(name="RevokeAccessTokenPayload", description="The result of revokeAccessToken.")
class RevokeAccessTokenPayload:
    """Whether a token was revoked."""

    revoked_id: relay.GlobalID | None = strawberry.field(
        description="The revoked token's id; null if there is no such token."
    )
    user_errors: list[UserErrorType] = strawberry.field(description="Problems with the input.")


@strawberry.type
class UserQueries:
    """Reading accounts."""

    @strawberry.field(description="The signed-in user; null when anonymous.")
    async def viewer(self, info: Info) -> UserType | None:
        viewer = info.context.viewer
        if viewer is None:
            return None
        user = await User.get_or_none(id=viewer.user_id)
        return UserType.from_model(user) if user else None

    @strawberry.field(description="The viewer's access tokens that still work, newest first.")
    async def access_tokens(self, info: Info) -> list[AccessTokenType]:
        viewer = viewer_of(info)
        rows = await AccessToken.filter(user_id=viewer.user_id, revoked_at__isnull=True).order_by(
            "-created_at"
        )
        return [AccessTokenType.from_model(t) for t in rows]


@strawberry.type
class UserMutations:
    """Changing accounts."""

    @strawberry.mutation(description="Create a personal access token for the CLI or scripts.")
    async def create_access_token(
        self,
        info: Info,
        name: str,
        expires_at: datetime | None = None,
    ) -> CreateAccessTokenPayload:
        outcome = await users.create_access_token(viewer_of(info), name, expires_at)
        if outcome.value is None:
            return CreateAccessTokenPayload(
                access_token=None,
                token=None,
                user_errors=[UserErrorType.from_domain(e) for e in outcome.errors],
            )
        row, token = outcome.value
        return CreateAccessTokenPayload(
            access_token=AccessTokenType.from_model(row), token=token, user_errors=[]
        )

    @strawberry.mutation(
        description="Revoke an access token: it stops working at once, open subscriptions too."
    )
    async def revoke_access_token(self, info: Info, id: relay.GlobalID) -> RevokeAccessTokenPayload:
        token_id = parse_uuid(id.node_id) if id.type_name == "AccessToken" else None
        state = info.context.platform.auth
        if token_id is None or not await users.revoke_access_token(
            state, viewer_of(info), token_id
        ):
            return RevokeAccessTokenPayload(revoked_id=None, user_errors=[_not_found("id")])
        return RevokeAccessTokenPayload(revoked_id=id, user_errors=[])


def _not_found(field: str) -> UserErrorType:
    return UserErrorType(
        field=field, message="Nothing with this id.", code=users.ErrorCode.NOT_FOUND
    )
