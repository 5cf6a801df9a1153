"""The fault kinds that behave alike on both simulator dialects, as one conformance suite over Binance
and OKX, each seen through its unmodified ccxt client: the same fault registry and middleware, the
same outcome for the same condition. What differs by dialect (the error shapes and codes, how ccxt
maps them) stays in `test_faults.py` and `test_okx_faults.py`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from nonstop.sim.server import SimServer
from tests.simkit import (
    control,
    okx_pro_client,
    okx_rest_client,
    pro_client,
    rest_client,
    running_okx_sim,
    running_sim,
    set_fault,
)

Client = Callable[..., AbstractAsyncContextManager[Any]]


@dataclass(frozen=True)
class Dialect:
    venue: str
    running: Callable[[], AbstractAsyncContextManager[SimServer]]
    rest: Client
    pro: Client
    id_param: str  # how an order carries our client order id
    lookup_param: str  # how an order is looked up by it


DIALECTS = {
    "binance": Dialect("alpha", running_sim, rest_client, pro_client, "clientOrderId", "origClientOrderId"),
    "okx": Dialect("okx", lambda: running_okx_sim(endpoints=2), okx_rest_client, okx_pro_client, "clOrdId", "clOrdId"),
}


@pytest.fixture(params=sorted(DIALECTS))
def dialect(request: pytest.FixtureRequest) -> Dialect:
    return DIALECTS[request.param]


@pytest.fixture
async def sim(dialect: Dialect) -> AsyncIterator[SimServer]:
    async with dialect.running() as server:
        yield server


async def test_latency_delays_only_the_faulted_endpoint(sim: SimServer, dialect: Dialect) -> None:
    fault = await set_fault(sim, "latency", venue=dialect.venue, endpoint=0, params={"ms": 400})
    async with dialect.rest(sim, endpoint=0) as slow, dialect.rest(sim, endpoint=1) as fast:
        t0 = time.monotonic()
        await slow.fetch_time()
        slow_s = time.monotonic() - t0
        assert sim.faults.active[fault["id"]].hits == 1  # the faulted endpoint's request was delayed
        await fast.fetch_time()
    # the other endpoint's request was not: counted by the simulator, not timed (before: `fast_s < 0.4`,
    # a time a loaded machine must beat); a delay only grows under load, so its lower bound stays
    assert slow_s >= 0.4 and sim.faults.active[fault["id"]].hits == 1


async def test_blackhole_times_out_as_request_timeout(sim: SimServer, dialect: Dialect) -> None:
    await set_fault(sim, "blackhole", venue=dialect.venue, endpoint=1)
    async with dialect.rest(sim, endpoint=1, timeout=800) as ex:
        with pytest.raises(ccxt_async.RequestTimeout):
            await ex.fetch_time()
    async with dialect.rest(sim, endpoint=0) as ex:
        assert await ex.fetch_time() > 0


async def test_drop_order_response_leaves_exactly_one_order_on_the_venue(sim: SimServer, dialect: Dialect) -> None:
    await set_fault(sim, "drop_order_response", venue=dialect.venue, endpoint=0, params={"mode": "hang"})
    async with dialect.rest(sim, timeout=1000) as ex, dialect.rest(sim, endpoint=1) as other:
        bid = (await other.fetch_order_book("BTC/USDT", 5))["bids"][0][0]
        with pytest.raises(ccxt_async.RequestTimeout):
            await ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.8, 2), {dialect.id_param: "tdrop1"})
        found = await other.fetch_order(None, "BTC/USDT", {dialect.lookup_param: "tdrop1"})
    assert found["status"] == "open"
    received = await control(sim, "GET", f"/control/venues/{dialect.venue}/orders?client_order_id=tdrop1")
    assert len(received) == 1 and received[0]["order_id"] == int(found["id"])


async def test_drop_order_response_with_reset_is_a_network_error_after_the_order_exists(
    sim: SimServer, dialect: Dialect
) -> None:
    await set_fault(sim, "drop_order_response", venue=dialect.venue, params={"mode": "reset"})
    async with dialect.rest(sim) as ex:
        with pytest.raises(ccxt_async.NetworkError):
            await ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {dialect.id_param: "tdrop2"})
        found = await ex.fetch_order(None, "BTC/USDT", {dialect.lookup_param: "tdrop2"})
    assert found["status"] == "closed"


async def test_websocket_disconnect_drops_streams_until_cleared(sim: SimServer, dialect: Dialect) -> None:
    async with dialect.pro(sim) as ex:
        await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
        fault = await set_fault(sim, "ws_disconnect", venue=dialect.venue)
        with pytest.raises(ccxt_async.NetworkError):
            for _ in range(10):
                await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
        with pytest.raises(ccxt_async.NetworkError):  # reconnecting is refused while the fault lasts
            await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
        await control(sim, "DELETE", f"/control/faults/{fault['id']}")
        ticker = await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
    assert ticker["last"] > 0
