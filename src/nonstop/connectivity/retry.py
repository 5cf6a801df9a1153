"""Retry with exponential backoff and full jitter, bounded in attempts and in total time.

Rules:

* Only failures whose class is safe for the operation are retried. READ: transient, unavailable,
  rate-limited (and a read timeout). CANCEL: the same minus TIMEOUT_UNKNOWN (a cancel whose outcome
  is unknown goes back to the order manager, which looks the order up). SUBMIT: never. A submit
  that fails is handed back as is, so a TIMEOUT_UNKNOWN puts the order IN DOUBT (invariant 3).
* The wait before attempt n+1 is `uniform(0, min(max_delay, base_delay * 2**(n-1)))` ("full
  jitter"), but never shorter than the error's Retry-After.
* Attempts are bounded by `max_attempts`, total time by `total_timeout` (attempts and waits
  together): if the next attempt could only start after that budget, we give up now rather than
  sleep and then fail. Each attempt is also time-boxed by `attempt_timeout`.
* The last error is raised unchanged, with a note saying why we stopped.

Why not tenacity: tenacity's time accounting (`RetryCallState.start_time`, `stop_after_delay`,
`stop_before_delay`) reads `time.monotonic()` directly and its jittered waits use the global
`random` module, so every strategy would have to be replaced by our own closures over the injected
`Clock` and a seedable RNG; Retry-After floors and the classification-aware decision are ours too.
What is left for tenacity to do is a ten-line loop, not worth a dependency or its `RetryError`
wrapping.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from nonstop.clock import Clock
from nonstop.connectivity._aio import run_with_timeout
from nonstop.connectivity.classify import classify
from nonstop.connectivity.errors import ErrorClass, OperationKind, RequestNotSent, VenueError
from nonstop.errors import ConfigError

__all__ = ["Retrier", "RetryPolicy", "RetryScheduled"]

T = TypeVar("T")

_READ_RETRYABLE = frozenset({
    ErrorClass.TRANSIENT_NETWORK, ErrorClass.UNAVAILABLE, ErrorClass.RATE_LIMITED, ErrorClass.TIMEOUT_UNKNOWN,
})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The knobs. Defaults suit a REST read against Binance."""

    max_attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    total_timeout: float = 20.0
    attempt_timeout: float | None = 10.0
    retry_on: frozenset[ErrorClass] = field(default=_READ_RETRYABLE)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"retry max_attempts must be >= 1, got {self.max_attempts}")
        if not 0 <= self.base_delay <= self.max_delay:
            raise ConfigError(
                f"retry needs 0 <= base_delay <= max_delay, got {self.base_delay}, {self.max_delay}"
            )
        if self.total_timeout <= 0:
            raise ConfigError(f"retry total_timeout must be > 0, got {self.total_timeout}")
        if self.attempt_timeout is not None and self.attempt_timeout <= 0:
            raise ConfigError(f"retry attempt_timeout must be > 0 or None, got {self.attempt_timeout}")
        unsafe = {c for c in self.retry_on if not c.retry_safe_for_reads}
        if unsafe:
            raise ConfigError(f"retry_on may not include {sorted(unsafe)}: those are never safe to retry")

    def should_retry(self, err: VenueError, operation: OperationKind) -> bool:
        """May a request of `operation` that failed with `err` be sent again?"""
        if operation is OperationKind.SUBMIT:
            return False
        if operation is OperationKind.CANCEL and err.outcome_unknown:
            return False
        return err.error_class in self.retry_on

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter wait after the `attempt`-th failure (1-based)."""
        cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return rng.uniform(0.0, cap)


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """Emitted before each wait, for logs and metrics."""

    operation: OperationKind
    attempt: int  # the attempt that failed (1-based)
    delay: float
    error_class: ErrorClass
    retry_after: float | None
    at: datetime


class Retrier:
    """Runs a request under a `RetryPolicy` on an injected clock.

    `fn` is a zero-argument coroutine function doing one attempt. It may raise a `VenueError`
    (already classified by the adapter) or a raw ccxt/aiohttp/asyncio exception, which is classified
    here with the operation kind. Local refusals (`RequestNotSent`) and anything not an `Exception`
    (cancellation) propagate untouched.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        clock: Clock,
        *,
        rng: random.Random | None = None,
        on_retry: Callable[[RetryScheduled], None] | None = None,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._rng = rng or random.Random()
        self._on_retry = on_retry

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        operation: OperationKind,
        venue: str = "",
        endpoint: str = "",
    ) -> T:
        policy = self.policy
        start = self._clock.monotonic()
        deadline = start + policy.total_timeout
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - self._clock.monotonic()
            limit = remaining if policy.attempt_timeout is None else min(policy.attempt_timeout, remaining)
            try:
                return await run_with_timeout(self._clock, limit, fn)
            except RequestNotSent:
                raise
            except VenueError as exc:
                err = exc
            except Exception as exc:  # noqa: BLE001 - translated at the boundary; cancellation is not an Exception
                err = classify(exc, operation=operation, venue=venue, endpoint=endpoint)
            elapsed = self._clock.monotonic() - start
            if not policy.should_retry(err, operation):
                raise _give_up(err, f"{err.error_class.value} is not retried for {operation.value}",
                               attempt, elapsed)
            if attempt >= policy.max_attempts:
                raise _give_up(err, "max_attempts reached", attempt, elapsed)
            delay = max(policy.backoff(attempt, self._rng), err.retry_after or 0.0)
            if self._clock.monotonic() + delay >= deadline:
                why = f"next attempt (in {delay:.3f}s) would pass total_timeout"
                raise _give_up(err, why, attempt, elapsed)
            if self._on_retry is not None:
                self._on_retry(RetryScheduled(operation, attempt, delay, err.error_class, err.retry_after,
                                              self._clock.now()))
            await self._clock.sleep(delay)


def _give_up(err: VenueError, why: str, attempts: int, elapsed: float) -> VenueError:
    err.add_note(f"retry: gave up after {attempts} attempt(s) in {elapsed:.3f}s: {why}")
    if err.__cause__ is None and err.original is not None and err.original is not err:
        err.__cause__ = err.original
    return err
