"""Submits outlive a cancelled caller, and a stop's wait for their answers (`OrderManager.drain`) is
bounded and ends at once when its task is cancelled (a second signal): the order manager on the
simulator over real sockets, without user streams, so the REST answer is the only news."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from structlog.testing import capture_logs

from nonstop.model import ClientOrderId, OrderState, Side
from tests.enginekit import Rig, rig
from tests.integration.engine.kit import eventually
from tests.simkit import running_sim, set_fault

SLOW_MS = 60_000  # the client's own timeout never decides here (the pool still caps an attempt at 10 s)


async def _far_bid(r: Rig) -> Decimal:
    quote = await r.venue.quote(r.btc)
    assert quote.bid is not None
    return (quote.bid * Decimal("0.9")).quantize(Decimal("0.01"))  # rests: never reached by the market


async def _types(r: Rig, cid: ClientOrderId) -> list[str]:
    return [rec.event_type async for rec in r.journal.read()
            if getattr(rec.event, "client_order_id", None) == cid]


async def _submit_in_flight(r: Rig, *, at_venue: bool) -> tuple[asyncio.Task[ClientOrderId], ClientOrderId]:
    """The strategy's `place` as a task, once its submit is on the wire (and, with `at_venue`,
    received by the venue); returns the task and the order's id."""
    bid = await _far_bid(r)
    placing = asyncio.create_task(r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid,
                                                  hold_until_recorded=False))
    received = r.sim.venues["alpha"].venue.received

    def in_flight() -> str | None:
        for name in r.manager.requests.names():
            cid = name.removeprefix("submit-")
            if not at_venue or any(x.client_order_id == cid for x in received):
                return cid
        return None

    await eventually(lambda: in_flight() is not None or placing.done(), 60, "a submit in flight")
    assert not placing.done()
    cid = r.recorder.state.order(in_flight() or "").client_order_id
    assert r.recorder.state.order(cid).state is OrderState.SUBMITTING
    return placing, cid


async def test_cancelled_caller_leaves_the_submit_running_and_the_stop_wait_records_its_answer(
        tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite", timeout_ms=SLOW_MS) as r:
        await set_fault(sim, "latency", params={"ms": 1000})
        placing, cid = await _submit_in_flight(r, at_venue=False)
        placing.cancel()  # the stop cancels the strategy first
        await asyncio.wait([placing])
        assert placing.cancelled() and r.manager.requests.names() == (f"submit-{cid.value}",)
        drained = await r.manager.drain(30)
        assert (drained.in_flight, drained.unanswered, drained.interrupted) == (1, (), False)
        assert r.recorder.state.order(cid).state is OrderState.ACCEPTED
        assert await _types(r, cid) == ["OrderIntent", "OrderSubmitted", "OrderAccepted"]


async def test_submit_unanswered_within_the_bound_is_cut_short_then_in_doubt_and_settled(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite", timeout_ms=SLOW_MS) as r:
        await set_fault(sim, "drop_order_response", params={"mode": "hang"})  # placed, never answered
        placing, cid = await _submit_in_flight(r, at_venue=True)
        placing.cancel()
        drained = await r.manager.drain(0.2)  # the venue never answers: the bound passes
        assert (drained.unanswered, drained.interrupted) == ((f"submit-{cid.value}",), False)
        assert r.recorder.state.order(cid).state is OrderState.SUBMITTING  # exactly as a stop left it before
        r.manager.stopping = True
        await r.reconciler.reconcile("alpha", [r.btc])  # the stop's final reconcile
        assert r.recorder.state.order(cid).state is OrderState.ACCEPTED
        assert await _types(r, cid) == ["OrderIntent", "OrderSubmitted", "OrderInDoubt", "OrderAccepted"]
        doubt = [rec.event async for rec in r.journal.read() if rec.event_type == "OrderInDoubt"]
        assert [d.reason for d in doubt] == ["the process stopped while the submit was in flight"]
        assert len([x for x in sim.venues["alpha"].venue.received if x.client_order_id == cid.value]) == 1


async def test_cancelling_the_stop_wait_ends_it_at_once_and_not_its_task(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite", timeout_ms=SLOW_MS) as r:
        await set_fault(sim, "drop_order_response", params={"mode": "hang"})
        placing, cid = await _submit_in_flight(r, at_venue=True)
        placing.cancel()
        with capture_logs() as logs:
            waiting = asyncio.create_task(r.manager.drain(600))  # a bound no test waits out
            await eventually(lambda: any(e["event"] == "stop_waiting_for_answers" for e in logs), 30, "the wait")
            waiting.cancel()  # what a second SIGINT / SIGTERM does to the stopping engine's task
            drained = await waiting
        assert not waiting.cancelled() and waiting.cancelling() == 0  # consumed: the stop goes on
        assert (drained.unanswered, drained.interrupted) == ((f"submit-{cid.value}",), True)
        assert r.manager.requests.names() == ()
        assert r.recorder.state.order(cid).state is OrderState.SUBMITTING  # IN DOUBT for the final reconcile


async def test_place_cancelled_at_any_step_leaves_no_order_unsettled_and_none_sent_twice(tmp_path: Path) -> None:
    """Whatever step the stop catches `place` at — before its append, while it is recorded, or with
    the submit on the wire — the order is never left SUBMITTING for a lookup to doubt: not recorded,
    REJECTED as never sent, or answered by the venue during the stop's wait."""
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite", timeout_ms=SLOW_MS) as r:
        bid = await _far_bid(r)
        received = r.sim.venues["alpha"].venue.received
        for steps in range(12):  # bounded: how many loop steps the place runs before the stop
            placing = asyncio.create_task(r.manager.place("mm", r.btc, Side.BUY, Decimal("0.001"), bid - steps,
                                                          hold_until_recorded=False))
            for _ in range(steps):
                await asyncio.sleep(0)
            placing.cancel()
            await asyncio.wait([placing])
            drained = await r.manager.drain(30)
            assert drained.unanswered == ()
        states = {o.client_order_id.value: o.state for o in r.recorder.state.orders.values()}
        assert set(states.values()) <= {OrderState.REJECTED, OrderState.ACCEPTED}, states
        for cid, state in states.items():
            at_venue = [x for x in received if x.client_order_id == cid]
            assert len(at_venue) == (1 if state is OrderState.ACCEPTED else 0), (cid, state)
        rejected = [o for o in r.recorder.state.orders.values() if o.state is OrderState.REJECTED]
        assert all(o.reason == "not sent: the engine stopped before the send" for o in rejected)
