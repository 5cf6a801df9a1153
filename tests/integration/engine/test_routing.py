"""Multi-venue routing in the real engine (M12): one strategy on "auto" trades two simulated
Binance-dialect venues; one enters maintenance, new orders fail over to the other, and routing
returns once its breaker closes. Real sockets, the real ccxt client, the embedded simulator."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from nonstop.api.views import RoutingView
from nonstop.config import EngineVenue, Settings, StrategySettings
from nonstop.engine import Engine
from nonstop.model import ANY_VENUE, InstrumentId, OrderIntent, RouteDecided, Side, TimeInForce
from nonstop.routing import portfolio_of
from nonstop.routing.settings import RoutingSettings
from nonstop.routing.stranded import StrandedPolicy
from nonstop.status import collect, render
from tests.integration.engine.kit import SYMBOL, eventually, journal_events, running, settings

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]
A, B, C = "binance-a", "binance-b", "binance-c"


def routed_settings(tmp_path: Path, routing: RoutingSettings | None = None) -> Settings:
    """Trading on binance-a and binance-b with strategy.venue = "auto"; binance-c feeds data only."""
    s = settings(tmp_path, data_venues=2)  # sim venues a (2 endpoints), b, c
    eng = s.engine.model_copy(update={
        "venues": [EngineVenue(name=A), EngineVenue(name=B)],
        "data_venues": [EngineVenue(name=C)],
        "strategy": StrategySettings(venue=ANY_VENUE, symbol=SYMBOL, interval_s=0.2),
        "routing": routing or RoutingSettings(),
    })
    return s.model_copy(update={"engine": eng})


async def buy_on_a(engine: Engine, qty: str) -> str:
    """An order of this engine's strategy, on binance-a directly (IOC through the ask): exposure there."""
    assert engine.manager is not None and engine.trading is not None and engine.state is not None
    ask = engine.trading.hub.latest(SYMBOL).ask
    assert ask is not None
    cid = await engine.manager.place("mm", InstrumentId(A, SYMBOL), Side.BUY, Decimal(qty),
                                     (ask * Decimal("1.01")).quantize(Decimal("0.01")), time_in_force=TimeInForce.IOC)
    await eventually(lambda: portfolio_of(engine.state).position(A, SYMBOL).quantity > 0, 30, "a position on a")
    return cid.value


def received(engine: Engine) -> dict[str, list[str]]:
    return {n: [r.client_order_id for r in rt.venue.received] for n, rt in engine.sim.venues.items()}


