"""Counts of failed credential checks, in the database so that every replica sees them."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class LoginThrottle(Model):
    """Recent failed checks of one key: an account (its email) or a client address.

    Counted before the check runs, and taken back when it succeeds, so that concurrent
    guesses cannot all pass one look at the count. Rows whose last failure is older than the
    window are deleted as logins go."""

    key = fields.CharField(max_length=400, primary_key=True)
    failures = fields.IntField(default=0)
    last_failure = fields.DatetimeField(db_index=True)

    class Meta:
        table = "login_throttle"
