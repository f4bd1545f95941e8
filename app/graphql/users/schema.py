"""Query and Mutation fields of accounts: the viewer, access tokens, sessions, users and teams."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from app.auth.client_address import client_address
from app.auth.csrf import COOKIE as CSRF_COOKIE
from app.auth.csrf import csrf_token
from app.auth.policy import Principal
from app.auth.sessions import SESSION_COOKIE, SESSION_LIFETIME, secure_cookies
from app.db.auth_models import AccessToken, Role, Team, User
from app.domain.errors import ErrorCode, UserError
from app.graphql.context import Info
from app.graphql.errors import UserErrorType
from app.graphql.nodes import uuid_of
from app.graphql.users.types import AccessTokenType, TeamType, UserType
from app.services import users


def _arg(description: str) -> Any:
    return strawberry.argument(description=description)


Email = Annotated[str, _arg("Email address.")]
Password = Annotated[str, _arg("Password.")]
NewPassword = Annotated[str, _arg("The new password (at least 10 characters).")]
TeamId = Annotated[strawberry.ID, _arg("The team's id.")]
UserId = Annotated[strawberry.ID, _arg("The user's id.")]


def viewer_of(info: Info) -> Principal:
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

    revoked_id: strawberry.ID | None = strawberry.field(
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
        name: Annotated[str, _arg("What the token is for (shown in lists).")],
        expires_at: Annotated[
            datetime | None, _arg("When it stops working (with timezone); null: never.")
        ] = None,
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
    async def revoke_access_token(
        self, info: Info, id: Annotated[strawberry.ID, _arg("The token's id.")]
    ) -> RevokeAccessTokenPayload:
        token_id = uuid_of(id, "AccessToken")
        state = info.context.platform.auth
        if token_id is None or not await users.revoke_access_token(
            state, viewer_of(info), token_id
        ):
            return RevokeAccessTokenPayload(revoked_id=None, user_errors=[_not_found("id")])
        return RevokeAccessTokenPayload(revoked_id=id, user_errors=[])


def _not_found(field: str) -> UserErrorType:
    return UserErrorType(field=field, message="Nothing with this id.", code=ErrorCode.NOT_FOUND)


@strawberry.type(name="AuthPayload", description="The result of login or acceptInvitation.")
class AuthPayload:
    """The signed-in user; the session travels in an HTTP-only cookie."""

    viewer: UserType | None = strawberry.field(description="The signed-in user.")
    csrf_token: str | None = strawberry.field(
        description="Send as `X-CSRF-Token` with every cookie-authenticated request (and as "
        "`csrfToken` in a websocket's connection_init)."
    )
    user_errors: list[UserErrorType] = strawberry.field(description="Problems; empty on success.")


@strawberry.type(name="DonePayload", description="The result of a mutation with nothing to return.")
class DonePayload:
    """Whether it worked."""

    ok: bool = strawberry.field(description="True when the change was made.")
    user_errors: list[UserErrorType] = strawberry.field(description="Problems; empty on success.")


@strawberry.type(name="InvitationPayload", description="The result of inviteUser.")
class InvitationPayload:
    """The invitation was mailed (the link is never returned here)."""

    email: str | None = strawberry.field(description="Who was invited.")
    expires_at: datetime | None = strawberry.field(description="When the link stops working.")
    user_errors: list[UserErrorType] = strawberry.field(description="Problems; empty on success.")


@strawberry.type(name="TeamPayload", description="The result of createTeam.")
class TeamPayload:
    """The new team."""

    team: TeamType | None = strawberry.field(description="The team, once created.")
    user_errors: list[UserErrorType] = strawberry.field(description="Problems; empty on success.")


def _errors(errors: list[UserError]) -> list[UserErrorType]:
    return [UserErrorType.from_domain(e) for e in errors]


def _done(errors: list[UserError]) -> DonePayload:
    return DonePayload(ok=not errors, user_errors=_errors(errors))


def _signed_in(info: Info, outcome: users.Outcome[tuple[User, str]]) -> AuthPayload:
    if outcome.value is None:
        return AuthPayload(viewer=None, csrf_token=None, user_errors=_errors(outcome.errors))
    user, session = outcome.value
    response = info.context.response
    max_age = int(SESSION_LIFETIME.total_seconds())
    secure = secure_cookies(info.context.platform.settings.resolved_public_url)
    response.set_cookie(
        SESSION_COOKIE, session, max_age=max_age, httponly=True, secure=secure, samesite="lax"
    )
    token = csrf_token(session)
    response.set_cookie(CSRF_COOKIE, token, max_age=max_age, secure=secure, samesite="lax")
    return AuthPayload(viewer=UserType.from_model(user), csrf_token=token, user_errors=[])


def _address(info: Info) -> str:
    """The client's real address (`app.auth.client_address`), for per-address limits."""
    return client_address(info.context.request, info.context.platform.settings.trusted_proxies)


