"""Tortoise models of users, teams, tokens, sessions and platform secrets.

Credentials (access tokens, sessions, invitations, reset tokens) are stored only as a SHA-256 of a
high-entropy random token: a leaked database row cannot be replayed. Passwords are argon2 hashes.
"""

from __future__ import annotations

import enum

from tortoise import fields
from tortoise.models import Model


class Role(enum.Enum):
    """What a user may do: admins see and manage everything, members their own and their teams'."""

    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


class User(Model):
    """A person with an account."""

    id = fields.UUIDField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=128, default="")
    role = fields.CharEnumField(Role, max_length=16, default=Role.MEMBER)
    # None until the user sets one (an account made only for tokens, e.g. the dev admin).
    password_hash = fields.CharField(max_length=256, null=True)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    teams: fields.ManyToManyRelation[Team]

    class Meta:
        table = "auth_user"


class Team(Model):
    """A group of users who share jobs, inputs and secrets."""

    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=63, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    members: fields.ManyToManyRelation[User] = fields.ManyToManyField(
        "models.User", related_name="teams", through="auth_team_member"
    )

    class Meta:
        table = "auth_team"


class AccessToken(Model):
    """A personal access token for the CLI and scripts (`Authorization: Bearer`)."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="access_tokens", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=64)
    token_hash = fields.CharField(max_length=64, unique=True)
    # The first characters, so a person can tell their tokens apart; not enough to use one.
    prefix = fields.CharField(max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "auth_access_token"


class WebSession(Model):
    """A browser session, carried by an HTTP-only cookie."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "auth_session"


class Invitation(Model):
    """An admin's invitation: whoever holds its token once may create the account."""

    id = fields.UUIDField(primary_key=True)
    email = fields.CharField(max_length=254, db_index=True)
    role = fields.CharEnumField(Role, max_length=16, default=Role.MEMBER)
    team_ids: fields.Field[list[str]] = fields.JSONField(default=list)
    token_hash = fields.CharField(max_length=64, unique=True)
    invited_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    accepted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "auth_invitation"


class PasswordReset(Model):
    """A single-use, short-lived token that lets its holder set a user's password."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "auth_password_reset"


class Secret(Model):
    """A platform secret: its name and key names here, its values only in Kubernetes."""

    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=63)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    team: fields.ForeignKeyNullableRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    keys: fields.Field[list[str]] = fields.JSONField(default=list)
    kube_name = fields.CharField(max_length=63, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "platform_secret"
        # Names are per owner: a global namespace would tell a user which names others took.
        unique_together = (("owner", "name"),)
