"""Prometheus metrics, served at /metrics.

Counters and gauges the API updates as it works (requests by operation, errors, active
subscriptions, run state transitions) live in one registry per process; figures that belong to
the platform's parts (watch restarts, log followers, the admission queue) are read from the
platforms at scrape time by a collector, so those parts need no metrics code of their own.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

log = logging.getLogger("walkai.graphql")

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "walkai_graphql_operations",
    "GraphQL operations finished, by type and operation name.",
    ["type", "operation"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "walkai_graphql_errors",
    "GraphQL operations that returned errors, by type and operation name.",
    ["type", "operation"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "walkai_graphql_operation_seconds",
    "Time to answer a query or mutation, by operation name.",
    ["type", "operation"],
    registry=REGISTRY,
)
ACTIVE_SUBSCRIPTIONS = Gauge(
    "walkai_graphql_active_subscriptions",
    "Subscriptions currently streaming to clients.",
    registry=REGISTRY,
)
RUN_TRANSITIONS = Counter(
    "walkai_run_transitions",
    "Run status changes this replica recorded, by previous and new status.",
    ["from_status", "to_status"],
    registry=REGISTRY,
)

# Operation names come from clients: only the names of the contract's operations
# (`frontend_contract/`, read at start) are labels of their own, every other name is counted as
# `other`, so a client cannot grow the number of time series.
CONTRACT_DIR = Path(__file__).resolve().parents[2] / "frontend_contract"
_OPERATION = re.compile(r"^\s*(?:query|mutation|subscription)\s+([A-Za-z_]\w*)", re.MULTILINE)
_known: frozenset[str] = frozenset()


def contract_operations(directory: Path) -> frozenset[str]:
    """The names of the operations defined in a folder's `.graphql` files (none if missing)."""
    if not directory.is_dir():
        log.warning("no contract at %s: every named operation is counted as `other`", directory)
        return frozenset()
    return frozenset(
        name
        for path in sorted(directory.rglob("*.graphql"))
        for name in _OPERATION.findall(path.read_text(encoding="utf-8"))
    )


def know_operations(names: frozenset[str]) -> None:
    """The operation names that get a label of their own."""
    global _known
    _known = names


def operation_label(name: str | None) -> str:
    """The `operation` label for a client-chosen operation name."""
    if name is None:
        return "anonymous"
    return name if name in _known else "other"


def observe_transition(previous: Any, new: Any) -> None:
    """Count a run's status change (statuses are enums or their names)."""
    if previous != new:
        RUN_TRANSITIONS.labels(_status(previous), _status(new)).inc()


def _status(value: Any) -> str:
    return str(getattr(value, "value", value))


class OperationMetrics(SchemaExtension):
    """Counts every operation and its errors, times queries and mutations, and keeps the
    number of streaming subscriptions (the operation hook spans a subscription's whole life)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        self._subscribed = False
        try:
            yield
        finally:
            if self._subscribed:
                ACTIVE_SUBSCRIPTIONS.dec()
            self._record(time.perf_counter() - started)

    def on_validate(self) -> Iterator[None]:
        yield
        context = self.execution_context
        if context.pre_execution_errors:
            return
        if context.operation_type is OperationType.SUBSCRIPTION:
            self._subscribed = True
            ACTIVE_SUBSCRIPTIONS.inc()

    def _record(self, seconds: float) -> None:
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except Exception:  # unparsable documents have no operation type
            kind = "invalid"
        name = operation_label(context.operation_name)
        REQUESTS.labels(kind, name).inc()
        result = context.result
        failed = bool(context.pre_execution_errors or (result is not None and result.errors))
        if failed:
            ERRORS.labels(kind, name).inc()
        if kind in ("query", "mutation"):
            DURATION.labels(kind, name).observe(seconds)
        log.info(
            "graphql %s %s",
            kind,
            name,
            extra={"operation": name, "errors": failed, "duration_ms": round(seconds * 1000, 1)},
        )


class PlatformCollector(Collector):
    """Reads the platform's own counters when Prometheus scrapes."""

    def __init__(self) -> None:
        self.platforms: list[Any] = []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        restarts = GaugeMetricFamily(
            "walkai_watch_restarts",
            "Times a Kubernetes watch ended and was resumed or relisted, by kind.",
            labels=["kind"],
        )
        followers = GaugeMetricFamily(
            "walkai_log_followers", "Pod log streams being followed (one per running pod)."
        )
        queue = GaugeMetricFamily(
            "walkai_admission_queue_length", "Runs waiting in the admission queue."
        )
        totals: dict[str, int] = {}
        follower_count = queue_length = 0
        for platform in self.platforms:
            tracker = getattr(platform, "tracker", None)
            for informer in (getattr(tracker, "jobs", None), getattr(tracker, "pods", None)):
                if informer is not None:
                    totals[informer.kind] = totals.get(informer.kind, 0) + informer.watch_restarts
            logs = getattr(platform, "logs", None)
            follower_count += len(getattr(logs, "followers", None) or {})
            queue_length += int(getattr(platform, "admission_queue_length", 0) or 0)
        for kind, count in sorted(totals.items()):
            restarts.add_metric([kind], count)
        followers.add_metric([], follower_count)
        queue.add_metric([], queue_length)
        yield from (restarts, followers, queue)


PLATFORMS = PlatformCollector()
REGISTRY.register(PLATFORMS)


def watch_platform(platform: Any) -> None:
    """Report this platform's figures, and read the contract's operation names (called when
    the app starts)."""
    PLATFORMS.platforms.append(platform)
    know_operations(contract_operations(platform.settings.contract_dir or CONTRACT_DIR))


def unwatch_platform(platform: Any) -> None:
    """Stop reporting a platform that stopped."""
    if platform in PLATFORMS.platforms:
        PLATFORMS.platforms.remove(platform)


async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus text exposition of every metric above."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def active_subscriptions() -> int:
    """How many subscriptions are streaming now (for shutdown logs and tests)."""
    return int(REGISTRY.get_sample_value("walkai_graphql_active_subscriptions") or 0)
