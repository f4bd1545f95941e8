"""Stop signals for the commands that run the simulated cluster (`dev`, `sim`).

uvicorn's `Server.serve` installs its own SIGINT/SIGTERM handlers and, once it has stopped,
raises the signal again: with the default SIGTERM action that ends the process before any
clean-up after `serve` runs, leaving the kubelet's container processes behind. The commands
own the signals instead, and their servers stop when told to.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Generator, Iterator

import uvicorn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalFreeServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signals alone; set `should_exit` to stop it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.contextmanager
def stop_signals(on_stop: Callable[[int], None]) -> Iterator[None]:
    """Call `on_stop(signal)` on SIGINT or SIGTERM while inside (in the running loop)."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_stop, sig)
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
