"""The venue's side of Binance's rate limits: request weight per minute, order counts, 429 → 418.

Windows are fixed (Binance resets REQUEST_WEIGHT at each minute boundary, ORDERS at each 10 s and
each UTC day). A client that keeps sending while it is told to back off (after a 429, before its
Retry-After has passed) collects strikes; at `STRIKES_TO_BAN` it is banned with HTTP 418.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nonstop.config_sim import SimRateLimits
from nonstop.sim.rejects import BinanceReject

STRIKES_TO_BAN = 3


@dataclass
class _Window:
    length_ms: int
    start: int = 0
    used: int = 0

    def roll(self, now_ms: int) -> None:
        start = now_ms - now_ms % self.length_ms
        if start != self.start:
            self.start, self.used = start, 0

    def retry_after_s(self, now_ms: int) -> int:
        return max(1, math.ceil((self.start + self.length_ms - now_ms) / 1000))


@dataclass
class ClientLimits:
    """Counters for one client IP (weight) — order counts live per account, see `OrderLimits`."""

    weight: _Window = field(default_factory=lambda: _Window(60_000))
    backoff_until_ms: int = 0
    strikes: int = 0
    banned_until_ms: int = 0


@dataclass
class OrderLimits:
    per_10s: _Window = field(default_factory=lambda: _Window(10_000))
    per_day: _Window = field(default_factory=lambda: _Window(86_400_000))


class VenueLimits:
    """Applies one venue's limits to each request and produces the usage headers."""

    def __init__(self, config: SimRateLimits) -> None:
        self.config = config
        self.clients: dict[str, ClientLimits] = {}
        self.orders: dict[str, OrderLimits] = {}
        self.counts = {"429": 0, "418": 0}

    def _client(self, ip: str) -> ClientLimits:
        return self.clients.setdefault(ip, ClientLimits())

    def _ban_check(self, c: ClientLimits, now_ms: int) -> BinanceReject | None:
        """A 418 for a banned client, or for one that sends again before its Retry-After passed
        for the STRIKES_TO_BAN-th time; otherwise None (and a client that waited is forgiven)."""
        if c.banned_until_ms > now_ms:
            return self._ban_reject(c, now_ms)
        if c.backoff_until_ms <= now_ms:
            c.strikes = 0
            return None
        c.strikes += 1
        if c.strikes >= STRIKES_TO_BAN:
            c.banned_until_ms = now_ms + self.config.ban_seconds * 1000
            return self._ban_reject(c, now_ms)
        return None

    def admit(self, ip: str, weight: int, now_ms: int) -> dict[str, str]:
        """Count a request's weight; raise a 429 or 418 BinanceReject when over; return headers."""
        c = self._client(ip)
        c.weight.roll(now_ms)
        banned = self._ban_check(c, now_ms)
        if banned is not None:
            raise banned
        c.weight.used += weight
        if c.weight.used > self.config.weight_per_minute:
            retry = c.weight.retry_after_s(now_ms)
            raise self.too_many(ip, now_ms, retry, self.headers(ip, now_ms))
        return self.headers(ip, now_ms)

    def storm(self, ip: str, now_ms: int, retry_after_s: int) -> BinanceReject:
        """An injected 429: still a ban (418) for a client that ignores the back-off it was told."""
        banned = self._ban_check(self._client(ip), now_ms)
        return banned or self.too_many(ip, now_ms, retry_after_s, self.headers(ip, now_ms))

    def too_many(self, ip: str, now_ms: int, retry_after_s: int, headers: dict[str, str]) -> BinanceReject:
        """A 429 (real or injected): the client must wait `retry_after_s` or collect a strike."""
        c = self._client(ip)
        c.backoff_until_ms = max(c.backoff_until_ms, now_ms + retry_after_s * 1000)
        self.counts["429"] += 1
        return BinanceReject(
            -1003,
            f"Too much request weight used; current limit is {self.config.weight_per_minute} request weight "
            "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
            status=429,
            headers={**headers, "Retry-After": str(retry_after_s)},
        )

    def _ban_reject(self, c: ClientLimits, now_ms: int) -> BinanceReject:
        self.counts["418"] += 1
        retry = max(1, math.ceil((c.banned_until_ms - now_ms) / 1000))
        return BinanceReject(
            -1003,
            f"Way too much request weight used; IP banned until {c.banned_until_ms}. "
            "Please use WebSocket Streams for live updates to avoid bans.",
            status=418,
            headers={"Retry-After": str(retry)},
        )

    def headers(self, ip: str, now_ms: int) -> dict[str, str]:
        c = self._client(ip)
        c.weight.roll(now_ms)
        return {"X-MBX-USED-WEIGHT-1M": str(c.weight.used), "X-MBX-USED-WEIGHT": str(c.weight.used)}

    def admit_order(self, account: str, now_ms: int) -> dict[str, str]:
        """Count one new order against the account's 10 s and daily order limits."""
        o = self.orders.setdefault(account, OrderLimits())
        o.per_10s.roll(now_ms)
        o.per_day.roll(now_ms)
        if o.per_10s.used >= self.config.orders_per_10s:
            raise BinanceReject(
                -1015,
                f"Too many new orders; current limit is {self.config.orders_per_10s} orders per 10 SECOND.",
                status=429,
                headers={"Retry-After": str(o.per_10s.retry_after_s(now_ms))},
            )
        if o.per_day.used >= self.config.orders_per_day:
            raise BinanceReject(
                -1015,
                f"Too many new orders; current limit is {self.config.orders_per_day} orders per 1 DAY.",
                status=429,
                headers={"Retry-After": str(o.per_day.retry_after_s(now_ms))},
            )
        o.per_10s.used += 1
        o.per_day.used += 1
        return self.order_headers(account, now_ms)

    def order_headers(self, account: str, now_ms: int) -> dict[str, str]:
        o = self.orders.setdefault(account, OrderLimits())
        o.per_10s.roll(now_ms)
        o.per_day.roll(now_ms)
        return {"X-MBX-ORDER-COUNT-10S": str(o.per_10s.used), "X-MBX-ORDER-COUNT-1D": str(o.per_day.used)}
