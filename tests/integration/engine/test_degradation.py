"""The degradation ladder wired into the real engine: rate-limit pressure, reconciliation drift
(reduce-only) and the kill switch, against the simulator over real sockets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from nonstop.engine import Engine
from nonstop.model import AlertRecorded, DegradationChanged, EngineState, InstrumentId, OrderIntent
from nonstop.status import collect
from nonstop.strategy.degradation import reduces_exposure
from tests.integration.engine.kit import (
    SYMBOL,
    TRADING,
    ShiftedClock,
    eventually,
    intents_after,
    journal_events,
    levels,
    running,
    settings,
)
from tests.simkit import rest_client

pytestmark = pytest.mark.timeout(240)
BTC = InstrumentId(TRADING, SYMBOL)


def level(engine: Engine) -> str:
    return engine.degradation.level if engine.degradation is not None else "none"


async def test_engine_rate_limit_pressure_steps_down_to_fallback_and_back_to_normal(tmp_path: Path) -> None:
    budget = 1000
    # the weight window is a fixed minute: start the run at second ~44 of the engine's (and the
    # simulator's) clock, so the pressure ends with the window a few seconds later
    second = datetime.now(UTC).second
    offset = 0 if 40 <= second <= 48 else (44 - second) % 60
    engine = Engine(
        settings(tmp_path, weight_per_minute=budget, recv_window_ms=60_000, reconcile_interval_s=30),
        clock=ShiftedClock(offset),
    )
    async with running(engine), aiohttp.ClientSession() as http:
        trading = engine.trading
        assert trading is not None and level(engine) == "normal"
        base = engine.sim.venues[TRADING].urls[0]  # type: ignore[union-attr]

        async def spend(count: int) -> int:
            """`count` requests at once (exchangeInfo: weight 20 each); the highest used weight they report."""
            async def one() -> int:
                async with http.get(base + "/api/v3/exchangeInfo") as resp:
                    assert resp.status == 200
                    return int(resp.headers["X-MBX-USED-WEIGHT-1M"])
            return max(await asyncio.gather(*(one() for _ in range(count))))

        async def spend_until(share: float) -> None:
            """Another client on the same IP spends the shared weight budget, in bursts of half of what is
            left (one request at a time took 20 s on a loaded machine: the window rolled over mid-way and
            the pressure lasted into the next one, starving the feeds)."""
            used = await spend(1)
            while used < share * budget:
                used = await spend(max(1, int((share * budget - used) // 40)))

        # a slow start (a loaded machine) may carry the run past second 50 or into the next window: then
        # the pressure waits for that window's second 41, rather than start too late in one
        second = engine.clock.now().second
        if not 40 <= second <= 50:
            await asyncio.sleep((41 - second) % 60)
        assert engine.clock.now().second >= 40, "the pressure must start well inside the weight window"
        await spend_until(0.65)
        await eventually(lambda: level(engine) == "reduced_data", 10, "reduced data at 65 %")
        assert all(f.poll_interval_s == 1.0 for f in trading.hub.feeds), "REST fallbacks poll slower"
        assert trading.runner.active is trading.runner.primary
        await spend_until(0.85)
        await eventually(lambda: level(engine) == "fallback_strategy", 10, "fallback strategy at 85 %")
        assert trading.runner.active is trading.runner.fallback and "rate-limit weight" in engine.degradation.reason  # type: ignore[union-attr]
        # no more pressure: the minute window rolls over, and the ladder climbs back a step per calm second
        await eventually(lambda: level(engine) == "normal", 75, "back to normal")  # the next window: <= 60 s away
        assert trading.runner.active is trading.runner.primary
        assert all(f.poll_interval_s == 0.2 for f in trading.hub.feeds)
        assert levels(await journal_events(engine)) == ["reduced_data", "fallback_strategy", "reduced_data", "normal"]
        await eventually(lambda: bool(engine.state.open_orders()), 15, "quoting again")  # type: ignore[union-attr]


async def test_engine_reduce_only_rejects_exposure_increasing_intents(tmp_path: Path) -> None:
    engine = Engine(settings(tmp_path, reconcile_interval_s=2))
    async with running(engine):
        trading, state = engine.trading, engine.state
        assert trading is not None and state is not None
        await eventually(lambda: state.positions.get(str(BTC), Decimal(0)) != 0, 20, "a position")
        # an order carrying our prefix that the journal does not know: reconciliation finds drift
        mid = trading.hub.latest(SYMBOL).mid
        assert mid is not None
        async with rest_client(engine.sim, TRADING) as ccxt:  # type: ignore[arg-type]
            await ccxt.create_order(SYMBOL, "limit", "buy", 0.001, float(round(mid * Decimal("0.9"), 2)),
                                    {"newClientOrderId": "ns-a1-mm-zzzzz"})
        await eventually(lambda: level(engine) == "reduce_only", 20, "reduce-only on reconciliation drift")
        assert "reconciliation difference" in engine.degradation.reason  # type: ignore[union-attr]
        await eventually(lambda: any("reduce-only" in why for _, why in trading.rejected), 15,
                         "an exposure-increasing intent rejected")
        await eventually(lambda: level(engine) == "normal", 30, "back to normal after a clean pass")
        events = await journal_events(engine)
    fold, current = EngineState(), "normal"
    for event in events:  # replay the journal: no order sent at reduce-only may grow the position
        if isinstance(event, DegradationChanged):
            current = event.new
        elif isinstance(event, OrderIntent) and current in ("reduce_only", "halted"):
            position = fold.positions.get(str(event.instrument_id), Decimal(0))
            assert event.reduce_only and reduces_exposure(event.side, event.quantity, position), event
        fold.apply(event)
    assert "reduce_only" in levels(events)
    assert all(why.startswith(("reduce-only", "no trustworthy")) for _, why in trading.rejected)


async def test_engine_halt_drives_the_ladder_to_halted_and_cancels_everything(tmp_path: Path) -> None:
    engine = Engine(settings(tmp_path))
    async with running(engine):
        state = engine.state
        assert state is not None and state.open_orders()
        await engine.halt("integration drill")
        assert level(engine) == "halted" and "halted by an operator" in engine.degradation.reason  # type: ignore[union-attr]
        await eventually(lambda: not state.open_orders(), 15, "every order canceled")
        assert await engine.venues[TRADING].open_orders(BTC) == []
        halted_at = engine.clock.now()
        await asyncio.sleep(1.5)  # beyond recover_after_s: a manual halt does not recover by itself
        assert level(engine) == "halted"
        assert engine.readiness.body()["checks"]["trading"]["ok"] is False
        events = await journal_events(engine)
        assert intents_after(events, halted_at) == []
        assert levels(events)[-1] == "halted"
        alerts = [e for e in events if isinstance(e, AlertRecorded) and e.key == "degradation"]
        assert any(a.level == "critical" and a.transition == "raised" for a in alerts), alerts
    shown = await collect(engine.settings)
    assert shown["degradation"]["level"] == "halted" and "operator" in shown["degradation"]["reason"]
