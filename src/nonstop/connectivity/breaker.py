"""Circuit breakers, per endpoint and per venue, on an injected clock.

Endpoint breaker (`CircuitBreaker`)::

    CLOSED --(N consecutive failures, or failure rate >= R over >= M calls in the window)--> OPEN
    OPEN --(open duration elapsed)--> HALF_OPEN            (duration grows x backoff per failed probe)
    HALF_OPEN --(P probe successes)--> CLOSED      HALF_OPEN --(a probe fails)--> OPEN

Only failures that say something about the endpoint's health count (TRANSIENT_NETWORK,
TIMEOUT_UNKNOWN, UNAVAILABLE: `ErrorClass.counts_for_breaker`). A REJECTED or AUTH answer proves
the endpoint works, so it counts as a success; rate limits belong to the limiter. At most P probes
are in flight while HALF_OPEN. Every call holds a `Permit` naming the breaker generation it was
admitted in; a verdict arriving after the state changed (a slow call admitted before the breaker
opened) is ignored, so stale calls can neither close nor re-open it.

Venue breaker (`VenueBreaker`): OPEN when the share of its endpoint breakers that are OPEN reaches
`open_share` (1.0 = all, 0.67 = most), or when a venue-wide error trips it (maintenance, an IP ban)
for the error's Retry-After or the configured open duration; then it lets probes through like an
endpoint breaker. HALF_OPEN when no endpoint is CLOSED but some are probing.

Every state change is an immutable `BreakerStateChanged` passed to the subscriber callback (journal,
logs, alerts). The subscriber runs synchronously and must not raise.

Why our own and not pybreaker / purgatory / aiobreaker: all three read the system time (datetime.now
or time.time) instead of an injectable clock, count only consecutive failures (no rate-in-window),
allow a single half-open trial, know nothing about stale verdicts, and none aggregates endpoints
into a venue breaker; pybreaker's async support is Tornado-based. The state machine is ~150 lines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from nonstop.clock import Clock
from nonstop.connectivity.errors import CircuitOpenError, IpBannedError, MaintenanceError, VenueError
from nonstop.errors import ConfigError

__all__ = [
    "BreakerConfig",
    "BreakerScope",
    "BreakerState",
    "BreakerStateChanged",
    "CircuitBreaker",
    "Permit",
    "VenueBreaker",
]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerScope(StrEnum):
    ENDPOINT = "endpoint"
    VENUE = "venue"


@dataclass(frozen=True, slots=True)
class BreakerStateChanged:
    """A breaker moved from `old` to `new`; `at` is the clock's wall time."""

    scope: BreakerScope
    name: str
    old: BreakerState
    new: BreakerState
    reason: str
    at: datetime


