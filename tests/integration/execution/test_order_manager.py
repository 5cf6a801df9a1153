"""The order manager against the simulator: write-ahead, in-doubt resolution, idempotent cancels."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from nonstop.journal import replay
from nonstop.model import ClientOrderId, OrderIntent, OrderState, OrderType, Side
from nonstop.venues.binance import BinanceVenue
from nonstop.venues.port import VenueOrderReport
from tests.enginekit import FAST, rig
from tests.simkit import control, running_sim, set_fault


async def _settled(r, cid: ClientOrderId, *states: OrderState, within: float = 15.0) -> OrderState:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        state = r.recorder.state.order(cid).state
        if state in states:
            return state
        await asyncio.sleep(0.1)
    return r.recorder.state.order(cid).state


async def _bid(r) -> Decimal:
    """90 % of the bid: orders priced a few dollars below it rest, whatever the market does meanwhile
    (they were priced at the bid - 40 to 80, about 8 bps, which a test slowed down by a loaded machine
    gives the moving market time to reach)."""
    quote = await r.venue.quote(r.btc)
    assert quote.bid is not None
    return (quote.bid * Decimal("0.9")).quantize(Decimal("0.01"))


class JournalWitness(BinanceVenue):
    """The real adapter; before any byte of a submit leaves, it reads the journal file through
    its own SQLite connection and records whether the intent and the submit were already there."""

    journal_path: Path
    seen: list[tuple[str, bool]]

    async def submit(self, intent: OrderIntent) -> VenueOrderReport:
        with sqlite3.connect(self.journal_path) as db:
            payloads = [row[0] for row in db.execute("SELECT payload FROM journal")]
        cid = intent.client_order_id.value
        durable = any(cid in p and '"OrderIntent"' in p for p in payloads) and any(
            cid in p and '"OrderSubmitted"' in p for p in payloads)
        self.seen.append((cid, durable))
        return await super().submit(intent)


async def test_intent_is_durable_before_the_order_leaves(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    JournalWitness.journal_path, JournalWitness.seen = path, []
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, path, venue_class=JournalWitness) as r:
        bid = await _bid(r)
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - 50)
        assert r.recorder.state.order(cid).state is OrderState.ACCEPTED
        await r.manager.cancel(cid)
        assert r.recorder.state.order(cid).state is OrderState.CANCELED
        await r.manager.cancel(cid)  # idempotent: nothing more happens
    assert JournalWitness.seen == [(cid.value, True)]
    types = [row[0] for row in sqlite3.connect(path).execute("SELECT type FROM journal ORDER BY seq")]
    assert types == ["OrderIntent", "OrderSubmitted", "OrderAccepted", "OrderCancelRequested", "OrderCanceled"]


async def test_accept_then_drop_response_resolves_to_exactly_one_venue_order(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        await set_fault(sim, "drop_order_response", params={"mode": "hang"})
        bid = await _bid(r)
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - 50)
        assert r.recorder.state.order(cid).state is OrderState.IN_DOUBT
        await control(sim, "DELETE", "/control/faults")
        assert await _settled(r, cid, OrderState.ACCEPTED) is OrderState.ACCEPTED
        received = await control(sim, "GET", f"/control/venues/alpha/orders?client_order_id={cid.value}")
        assert len(received) == 1 and str(received[0]["order_id"]) == r.recorder.state.order(cid).venue_order_id.value
        assert await control(sim, "GET", "/control/venues/alpha/duplicates") == {}


async def test_market_order_with_reset_after_accept_ends_filled_with_its_fills(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        await set_fault(sim, "drop_order_response", params={"mode": "reset"}, duration_s=0.5)
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.002"), order_type=OrderType.MARKET)
        assert await _settled(r, cid, OrderState.FILLED) is OrderState.FILLED
        order = r.recorder.state.order(cid)
        assert order.filled_qty == Decimal("0.002") and order.trade_ids
        received = await control(sim, "GET", f"/control/venues/alpha/orders?client_order_id={cid.value}")
        assert len(received) == 1


async def test_order_the_venue_never_saw_is_resent_with_the_same_id_after_recv_window(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        bid = await _bid(r)
        await set_fault(sim, "reset", duration_s=1.0)  # nothing reaches the matching engine for a second
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - 50)
        assert r.recorder.state.order(cid).state is OrderState.IN_DOUBT
        assert await _settled(r, cid, OrderState.ACCEPTED) is OrderState.ACCEPTED
        received = await control(sim, "GET", f"/control/venues/alpha/orders?client_order_id={cid.value}")
        assert [x["rejected"] for x in received] == [None]  # exactly one order reached the venue
        types = [rec.event_type async for rec in r.journal.read()]
        assert types.count("OrderSubmitted") == 2 and types.count("OrderIntent") == 1


async def test_rejected_order_is_rejected_not_in_doubt(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("50"), Decimal("59000.00"))  # > balance
        order = r.recorder.state.order(cid)
        assert order.state is OrderState.REJECTED and "insufficient" in order.reason.lower()


async def test_restart_replays_exactly_the_live_state(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    async with running_sim(venues=1, endpoints=1) as sim:
        async with rig(sim, path) as r:
            bid = await _bid(r)
            resting = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - 40)
            await r.manager.place("mm", r.btc, Side.SELL, Decimal("0.001"), order_type=OrderType.MARKET)
            await r.manager.cancel(resting)
            await r.reconciler.reconcile("alpha", [r.btc])
            live_hash = r.recorder.state.state_hash()
            await r.recorder.snapshot()
            await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - 45)
            live_hash_2 = r.recorder.state.state_hash()
        async with rig(sim, path) as again:
            assert again.recorder.state.state_hash() == live_hash_2 != live_hash
            assert (await replay(again.journal, use_snapshot=False)).state_hash() == live_hash_2
            nxt = await again.manager.place("mm", again.btc, Side.BUY, Decimal("0.001"), bid - 60)
            assert nxt.seq == 4  # ids continue after a restart, never reused


@pytest.mark.parametrize("endpoints", [1, 3])
async def test_slow_and_flaky_endpoints_never_produce_a_second_venue_order(tmp_path: Path, endpoints: int) -> None:
    # every layer below the order manager (gateway, endpoint pool, ccxt) must send a submit once:
    # a slow primary must never make a submit "hedged" onto another endpoint
    async with running_sim(venues=1, endpoints=endpoints) as sim, \
            rig(sim, tmp_path / "j.sqlite", endpoints=endpoints) as r:
        await set_fault(sim, "latency", probability=0.5, params={"ms": 300})
        await set_fault(sim, "http_error", probability=0.2, params={"status": 503})
        bid = await _bid(r)
        placed = [await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - 50 - i) for i in range(12)]
        await control(sim, "DELETE", "/control/faults")
        for cid in placed:
            await _settled(r, cid, OrderState.ACCEPTED, OrderState.REJECTED)
        assert await control(sim, "GET", "/control/venues/alpha/duplicates") == {}
        for cid in placed:
            received = await control(sim, "GET", f"/control/venues/alpha/orders?client_order_id={cid.value}")
            assert len([x for x in received if x["order_id"] is not None]) <= 1


async def test_maintenance_answer_to_a_submit_is_a_rejection_not_in_doubt(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        bid = await _bid(r)
        await set_fault(sim, "maintenance")
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - 50)
        order = r.recorder.state.order(cid)
        assert order.state is OrderState.REJECTED, order.state
        assert "maintenance" in order.reason.lower()
        await control(sim, "DELETE", "/control/faults")
        received = await control(sim, "GET", f"/control/venues/alpha/orders?client_order_id={cid.value}")
        assert all(x["rejected"] for x in received)  # nothing executed on the venue
        assert not r.manager.state.in_doubt()


async def test_a_stopping_engine_never_resends_an_order_the_venue_never_saw(tmp_path: Path) -> None:
    # found by running ./run.sh: at --duration a submit cut short was re-sent by the stop's reconcile
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        bid = await _bid(r)
        await set_fault(sim, "reset", duration_s=1.0)  # nothing reaches the matching engine for a second
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - 50)
        assert r.recorder.state.order(cid).state is OrderState.IN_DOUBT
        r.manager.stopping = True
        await asyncio.sleep(FAST.recv_window_s + 1.5)  # past recvWindow: a running engine would resend now
        assert await r.manager.settle(cid)
        assert r.recorder.state.order(cid).state is OrderState.NEVER_SENT  # closed, not re-sent
        received = await control(sim, "GET", f"/control/venues/alpha/orders?client_order_id={cid.value}")
        assert received == []


async def test_finished_orders_leave_no_unbounded_bookkeeping_in_the_manager(tmp_path: Path) -> None:
    # a 24/7 run must not remember every venue order id forever (benchmarks/soak.py found it growing)
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        r.manager.venue_ids.limit = 3
        bid = await _bid(r)
        resting = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - 80)
        finished = []
        for i in range(6):
            cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - 50 - i)
            await r.manager.cancel(cid)
            assert r.recorder.state.order(cid).state is OrderState.CANCELED
            finished.append(cid)
        index = r.manager.venue_ids.by_id
        assert len(index) == 3 + 1  # the newest three finished orders and the open one
        assert resting.value in index.values()
        assert {c.value for c in finished[-3:]} <= set(index.values())
        assert finished[0].value not in index.values()
        for cid in finished:  # a lookup of a finished order leaves no per-order lock behind
            assert await r.manager.settle(cid)
        assert not r.manager.in_doubt._locks