async def test_engine_routes_around_a_venue_in_maintenance_and_back(tmp_path: Path) -> None:
    engine = Engine(routed_settings(tmp_path))
    async with running(engine):  # the default run outlasts the test on a loaded machine
        trading = engine.trading
        assert trading is not None
        router = trading.router
        await eventually(lambda: router.total >= 2, 30, "routed orders")
        direct = await buy_on_a(engine, "0.003")
        # venue a goes into maintenance (every endpoint answers 503 "System is under maintenance.")
        engine.sim.faults.set("maintenance", A)
        await eventually(lambda: A in router._away, 30, "routing to move away from binance-a")
        at_down = router.total
        sent_a_at_down = len(received(engine)[A])
        await eventually(lambda: router.total >= at_down + 4, 30, "orders routed during the outage")
        during = list(router.decisions)[-min(router.total - at_down, len(router.decisions)):]
        assert {d.decision.venue for d in during} == {B}, "every decision after the fault goes to binance-b"
        assert all(any(t.startswith(f"{A}:") for t in d.decision.ranking_texts()) for d in during)
        assert len(received(engine)[A]) == sent_a_at_down, "nothing reached the downed venue"
        assert engine.alerts is None or any(
            a.key == f"routing:{A}" for a in engine.alerts.active()), "an alert says routing moved away"
        await eventually(lambda: bool(router.stranded), 15, "exposure shown as stranded")
        assert engine.alerts is None or any(a.key == f"stranded:{A}:{SYMBOL}" for a in engine.alerts.active())
        assert trading.hedges_sent == 0, "hold: nothing is traded against it"
        shown = RoutingView(**router.status())  # what /api/routing serves
        assert shown.away == [A] and shown.stranded[0]["venue"] == A and shown.policy == "hold"
        assert shown.last_decisions[-1]["venue"] == B
        exposed = engine.metrics.render().decode()
        assert f'nonstop_route_decisions_total{{venue="{B}"}}' in exposed
        assert f'nonstop_route_score{{venue="{A}"}} -1.0' in exposed
        # the maintenance ends: probes close a's breaker and a is ranked (by score) again
        engine.sim.faults.clear_all(A)
        await eventually(lambda: A not in router._away, 30, "binance-a back in the ranking")
        back = router.total
        await eventually(lambda: router.total >= back + 2, 30, "orders routed after the return")
        at_back = router.counts.get(A, 0)
        await eventually(lambda: router.counts.get(A, 0) > at_back, 30, "orders routed to binance-a again")
        last = router.decisions[-1].decision
        assert any(t.startswith(f"{A}=") for t in last.ranking_texts()), "binance-a is scored again"
        assert last.venue == last.ranking[0].venue
        events = await journal_events(engine)
    intents = [e for e in events if isinstance(e, OrderIntent) and e.client_order_id.value != direct]
    notes = {e.client_order_id.value: e for e in events if isinstance(e, RouteDecided)}
    assert intents and all(i.instrument_id.venue in (A, B) for i in intents)
    assert all(notes[i.client_order_id.value].venue == i.instrument_id.venue for i in intents), \
        "each intent is journaled with its routing decision"
    sent = [c for n in (A, B) for c in received(engine)[n]]
    assert not [c for c, k in Counter(sent).items() if k > 1], "no duplicate on any venue"
    state = engine.state
    assert state is not None
    p = portfolio_of(state)
    assert p.position(ANY_VENUE, SYMBOL).quantity == sum(x.quantity for x in p.by_venue(SYMBOL).values())
    shown = await collect(engine.settings)  # `nonstop status`, replayed from the journal: the same positions
    assert shown["portfolio"] == p.to_dict()
    assert "all venues:BTC/USDT" in render(shown)


async def test_engine_hedge_policy_offsets_stranded_exposure_and_unwinds_it_reduce_only(tmp_path: Path) -> None:
    engine = Engine(routed_settings(tmp_path, RoutingSettings(stranded=StrandedPolicy.HEDGE, hedge_after_s=0.5)))
    async with running(engine):  # the default run outlasts the test on a loaded machine
        trading = engine.trading
        assert trading is not None and engine.state is not None
        router, state = trading.router, engine.state
        await buy_on_a(engine, "0.004")
        engine.sim.faults.set("maintenance", A)

        def gap() -> Decimal:  # exposure on a not yet offset by hedges elsewhere
            net = sum(router.hedges.net(state, A, SYMBOL).values(), Decimal(0))
            return portfolio_of(state).position(A, SYMBOL).quantity + net

        await eventually(lambda: A in router._away and trading.hedges_sent > 0, 30, "a hedge")
        await eventually(lambda: abs(gap()) < Decimal("0.001"), 30, "the stranded exposure offset")
        hedged = router.hedges.net(state, A, SYMBOL)
        assert hedged and A not in hedged, "hedged on the other venue only"
        engine.sim.faults.clear_all(A)
        # the venue breaker stays open venue_breaker_open_s (30 s) from the maintenance, then a probe closes it
        await eventually(lambda: A not in router._away, 45, "binance-a back")
        await eventually(lambda: not router.hedges.net(state, A, SYMBOL), 30, "the hedge unwound")
        events = await journal_events(engine)
    notes = {e.client_order_id.value: e for e in events if isinstance(e, RouteDecided)}
    hedges = [notes[k] for k in notes if notes[k].reason.startswith("hedge of")]
    unwinds = [e for e in events if isinstance(e, OrderIntent) and e.reduce_only
               and notes.get(e.client_order_id.value) and notes[e.client_order_id.value].reason.startswith("unwind")]
    assert hedges and all(h.venue == B for h in hedges)
    assert unwinds and all(u.instrument_id.venue == B for u in unwinds)
