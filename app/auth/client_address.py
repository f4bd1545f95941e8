"""The real address of a client: the peer, or what trusted reverse proxies say it is.

`X-Forwarded-For` is anyone's to write, so it is read only when the peer is one of the
configured proxies (`WALKAI_TRUSTED_PROXIES`), and then from the right: each trusted proxy
appends the address it received from, so the nearest address that is not a trusted proxy is
the client; whatever stands left of it was written by the client itself. The server must not
rewrite the peer from the header on its own (uvicorn's `proxy_headers` is off).
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from starlette.requests import HTTPConnection

Networks = Sequence[IPv4Network | IPv6Network]


def _trusted(address: str, proxies: Networks) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(connection: HTTPConnection | None, proxies: Networks) -> str:
    """The client's address for per-address limits ("?" when unknown)."""
    peer = connection.client.host if connection is not None and connection.client else "?"
    if connection is None or not proxies or not _trusted(peer, proxies):
        return peer
    hops = [
        hop.strip()
        for header in connection.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            try:
                return str(ip_address(hop))
            except ValueError:
                return peer  # not an address: the proxy in front did not write it
    return hops[0] if hops else peer
