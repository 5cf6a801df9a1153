"""A 429 storm with websocket drops during it (issue 18, item 1): every request that reaches the venue —
the adapter's, the market-data client's order-book snapshots, reconnects — honours the limiter's pause,
so the venue never bans the engine (418), and trading and market data resume after the storm.
Real engine, real ccxt, the simulator's own counters."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nonstop.data import SourceStatus
from nonstop.engine import Engine
from tests.integration.engine.kit import SYMBOL, TRADING, eventually, intents_after, journal_events, running, settings
from tests.simkit import control, set_fault

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
STORM_S = 8.0


async def test_429_storm_with_websocket_drops_never_gets_the_engine_banned(tmp_path: Path) -> None:
    engine = Engine(settings(tmp_path))
    async with running(engine):
        sim = engine.sim
        assert sim is not None and engine.trading is not None
        await set_fault(sim, "rate_limit", TRADING, duration_s=STORM_S, params={"retry_after": 3})
        for _ in range(2):  # the market-data websockets drop twice during the storm
            await asyncio.sleep(2.0)
            await set_fault(sim, "ws_disconnect", TRADING, duration_s=0.5)
        await eventually(lambda: not sim.faults.active, STORM_S + 15, "the storm to end")
        storm_over = engine.clock.now()

        async def traded_again() -> bool:
            return bool(intents_after(await journal_events(engine), storm_over))

        for _ in range(300):
            if await traded_again():
                break
            await asyncio.sleep(0.1)
        assert await traded_again(), "no new order after the storm"

        def websocket_back() -> bool:
            q = engine.trading.hub.latest(SYMBOL).source_quality(TRADING)  # type: ignore[union-attr]
            return q is not None and q.status is SourceStatus.OK and q.transport == "ws"

        await eventually(websocket_back, 20, f"the {TRADING} websocket feed back")
        counters = await control(sim, "GET", f"/control/venues/{TRADING}/counters")
        assert engine.halted is None
    assert counters["http_429"] > 0, "the storm never reached the engine: the test proved nothing"
    assert counters["http_418"] == 0, f"the engine was banned: {counters}"
