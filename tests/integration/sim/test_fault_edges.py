"""Faults at the edges (issue 18, item 6): faults expiring together, maintenance and websocket closes
with codes, a slowed request whose client leaves, a 5xx after execution, and the control API's trade
list and 429/418 counters. Real sockets, the real ccxt client wherever a client is involved."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import ccxt.async_support as ccxt_async
import pytest

from nonstop.sim.server import SimServer
from tests.simkit import control, pro_client, rest_client, set_fault

pytestmark = pytest.mark.timeout(60)


async def eventually(check: Callable[[], object], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


def ws_url(sim: SimServer, venue: str = "alpha", endpoint: int = 0) -> str:
    return sim.venues[venue].urls[endpoint].replace("http://", "ws://") + "/ws/btcusdt@depth"


async def close_code_seen(sim: SimServer, fault: dict[str, object]) -> int | None:
    """Open a market stream, inject `fault`, and return the close code the client receives."""
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url(sim)) as ws:
        await asyncio.wait_for(ws.receive(), 15)  # the stream is live
        await set_fault(sim, **fault)  # type: ignore[arg-type]
        async with asyncio.timeout(15):
            while True:
                msg = await ws.receive()
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    return ws.close_code


async def test_two_faults_expiring_together_leave_the_market_running(sim: SimServer) -> None:
    first = sim.faults.set("latency", "alpha", endpoint=0, params={"ms": 1}, duration_s=0.3)
    second = sim.faults.set("frozen_feed", "alpha", duration_s=0.3)
    second.expires_at = first.expires_at  # the same moment, swept in one pass
    await eventually(lambda: not sim.faults.active, 15, "both faults expired")
    assert [e["event"] for e in sim.faults.log] == ["set", "set", "expired", "expired"]
    await asyncio.sleep(0.3)  # a few market ticks after the expiry
    assert not any(task.done() for task in sim._loops), "a venue's market loop died"
    async with pro_client(sim) as ex:
        nonces = [(await asyncio.wait_for(ex.watch_order_book("BTC/USDT"), 15))["nonce"] for _ in range(3)]
    assert nonces[-1] > nonces[0], "the book stopped moving"


async def test_market_loop_logs_a_failing_step_and_keeps_running(sim: SimServer) -> None:
    rt = sim.venues["alpha"]
    calls: list[int] = []

    def step() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in one tick")

    task = asyncio.create_task(rt._every(0.01, step))
    try:
        await eventually(lambda: len(calls) >= 3, 15, "steps after the failing one")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_maintenance_closes_websockets_with_1001_and_refuses_new_ones(sim: SimServer) -> None:
    assert await close_code_seen(sim, {"kind": "maintenance"}) == 1001
    async with pro_client(sim) as ex:
        with pytest.raises(ccxt_async.NetworkError):
            await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
        await control(sim, "DELETE", "/control/faults")
        ticker = await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
    assert ticker["last"] > 0


async def test_maintenance_ends_a_ccxt_stream(sim: SimServer) -> None:
    async with pro_client(sim) as ex:
        await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
        await set_fault(sim, "maintenance")
        with pytest.raises(ccxt_async.NetworkError):
            for _ in range(10):
                await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)


@pytest.mark.parametrize("code", [1001, 1006, 1008])
async def test_ws_disconnect_close_sends_a_close_frame_with_its_code(sim: SimServer, code: int) -> None:
    fault = {"kind": "ws_disconnect", "params": {"mode": "close", "code": code}}
    assert await close_code_seen(sim, fault) == code


async def test_ws_disconnect_drop_is_abrupt(sim: SimServer) -> None:
    assert await close_code_seen(sim, {"kind": "ws_disconnect"}) == 1006  # no close frame: aiohttp says 1006


async def test_ws_disconnect_close_ends_a_ccxt_stream_and_refuses_reconnects(sim: SimServer) -> None:
    async with pro_client(sim) as ex:
        await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
        fault = await set_fault(sim, "ws_disconnect", params={"mode": "close", "code": 1008})
        with pytest.raises(ccxt_async.NetworkError):
            for _ in range(10):
                await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
        with pytest.raises(ccxt_async.NetworkError):
            await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
        await control(sim, "DELETE", f"/control/faults/{fault['id']}")
        assert (await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15))["last"] > 0


async def test_bad_ws_disconnect_params_name_the_field(sim: SimServer) -> None:
    with pytest.raises(AssertionError, match="code=1234"):
        await set_fault(sim, "ws_disconnect", params={"mode": "close", "code": 1234})
    with pytest.raises(AssertionError, match="mode='gently'"):
        await set_fault(sim, "ws_disconnect", params={"mode": "gently"})


async def test_latency_delayed_order_executes_although_its_client_gave_up(sim: SimServer) -> None:
    await set_fault(sim, "latency", params={"ms": 1000})
    async with rest_client(sim, timeout=300) as ex:
        await sim_markets(ex, sim)
        with pytest.raises(ccxt_async.RequestTimeout):
            await ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "t-late"})
    received: list[object] = []

    async def arrived() -> bool:
        received[:] = await control(sim, "GET", "/control/venues/alpha/orders?client_order_id=t-late")
        return bool(received)

    for _ in range(50):  # the venue executes it ~0.7 s after the client gave up
        if await arrived():
            break
        await asyncio.sleep(0.1)
    assert len(received) == 1, "an order that was sent was never executed"
    assert received[0]["order"]["status"] == "FILLED"  # type: ignore[index]


async def sim_markets(ex: ccxt_async.binance, sim: SimServer) -> None:
    """Load markets around the latency fault (it is on every request): from a second, unfaulted client."""
    async with rest_client(sim, endpoint=1) as other:
        ex.set_markets(await other.load_markets())


async def test_error_after_execute_answers_5xx_for_an_order_that_exists(sim: SimServer) -> None:
    await set_fault(sim, "error_after_execute", params={"status": 502})
    async with rest_client(sim) as ex:
        with pytest.raises(ccxt_async.ExchangeNotAvailable):
            await ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "t-5xx"})
        found = await ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "t-5xx"})  # reads are not hit
    assert found["status"] == "closed" and found["filled"] == pytest.approx(0.001)
    received = await control(sim, "GET", "/control/venues/alpha/orders?client_order_id=t-5xx")
    assert len(received) == 1 and received[0]["order_id"] == int(found["id"])
    (fault,) = await control(sim, "GET", "/control/faults")
    assert fault["hits"] == 1


async def test_control_api_lists_an_accounts_trades(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        order = await ex.create_order("BTC/USDT", "market", "buy", 0.002, None, {"clientOrderId": "t-trades"})
    trades = await control(sim, "GET", "/control/venues/alpha/trades?symbol=BTCUSDT")
    mine = [t for t in trades if t["orderId"] == int(order["id"])]
    assert mine and sum(float(t["qty"]) for t in mine) == pytest.approx(0.002)
    assert isinstance(mine[0]["price"], str) and mine[0]["isBuyer"] is True
    assert await control(sim, "GET", "/control/venues/beta/trades") == []
    with pytest.raises(AssertionError, match="symbol 'NOPE'"):
        await control(sim, "GET", "/control/venues/alpha/trades?symbol=NOPE")


async def test_control_api_counts_429_and_418_answers(sim: SimServer) -> None:
    assert await control(sim, "GET", "/control/venues/alpha/counters") == {"http_429": 0, "http_418": 0}
    await set_fault(sim, "rate_limit", params={"retry_after": 30})
    async with rest_client(sim) as ex:
        for _ in range(4):  # a 429, two strikes ignoring it, then the ban
            with pytest.raises(ccxt_async.DDoSProtection):
                await ex.fetch_time()
    assert await control(sim, "GET", "/control/venues/alpha/counters") == {"http_429": 3, "http_418": 1}
    assert await control(sim, "GET", "/control/venues/beta/counters") == {"http_429": 0, "http_418": 0}
