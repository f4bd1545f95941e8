"""How the API process serves: its event loop, uvicorn's settings and garbage collection.

One home for `walkai-jobs serve`, `walkai-jobs dev` and the benchmarks, so that what is measured
is what runs.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn
from uvicorn.loops.auto import auto_loop_factory

T = TypeVar("T")

# CPython collects its youngest generation every 700 net allocations, and every tenth of those
# collections walks the next generation too. A burst of log lines allocates a few objects per
# line at every stage; with 1,000 websockets open that meant a fifth of the fan-out's CPU in
# collections that found next to nothing. Collecting every 20,000 allocations instead costs at
# most that many objects' worth of memory held a little longer.
GC_THRESHOLDS = (20_000, 20, 20)


def tune_gc() -> None:
    """Freeze what is alive at start (modules, schema, app) out of every later collection, and
    collect young objects less often. Reference counting still frees almost everything at
    once; only garbage in reference cycles waits for a collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def server_config(app: Any, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for the API; `options` add to or override the defaults."""
    defaults: dict[str, Any] = {
        # The app reads X-Forwarded-For itself, from configured proxies only
        # (`app.auth.client_address`): the peer must reach it as it is.
        "proxy_headers": False,
        # No permessage-deflate: it compresses every message once per subscriber, and a run's
        # log goes to many at once (CPU grows with subscribers; log text is cheap to send).
        "ws_per_message_deflate": False,
        # Websockets are closed with 1012 at once; this bounds the wait for HTTP requests.
        "timeout_graceful_shutdown": 20,
    }
    return uvicorn.Config(app, host=host, port=port, **(defaults | options))


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on the event loop uvicorn serves with: uvloop (installed with uvicorn's
    standard extras), whose transports and scheduling cost a fraction of the stdlib loop's per
    websocket message."""
    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        return runner.run(main)
