"""Random credentials and how they are stored.

Every credential (access token, session, invitation, password reset) is 32 random bytes with a
readable prefix telling its kind. The database keeps only its SHA-256: the token has 256 bits of
entropy, so a fast hash is as strong as a slow one here and keeps each request's lookup cheap
(passwords, which people choose, get argon2 instead: app/auth/passwords.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ACCESS_TOKEN = "wkp_"
SESSION = "wks_"
INVITATION = "wki_"
PASSWORD_RESET = "wkr_"


def new_token(prefix: str) -> str:
    """A fresh credential: the kind's prefix and 43 URL-safe characters (256 bits)."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the database stores for a credential (hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    """The first characters of a token, to tell tokens apart in a list (not enough to use one)."""
    return token[:10]


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode(), b.encode())
