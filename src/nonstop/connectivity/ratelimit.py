"""Binance-style rate-limit budgets with priority queues (M10, invariant 7).

Budgets, in fixed windows aligned to the clock's UTC time as Binance counts them: request weight per
minute, new orders per 10 s and per day. Every request asks for its weight (see `weights.py`);
a new order (`is_order=True`) also takes one order slot. Cancels are ORDER priority but take no
order slot (Binance does not count them).

Priorities: ORDER > ACCOUNT > MARKET_DATA. Each priority may fill the weight window only up to its
share (default 100 % / 90 % / 60 %), so a reserve is always left for orders; waiters are granted
strictly by priority, FIFO within one, and once a waiter is blocked on weight nobody behind it may
take weight (no overtaking). A new order blocked on the order count does not hold up cancels or
reads. Queues are bounded (`LimiterQueueFull`); a request marked `droppable` is never queued
(`DataDropped`), and no request waits longer than its `max_wait` (`LimiterTimeout`).

The venue's count wins over ours: `X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-10S` / `-1D` replace our
estimate (plus what we have in flight that the venue may not have seen yet), if the answer belongs to
the current window. After a 429 (or 418), nothing at all is granted until its Retry-After has
passed (default: the start of the next minute window), because sending anything during that time is
what gets an IP banned. When the pause ends, requests go one at a time (a trial, like a half-open
breaker) until one is answered without a 429: a queue of waiters released all at once into a limit
that is still in force would collect the strikes that turn a 429 into a 418 ban.

Why our own and not aiolimiter: aiolimiter is a single leaky bucket on the loop's time; we need
fixed windows matching the venue's, several budgets at once, header synchronisation, a global pause,
priority classes with reserves, bounded queues and an injected clock.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import IntEnum

from nonstop.clock import Clock
from nonstop.connectivity._aio import wait_or_sleep
from nonstop.connectivity.errors import (
    DataDropped,
    IpBannedError,
    LimiterQueueFull,
    LimiterTimeout,
    RateLimitedError,
    VenueError,
)
from nonstop.errors import ConfigError

__all__ = ["LimiterConfig", "LimiterPermit", "Priority", "RateLimiter", "WaitStats"]

HEADER_WEIGHT_1M = "x-mbx-used-weight-1m"
HEADER_ORDERS_10S = "x-mbx-order-count-10s"
HEADER_ORDERS_1D = "x-mbx-order-count-1d"
_WEIGHT_WINDOW, _ORDER_WINDOW, _DAY = 60.0, 10.0, 86_400.0


class Priority(IntEnum):
    """Lower value = more urgent (invariant 7: orders outrank data collection)."""

    ORDER = 0
    ACCOUNT = 1
    MARKET_DATA = 2


def _per_priority(order: float, account: float, data: float) -> dict[Priority, float]:
    return {Priority.ORDER: order, Priority.ACCOUNT: account, Priority.MARKET_DATA: data}


@dataclass(frozen=True, slots=True)
class LimiterConfig:
    weight_per_minute: int = 6000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000
    # The part of the weight window each priority may fill; the rest is the reserve of those above.
    weight_share: Mapping[Priority, float] = field(default_factory=lambda: _per_priority(1.0, 0.9, 0.6))
    # Longest a request waits for budget (orders: one window slot, plus margin for a 429 pause).
    max_wait: Mapping[Priority, float] = field(default_factory=lambda: _per_priority(61.0, 30.0, 60.0))
    max_queue: Mapping[Priority, int] = field(
        default_factory=lambda: {Priority.ORDER: 1000, Priority.ACCOUNT: 200, Priority.MARKET_DATA: 100}
    )

    def __post_init__(self) -> None:
        if min(self.weight_per_minute, self.orders_per_10s, self.orders_per_day) < 1:
            raise ConfigError("limiter budgets (weight_per_minute, orders_per_10s, orders_per_day) must be >= 1")
        for name in ("weight_share", "max_wait", "max_queue"):
            table = getattr(self, name)
            if set(table) != set(Priority):
                raise ConfigError(f"limiter {name} must name every priority {[p.name for p in Priority]}")
        shares = [self.weight_share[p] for p in Priority]
        if any(not 0 < s <= 1 for s in shares) or shares != sorted(shares, reverse=True):
            raise ConfigError(f"limiter weight_share must be in (0, 1] and not grow as priority falls, got {shares}")
        if any(v <= 0 for v in self.max_wait.values()) or any(v < 1 for v in self.max_queue.values()):
            raise ConfigError("limiter max_wait must be > 0 and max_queue >= 1")


@dataclass(slots=True)
class WaitStats:
    """Queue waits of one priority since start: count, sum and max (seconds), drops and timeouts."""

    granted: int = 0
    total_wait: float = 0.0
    max_wait: float = 0.0
    dropped: int = 0
    timed_out: int = 0

    @property
    def mean_wait(self) -> float:
        return self.total_wait / self.granted if self.granted else 0.0


class LimiterPermit:
    """What `acquire` yields: report the answer's headers and errors through it."""

    __slots__ = ("_limiter", "id", "is_order", "priority", "weight", "window")

    def __init__(self, limiter: RateLimiter, pid: int, priority: Priority, weight: int, is_order: bool,
                 window: int) -> None:
        self._limiter = limiter
        self.id = pid
        self.priority = priority
        self.weight = weight
        self.is_order = is_order
        self.window = window

    def observe(self, headers: Mapping[str, str] | None = None, error: BaseException | None = None) -> None:
        """Feed the venue's usage headers and/or the request's error back to the limiter."""
        self._limiter.observe(headers, error=error, permit=self)


