"""The engine's consensus under bad data on one venue: real engine, real sockets, simulator faults."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from nonstop.data import SourceStatus
from nonstop.engine import Engine
from nonstop.model import DegradationChanged, InstrumentId
from tests.integration.engine.kit import SYMBOL, TRADING, eventually, intents_after, journal_events, running, settings
from tests.simkit import control, set_fault

pytestmark = pytest.mark.timeout(120)


def status_of(engine: Engine, source: str) -> SourceStatus | None:
    assert engine.trading is not None
    q = engine.trading.hub.latest(SYMBOL).source_quality(source)
    return None if q is None else q.status


async def test_engine_frozen_feed_with_too_few_sources_stops_opening_then_recovers(tmp_path: Path) -> None:
    engine = Engine(settings(tmp_path))  # binance-a trades, binance-b feeds; min_sources = 2
    async with running(engine):
        assert engine.trading is not None and status_of(engine, "binance-b") is SourceStatus.OK
        await set_fault(engine.sim, "frozen_feed", "binance-b")  # type: ignore[arg-type]
        await eventually(lambda: status_of(engine, "binance-b") in (SourceStatus.STALE, SourceStatus.FROZEN), 20,
                         "binance-b excluded as stale/frozen")
        assert not engine.trading.hub.latest(SYMBOL).trusted, "one good source of two needed must not be a price"
        await eventually(lambda: engine.degradation is not None and engine.degradation.level == "reduce_only", 15,
                         "reduce-only")
        assert "without a trustworthy price" in engine.degradation.reason  # type: ignore[union-attr]
        await eventually(lambda: not engine.state.open_orders(), 15, "quotes pulled")  # type: ignore[union-attr]
        frozen_at = engine.clock.now()
        await asyncio.sleep(1.5)  # 7 strategy intervals on an untrusted price
        events = await journal_events(engine)
        assert intents_after(events, frozen_at) == [], "the strategy opened orders without a trustworthy price"
        assert any(isinstance(e, DegradationChanged) and e.new == "reduce_only" for e in events)

        await control(engine.sim, "DELETE", "/control/faults")  # type: ignore[arg-type]
        # the ladder climbs a step per calm interval: a loaded run took 6 s a step and was not back after 20 s
        await eventually(lambda: engine.degradation.level == "normal", 60, "back to normal")  # type: ignore[union-attr]
        await eventually(lambda: bool(engine.state.open_orders()), 15, "quoting again")  # type: ignore[union-attr]


async def test_engine_price_spike_on_one_of_three_sources_is_excluded_and_trading_goes_on(tmp_path: Path) -> None:
    engine = Engine(settings(tmp_path, data_venues=2))  # a, b, c: one outlier leaves two good sources
    async with running(engine):
        assert engine.trading is not None
        await eventually(lambda: status_of(engine, "binance-c") is SourceStatus.OK, 15, "binance-c good")
        await set_fault(engine.sim, "price_spike", "binance-b", params={"pct": 5})  # type: ignore[arg-type]
        await eventually(lambda: status_of(engine, "binance-b") is SourceStatus.OUTLIER, 15, "binance-b an outlier")
        consensus = engine.trading.hub.latest(SYMBOL)
        assert consensus.trusted and set(consensus.sources) == {"binance-a", "binance-c"}
        spiked = consensus.source_quality("binance-b")
        assert spiked is not None and spiked.deviation_bps is not None and spiked.deviation_bps > 400
        await eventually(lambda: engine.degradation.level == "reduced_data", 15, "reduced data")  # type: ignore[union-attr]
        assert "1 feed source(s) excluded" in engine.degradation.reason  # type: ignore[union-attr]

        excluded_at = engine.clock.now()
        seen: list = []

        async def new_orders() -> bool:
            seen[:] = intents_after(await journal_events(engine), excluded_at)
            return len(seen) >= 2

        for _ in range(100):
            if await new_orders():
                break
            await asyncio.sleep(0.1)
        assert len(seen) >= 2, "the strategy stopped trading although two good sources remain"
        mid = engine.trading.hub.latest(SYMBOL).mid
        assert mid is not None
        for intent in seen:  # quoted around the good consensus, not dragged 5 % by the spike
            assert intent.instrument_id == InstrumentId(TRADING, SYMBOL)
            assert intent.price is not None and abs(intent.price - mid) / mid < Decimal("0.005")
