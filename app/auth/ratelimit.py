"""Throttling credential checks: progressive delays per account, a limit per client address.

- **Per account** (its email; `login` and `changePassword` share it): the first
  `free_failures` failures cost nothing, then each failure makes the next check wait longer
  (1 s, 2 s, 4 s, ... up to `max_delay`). A check asked for sooner is refused unchecked. The
  delay is capped and there is no lock-out: a flood of bad passwords from many addresses slows
  guessing to one per `max_delay` for the whole world, while the owner, from any address, gets
  in with the right password at most `max_delay` later. A success clears the account's count.
- **Per client address** (the real one: `app.auth.client_address`): at most `per_address`
  failures per window, whatever the accounts tried.
- **Counted first.** An attempt is counted as a failure before its password is checked, and
  taken back if it was right, so concurrent guesses cannot all pass one look at the count;
  each count is one conditional UPDATE, so replicas (and their concurrent requests) agree.
- **Where.** In the database (`LoginThrottle`): every replica sees the same counts. Counts
  older than `window` are forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from app.db.throttle_models import LoginThrottle


def utcnow() -> datetime:
    """The current time (the limiter's default clock)."""
    return datetime.now(UTC)


class LoginLimiter:
    """Progressive delays per account, a window limit per address, counted in the database."""

    def __init__(
        self,
        *,
        free_failures: int = 5,
        max_delay: float = 30,
        per_address: int = 100,
        window: float = 900,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.free_failures = free_failures
        self.max_delay = max_delay
        self.per_address = per_address
        self.window = window
        self.clock = clock

    def delay(self, failures: int) -> float:
        """Seconds an account with `failures` recent failures waits between checks."""
        over = failures - self.free_failures
        if over < 0:
            return 0.0
        return float(min(2.0 ** min(over, 32), self.max_delay))

    async def begin(self, account: str, address: str) -> float | None:
        """Count an attempt for the account from the address: None if its password may be
        checked now, else the seconds to wait (nothing is counted then)."""
        now = self.clock()
        await LoginThrottle.filter(last_failure__lt=now - timedelta(seconds=self.window)).delete()
        address_key, account_key = f"address:{address}", f"account:{account.lower()}"
        # The address first: a refused address costs the account nothing.
        if not await self._count(address_key, now, lambda row: row.failures < self.per_address):
            return self.window

        def waiting(row: LoginThrottle) -> float:
            return self.delay(row.failures) - (now - row.last_failure).total_seconds()

        if not await self._count(account_key, now, lambda row: waiting(row) <= 0):
            await self._uncount(address_key)
            row = await LoginThrottle.get_or_none(key=account_key)
            return max(waiting(row) if row is not None else 0.0, 1.0)
        return None

    async def succeeded(self, account: str, address: str) -> None:
        """The attempt was right: the account's count is cleared, the address's taken back."""
        await LoginThrottle.filter(key=f"account:{account.lower()}").delete()
        await self._uncount(f"address:{address}")

    async def _count(
        self, key: str, now: datetime, allowed: Callable[[LoginThrottle], bool]
    ) -> bool:
        """Add one failure to `key` if `allowed(row)` holds, atomically: a request that counted
        in between makes it look again."""
        for _ in range(5):
            row = await LoginThrottle.get_or_none(key=key)
            if row is None:
                try:
                    await LoginThrottle.create(key=key, failures=1, last_failure=now)
                    return True
                except IntegrityError:
                    continue
            if not allowed(row):
                return False
            changed = await LoginThrottle.filter(key=key, failures=row.failures).update(
                failures=F("failures") + 1, last_failure=now
            )
            if changed:
                return True
        return False

    async def _uncount(self, key: str) -> None:
        await LoginThrottle.filter(key=key, failures__gt=0).update(failures=F("failures") - 1)
