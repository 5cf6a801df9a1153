"""The endpoint pool of one venue (M1): several base URLs, each with latency and error statistics and
a circuit breaker; requests are spread over the healthy ones and reads are hedged.

* Health follows the endpoint's breaker: CLOSED = healthy, HALF_OPEN = probing, OPEN = ejected.
* `choose()` picks by "power of two choices": two random healthy endpoints, the one with the lower
  EWMA latency x (1 + requests in flight) wins. A READ goes to a probing endpoint first when it has
  a free probe slot (passive probing, covered by the hedge); writes only ever go to healthy ones.
* `hedge_delay()` = the endpoint's recent p99 latency clamped to [hedge_min, hedge_max].
* `hedged(read_fn)` starts the read on the chosen endpoint; if no answer came within the hedge delay,
  or it failed with an endpoint-health error, it starts the read on the next endpoint; the first
  success wins and the others are cancelled and awaited. A definitive answer (rejected, auth,
  rate-limited, fatal) ends the read at once: another endpoint would say the same.
  Reads only: `call(..., operation=SUBMIT)` makes exactly one attempt on one endpoint. A SUBMIT IS
  NEVER HEDGED (two endpoints could both place it).
* A hedged loser cancelled after `slow_call` seconds counts as a breaker failure, so a black-holed
  endpoint is ejected instead of silently taxing every read with the hedge delay.
* `probe(ping_fn)` pings every probing endpoint once (active probing for ejected endpoints whose
  open time is over), and every healthy endpoint that has had no answer for `remeasure_idle`
  seconds: power-of-two never picks an endpoint whose estimate is high, so without a fresh sample a
  healthy endpoint that was slow once would stay starved forever.

Requests are injected callables `(base_url) -> awaitable`, so the pool runs without a network in
tests and wraps a ccxt call in production. The callable should take its own rate-limit permit: a
hedge costs weight too, and a hedge refused by the limiter (`RequestNotSent`) just does not start.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from nonstop.clock import Clock
from nonstop.connectivity._aio import cancel_and_wait, run_with_timeout
from nonstop.connectivity.breaker import (
    BreakerConfig,
    BreakerScope,
    BreakerState,
    BreakerStateChanged,
    CircuitBreaker,
    Permit,
    Subscriber,
    VenueBreaker,
)
from nonstop.connectivity.classify import classify
from nonstop.connectivity.errors import NoEndpointAvailable, OperationKind, RequestNotSent, VenueError
from nonstop.errors import ConfigError

__all__ = ["Endpoint", "EndpointHealth", "EndpointPool", "EndpointSnapshot", "PoolConfig"]

T = TypeVar("T")
RequestFn = Callable[[str], Awaitable[T]]


class EndpointHealth(StrEnum):
    HEALTHY = "healthy"
    PROBING = "probing"
    EJECTED = "ejected"


_HEALTH = {BreakerState.CLOSED: EndpointHealth.HEALTHY, BreakerState.HALF_OPEN: EndpointHealth.PROBING,
           BreakerState.OPEN: EndpointHealth.EJECTED}


@dataclass(frozen=True, slots=True)
class PoolConfig:
    ewma_alpha: float = 0.3
    tail_window: int = 256  # latency samples kept for the p99
    tail_quantile: float = 0.99
    error_window: float = 60.0
    hedge_min: float = 0.05
    hedge_max: float = 1.0
    hedge_attempts: int = 2  # endpoints one hedged read may use
    attempt_timeout: float = 10.0
    slow_call: float = 5.0
    remeasure_idle: float | None = 15.0  # probe() pings a healthy endpoint idle this long; None: never

    def __post_init__(self) -> None:
        if not 0 < self.ewma_alpha <= 1 or not 0 < self.tail_quantile <= 1 or self.tail_window < 1:
            raise ConfigError("pool needs 0 < ewma_alpha <= 1, 0 < tail_quantile <= 1, tail_window >= 1")
        if not 0 <= self.hedge_min <= self.hedge_max:
            raise ConfigError(f"pool needs 0 <= hedge_min <= hedge_max, got {self.hedge_min}, {self.hedge_max}")
        if self.hedge_attempts < 1 or self.attempt_timeout <= 0 or self.slow_call <= 0 or self.error_window <= 0:
            raise ConfigError("pool needs hedge_attempts >= 1 and positive attempt_timeout, slow_call, error_window")
        if self.remeasure_idle is not None and self.remeasure_idle <= 0:
            raise ConfigError(f"pool remeasure_idle must be > 0 or None, got {self.remeasure_idle}")


class _Stats:
    def __init__(self, config: PoolConfig) -> None:
        self._cfg = config
        self.ewma: float | None = None
        self.samples: deque[float] = deque(maxlen=config.tail_window)
        self.outcomes: deque[tuple[float, bool]] = deque()

    def latency(self, seconds: float) -> None:
        a = self._cfg.ewma_alpha
        self.ewma = seconds if self.ewma is None else a * seconds + (1 - a) * self.ewma
        self.samples.append(seconds)

    def outcome(self, now: float, *, failed: bool) -> None:
        self.outcomes.append((now, failed))
        self._trim(now)

    def tail(self) -> float | None:
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(self._cfg.tail_quantile * len(ordered)) - 1)]

    def error_rate(self, now: float) -> float:
        self._trim(now)
        return sum(1 for _, f in self.outcomes if f) / len(self.outcomes) if self.outcomes else 0.0

    def forget_latency(self) -> None:
        self.ewma = None
        self.samples.clear()

    def _trim(self, now: float) -> None:
        while self.outcomes and self.outcomes[0][0] < now - self._cfg.error_window:
            self.outcomes.popleft()


@dataclass(frozen=True, slots=True)
class EndpointSnapshot:
    """For metrics and the dashboard."""

    url: str
    health: EndpointHealth
    ewma: float | None
    tail: float | None
    error_rate: float
    in_flight: int


class Endpoint:
    def __init__(self, url: str, breaker: CircuitBreaker, config: PoolConfig) -> None:
        self.url = url
        self.breaker = breaker
        self.stats = _Stats(config)
        self.in_flight = 0
        self.measured_at: float | None = None  # monotonic time of the last latency sample

    @property
    def health(self) -> EndpointHealth:
        return _HEALTH[self.breaker.state]

    def __repr__(self) -> str:
        return f"Endpoint({self.url!r}, {self.health.value})"


class EndpointPool:
    """One venue's endpoints, their breakers and the venue breaker."""

    def __init__(
        self,
        venue: str,
        urls: Sequence[str],
        clock: Clock,
        *,
        config: PoolConfig | None = None,
        endpoint_breaker: BreakerConfig | None = None,
        venue_breaker: BreakerConfig | None = None,
        venue_open_share: float = 1.0,
        rng: random.Random | None = None,
        on_change: Subscriber | None = None,
    ) -> None:
        self.venue = venue
        self.config = config or PoolConfig()
        self._clock = clock
        self._rng = rng or random.Random()
        self._subscriber = on_change
        self.breaker = VenueBreaker(venue, urls, clock, endpoint_config=endpoint_breaker,
                                    venue_config=venue_breaker, open_share=venue_open_share,
                                    on_change=self._breaker_changed)
        self.endpoints = [Endpoint(url, self.breaker.endpoint(url), self.config) for url in urls]
        self._by_url = {e.url: e for e in self.endpoints}

    # ---- routing -----------------------------------------------------------------------------

    def choose(self, operation: OperationKind = OperationKind.READ, *, exclude: Sequence[Endpoint] = ()) -> Endpoint:
        """The endpoint for the next request, or `NoEndpointAvailable`."""
        usable = [e for e in self.endpoints if e not in exclude and e.breaker.allows()]
        healthy = [e for e in usable if e.health is EndpointHealth.HEALTHY]
        if operation is OperationKind.READ:
            probing = [e for e in usable if e.health is EndpointHealth.PROBING]
            if probing:
                return probing[0]
        if not healthy:
            waits = [e.breaker.retry_in() for e in self.endpoints if e not in exclude]
            raise NoEndpointAvailable(
                f"venue {self.venue!r}: no endpoint can take a {operation.value} now "
                f"({', '.join(f'{e.url}={e.health.value}' for e in self.endpoints)})",
                scope="endpoint", name=self.venue, retry_in=min(waits) if waits else None,
            )
        if len(healthy) == 1:
            return healthy[0]
        a, b = self._rng.sample(healthy, 2)
        return a if self._score(a) <= self._score(b) else b

    def hedge_delay(self, endpoint: Endpoint | None = None) -> float:
        """How long a read waits on `endpoint` before hedging: its p99, clamped to [min, max]."""
        cfg = self.config
        ep = endpoint or self.choose(OperationKind.READ)
        tail = ep.stats.tail()
        if ep.health is not EndpointHealth.HEALTHY:
            return cfg.hedge_min  # do not trust a probing endpoint's history
        if tail is None:
            return cfg.hedge_max
        return min(cfg.hedge_max, max(cfg.hedge_min, tail))

    def forget_errors(self) -> None:
        """Forget every endpoint's failed and succeeded calls (the error-rate window): called when the
        venue is back after an outage, whose failures say nothing about its health now."""
        for ep in self.endpoints:
            ep.stats.outcomes.clear()

    def snapshot(self) -> list[EndpointSnapshot]:
        now = self._clock.monotonic()
        return [EndpointSnapshot(e.url, e.health, e.stats.ewma, e.stats.tail(), e.stats.error_rate(now),
                                 e.in_flight) for e in self.endpoints]

    # ---- requests ----------------------------------------------------------------------------

    async def call(self, request_fn: RequestFn[T], *, operation: OperationKind) -> T:
        """One attempt on one endpoint (the only way to send a write). Raises a classified error."""
        permit = self.breaker.acquire()
        error: BaseException | None = None
        try:
            return await self._attempt(self.choose(operation), request_fn, operation)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self.breaker.record(permit, error)

    async def hedged(self, read_fn: RequestFn[T]) -> T:
        """A read raced across endpoints (see module docstring)."""
        permit = self.breaker.acquire()
        error: BaseException | None = None
        try:
            return await self._hedged(read_fn)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self.breaker.record(permit, error)

    async def probe(self, ping_fn: RequestFn[object]) -> dict[str, VenueError | None]:
        """Ping every probing endpoint, every endpoint whose breaker failures opened (an answer closes
        it at once: recovery follows the venue, not the open timer), and every measured healthy
        endpoint idle for `remeasure_idle` seconds, once, concurrently; returns each one's outcome."""
        targets = [e for e in self.endpoints if e.health is EndpointHealth.PROBING and e.breaker.allows()]
        early = [e for e in self.endpoints if e.breaker.early_probe_allowed]  # open: an answer closes it
        idle_for = self.config.remeasure_idle
        if idle_for is not None:
            now = self._clock.monotonic()
            targets += [e for e in self.endpoints
                        if e.health is EndpointHealth.HEALTHY and e.in_flight == 0 and e.measured_at is not None
                        and now - e.measured_at >= idle_for]
        targets += early
        results = await asyncio.gather(
            *(self._attempt(e, ping_fn, OperationKind.READ, early=e in early) for e in targets),
            return_exceptions=True,
        )
        outcome: dict[str, VenueError | None] = {}
        for ep, res in zip(targets, results, strict=True):
            if isinstance(res, VenueError):
                outcome[ep.url] = res
            elif isinstance(res, BaseException):
                raise res  # a local refusal, a bug or a cancellation: not a probe verdict
            else:
                outcome[ep.url] = None
        return outcome

    # ---- internals ---------------------------------------------------------------------------

    async def _hedged(self, read_fn: RequestFn[T]) -> T:
        cfg = self.config
        tasks: dict[asyncio.Future[T], Endpoint] = {}
        tried: list[Endpoint] = []
        last_error: Exception | None = None
        refused = False

        def launch() -> Endpoint:
            ep = self.choose(OperationKind.READ, exclude=tried)
            tried.append(ep)
            tasks[asyncio.ensure_future(self._attempt(ep, read_fn, OperationKind.READ))] = ep
            return ep

        def can_hedge() -> bool:
            return len(tried) < cfg.hedge_attempts and any(
                e not in tried and e.breaker.allows() for e in self.endpoints)

        try:
            newest = launch()
            while tasks:
                timer: asyncio.Future[None] | None = None
                if can_hedge() and not refused:
                    timer = asyncio.ensure_future(self._clock.sleep(self.hedge_delay(newest)))
                try:
                    done, _ = await asyncio.wait({*tasks, *([timer] if timer else [])},
                                                 return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if timer is not None:
                        await cancel_and_wait(timer)
                finished = [t for t in done if t in tasks]
                if not finished:
                    newest = launch()  # the hedge delay passed with no answer
                    continue
                for task in finished:
                    tasks.pop(task)
                    try:
                        return task.result()
                    except VenueError as exc:
                        if not exc.counts_for_breaker:
                            raise  # a definitive answer: another endpoint would say the same
                        last_error = exc
                    except RequestNotSent as exc:
                        if not tasks:
                            raise  # refused locally (e.g. DataDropped) and nothing else is running
                        refused = True  # the limiter refused a hedge: keep waiting, start no more
                        last_error = last_error or exc
                if can_hedge() and not refused:
                    newest = launch()  # fail over at once, without waiting for the hedge delay
            if last_error is None:  # unreachable: every finished attempt returned or set it
                raise RuntimeError("hedged read ended without an answer or an error")
            raise last_error
        finally:
            await cancel_and_wait(*tasks)

    async def _attempt(self, ep: Endpoint, fn: RequestFn[T], operation: OperationKind, *, early: bool = False) -> T:
        permit = (ep.breaker.acquire_early_probe() if early else None) or ep.breaker.acquire()
        start = self._clock.monotonic()
        foreign: Exception | None = None
        ep.in_flight += 1
        try:
            result = await run_with_timeout(self._clock, self.config.attempt_timeout, lambda: fn(ep.url))
        except RequestNotSent:
            ep.breaker.on_release(permit)
            raise
        except asyncio.CancelledError:
            self._cancelled(ep, permit, self._clock.monotonic() - start)
            raise
        except VenueError as exc:
            err = exc
        except Exception as exc:  # noqa: BLE001 - foreign errors are translated here, at the boundary
            foreign = exc
            err = classify(exc, operation=operation, venue=self.venue, endpoint=ep.url)
        else:
            now = self._clock.monotonic()
            ep.stats.latency(now - start)
            ep.measured_at = now
            ep.stats.outcome(now, failed=False)
            ep.breaker.on_success(permit)
            return result
        finally:
            ep.in_flight -= 1
        err.endpoint = err.endpoint or ep.url
        err.venue = err.venue or self.venue
        ep.stats.outcome(self._clock.monotonic(), failed=err.counts_for_breaker)
        ep.breaker.record(permit, err)
        if foreign is not None:
            raise err from foreign
        raise err

    def _cancelled(self, ep: Endpoint, permit: Permit, elapsed: float) -> None:
        # `elapsed` is a lower bound on this endpoint's latency: keep it when it says "slower than we thought".
        if ep.stats.ewma is None or elapsed > ep.stats.ewma:
            ep.stats.latency(elapsed)
            ep.measured_at = self._clock.monotonic()
        if elapsed >= self.config.slow_call:
            ep.stats.outcome(self._clock.monotonic(), failed=True)
            ep.breaker.on_failure(permit, f"no answer after {elapsed:.2f}s (cancelled)")
        else:
            ep.breaker.on_release(permit)

    def _score(self, ep: Endpoint) -> float:
        ewma = ep.stats.ewma if ep.stats.ewma is not None else 0.0  # unmeasured: try it
        return ewma * (1 + ep.in_flight)

    def _breaker_changed(self, event: BreakerStateChanged) -> None:
        recovered = event.old is not BreakerState.CLOSED and event.new is BreakerState.CLOSED
        if recovered and event.scope is BreakerScope.ENDPOINT and event.name in self._by_url:
            recovered_ep = self._by_url[event.name]
            recovered_ep.stats.forget_latency()  # judge the recovered endpoint afresh
            recovered_ep.measured_at = None
        if self._subscriber is not None:
            self._subscriber(event)
