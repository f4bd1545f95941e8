"""Fault injection for tests: dropped watches, compacted history, 5xx answers, latency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.sim.errors import ApiError, bad_request, from_code
from app.sim.store import Store


@dataclass
class Rule:
    """Answer the next `remaining` requests under `path_prefix` with `code` and/or after `delay`."""

    remaining: int
    code: int = 0
    delay: float = 0.0
    path_prefix: str = ""
    message: str = "injected fault"

    def error(self) -> ApiError:
        """The Status error this rule answers with."""
        return from_code(self.code, self.message)

    def describe(self) -> dict[str, Any]:
        """JSON form for `GET /_sim/faults`."""
        return {
            "remaining": self.remaining,
            "code": self.code,
            "delay": self.delay,
            "pathPrefix": self.path_prefix,
        }


class Faults:
    """What tests break on purpose. Python API and `/_sim/faults` share it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rules: list[Rule] = []

    def drop_watches(self) -> int:
        """End every open HTTP watch now (clients see the stream close); returns how many."""
        return self.store.close_watches()

    def compact(self) -> None:
        """Forget the watch history: resuming from any version seen so far gets 410 Gone."""
        self.store.compact()

    def fail_next(
        self, count: int = 1, code: int = 503, *, path_prefix: str = "", message: str = ""
    ) -> None:
        """Answer the next `count` Kubernetes requests (under `path_prefix`) with `code`."""
        if code < 400:
            raise bad_request(f"a fault needs an error code, not {code}")
        self.rules.append(Rule(count, code=code, path_prefix=path_prefix,
                               message=message or f"injected {code}"))  # fmt: skip

    def delay_next(self, count: int, seconds: float, *, path_prefix: str = "") -> None:
        """Answer the next `count` Kubernetes requests (under `path_prefix`) `seconds` late."""
        self.rules.append(Rule(count, delay=seconds, path_prefix=path_prefix))

    def clear(self) -> None:
        """Drop every pending rule."""
        self.rules.clear()

    def take(self, path: str) -> Rule | None:
        """The rule that applies to a request for `path` (consuming one of its uses), if any."""
        for rule in self.rules:
            if path.startswith(rule.path_prefix):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.rules.remove(rule)
                return rule
        return None

    def describe(self) -> dict[str, Any]:
        """Pending rules, as `GET /_sim/faults` shows them."""
        return {"rules": [rule.describe() for rule in self.rules]}

    def apply(self, body: Any) -> dict[str, Any]:
        """Run one admin command: `{"action": "drop_watches" | "compact" | "fail" | "delay" |
        "clear", "count": n, "code": 503, "seconds": 0.5, "pathPrefix": "/api/v1/pods"}`."""
        if not isinstance(body, dict):
            raise bad_request("expected a JSON object")
        action = body.get("action")
        count = int(body.get("count", 1))
        prefix = str(body.get("pathPrefix", ""))
        result: dict[str, Any] = {}
        if action == "drop_watches":
            result["dropped"] = self.drop_watches()
        elif action == "compact":
            self.compact()
        elif action == "fail":
            self.fail_next(count, int(body.get("code", 503)), path_prefix=prefix,
                           message=str(body.get("message", "")))  # fmt: skip
        elif action == "delay":
            self.delay_next(count, float(body.get("seconds", 1.0)), path_prefix=prefix)
        elif action == "clear":
            self.clear()
        else:
            raise bad_request(f"unknown fault action: {action!r}")
        return {**result, **self.describe()}