@dataclass(slots=True)
class _Waiter:
    priority: Priority
    weight: int
    is_order: bool
    enqueued: float
    fut: asyncio.Future[LimiterPermit]


class RateLimiter:
    """One venue's (one IP's) budgets. See the module docstring."""

    def __init__(self, clock: Clock, config: LimiterConfig | None = None) -> None:
        self.config = config or LimiterConfig()
        self._clock = clock
        self._ids = itertools.count(1)
        self._queues: dict[Priority, deque[_Waiter]] = {p: deque() for p in Priority}
        self._stats: dict[Priority, WaitStats] = {p: WaitStats() for p in Priority}
        self._in_flight: dict[int, LimiterPermit] = {}
        self._windows = (-1, -1, -1)
        self._weight_used = 0
        self._orders_10s = 0
        self._orders_day = 0
        self._paused_until = float("-inf")
        self._recovering = False  # after a pause: one request at a time until an answer without 429
        self._trial: int | None = None  # the permit id of that one request
        self.rate_limited_count = 0

    # ---- the API -----------------------------------------------------------------------------

    @asynccontextmanager
    async def acquire(
        self,
        priority: Priority,
        weight: int,
        *,
        is_order: bool = False,
        droppable: bool = False,
        max_wait: float | None = None,
    ) -> AsyncIterator[LimiterPermit]:
        """`async with limiter.acquire(Priority.ORDER, 1, is_order=True) as permit:` send, then
        `permit.observe(headers, error)`. Raises a `RateLimitBackpressure` when not granted."""
        permit = await self._admit(priority, weight, is_order, droppable, max_wait)
        try:
            yield permit
        finally:
            self._in_flight.pop(permit.id, None)
            if permit.id == self._trial:  # the trial ended without an answer: the next waiter tries
                self._trial = None
                self._dispatch()

    def observe(
        self,
        headers: Mapping[str, str] | None,
        *,
        error: BaseException | None = None,
        permit: LimiterPermit | None = None,
    ) -> None:
        """Adopt the venue's counts from `headers`; pause everything after a 429/418."""
        self._roll()
        if headers and (permit is None or permit.window == self._windows[0]):
            others = [p for p in self._in_flight.values() if p is not permit and p.window == self._windows[0]]
            low = {k.lower(): v for k, v in headers.items()}
            weight = _int(low.get(HEADER_WEIGHT_1M))
            if weight is not None:
                self._weight_used = weight + sum(p.weight for p in others)
            in_flight_orders = sum(1 for p in others if p.is_order)
            orders = _int(low.get(HEADER_ORDERS_10S))
            if orders is not None:
                self._orders_10s = orders + in_flight_orders
            orders = _int(low.get(HEADER_ORDERS_1D))
            if orders is not None:
                self._orders_day = orders + in_flight_orders
        if isinstance(error, RateLimitedError):
            self.pause(error.retry_after, banned=isinstance(error, IpBannedError))
        elif isinstance(error, VenueError) and error.http_status in (418, 429):
            self.pause(error.retry_after, banned=error.http_status == 418)
        elif permit is not None and permit.id == self._trial:
            answered = bool(headers) or (isinstance(error, VenueError) and error.http_status is not None)
            if answered:  # the venue answered without a 429: the limit is lifted
                self._recovering = False
                self._trial = None
        self._dispatch()

    def pause(self, retry_after: float | None, *, banned: bool = False) -> None:
        """Grant nothing for `retry_after` seconds (default: until the next minute window)."""
        self.rate_limited_count += 1
        now = self._clock.monotonic()
        seconds = retry_after if retry_after is not None else self._until_boundary(_WEIGHT_WINDOW)
        if banned and retry_after is None:
            seconds = max(seconds, 120.0)  # Binance bans for at least 2 minutes
        self._paused_until = max(self._paused_until, now + seconds)
        self._recovering = True
        self._trial = None

    # ---- metrics -----------------------------------------------------------------------------

    @property
    def recovering(self) -> bool:
        """True after a 429/418 pause until a trial request is answered without one."""
        return self._recovering

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock.monotonic())

    def weight_used(self) -> int:
        self._roll()
        return self._weight_used

    def used_share(self) -> float:
        """Share of this minute's weight budget used (1.0 = all)."""
        return self.weight_used() / self.config.weight_per_minute

    def orders_used(self) -> tuple[int, int]:
        """(orders in this 10 s window, orders today)."""
        self._roll()
        return self._orders_10s, self._orders_day

    def queue_depth(self, priority: Priority) -> int:
        return len(self._queues[priority])

    def wait_stats(self, priority: Priority) -> WaitStats:
        return self._stats[priority]

    # ---- internals ---------------------------------------------------------------------------

    async def _admit(self, priority: Priority, weight: int, is_order: bool, droppable: bool,
                     max_wait: float | None) -> LimiterPermit:
        cap = self.config.weight_per_minute * self.config.weight_share[priority]
        if not 0 <= weight <= cap:
            raise ValueError(f"weight {weight} can never fit the {priority.name} budget of {cap:g} per minute")
        queue = self._queues[priority]
        if len(queue) >= self.config.max_queue[priority] and not droppable:
            raise LimiterQueueFull(f"{priority.name} queue is full ({len(queue)} waiting)")
        now = self._clock.monotonic()
        deadline = now + (max_wait if max_wait is not None else self.config.max_wait[priority])
        waiter = _Waiter(priority, weight, is_order, now, asyncio.get_running_loop().create_future())
        queue.append(waiter)
        self._dispatch()
        if not waiter.fut.done() and (droppable or self._paused_until > deadline):
            queue.remove(waiter)
            stats = self._stats[priority]
            if droppable:
                stats.dropped += 1
                raise DataDropped(f"{priority.name} request of weight {weight} dropped: no budget now",
                                  retry_in=self.paused_for or None)
            stats.timed_out += 1
            raise LimiterTimeout(f"rate-limit pause ends in {self.paused_for:.1f}s, after this request's max wait",
                                 retry_in=self.paused_for or None)
        try:
            while not waiter.fut.done():
                now = self._clock.monotonic()
                if now >= deadline:
                    self._stats[priority].timed_out += 1
                    waited = now - waiter.enqueued
                    raise LimiterTimeout(f"{priority.name} request of weight {weight} waited {waited:.1f}s")
                wake = min(deadline, self._next_change(now))
                await wait_or_sleep(self._clock, waiter.fut, wake - now)
                self._dispatch()
        except BaseException:
            if waiter.fut.done() and not waiter.fut.cancelled():
                granted = waiter.fut.result().id  # granted as we were cancelled
                self._in_flight.pop(granted, None)
                if granted == self._trial:
                    self._trial = None
            else:
                waiter.fut.cancel()
                if waiter in queue:
                    queue.remove(waiter)
            self._dispatch()
            raise
        return waiter.fut.result()

    def _dispatch(self) -> None:
        self._roll()
        if self._clock.monotonic() < self._paused_until:
            return
        cfg = self.config
        weight_blocked = orders_blocked = False
        for priority in Priority:
            cap = cfg.weight_per_minute * cfg.weight_share[priority]
            queue = self._queues[priority]
            for waiter in list(queue):
                if self._recovering and self._trial is not None:
                    return  # one trial request at a time until the venue answers without a 429
                if weight_blocked or self._weight_used + waiter.weight > cap:
                    weight_blocked = True
                    continue
                if waiter.is_order and (orders_blocked or self._orders_10s >= cfg.orders_per_10s
                                        or self._orders_day >= cfg.orders_per_day):
                    orders_blocked = True
                    continue
                queue.remove(waiter)
                permit = self._grant(waiter)
                if self._recovering:
                    self._trial = permit.id

    def _grant(self, waiter: _Waiter) -> LimiterPermit:
        self._weight_used += waiter.weight
        if waiter.is_order:
            self._orders_10s += 1
            self._orders_day += 1
        permit = LimiterPermit(self, next(self._ids), waiter.priority, waiter.weight, waiter.is_order,
                               self._windows[0])
        self._in_flight[permit.id] = permit
        wait = self._clock.monotonic() - waiter.enqueued
        stats = self._stats[waiter.priority]
        stats.granted += 1
        stats.total_wait += wait
        stats.max_wait = max(stats.max_wait, wait)
        waiter.fut.set_result(permit)
        return permit

    def _roll(self) -> None:
        t = self._clock.now().timestamp()
        windows = (int(t // _WEIGHT_WINDOW), int(t // _ORDER_WINDOW), int(t // _DAY))
        old = self._windows
        if windows[0] != old[0]:
            self._weight_used = 0
        if windows[1] != old[1]:
            self._orders_10s = 0
        if windows[2] != old[2]:
            self._orders_day = 0
        self._windows = windows

    def _until_boundary(self, window: float) -> float:
        t = self._clock.now().timestamp()
        return window - (t % window)

    def _next_change(self, now: float) -> float:
        """The next moment (monotonic) at which a budget resets or the pause ends."""
        candidates = [now + self._until_boundary(_WEIGHT_WINDOW)]
        if any(w.is_order for q in self._queues.values() for w in q):
            candidates.append(now + self._until_boundary(_ORDER_WINDOW))
        if self._paused_until > now:
            candidates.append(self._paused_until)
        return min(candidates)


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None
