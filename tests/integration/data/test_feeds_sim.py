"""Feeds, validator and strategy against the simulator: real sockets, real ccxt (REST and pro)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal

import pytest

from nonstop.clock import LiveClock
from nonstop.data import (
    ConsensusQuote,
    DataSettings,
    FeedSettings,
    MarketDataHub,
    SourceSpec,
    SourceStatus,
    Transport,
    ValidatorSettings,
    ccxt_book_watch,
    ccxt_ticker_fetch,
)
from nonstop.model import Instrument, InstrumentId
from nonstop.sim.server import SimServer
from nonstop.strategy.market_maker import MarketMaker
from nonstop.strategy.runner import StrategyRunner
from tests.simkit import control, pro_client, rest_client, running_sim, set_fault
from tests.unit.strategy.kit import view

pytestmark = pytest.mark.timeout(40)
SYMBOL = "BTC/USDT"
STALL_S, POLL_S = 1.0, 0.2
SETTINGS = DataSettings(
    validator=ValidatorSettings(max_age_s=1.5, max_unchanged_s=2.0, band_bps=Decimal(50), min_sources=2),
    feeds=FeedSettings(
        stall_s=STALL_S, poll_interval_s=POLL_S, request_timeout_s=2.0, reconnect_min_s=0.2, reconnect_max_s=1.0,
        restore_after=3, check_interval_s=0.2,
    ),
)


@asynccontextmanager
async def hub_on(sim: SimServer, venues: list[str], seen: list[ConsensusQuote]) -> AsyncIterator[MarketDataHub]:
    clock = LiveClock()
    async with AsyncExitStack() as stack:
        specs = []
        for v in venues:
            pro = await stack.enter_async_context(pro_client(sim, v))
            rest = await stack.enter_async_context(rest_client(sim, v))
            iid = InstrumentId(v, SYMBOL)
            specs.append(SourceSpec(v, iid, ccxt_book_watch(pro, iid, clock), ccxt_ticker_fetch(rest, iid, clock)))

        async def on_update(c: ConsensusQuote) -> None:
            seen.append(c)

        hub = MarketDataHub(clock, specs, SETTINGS, on_update)
        task = asyncio.create_task(hub.run())
        try:
            yield hub
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def wait_for(check: Callable[[], bool], within: float) -> None:
    """Wait until `check()` holds, or fail naming the timeout."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.05)


def status(c: ConsensusQuote, source: str) -> SourceStatus | None:
    q = c.source_quality(source)
    return None if q is None else q.status


async def test_spike_then_freeze_excluded_consensus_in_band_then_no_trustworthy_price() -> None:
    seen: list[ConsensusQuote] = []
    async with running_sim(venues=3, endpoints=1, tick_ms=50) as sim, hub_on(sim, ["alpha", "beta", "gamma"], seen):
        await wait_for(lambda: bool(seen) and len(seen[-1].sources) == 3, 10)
        await set_fault(sim, "price_spike", "beta", params={"pct": 5})
        await wait_for(lambda: status(seen[-1], "beta") is SourceStatus.OUTLIER, 15)
        during = seen[-1]
        assert during.trusted and set(during.sources) == {"alpha", "gamma"}
        gamma = during.source_quality("gamma")
        assert gamma is not None and gamma.mid is not None and during.mid is not None
        assert abs(during.mid - gamma.mid) / gamma.mid * 10_000 < 50  # within the band of the good sources

        # the strategy keeps trading on the good sources' price, not the spiked one
        mm = MarketMaker("s1", InstrumentId("alpha", SYMBOL), Decimal("0.001"), half_spread_bps=Decimal("10"))
        instrument = Instrument(mm.instrument_id, Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"))
        v = view()
        v.instruments = {mm.instrument_id: instrument}
        placed = StrategyRunner(mm).on_market(during, v).allowed
        assert len(placed) == 2
        for p in placed:
            assert abs(p.price - during.mid) / during.mid * 10_000 < 15  # type: ignore[union-attr, operator]

        await set_fault(sim, "frozen_feed", "alpha")
        # the freeze is detected (silent: STALE; polled but unchanged: FROZEN) within max_age/max_unchanged;
        # until then the frozen alpha may already drift out of the band (OUTLIER) as gamma moves on, so
        # the wait is on the detection itself, not on the first untrusted quote
        await wait_for(lambda: status(seen[-1], "alpha") in (SourceStatus.STALE, SourceStatus.FROZEN), 15)
        last = seen[-1]
        assert not last.trusted
        # gamma and the spiked beta are left: two sources that disagree, nobody can tell which is right
        assert "0 good source(s), 2 needed" in last.reason and last.mid is None
        assert StrategyRunner(mm).on_market(last, v).allowed == ()  # no trustworthy price: opens nothing


async def test_websocket_disconnect_rest_takes_over_in_time_and_websocket_comes_back() -> None:
    seen: list[ConsensusQuote] = []
    async with running_sim(venues=2, endpoints=1, tick_ms=50) as sim, hub_on(sim, ["alpha", "beta"], seen) as hub:
        alpha = hub.feeds[0]
        await wait_for(lambda: alpha.transport is Transport.WS, 10)
        start = len(seen)
        fault = await set_fault(sim, "ws_disconnect", "alpha")
        t0 = time.monotonic()
        await wait_for(lambda: alpha.transport is Transport.REST, 15)
        # measured from the switch's own record (its monotonic time), not from this test's polling of it
        to_rest = next(s for s in hub.switches if s.source == "alpha" and s.new is Transport.REST and s.monotonic >= t0)
        switched_after = to_rest.monotonic - t0
        await asyncio.sleep(3)  # on REST for a while: polls keep the source fresh
        await control(sim, "DELETE", f"/control/faults/{fault['id']}")
        await wait_for(lambda: alpha.transport is Transport.WS, 15)
        window = seen[start:]
        ages = [q.age_s for c in window if (q := c.source_quality("alpha")) is not None and q.age_s is not None]
        rest_used = any(q.transport == "rest" for c in window if (q := c.source_quality("alpha")) is not None)
    assert switched_after <= STALL_S + 0.5
    assert rest_used and max(ages) <= STALL_S + POLL_S + 0.6  # no gap beyond the configured time
    assert all(c.trusted for c in window)
    reasons = [s.reason for s in hub.switches if s.source == "alpha"]
    assert any("websocket error" in r or "stalled" in r for r in reasons) and "restored" in reasons[-1]