@strawberry.type
class AccountQueries:
    """Reading accounts and teams."""

    @strawberry.field(description="Every user (admins); a member sees only itself.")
    async def users(self, info: Info) -> list[UserType]:
        viewer = viewer_of(info)
        query = User.all() if viewer.is_admin else User.filter(id=viewer.user_id)
        return [UserType.from_model(u) for u in await query.order_by("email").limit(1000)]

    @strawberry.field(description="Your teams (admins: every team).")
    async def teams(self, info: Info) -> list[TeamType]:
        viewer = viewer_of(info)
        query = Team.all() if viewer.is_admin else Team.filter(id__in=list(viewer.team_ids))
        return [TeamType.from_model(t) for t in await query.order_by("name")]


@strawberry.type
class AccountMutations:
    """Signing in and out, passwords, invitations, teams."""

    @strawberry.mutation(
        description="Sign in with email and password: sets the HTTP-only session cookie."
    )
    async def login(self, info: Info, email: Email, password: Password) -> AuthPayload:
        state = info.context.platform.auth
        return _signed_in(info, await users.login(state, email, password, _address(info)))

    @strawberry.mutation(description="End the current web session and clear its cookie.")
    async def logout(self, info: Info) -> DonePayload:
        await users.logout(info.context.platform.auth, viewer_of(info))
        info.context.response.delete_cookie(SESSION_COOKIE)
        info.context.response.delete_cookie(CSRF_COOKIE)
        return _done([])

    @strawberry.mutation(description="Change your password; your other sessions end.")
    async def change_password(
        self,
        info: Info,
        current_password: Annotated[str, _arg("Your current password.")],
        new_password: NewPassword,
    ) -> DonePayload:
        state = info.context.platform.auth
        return _done(
            await users.change_password(
                state, viewer_of(info), current_password, new_password, _address(info)
            )
        )

    @strawberry.mutation(
        description="Mail a password reset link (answers the same whether the account exists)."
    )
    async def request_password_reset(self, info: Info, email: Email) -> DonePayload:
        platform = info.context.platform
        await users.request_password_reset(
            platform.auth.mailer, email, platform.settings.resolved_web_app_url
        )
        return _done([])

    @strawberry.mutation(description="Set a new password with a reset link's token (once).")
    async def reset_password(
        self,
        info: Info,
        token: Annotated[str, _arg("The token from the reset link.")],
        new_password: NewPassword,
    ) -> DonePayload:
        state = info.context.platform.auth
        return _done(await users.reset_password(state, token, new_password))

    @strawberry.mutation(description="Invite someone by email (admins); the link is mailed.")
    async def invite_user(
        self,
        info: Info,
        email: Email,
        role: Annotated[Role, _arg("The new user's role.")] = Role.MEMBER,
        team_ids: Annotated[list[strawberry.ID] | None, _arg("Teams the new user joins.")] = None,
    ) -> InvitationPayload:
        platform = info.context.platform
        teams = [uuid_of(t, "Team") for t in team_ids or ()]
        if any(t is None for t in teams):
            return InvitationPayload(
                email=None, expires_at=None, user_errors=[_not_found("teamIds")]
            )
        outcome = await users.invite(
            platform.auth.mailer,
            viewer_of(info),
            email,
            role,
            [t for t in teams if t is not None],
            platform.settings.resolved_web_app_url,
        )
        invitation = outcome.value
        return InvitationPayload(
            email=invitation.email if invitation else None,
            expires_at=invitation.expires_at if invitation else None,
            user_errors=_errors(outcome.errors),
        )

    @strawberry.mutation(description="Create your account from an invitation; signs you in.")
    async def accept_invitation(
        self,
        info: Info,
        token: Annotated[str, _arg("The token from the invitation link.")],
        password: NewPassword,
        name: Annotated[str, _arg("Your display name.")] = "",
    ) -> AuthPayload:
        return _signed_in(info, await users.accept_invitation(token, name, password))

    @strawberry.mutation(description="Create a team (admins).")
    async def create_team(
        self, info: Info, name: Annotated[str, _arg("Team name (DNS label).")]
    ) -> TeamPayload:
        outcome = await users.create_team(viewer_of(info), name)
        team = TeamType.from_model(outcome.value) if outcome.value else None
        return TeamPayload(team=team, user_errors=_errors(outcome.errors))

    @strawberry.mutation(description="Add a user to a team (admins).")
    async def add_team_member(self, info: Info, team_id: TeamId, user_id: UserId) -> DonePayload:
        return _done(
            await users.set_membership(
                viewer_of(info), uuid_of(team_id, "Team"), uuid_of(user_id, "User"), True
            )
        )

    @strawberry.mutation(description="Remove a user from a team (admins).")
    async def remove_team_member(self, info: Info, team_id: TeamId, user_id: UserId) -> DonePayload:
        return _done(
            await users.set_membership(
                viewer_of(info), uuid_of(team_id, "Team"), uuid_of(user_id, "User"), False
            )
        )

    @strawberry.mutation(
        description="Deactivate an account (admins): its tokens and sessions stop at once."
    )
    async def deactivate_user(self, info: Info, id: UserId) -> DonePayload:
        state = info.context.platform.auth
        return _done(await users.deactivate_user(state, viewer_of(info), uuid_of(id, "User")))