Subscriber = Callable[[BreakerStateChanged], None]


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Thresholds; set `consecutive_failures` or `failure_rate` to None to disable that trigger."""

    consecutive_failures: int | None = 5
    failure_rate: float | None = 0.5
    window: float = 30.0
    min_calls: int = 10
    open_duration: float = 5.0
    open_backoff: float = 2.0
    max_open_duration: float = 60.0
    half_open_probes: int = 1

    def __post_init__(self) -> None:
        if self.consecutive_failures is not None and self.consecutive_failures < 1:
            raise ConfigError(
                f"breaker consecutive_failures must be >= 1 or None, got {self.consecutive_failures}"
            )
        if self.failure_rate is not None and not 0 < self.failure_rate <= 1:
            raise ConfigError(f"breaker failure_rate must be in (0, 1] or None, got {self.failure_rate}")
        if self.window <= 0 or self.min_calls < 1:
            raise ConfigError(
                f"breaker needs window > 0 and min_calls >= 1, got {self.window}, {self.min_calls}"
            )
        if not 0 < self.open_duration <= self.max_open_duration or self.open_backoff < 1:
            raise ConfigError("breaker needs 0 < open_duration <= max_open_duration and open_backoff >= 1")
        if self.half_open_probes < 1:
            raise ConfigError(f"breaker half_open_probes must be >= 1, got {self.half_open_probes}")


@dataclass(frozen=True, slots=True)
class Permit:
    """Admission to one call; `generation` ties the verdict to the state it was admitted in."""

    generation: int
    probe: bool
    early: bool = False  # a probe admitted while OPEN (see `acquire_early_probe`)


class CircuitBreaker:
    """One breaker. Synchronous (no awaits inside), so it needs no lock on one event loop."""

    def __init__(
        self,
        name: str,
        clock: Clock,
        config: BreakerConfig | None = None,
        *,
        scope: BreakerScope = BreakerScope.ENDPOINT,
        on_change: Subscriber | None = None,
    ) -> None:
        self.name = name
        self.scope = scope
        self.config = config or BreakerConfig()
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._consecutive = 0
        self._calls: deque[tuple[float, bool]] = deque()  # (monotonic time, failed)
        self._open_until = 0.0
        self._open_for = self.config.open_duration
        self._probes_in_flight = 0
        self._probe_successes = 0
        self._tripped = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock.monotonic() >= self._open_until:
            self._transition(BreakerState.HALF_OPEN, f"open for {self._open_for:g}s")
        return self._state

    def retry_in(self) -> float:
        """Seconds until a call may be admitted again (0 when it may now)."""
        if self.allows():
            return 0.0
        if self._state is BreakerState.OPEN:
            return max(0.0, self._open_until - self._clock.monotonic())
        return 0.0  # HALF_OPEN with every probe slot taken: depends on the probes, not on time

    def allows(self) -> bool:
        """Would `acquire` admit a call now? (Reserves nothing.)"""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        return state is BreakerState.HALF_OPEN and self._probes_in_flight < self.config.half_open_probes

    def acquire(self) -> Permit:
        """Admit one call or raise `CircuitOpenError`; every permit must end in one `on_*` call."""
        if not self.allows():
            raise CircuitOpenError(
                f"{self.scope.value} breaker {self.name!r} is {self._state.value}",
                scope=self.scope.value, name=self.name, retry_in=self.retry_in(),
            )
        probe = self._state is BreakerState.HALF_OPEN
        if probe:
            self._probes_in_flight += 1
        return Permit(self._generation, probe)

    @property
    def early_probe_allowed(self) -> bool:
        """OPEN by failures (not forced by `trip`): a cheap probe may test the endpoint now."""
        return self.state is BreakerState.OPEN and not self._tripped

    def acquire_early_probe(self) -> Permit | None:
        """Admit one probe while OPEN, or None when that is not allowed (closed, half-open, or forced
        open by `trip`, e.g. for a ban or maintenance). A probe that gets an answer closes the breaker
        at once, so recovery follows the endpoint instead of the open timer; one that fails changes
        nothing (no event, no longer open time): probes run at the probe interval and cost one ping."""
        if not self.early_probe_allowed:
            return None
        return Permit(self._generation, probe=False, early=True)

    def _early_verdict(self, permit: Permit, answered: bool) -> None:
        if answered and permit.generation == self._generation and self._state is BreakerState.OPEN:
            self._transition(BreakerState.CLOSED, "a probe was answered while open")

    def on_success(self, permit: Permit) -> None:
        if permit.early:
            self._early_verdict(permit, True)
            return
        if not self._settle(permit):
            return
        if permit.probe:
            self._probe_successes += 1
            if self._probe_successes >= self.config.half_open_probes:
                self._transition(BreakerState.CLOSED, f"{self._probe_successes} probe(s) succeeded")
            return
        self._consecutive = 0
        self._remember(failed=False)

    def on_failure(self, permit: Permit, reason: str) -> None:
        if permit.early:
            return
        if not self._settle(permit):
            return
        if permit.probe:
            self._open_for = min(self.config.max_open_duration, self._open_for * self.config.open_backoff)
            self._open(f"probe failed: {reason}")
            return
        self._consecutive += 1
        self._remember(failed=True)
        cfg = self.config
        if cfg.consecutive_failures is not None and self._consecutive >= cfg.consecutive_failures:
            self._open(f"{self._consecutive} consecutive failures, last: {reason}")
            return
        if cfg.failure_rate is not None and len(self._calls) >= cfg.min_calls:
            failed = sum(1 for _, f in self._calls if f)
            if failed / len(self._calls) >= cfg.failure_rate:
                self._open(f"{failed}/{len(self._calls)} calls failed in {cfg.window:g}s, last: {reason}")

    def on_release(self, permit: Permit) -> None:
        """The call ended without a verdict on the endpoint (cancelled, or an error that does not count)."""
        if not permit.early:
            self._settle(permit)

    def record(self, permit: Permit, error: BaseException | None) -> None:
        """Settle `permit` from a call's outcome: None = success; a counting `VenueError` = failure;
        another `VenueError` proves the endpoint answered (success); anything else releases."""
        if error is None:
            self.on_success(permit)
        elif isinstance(error, VenueError):
            if error.counts_for_breaker:
                self.on_failure(permit, f"{error.error_class.value}: {error.message[:120]}")
            else:
                self.on_success(permit)
        else:
            self.on_release(permit)

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[Permit]:
        """`async with breaker.guard():` admits the call and records its outcome (see `record`)."""
        permit = self.acquire()
        try:
            yield permit
        except BaseException as exc:
            self.record(permit, exc)
            raise
        self.on_success(permit)

    def trip(self, reason: str, duration: float | None = None) -> None:
        """Force OPEN for `duration` seconds (default: the configured open duration)."""
        self._open_for = duration if duration is not None else self.config.open_duration
        self._open(reason)
        self._tripped = True

    def _open(self, reason: str) -> None:
        self._open_until = self._clock.monotonic() + self._open_for
        self._transition(BreakerState.OPEN, reason)

    def _settle(self, permit: Permit) -> bool:
        """Release the permit's probe slot; True when its verdict still concerns the current state."""
        current = permit.generation == self._generation
        if current and permit.probe:
            self._probes_in_flight -= 1
        return current and self.state is not BreakerState.OPEN

    def _remember(self, *, failed: bool) -> None:
        now = self._clock.monotonic()
        self._calls.append((now, failed))
        horizon = now - self.config.window
        while self._calls and self._calls[0][0] < horizon:
            self._calls.popleft()

    def _transition(self, new: BreakerState, reason: str) -> None:
        old = self._state
        self._state = new
        self._tripped = False
        self._generation += 1
        self._probes_in_flight = 0
        self._probe_successes = 0
        if new is BreakerState.CLOSED:
            self._consecutive = 0
            self._calls.clear()
            self._open_for = self.config.open_duration
        if self._on_change is not None and old is not new:
            self._on_change(BreakerStateChanged(self.scope, self.name, old, new, reason, self._clock.now()))


