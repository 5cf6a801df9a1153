"""The fault kinds on the OKX dialect whose outcome is OKX's own, seen through the unmodified ccxt okx
clients: the same fault registry and middleware as the Binance dialect, refusals in OKX's shape. Those
that behave alike on both dialects are in `test_fault_conformance.py`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import ccxt.async_support as ccxt_async
import pytest

from nonstop.sim.server import SimServer
from tests.simkit import control, okx_pro_client, okx_rest_client, rest_client, running_okx_sim, set_fault


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with running_okx_sim(endpoints=2) as server:
        yield server


async def okx_fault(sim: SimServer, kind: str, **fields: object) -> dict[str, object]:
    return await set_fault(sim, kind, venue="okx", **fields)


async def test_connection_reset_is_a_network_error(sim: SimServer) -> None:
    await okx_fault(sim, "reset", endpoint=0)
    async with okx_rest_client(sim) as ex:
        with pytest.raises(ccxt_async.NetworkError):
            await ex.fetch_time()


async def test_http_error_is_exchange_not_available(sim: SimServer) -> None:
    await okx_fault(sim, "http_error", params={"status": 502})
    async with okx_rest_client(sim) as ex:
        with pytest.raises(ccxt_async.ExchangeNotAvailable):
            await ex.fetch_time()


async def test_maintenance_is_okx_50001_on_maintenance(sim: SimServer) -> None:
    await okx_fault(sim, "maintenance")
    async with okx_rest_client(sim) as ex:
        with pytest.raises(ccxt_async.OnMaintenance, match="50001"):
            await ex.fetch_time()


async def test_rate_limit_storm_is_okx_429_50011_with_retry_after(sim: SimServer) -> None:
    await okx_fault(sim, "rate_limit", params={"retry_after": 7})
    async with okx_rest_client(sim) as ex:
        with pytest.raises(ccxt_async.RateLimitExceeded, match="50011"):
            await ex.fetch_time()
        assert ex.last_response_headers["Retry-After"] == "7"


async def test_frozen_feed_goes_silent_and_stale(sim: SimServer) -> None:
    async with okx_rest_client(sim) as ex, okx_pro_client(sim) as ws:
        await asyncio.wait_for(ws.watch_ticker("BTC/USDT"), 15)
        await okx_fault(sim, "frozen_feed")
        await asyncio.sleep(0.2)
        frozen = await ex.fetch_order_book("BTC/USDT", 5)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.watch_ticker("BTC/USDT"), 2.5)
        assert (await ex.fetch_order_book("BTC/USDT", 5))["bids"] == frozen["bids"]


async def test_price_spike_moves_the_okx_venue_away_from_the_binance_one(sim: SimServer) -> None:
    async with okx_rest_client(sim) as ex:
        before = (await ex.fetch_order_book("BTC/USDT", 5))["bids"][0][0]
        await okx_fault(sim, "price_spike", params={"pct": 10})
        await asyncio.sleep(0.3)
        spiked = (await ex.fetch_order_book("BTC/USDT", 5))["bids"][0][0]
    assert spiked / before == pytest.approx(1.10, abs=0.02)


async def test_venue_outage_takes_every_endpoint_down_but_not_the_binance_venue(sim: SimServer) -> None:
    await okx_fault(sim, "venue_outage", duration_s=30)
    for endpoint in range(2):
        async with okx_rest_client(sim, endpoint=endpoint) as ex:
            with pytest.raises(ccxt_async.ExchangeNotAvailable):
                await ex.fetch_time()
    async with rest_client(sim, venue="alpha") as ex:
        assert await ex.fetch_time() > 0


async def test_error_after_execute_answers_5xx_for_an_order_that_exists(sim: SimServer) -> None:
    await okx_fault(sim, "error_after_execute", params={"status": 502})
    async with okx_rest_client(sim) as ex:
        with pytest.raises(ccxt_async.ExchangeNotAvailable):
            await ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clOrdId": "okx5xx1"})
        found = await ex.fetch_order(None, "BTC/USDT", {"clOrdId": "okx5xx1"})  # reads are not hit
    assert found["status"] == "closed" and found["filled"] == pytest.approx(0.001)
    received = await control(sim, "GET", "/control/venues/okx/orders?client_order_id=okx5xx1")
    assert len(received) == 1 and received[0]["order_id"] == int(found["id"])


@pytest.mark.parametrize(("fault", "code"), [
    ({"kind": "maintenance"}, 1001),
    ({"kind": "ws_disconnect", "params": {"mode": "close", "code": 1008}}, 1008),
])
async def test_websockets_end_with_the_faults_close_code_and_reconnects_are_refused(
    sim: SimServer, fault: dict[str, object], code: int
) -> None:
    import aiohttp

    url = sim.venues["okx"].urls[0].replace("http://", "ws://") + "/ws/v5/public"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str('{"op": "subscribe", "args": [{"channel": "tickers", "instId": "BTC-USDT"}]}')
        assert "subscribe" in (await ws.receive(timeout=15)).data
        await set_fault(sim, venue="okx", **fault)  # type: ignore[arg-type]
        while (await ws.receive(timeout=15)).type == aiohttp.WSMsgType.TEXT:
            pass
        assert ws.close_code == code
    async with okx_pro_client(sim) as ex:
        with pytest.raises(ccxt_async.NetworkError):
            await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
