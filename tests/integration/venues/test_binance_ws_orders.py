"""Order entry over Binance's WebSocket API against the simulator (real sockets, real ccxt signing):
placement and cancel over ws, REST fallback while ws is down, and an answer lost over ws made IN
DOUBT and resolved by client-order-id lookup with no duplicate at the venue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from nonstop.clock import LiveClock
from nonstop.execution.order_manager import OrderManager
from nonstop.execution.recorder import Recorder
from nonstop.journal import Durability, SQLiteJournal, replay
from nonstop.model import ClientOrderId, ClientOrderIdFactory, InstrumentId, OrderState, Side
from nonstop.sim.server import SimServer
from nonstop.venues.binance import BinanceVenue
from nonstop.venues.gateway import RequestRecord
from tests.enginekit import FAST
from tests.simkit import control, running_sim, set_fault

BTC = InstrumentId("alpha", "BTC/USDT")


@dataclass
class WsRig:
    sim: SimServer
    venue: BinanceVenue
    manager: OrderManager
    journal: SQLiteJournal
    requests: list[str] = field(default_factory=list)

    def sent_as(self, name: str) -> int:
        return self.requests.count(name)


@asynccontextmanager
async def ws_rig(sim: SimServer, path: Path, *, timeout_ms: int = 1500) -> AsyncIterator[WsRig]:
    journal = SQLiteJournal(path, durability=Durability.FSYNC)
    await journal.open()
    state = await replay(journal)
    config = sim.ccxt_config("alpha", 0)
    config["options"]["recvWindow"] = 2000
    venue = BinanceVenue("alpha", [config], timeout_ms=timeout_ms, order_entry="ws")
    clock = LiveClock()
    manager = OrderManager(Recorder(journal, state, 1), {"alpha": venue}, ClientOrderIdFactory("t1"), clock, FAST)
    rig = WsRig(sim, venue, manager, journal)

    def seen(record: RequestRecord) -> None:
        rig.requests.append(record.name)

    venue.on_request = seen
    await venue.connect()
    try:
        assert await venue.order_entry_up(timeout_s=10.0), "the ws-api session did not come up"
        yield rig
    finally:
        await manager.close()
        await venue.close()
        await journal.close()


async def _until(condition, within: float = 15.0) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _far_bid(venue: BinanceVenue) -> Decimal:
    quote = await venue.quote(BTC)
    assert quote.bid is not None
    return (quote.bid * Decimal("0.9")).quantize(Decimal("0.01"))  # rests: never reached by the market


async def _received(sim: SimServer, cid: ClientOrderId) -> list[dict]:
    return await control(sim, "GET", f"/control/venues/alpha/orders?client_order_id={cid.value}")


async def test_ws_order_entry_places_queries_and_cancels_over_the_ws_api(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, ws_rig(sim, tmp_path / "j.sqlite") as r:
        cid = await r.manager.place("mm", BTC, Side.BUY, Decimal("0.001"), await _far_bid(r.venue))
        order = r.manager.state.order(cid)
        assert order.state is OrderState.ACCEPTED and order.venue_order_id is not None
        report = await r.venue.fetch_order(BTC, cid.value)
        assert report is not None and report.venue_order_id == order.venue_order_id
        await r.manager.cancel(cid)
        assert r.manager.state.order(cid).state is OrderState.CANCELED
        assert (r.sent_as("create_order_ws"), r.sent_as("fetch_order_ws"), r.sent_as("cancel_order_ws")) == (1, 1, 1)
        assert r.sent_as("create_order") == 0 and r.sent_as("cancel_order") == 0
        assert len(await _received(sim, cid)) == 1
        assert await r.venue.fetch_order(BTC, "t1-never-placed") is None  # -2013 over ws: "never seen"


async def test_ws_order_entry_answer_is_recorded_behind_the_caller(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, ws_rig(sim, tmp_path / "j.sqlite") as r:
        cid = await r.manager.place("mm", BTC, Side.BUY, Decimal("0.001"), await _far_bid(r.venue),
                                    hold_until_recorded=False)
        await r.manager.recorded(cid)
        assert r.manager.state.order(cid).state is OrderState.ACCEPTED
        types = [rec.event_type async for rec in r.journal.read()]
        assert types == ["OrderIntent", "OrderSubmitted", "OrderAccepted"]


async def test_ws_down_orders_fall_back_to_rest_and_return_to_ws(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, ws_rig(sim, tmp_path / "j.sqlite") as r:
        session = r.venue._ws.session
        fault = await set_fault(sim, "ws_disconnect", params={"mode": "drop"})
        assert await _until(lambda: not session.up), "the ws-api session did not notice the drop"
        cid = await r.manager.place("mm", BTC, Side.BUY, Decimal("0.001"), await _far_bid(r.venue))
        assert r.manager.state.order(cid).state is OrderState.ACCEPTED
        assert (r.sent_as("create_order"), r.sent_as("create_order_ws")) == (1, 0)
        await control(sim, "DELETE", f"/control/faults/{fault['id']}")
        assert await r.venue.order_entry_up(timeout_s=20.0), "the ws-api session did not come back"
        again = await r.manager.place("mm", BTC, Side.BUY, Decimal("0.001"), await _far_bid(r.venue))
        assert r.manager.state.order(again).state is OrderState.ACCEPTED
        assert (r.sent_as("create_order"), r.sent_as("create_order_ws")) == (1, 1)
        assert session.connects == 2


@pytest.mark.parametrize("mode", ["reset", "hang"])
async def test_answer_lost_over_ws_is_in_doubt_then_resolved_without_a_duplicate(tmp_path: Path, mode: str) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, ws_rig(sim, tmp_path / "j.sqlite", timeout_ms=800) as r:
        bid = await _far_bid(r.venue)
        fault = await set_fault(sim, "drop_order_response", params={"mode": mode})
        cid = await r.manager.place("mm", BTC, Side.BUY, Decimal("0.001"), bid)
        assert r.manager.state.order(cid).state is OrderState.IN_DOUBT  # executed at the venue, answer lost
        assert r.sent_as("create_order_ws") == 1 and r.sent_as("create_order") == 0  # never re-sent over REST
        await control(sim, "DELETE", f"/control/faults/{fault['id']}")
        assert await _until(lambda: r.manager.state.order(cid).state is OrderState.ACCEPTED)
        received = await _received(sim, cid)
        assert len(received) == 1
        assert str(received[0]["order_id"]) == r.manager.state.order(cid).venue_order_id.value
        assert await control(sim, "GET", "/control/venues/alpha/duplicates") == {}
        types = [rec.event_type async for rec in r.journal.read()]
        assert types.count("OrderSubmitted") == 1  # resolved by lookup, never sent again


async def test_ws_error_answer_is_classified_like_rest(tmp_path: Path) -> None:
    async with running_sim(venues=1, endpoints=1) as sim, ws_rig(sim, tmp_path / "j.sqlite") as r:
        cid = await r.manager.place("mm", BTC, Side.BUY, Decimal("50"), Decimal("59000.00"))  # > balance: -2010
        order = r.manager.state.order(cid)
        assert order.state is OrderState.REJECTED and "insufficient" in order.reason.lower()
        assert r.sent_as("create_order_ws") == 1 and r.sent_as("create_order") == 0
