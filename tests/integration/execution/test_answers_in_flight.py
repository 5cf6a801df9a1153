"""`place(..., hold_until_recorded=False)`: the caller gets the id once the venue answered; the
answer (acceptance, fills) is still recorded — exactly once, never lost, never mistaken for IN DOUBT."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from nonstop.model import OrderState, OrderType, Side
from tests.enginekit import rig
from tests.simkit import control, running_sim


async def _far_bid(r) -> Decimal:
    quote = await r.venue.quote(r.btc)
    assert quote.bid is not None
    return (quote.bid * Decimal("0.9")).quantize(Decimal("0.01"))  # rests: never reached by the market


async def _types(r) -> list[str]:
    return [rec.event_type async for rec in r.journal.read()]


async def test_acceptance_is_recorded_after_the_caller_returns(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), await _far_bid(r),
                                    hold_until_recorded=False)
        assert "OrderSubmitted" in await _types(r)  # durable before the order left
        await r.manager.recorded(cid)
        assert r.recorder.state.order(cid).state is OrderState.ACCEPTED
        assert await _types(r) == ["OrderIntent", "OrderSubmitted", "OrderAccepted"]


async def test_fills_carried_by_the_answer_are_recorded(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.002"), order_type=OrderType.MARKET,
                                    hold_until_recorded=False)
        await r.manager.recorded()
        order = r.recorder.state.order(cid)
        assert order.state is OrderState.FILLED and order.filled_qty == Decimal("0.002") and order.trade_ids
        assert (await _types(r)).count("OrderFilled") == len(order.trade_ids)


async def test_a_lookup_while_the_answer_is_recorded_waits_for_it_instead_of_doubting(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), await _far_bid(r),
                                    hold_until_recorded=False)
        assert await r.manager.settle(cid) is True  # a reconcile's settle, right after the caller got control
        assert r.recorder.state.order(cid).state is OrderState.ACCEPTED
        assert "OrderInDoubt" not in await _types(r)
        received = await control(sim, "GET", f"/control/venues/alpha/orders?client_order_id={cid.value}")
        assert len(received) == 1


async def test_close_records_every_answer_in_flight(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        bid = await _far_bid(r)
        cids = [await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - i, hold_until_recorded=False)
                for i in range(3)]
        await r.manager.close()
        assert all(r.recorder.state.order(c).state is OrderState.ACCEPTED for c in cids)
        assert (await _types(r)).count("OrderAccepted") == 3
