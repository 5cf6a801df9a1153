"""Each pre-trade rule against the simulator: an order over the limit never reaches the venue (the
simulator's own order records prove it) and its refusal is journaled with the rule, the limit and
the value; an exposure-shrinking order passes the position limits."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from nonstop.clock import LiveClock
from nonstop.model import OrderIntent, OrderRejected, OrderState, OrderType, RouteDecided, Side
from nonstop.risk import OrderProposal, RiskSettings
from nonstop.risk.gate import PreTradeRisk
from tests.enginekit import rig
from tests.simkit import control, running_sim, set_fault

NO_LIMITS: dict[str, Any] = {
    "max_order_notional": None, "max_position_notional": None, "max_total_position_notional": None,
    "max_open_orders": None, "max_orders_per_second": None, "max_orders_per_minute": None,
    "price_collar_bps": None, "daily_loss_limit": None, "max_in_doubt": None, "self_cross_guard": False,
}


class Mid:
    def __init__(self, value: Decimal) -> None:
        self.value = value

    def __call__(self, symbol: str) -> Decimal | None:
        return self.value


def _risk(r, mid: Mid, **limits: Any) -> PreTradeRisk:
    settings = RiskSettings(**{**NO_LIMITS, **limits})
    gate = PreTradeRisk(settings, r.recorder.state, LiveClock(), mid, instance="t1")
    r.recorder.listeners.append(gate.on_event)
    return gate


async def _venue_records(sim) -> set[str]:
    return {row["client_order_id"] for row in await control(sim, "GET", "/control/venues/alpha/orders")}


async def _refused(r, sim, gate: PreTradeRisk, proposal: OrderProposal, rule: str, numbers: tuple[str, str]) -> None:
    before = set(r.recorder.state.orders)
    assert not await gate.admit(r.manager, proposal)
    new = [o for k, o in r.recorder.state.orders.items() if k not in before]
    assert len(new) == 1 and new[0].state is OrderState.REJECTED
    cid = new[0].client_order_id.value
    assert cid not in await _venue_records(sim)  # never reached the simulator
    rows = [e async for e in _events(r)]
    intent = [e for e in rows if isinstance(e, OrderIntent) and e.client_order_id.value == cid]
    rejected = [e for e in rows if isinstance(e, OrderRejected) and e.client_order_id.value == cid]
    assert intent and rejected
    reason = rejected[0].reason
    assert rule in reason and all(n in reason for n in numbers), reason


async def _events(r):
    async for record in r.journal.read(1):
        yield record.event


async def _market_buy(r, qty: str) -> None:
    cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal(qty), None, order_type=OrderType.MARKET)
    for _ in range(100):
        if r.recorder.state.order(cid).state is OrderState.FILLED:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"market buy {cid} not filled: {r.recorder.state.order(cid).state}")


async def _mid(r) -> Decimal:
    quote = await r.venue.quote(r.btc)
    assert quote.bid is not None and quote.ask is not None
    return (quote.bid + quote.ask) / 2


def _p(r, side: Side, qty: str, price: Decimal | None) -> OrderProposal:
    return OrderProposal("mm", r.btc, side, Decimal(qty), price.quantize(Decimal("0.01")) if price else None)


async def test_per_order_rules_refuse_before_the_venue(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        mid = Mid(await _mid(r))
        low = mid.value * Decimal("0.99")
        gate = _risk(r, mid, max_order_qty=Decimal("0.01"))
        await _refused(r, sim, gate, _p(r, Side.BUY, "0.02", low), "max_order_qty", ("0.01", "0.02"))
        gate = _risk(r, mid, max_order_notional=Decimal("100"))
        await _refused(r, sim, gate, _p(r, Side.BUY, "0.002", mid.value), "max_order_notional", ("100",))
        gate = _risk(r, mid, price_collar_bps=Decimal("50"))
        await _refused(r, sim, gate, _p(r, Side.BUY, "0.001", mid.value * Decimal("0.98")), "price_collar_bps",
                       ("50", "200"))
        assert await gate.admit(r.manager, _p(r, Side.BUY, "0.001", mid.value * Decimal("0.996")))  # inside



async def test_a_refused_routed_order_is_journaled_with_its_routing_decision(tmp_path: Path) -> None:
    """The journal says why every intent names its venue, a refused one too (same append)."""
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        mid = Mid(await _mid(r))
        gate = _risk(r, mid, max_order_qty=Decimal("0.01"))

        def note(cid):  # what the router's decision gives the order manager
            return RouteDecided(ts=LiveClock().now(), client_order_id=cid, symbol=r.btc.symbol,
                                venue=r.btc.venue, score=Decimal(0), reason="best book")

        assert not await gate.admit(r.manager, _p(r, Side.BUY, "0.02", mid.value), note=note)
        rows = [e async for e in _events(r)]
        intent = next(e for e in rows if isinstance(e, OrderIntent))
        notes = [e for e in rows if isinstance(e, RouteDecided)]
        assert [n.client_order_id for n in notes] == [intent.client_order_id]
        assert rows.index(notes[0]) < rows.index(intent)

async def test_self_cross_guard_and_open_orders(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        mid = Mid(await _mid(r))
        ask = (mid.value * Decimal("1.005")).quantize(Decimal("0.01"))
        resting = await r.manager.place("mm", r.btc, Side.SELL, Decimal("0.001"), ask)
        assert r.recorder.state.order(resting).state is OrderState.ACCEPTED
        gate = _risk(r, mid, self_cross_guard=True)
        await _refused(r, sim, gate, _p(r, Side.BUY, "0.001", ask), "self_cross_guard", (str(ask), resting.value))
        assert await gate.admit(r.manager, _p(r, Side.BUY, "0.001", ask - Decimal("0.01")))  # below our ask: passes
        gate = _risk(r, mid, max_open_orders=1)
        await _refused(r, sim, gate, _p(r, Side.BUY, "0.001", mid.value * Decimal("0.99")), "max_open_orders",
                       ("1", "2"))


async def test_order_rate_per_second_and_per_minute(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        mid = Mid(await _mid(r))
        far = mid.value * Decimal("0.99")
        gate = _risk(r, mid, max_orders_per_second=2)
        assert await gate.admit(r.manager, _p(r, Side.BUY, "0.001", far))
        assert await gate.admit(r.manager, _p(r, Side.BUY, "0.001", far))
        await _refused(r, sim, gate, _p(r, Side.BUY, "0.001", far), "max_orders_per_second", ("2", "3"))
        gate = _risk(r, mid, max_orders_per_minute=1)
        assert await gate.admit(r.manager, _p(r, Side.BUY, "0.001", far))
        await asyncio.sleep(1.1)  # a second later: the per-second window is clear, the minute is not
        await _refused(r, sim, gate, _p(r, Side.BUY, "0.001", far), "max_orders_per_minute", ("1", "2"))


async def test_position_limits_and_an_exposure_shrinking_order_passes(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        await _market_buy(r, "0.002")
        mid = Mid(await _mid(r))
        assert r.recorder.state.positions[str(r.btc)] == Decimal("0.002")
        for limits, rule, numbers in [
            ({"max_position_qty": Decimal("0.002")}, "max_position_qty", ("0.002", "0.003")),
            ({"max_position_notional": Decimal("150")}, "max_position_notional", ("150",)),
            ({"max_total_position_notional": Decimal("150")}, "max_total_position_notional", ("150",)),
        ]:
            gate = _risk(r, mid, **limits)
            await _refused(r, sim, gate, _p(r, Side.BUY, "0.001", mid.value * Decimal("0.999")), rule, numbers)
            # selling shrinks the long: it passes every position limit and reaches the venue
            sell = _p(r, Side.SELL, "0.001", mid.value * Decimal("1.2"))
            assert await gate.admit(r.manager, sell)
            cid = await r.manager.place("mm", r.btc, sell.side, sell.quantity, sell.price)
            assert cid.value in await _venue_records(sim)


async def test_daily_loss_limit_refuses_and_reports_a_halting_breach(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        await _market_buy(r, "0.01")
        fill = next(iter(r.recorder.state.fills.values()))
        mid = Mid(fill.price)
        gate = _risk(r, mid, daily_loss_limit=Decimal("5"))
        assert gate.daily_breach() is None
        mid.value = fill.price - Decimal("1000")  # an adverse move: 0.01 BTC x -1000 = -10 < -5
        breach = gate.daily_breach()
        assert breach is not None and breach.halts and breach.rule == "daily_loss_limit"
        await _refused(r, sim, gate, _p(r, Side.BUY, "0.001", mid.value * Decimal("0.999")), "daily_loss_limit",
                       ("5",))
        assert await gate.admit(r.manager, _p(r, Side.SELL, "0.001", mid.value * Decimal("1.001")))  # shrinks

        halts: list[str] = []
        halted = asyncio.Event()

        async def halt(reason: str) -> None:
            halts.append(reason)
            halted.set()

        watcher = asyncio.create_task(gate.watch_daily_loss(halt, lambda: bool(halts)))
        try:
            async with asyncio.timeout(5):
                await halted.wait()
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        assert "daily loss limit" in halts[0]


@pytest.mark.slow
async def test_in_doubt_orders_pause_new_orders(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        mid = Mid(await _mid(r))
        far = mid.value * Decimal("0.99")
        await set_fault(sim, "drop_order_response", endpoint=0, params={"mode": "hang"})
        gate = _risk(r, mid, max_in_doubt=1)
        assert await gate.admit(r.manager, _p(r, Side.BUY, "0.001", far))
        doubtful = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), far.quantize(Decimal("0.01")))
        assert r.recorder.state.order(doubtful).state is OrderState.IN_DOUBT
        await control(sim, "DELETE", "/control/faults")
        await _refused(r, sim, gate, _p(r, Side.BUY, "0.001", far), "max_in_doubt", ("1",))
