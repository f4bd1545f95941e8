"""CSRF protection for cookie-authenticated requests: a double-submit token bound to the session.

Browsers attach the session cookie to any request to this API, including ones a hostile page
starts; they do not let that page read our cookies or set custom headers on a cross-site
request. So a session cookie authenticates a request only together with the header
`X-CSRF-Token` carrying `csrf_token(session)`: the web app gets that value from `login` (and from
the readable `walkai_csrf` cookie after a reload). Bearer tokens are not sent by browsers on
their own and need no such check.
"""

from __future__ import annotations

import hashlib
import hmac

from app.auth.tokens import same

HEADER = "x-csrf-token"
COOKIE = "walkai_csrf"


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: derived from it, so nothing more is stored."""
    return hmac.new(session_token.encode(), b"walkai-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, sent: str | None) -> bool:
    """Whether the request carried the session's CSRF token."""
    return sent is not None and same(csrf_token(session_token), sent)
