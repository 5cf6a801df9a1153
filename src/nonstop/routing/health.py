"""Reading a venue's health off its gateway, for the router (M12).

The thin, impure side of routing: it reads what the connectivity layer already measures (venue and
endpoint breakers, the endpoint pool's latency tail and error rate, the rate limiter's usage and
Retry-After pause, the user-stream cooldowns) into a `VenueHealth`. No request is made. An adapter
without a gateway (`gateway` is not part of `VenuePort`) reports a healthy default.
"""

from __future__ import annotations

from typing import Any

from nonstop.clock import Clock
from nonstop.connectivity import BreakerState
from nonstop.routing.scoring import VenueHealth

__all__ = ["forget_outage", "venue_health"]


def forget_outage(venue: Any) -> None:
    """The venue is back: its pool's error-rate window held the outage's failures, which would keep its
    score down for the window (60 s) though it answers again; forget them, as the router forgets its
    rejects, so it competes on its health now."""
    pool = getattr(getattr(venue, "gateway", None), "pool", None)
    if pool is not None:
        pool.forget_errors()


def venue_health(venue: Any, clock: Clock, *, recent_rejects: int = 0) -> VenueHealth:
    """The health of `venue` (a `VenuePort`, usually with a `gateway`) as measured now."""
    gateway = getattr(venue, "gateway", None)
    pool = getattr(gateway, "pool", None)
    if pool is None:
        return VenueHealth(venue.name, recent_rejects=recent_rejects)
    endpoints = list(pool.endpoints)
    n = max(1, len(endpoints))
    open_share = sum(1 for e in endpoints if e.breaker.state is BreakerState.OPEN) / n
    snaps = pool.snapshot()
    tails = [s.tail for s in snaps if s.tail is not None]
    error_rate = max((s.error_rate for s in snaps), default=0.0)
    limiter = getattr(gateway, "limiter", None)
    used = float(limiter.used_share()) if limiter is not None else 0.0
    throttled = limiter is not None and float(limiter.paused_for) > 0
    now = clock.monotonic()
    until = getattr(gateway, "_stream_until", {})  # the gateway's stream cooldowns, per endpoint
    stream_down = bool(endpoints) and all(until.get(e.url, 0.0) > now for e in endpoints)
    return VenueHealth(
        venue=venue.name,
        breaker=pool.breaker.state.value,
        endpoints_open_share=open_share,
        latency_p99_s=max(tails) if tails else None,
        error_rate=error_rate,
        rate_limit_used=used,
        throttled=throttled,
        recent_rejects=recent_rejects,
        stream_down=stream_down,
        rest_down=open_share >= 1.0,
    )
