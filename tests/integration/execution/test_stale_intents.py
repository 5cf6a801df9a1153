"""Invariant 14: an in-doubt order found unknown at the venue is re-sent (same id) only while its
intent is younger than `max_resend_age_s`; an older one is closed locally as never sent and never
reaches the venue. Counted from the simulator's own records of the orders it received."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from nonstop.clock import LiveClock
from nonstop.execution.order_manager import InDoubtPolicy, OrderManager
from nonstop.execution.reconcile import Reconciler
from nonstop.execution.recorder import Recorder
from nonstop.journal import SQLiteJournal, replay
from nonstop.model import (
    ClientOrderIdFactory,
    InstrumentId,
    OrderInDoubt,
    OrderIntent,
    OrderNeverSent,
    OrderState,
    OrderSubmitted,
    OrderType,
    Side,
)
from tests.enginekit import FAST, INSTANCE, rig, venue_for
from tests.simkit import control, rest_client, running_sim, set_fault

BTC = InstrumentId("alpha", "BTC/USDT")


async def test_in_doubt_intent_older_than_max_resend_age_is_not_sent_a_young_one_is(tmp_path: Path) -> None:
    clock = LiveClock()
    async with running_sim(venues=1, endpoints=1) as sim:
        async with rest_client(sim) as ex:
            bid = Decimal(str((await ex.fetch_order_book("BTC/USDT", 5))["bids"][0][0]))
        ids = ClientOrderIdFactory(INSTANCE)
        old, young = ids.next("mm"), ids.next("mm")
        now = clock.now()
        journal = SQLiteJournal(tmp_path / "j.sqlite")
        await journal.open()
        try:
            # what a previous run left: two submits whose outcome it never learned, one from an hour ago
            for cid, decided in ((old, now - timedelta(hours=1)), (young, now - timedelta(seconds=2))):
                intent = OrderIntent(ts=decided, client_order_id=cid, instrument_id=BTC, side=Side.BUY,
                                     order_type=OrderType.LIMIT, quantity=Decimal("0.001"), price=bid - 100)
                await journal.append([intent, OrderSubmitted(ts=decided, client_order_id=cid),
                                      OrderInDoubt(ts=decided, client_order_id=cid, reason="timeout")], epoch=1)
            # the restart: replay, then the start-up reconciliation settles what is in doubt
            recorder = Recorder(journal, await replay(journal), 2)
            venue = venue_for(sim)
            await venue.connect()
            policy = InDoubtPolicy(recv_window_s=0.5, max_resend_age_s=30.0)
            manager = OrderManager(recorder, {"alpha": venue}, ClientOrderIdFactory(INSTANCE, 2), clock, policy,
                                   last_alive=now - timedelta(seconds=2))
            try:
                await Reconciler(manager, {"alpha": venue}, INSTANCE, clock).reconcile("alpha", [BTC])
            finally:
                await manager.close()
                await venue.close()
            state = recorder.state
            events = [r.event async for r in journal.read()]
        finally:
            await journal.close()
        received_old = await control(sim, "GET", f"/control/venues/alpha/orders?client_order_id={old.value}")
        received_young = await control(sim, "GET", f"/control/venues/alpha/orders?client_order_id={young.value}")
    assert received_old == []  # the hour-old intent never went out
    assert len(received_young) == 1  # the young one was re-sent, once, with the same id
    assert state.order(old).state is OrderState.NEVER_SENT
    assert state.order(young).state is OrderState.ACCEPTED
    closed = [e for e in events if isinstance(e, OrderNeverSent)]
    assert [e.client_order_id for e in closed] == [old]
    assert "max_resend_age_s = 30" in closed[0].reason and "3600" in closed[0].reason


async def test_order_lost_in_flight_past_max_resend_age_is_closed_unsent_and_never_reaches_the_venue(
        tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        r.manager.policy = replace(FAST, max_resend_age_s=1.0)  # shorter than recvWindow + 1 s: never resent
        async with rest_client(sim) as ex:
            bid = Decimal(str((await ex.fetch_order_book("BTC/USDT", 5))["bids"][0][0]))
        # nothing reaches the matching engine for 3 s: long enough that the submit below meets the fault
        # even on a loaded machine (1 s expired before the submit under parallel tests)
        await set_fault(sim, "reset", duration_s=3.0)
        cid = await r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - 50)
        assert r.recorder.state.order(cid).state is OrderState.IN_DOUBT
        deadline = asyncio.get_running_loop().time() + 15
        while r.recorder.state.order(cid).state is OrderState.IN_DOUBT:
            assert asyncio.get_running_loop().time() < deadline, "the in-doubt order was never settled"
            await asyncio.sleep(0.1)
        order = r.recorder.state.order(cid)
        received = await control(sim, "GET", f"/control/venues/alpha/orders?client_order_id={cid.value}")
    assert order.state is OrderState.NEVER_SENT and "max_resend_age_s = 1" in order.reason
    assert received == []
