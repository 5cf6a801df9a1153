"""`VenueGateway`: one venue's connectivity stack (M1, M3, M10) composed for an adapter.

Every REST request an adapter sends goes through `execute`, in this order::

    retry            reads: `read_retry`; cancels: `cancel_retry` (never an outcome-unknown cancel);
    │                submits: exactly one attempt (an unknown outcome surfaces as OutcomeUnknownError)
    └─ venue breaker     fail fast (RequestNotSent) while maintenance or a ban has tripped the venue
       └─ rate limiter   one permit per request: priority by operation, weight from the venue's table,
          │              market data droppable; the answer's usage headers and 429s are fed back
          └─ endpoint pool   reads hedged across endpoints (a hedge takes its own, droppable, permit);
             │               writes: one attempt on one healthy endpoint, never hedged
             └─ transport    the adapter's `send(base_url)`; the HTTP status and headers of the answer
                             are captured per request (`record_response`, a ContextVar, so concurrent
                             requests on one client never mix them) for the limiter and `classify`

A supervised probe task (`start` / `stop`) pings probing endpoints so an ejected endpoint comes back
without waiting for traffic, re-measures idle healthy ones, and settles a half-open venue breaker.
Breaker state changes are logged and passed to `on_breaker_change`. Websocket streams use
`stream_endpoint` / `stream_failed`: a stream sticks to one endpoint and moves to the next usable one
when it fails there (the failed endpoint cools down with exponential backoff).

The gateway knows nothing about ccxt or Binance: the adapter supplies `send`, weights and priorities.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from nonstop.clock import Clock
from nonstop.connectivity import (
    BreakerConfig,
    BreakerState,
    BreakerStateChanged,
    CircuitOpenError,
    EndpointHealth,
    EndpointPool,
    ErrorClass,
    LimiterConfig,
    LimiterPermit,
    NoEndpointAvailable,
    OperationKind,
    PoolConfig,
    Priority,
    RateLimiter,
    RequestNotSent,
    Retrier,
    RetryPolicy,
    RetryScheduled,
    VenueError,
    classify,
)
from nonstop.connectivity._aio import cancel_and_wait
from nonstop.connectivity.classify import VenueCodes
from nonstop.errors import ConfigError

__all__ = [
    "GatewayConfig",
    "RequestRecord",
    "RequestSpec",
    "VenueGateway",
    "record_response",
]

log = structlog.get_logger("nonstop.venues.gateway")
T = TypeVar("T")
Send = Callable[[str], Awaitable[T]]

_CANCEL_RETRYABLE = frozenset({ErrorClass.TRANSIENT_NETWORK, ErrorClass.UNAVAILABLE, ErrorClass.RATE_LIMITED})


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Every knob of one venue's connectivity; defaults suit Binance spot."""

    pool: PoolConfig = field(default_factory=PoolConfig)
    endpoint_breaker: BreakerConfig = field(default_factory=BreakerConfig)
    venue_breaker: BreakerConfig = field(default_factory=lambda: BreakerConfig(open_duration=30.0))
    venue_open_share: float = 1.0
    limiter: LimiterConfig = field(default_factory=LimiterConfig)
    read_retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=3, total_timeout=15.0))
    cancel_retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=3, total_timeout=10.0, retry_on=_CANCEL_RETRYABLE)
    )
    probe_interval: float = 1.0
    drop_market_data: bool = True  # market data finding no budget is dropped (DataDropped), not queued
    stream_cooldown: float = 2.0  # a stream endpoint that failed is avoided this long, doubling per failure
    stream_max_cooldown: float = 60.0

    def __post_init__(self) -> None:
        if self.probe_interval <= 0:
            raise ConfigError(f"gateway probe_interval must be > 0, got {self.probe_interval}")
        if not 0 < self.stream_cooldown <= self.stream_max_cooldown:
            raise ConfigError("gateway needs 0 < stream_cooldown <= stream_max_cooldown")


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """What one venue call is, for budgeting and routing."""

    name: str  # e.g. "fetch_ticker", for logs and metrics
    operation: OperationKind
    priority: Priority
    weight: int
    is_order: bool = False  # takes an order-count slot (new orders only)
    droppable: bool = False


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One finished `execute` attempt (a retry is a new record), for metrics and benchmarks."""

    name: str
    operation: OperationKind
    priority: Priority
    queue_wait: float  # seconds waited for the rate limiter
    elapsed: float  # seconds from asking for the permit to the outcome
    error: str | None  # the error class (or the local refusal's type name); None on success


@dataclass(slots=True)
class _Capture:
    status: int | None = None
    headers: Mapping[str, str] | None = None
    error_body: str | None = None
    responses: int = 0


_CAPTURE: contextvars.ContextVar[_Capture | None] = contextvars.ContextVar("nonstop_gateway_capture", default=None)


def record_response(status: int, headers: Mapping[str, str], body: str | None = None) -> bool:
    """Called by the transport for every HTTP answer (errors included), in the request's own task;
    `body` is kept for error answers only (status >= 400), for `classify`.

    Returns False when the answer belongs to no gateway request (a request sent around the gateway).
    """
    capture = _CAPTURE.get()
    if capture is None:
        return False
    capture.status, capture.headers = status, headers
    capture.error_body = body[:2000] if body is not None and status >= 400 else None
    capture.responses += 1
    return True


class VenueGateway:
    """One venue: limiter, endpoint pool with its breakers, retry, probing and stream failover."""

    def __init__(
        self,
        venue: str,
        urls: Sequence[str],
        clock: Clock,
        config: GatewayConfig | None = None,
        codes: VenueCodes | None = None,
    ) -> None:
        self.venue = venue
        self.codes = codes  # the venue's error vocabulary, handed to every classification
        self.config = config or GatewayConfig()
        self._clock = clock
        cfg = self.config
        self.pool = EndpointPool(
            venue,
            urls,
            clock,
            config=cfg.pool,
            endpoint_breaker=cfg.endpoint_breaker,
            venue_breaker=cfg.venue_breaker,
            venue_open_share=cfg.venue_open_share,
            on_change=self._breaker_changed,
        )
        self.limiter = RateLimiter(clock, cfg.limiter)
        self._read_retrier = Retrier(cfg.read_retry, clock, on_retry=self._retry_scheduled)
        self._cancel_retrier = Retrier(cfg.cancel_retry, clock, on_retry=self._retry_scheduled)
        self.on_breaker_change: Callable[[BreakerStateChanged], None] | None = None
        self.on_request: Callable[[RequestRecord], None] | None = None
        self._probe_task: asyncio.Task[None] | None = None
        self._stream_url: str | None = None
        self._stream_failures: dict[str, int] = {}
        self._stream_until: dict[str, float] = {}

    # ---- requests ----------------------------------------------------------------------------

    async def execute(self, spec: RequestSpec, send: Send[T]) -> T:
        """Send one logical request through the whole stack; raises a classified `VenueError` or a
        `RequestNotSent` (nothing left the process on the last attempt)."""
        if spec.operation is OperationKind.SUBMIT:
            return await self._once(spec, send)  # never retried: the order manager resolves IN DOUBT
        retrier = self._read_retrier if spec.operation is OperationKind.READ else self._cancel_retrier
        failures: list[VenueError] = []

        async def attempt() -> T:
            try:
                return await self._once(spec, send)
            except VenueError as exc:
                failures.append(exc)
                raise

        try:
            return await retrier.call(attempt, operation=spec.operation, venue=self.venue)
        except CircuitOpenError as refused:
            if not failures:
                raise
            # A breaker opened by our own earlier failure refused the retry: that failure is the news.
            cause = failures[-1]
            cause.add_note(f"retry refused locally: {refused}")
            raise cause from cause.__cause__

    async def _once(self, spec: RequestSpec, send: Send[T]) -> T:
        start = self._clock.monotonic()
        queue_wait = 0.0
        error: str | None = None
        try:
            venue_breaker = self.pool.breaker
            if not venue_breaker.allows():
                raise CircuitOpenError(
                    f"venue breaker {self.venue!r} is open", scope="venue", name=self.venue,
                    retry_in=venue_breaker.retry_in(),
                )
            async with self.limiter.acquire(
                spec.priority, spec.weight, is_order=spec.is_order, droppable=spec.droppable
            ) as permit:
                queue_wait = self._clock.monotonic() - start
                first: list[LimiterPermit] = [permit]

                async def on_endpoint(url: str) -> T:
                    if first:  # the first attempt spends the permit we queued for
                        return await self._send(url, first.pop(), spec, send)
                    # a hedge costs weight too; it starts only if budget is there right now
                    async with self.limiter.acquire(spec.priority, spec.weight, droppable=True) as hedge:
                        return await self._send(url, hedge, spec, send)

                if spec.operation is OperationKind.READ:
                    return await self.pool.hedged(on_endpoint)
                return await self.pool.call(on_endpoint, operation=spec.operation)
        except VenueError as exc:
            error = exc.error_class.value
            raise
        except RequestNotSent as exc:
            error = type(exc).__name__
            raise
        finally:
            if self.on_request is not None:
                record = RequestRecord(spec.name, spec.operation, spec.priority, queue_wait,
                                       self._clock.monotonic() - start, error)
                self._notify(self.on_request, record, "request_observer_failed")

    async def _send(self, url: str, permit: LimiterPermit, spec: RequestSpec, send: Send[T]) -> T:
        capture = _Capture()
        token = _CAPTURE.set(capture)
        try:
            result = await send(url)
        except VenueError as exc:  # already classified by the transport
            permit.observe(capture.headers, error=exc)
            raise
        except Exception as exc:  # translated at the boundary; cancellation is not an Exception
            err = classify(exc, operation=spec.operation, venue=self.venue, endpoint=url, codes=self.codes,
                           http_status=capture.status, headers=capture.headers, body=capture.error_body,
                           now=self._clock.now())
            permit.observe(capture.headers, error=err)
            raise err from exc
        finally:
            _CAPTURE.reset(token)
        permit.observe(capture.headers)
        if capture.responses > 1:
            log.warning("unbudgeted_requests", venue=self.venue, request=spec.name, responses=capture.responses)
        return result

    # ---- probing -----------------------------------------------------------------------------

    def start(self, ping: Send[object], ping_weight: int = 1) -> None:
        """Start the supervised probe task (idempotent); `stop` cancels and awaits it."""
        if self._probe_task is not None and not self._probe_task.done():
            return
        self._probe_task = asyncio.get_running_loop().create_task(
            self._supervise_probes(ping, ping_weight), name=f"probe-{self.venue}"
        )

    async def stop(self) -> None:
        task, self._probe_task = self._probe_task, None
        if task is not None:
            await cancel_and_wait(task)

    @property
    def probing(self) -> bool:
        return self._probe_task is not None and not self._probe_task.done()

    async def probe_once(self, ping: Send[object], ping_weight: int = 1) -> dict[str, VenueError | None]:
        """One probe round: ping probing and idle endpoints, then settle a half-open venue breaker."""
        spec = RequestSpec("ping", OperationKind.READ, Priority.ACCOUNT, ping_weight, droppable=True)

        async def on_endpoint(url: str) -> object:
            async with self.limiter.acquire(spec.priority, spec.weight, droppable=True) as permit:
                return await self._send(url, permit, spec, ping)

        try:
            outcome = await self.pool.probe(on_endpoint)
        except RequestNotSent as exc:  # no budget for a probe this round: the next round tries again
            log.debug("probe_skipped", venue=self.venue, reason=str(exc))
            return {}
        venue_breaker = self.pool.breaker
        if venue_breaker.state is not BreakerState.CLOSED and venue_breaker.allows():
            try:
                await self.pool.call(on_endpoint, operation=OperationKind.READ)
            except (VenueError, RequestNotSent) as exc:
                log.debug("venue_probe_failed", venue=self.venue, error=str(exc))
        for url, err in outcome.items():
            if err is not None:
                log.info("probe_failed", venue=self.venue, endpoint=url, error=str(err))
        return outcome

    async def _supervise_probes(self, ping: Send[object], ping_weight: int) -> None:
        backoff = self.config.probe_interval
        while True:
            try:
                while True:
                    await self._clock.sleep(self.config.probe_interval)
                    await self.probe_once(ping, ping_weight)
                    backoff = self.config.probe_interval
            except Exception:  # a bug must not end probing for good; it is logged, not hidden
                log.exception("probe_loop_failed", venue=self.venue, restart_in_s=backoff)
                await self._clock.sleep(backoff)
                backoff = min(backoff * 2, 60.0)

    # ---- streams -----------------------------------------------------------------------------

    def stream_endpoint(self) -> str:
        """The endpoint the venue's websocket streams should use now (sticky until it fails)."""
        now = self._clock.monotonic()
        current = self._stream_url
        if current is not None and self._stream_usable(current, now):
            return current
        usable = [e for e in self.pool.endpoints if self._stream_usable(e.url, now)]
        if not usable:
            waits = [max(0.0, t - now) for t in self._stream_until.values()]
            raise NoEndpointAvailable(
                f"venue {self.venue!r}: no endpoint can carry a stream now",
                scope="endpoint", name=self.venue, retry_in=min(waits) if waits else None,
            )
        chosen = min(usable, key=lambda e: e.health is not EndpointHealth.HEALTHY).url
        if current is not None and chosen != current:
            log.warning("stream_failover", venue=self.venue, old=current, new=chosen)
        self._stream_url = chosen
        return chosen

    def stream_failed(self, url: str, error: VenueError) -> None:
        """A stream on `url` failed; an endpoint-health failure moves streams to another endpoint."""
        if not error.counts_for_breaker or url != self._stream_url:
            return  # a definitive answer, or a stale report about an endpoint we already left
        n = self._stream_failures.get(url, 0) + 1
        self._stream_failures[url] = n
        cooldown = min(self.config.stream_max_cooldown, self.config.stream_cooldown * 2 ** (n - 1))
        self._stream_until[url] = self._clock.monotonic() + cooldown
        self._stream_url = None
        log.warning("stream_endpoint_failed", venue=self.venue, endpoint=url, failures=n,
                    cooldown_s=cooldown, error=str(error))

    def stream_succeeded(self, url: str) -> None:
        self._stream_failures.pop(url, None)

    def _stream_usable(self, url: str, now: float) -> bool:
        if self._stream_until.get(url, 0.0) > now:
            return False
        return self.pool.breaker.endpoint(url).state is not BreakerState.OPEN

    # ---- events ------------------------------------------------------------------------------

    def _breaker_changed(self, event: BreakerStateChanged) -> None:
        level = log.warning if event.new is BreakerState.OPEN else log.info
        level("breaker_changed", venue=self.venue, scope=event.scope.value, name=event.name,
              old=event.old.value, new=event.new.value, reason=event.reason, at=event.at.isoformat())
        if self.on_breaker_change is not None:
            self._notify(self.on_breaker_change, event, "breaker_subscriber_failed")

    def _retry_scheduled(self, event: RetryScheduled) -> None:
        log.info("retry_scheduled", venue=self.venue, operation=event.operation.value, attempt=event.attempt,
                 delay_s=round(event.delay, 3), error_class=event.error_class.value, retry_after=event.retry_after)

    def _notify(self, callback: Callable[[T], None], event: T, failure: str) -> None:
        # Subscribers run inside breaker and request bookkeeping; one that raises must not corrupt it.
        try:
            callback(event)
        except Exception:  # logged with its traceback, never silently dropped
            log.exception(failure, venue=self.venue)
