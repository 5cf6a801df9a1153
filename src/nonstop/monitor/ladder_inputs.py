"""The degradation ladder's inputs, measured now: rate-limit use and pauses, open endpoint and venue
breakers, excluded feed sources and untrusted instruments (the feed-quality and rate-limit metrics
are published as they are read)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from nonstop.connectivity import BreakerState
from nonstop.data.consensus import SourceStatus
from nonstop.data.feeds import MarketDataHub
from nonstop.monitor.metrics import Metrics
from nonstop.strategy.degradation import DegradationInputs

if TYPE_CHECKING:
    from nonstop.data.market_sources import MarketSource


def measure_ladder_inputs(
    sources: Sequence[MarketSource],
    hub: MarketDataHub,
    symbols: Iterable[str],
    metrics: Metrics,
    *,
    routed: bool,
    reconcile_drift: int,
    manual_halt: bool,
    journal_unwritable: bool,
) -> DegradationInputs:
    """`routed` (M12, the `auto` venue): new orders go to the venues that are up, so open venue
    breakers count only when every trading venue is down (the router alerts)."""
    share, paused, endpoints_open, venues_open = 0.0, False, 0, 0
    trading_venues = sum(1 for s in sources if s.trading)
    for s in sources:
        gateway = getattr(s.venue, "gateway", None)  # not part of VenuePort: adapters without one report nothing
        limiter = getattr(gateway, "limiter", None)
        if limiter is not None:
            used = float(limiter.used_share())
            metrics.ratelimit_used(s.venue.name, "weight", used)
            share = max(share, used)
            paused = paused or float(limiter.paused_for) > 0
        pool = getattr(gateway, "pool", None)
        if s.trading and pool is not None:
            endpoints_open += sum(1 for e in pool.endpoints if e.breaker.state is BreakerState.OPEN)
            venues_open += pool.breaker.state is BreakerState.OPEN
    if routed and venues_open < trading_venues:
        venues_open = 0  # routed (M12): new orders go to the venues that are up; the router alerts
    excluded = untrusted = 0
    for symbol in sorted(symbols):
        consensus = hub.latest(symbol)
        untrusted += not consensus.trusted
        for q in consensus.quality:
            excluded += q.status is not SourceStatus.OK
            if q.age_s is not None:
                dev = float(q.deviation_bps) if q.deviation_bps is not None else float("nan")
                metrics.feed_quality(q.source, symbol, age_seconds=q.age_s, deviation_bps=dev)
    return DegradationInputs(
        rate_limit_share=share,
        rate_limit_paused=paused,
        endpoint_breakers_open=endpoints_open,
        venue_breakers_open=venues_open,
        venues_total=trading_venues,
        excluded_sources=excluded,
        untrusted_instruments=untrusted,
        reconcile_drift=reconcile_drift,
        manual_halt=manual_halt,
        journal_unwritable=journal_unwritable,
    )
