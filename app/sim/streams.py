"""The streaming subresources of pods (`exec`, `attach`, `portforward`): refused with a Status.

The simulated kubelet runs each container as a local process with no runtime to enter, so no
stream can be opened into it. kube-apiserver answers an upgrade it cannot make with a `Status`
body, which client-go decodes on both its WebSocket and SPDY dialers; kubectl then prints the
reason instead of a bare `403 Forbidden` status line.
"""

from __future__ import annotations

from app.sim.errors import ApiError, bad_request

STREAMING = frozenset({"exec", "attach", "portforward"})
_VERBS = {"exec": "exec into", "attach": "attach to", "portforward": "forward ports of"}


def refusal(name: str, subresource: str) -> ApiError:
    """400 for a stream into pod `name` (the pod exists; the simulated node cannot stream)."""
    return bad_request(
        f'unable to {_VERBS[subresource]} pod "{name}": the simulated cluster runs containers '
        f"as local processes and serves no {subresource} streams"
    )


def no_websocket(path: str) -> ApiError:
    """400 for a WebSocket upgrade on any other path (watches and logs are served over HTTP)."""
    return bad_request(f"the simulated cluster serves {path} over HTTP only, not WebSocket")
