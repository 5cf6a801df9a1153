"""A token bucket on an injected clock, with a non-blocking `try_take` (an alert over the limit is
folded into a digest, never awaited), so asyncio limiters that block the caller do not fit."""

from __future__ import annotations

from nonstop.clock import Clock


class TokenBucket:
    """`capacity` tokens at most; refills at `per_second`; starts full."""

    def __init__(self, clock: Clock, *, capacity: float, per_second: float) -> None:
        if capacity < 1 or per_second <= 0:
            raise ValueError(f"token bucket needs capacity >= 1 and rate > 0, got {capacity}, {per_second}")
        self._clock = clock
        self.capacity = capacity
        self.per_second = per_second
        self._tokens = capacity
        self._at = clock.monotonic()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.per_second)
        self._at = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def try_take(self) -> bool:
        """Take one token if there is one."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def take_forced(self) -> None:
        """Take one token even if that leaves the bucket in debt (CRITICAL alerts are never held back)."""
        self._refill()
        self._tokens -= 1

    def seconds_until_token(self) -> float:
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.per_second
