"""HMAC-signed URLs for the local store: the same promise as an S3 presigned URL.

A URL carries `expires` (unix seconds), `method`, optional `content_type`, `filename` and
`content_length` (the exact body size an upload must have), and `sig` = HMAC-SHA256 over a
versioned message of those values and the key. Anything changed in the URL, or a URL used
after `expires`, fails verification.

The first line of the message names what the signature covers (`v1:key`, one exact key), so a
later kind of token (`v2:prefix`, any key under a prefix, for run-scoped credentials) can be
added without any v1 URL meaning something else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

_SCOPE_KEY = "v1:key"


@dataclass(frozen=True)
class SignedRequest:
    """The signed parameters of a URL, as read back from its query string."""

    method: str
    expires: int
    content_type: str | None = None
    filename: str | None = None
    content_length: int | None = None


class SignatureError(Exception):
    """The URL's signature is missing, wrong, or expired (the server answers 403)."""


class UrlSigner:
    """Signs and verifies query strings with one secret; `clock` is injectable for tests."""

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("the signing secret must be at least 16 bytes")
        self._secret = secret
        self._clock = clock

    def query(
        self,
        method: str,
        key: str,
        *,
        expires_in: int,
        content_type: str | None = None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> str:
        """The query string (without `?`) that authorises `method` on `key` for `expires_in` s
        (up to a second more: `expires` is whole seconds, rounded up so it is never less)."""
        expires = math.ceil(self._clock()) + expires_in
        request = SignedRequest(method, expires, content_type, filename, content_length)
        params = {"expires": str(request.expires), "method": method}
        if content_type is not None:
            params["content_type"] = content_type
        if filename is not None:
            params["filename"] = filename
        if content_length is not None:
            params["content_length"] = str(content_length)
        params["sig"] = self._signature(key, request)
        return urlencode(params)

    def verify(self, method: str, key: str, params: Mapping[str, str]) -> SignedRequest:
        """Check the query parameters of a request for `method` on `key`; raise SignatureError."""
        try:
            request = SignedRequest(
                method=params["method"],
                expires=int(params["expires"]),
                content_type=params.get("content_type"),
                filename=params.get("filename"),
                content_length=_length(params.get("content_length")),
            )
            signature = params["sig"]
        except (KeyError, ValueError) as exc:
            raise SignatureError("missing or malformed signature parameters") from exc
        if not hmac.compare_digest(signature, self._signature(key, request)):
            raise SignatureError("signature does not match")
        if request.method != method:
            raise SignatureError(f"URL signed for {request.method}, not {method}")
        if self._clock() > request.expires:
            raise SignatureError("URL expired")
        return request

    def _signature(self, key: str, request: SignedRequest) -> str:
        # JSON keeps the fields apart whatever characters they hold, and tells None from "".
        fields: list[object] = [
            _SCOPE_KEY,
            request.method,
            key,
            request.expires,
            request.content_type,
            request.filename,
        ]
        if request.content_length is not None:  # URLs without one keep their signature
            fields.append(request.content_length)
        message = json.dumps(fields)
        digest = hmac.new(self._secret, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _length(value: str | None) -> int | None:
    """A signed body size: digits only (`int()` would take signs, spaces and underscores)."""
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise ValueError("content_length is not a number")
    return int(value)