class VenueBreaker:
    """The venue-level breaker over its endpoints' breakers (see module docstring)."""

    def __init__(
        self,
        venue: str,
        endpoints: Sequence[str],
        clock: Clock,
        *,
        endpoint_config: BreakerConfig | None = None,
        venue_config: BreakerConfig | None = None,
        open_share: float = 1.0,
        on_change: Subscriber | None = None,
    ) -> None:
        if not endpoints:
            raise ConfigError(f"venue {venue!r} needs at least one endpoint")
        if len(set(endpoints)) != len(endpoints):
            raise ConfigError(f"venue {venue!r} endpoints must be unique, got {list(endpoints)}")
        if not 0 < open_share <= 1:
            raise ConfigError(f"venue breaker open_share must be in (0, 1], got {open_share}")
        self.venue = venue
        self.open_share = open_share
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._forced = CircuitBreaker(venue, clock, venue_config, scope=BreakerScope.VENUE,
                                      on_change=self._inner_changed)
        self._clock = clock
        self.endpoints: dict[str, CircuitBreaker] = {
            name: CircuitBreaker(name, clock, endpoint_config, on_change=self._inner_changed)
            for name in endpoints
        }

    @property
    def state(self) -> BreakerState:
        self._recompute("state observed")
        return self._state

    def endpoint(self, name: str) -> CircuitBreaker:
        return self.endpoints[name]

    def allows(self) -> bool:
        """Would `acquire` admit a call now? (Reserves nothing; endpoint breakers are not consulted.)"""
        return self._forced.allows()

    def retry_in(self) -> float:
        """Seconds until the venue-level breaker admits a call again (0 when it may now)."""
        return self._forced.retry_in()

    def acquire(self) -> Permit:
        """Admission at venue level (raises `CircuitOpenError` while tripped by a venue-wide error)."""
        return self._forced.acquire()

    def record(self, permit: Permit, error: BaseException | None) -> None:
        """Settle a venue permit; maintenance or an IP ban trips the venue (for its Retry-After)."""
        if isinstance(error, MaintenanceError | IpBannedError):
            self._forced.on_release(permit)
            self.trip(f"{type(error).__name__}: {error.message[:120]}", error.retry_after)
        elif isinstance(error, VenueError) and error.venue_wide:
            self._forced.on_release(permit)  # a 429: the limiter's business, not the breaker's
        elif error is None or isinstance(error, VenueError):
            self._forced.on_success(permit)  # the venue answered
        else:
            self._forced.on_release(permit)

    def trip(self, reason: str, duration: float | None = None) -> None:
        self._forced.trip(reason, duration)

    def _inner_changed(self, event: BreakerStateChanged) -> None:
        if event.scope is BreakerScope.ENDPOINT and self._on_change is not None:
            self._on_change(event)
        self._recompute(f"{event.scope.value} {event.name}: {event.old.value} -> {event.new.value} "
                        f"({event.reason})")

    def _recompute(self, reason: str) -> None:
        states = [b.state for b in self.endpoints.values()]
        forced = self._forced.state
        n_open = states.count(BreakerState.OPEN)
        if forced is BreakerState.OPEN:
            new = BreakerState.OPEN
        elif n_open / len(states) >= self.open_share:
            new = BreakerState.OPEN
            reason = f"{n_open}/{len(states)} endpoints open; {reason}"
        elif forced is BreakerState.HALF_OPEN or BreakerState.CLOSED not in states:
            new = BreakerState.HALF_OPEN
        else:
            new = BreakerState.CLOSED
        if new is not self._state:
            old, self._state = self._state, new
            if self._on_change is not None:
                self._on_change(BreakerStateChanged(BreakerScope.VENUE, self.venue, old, new, reason,
                                                    self._clock.now()))
