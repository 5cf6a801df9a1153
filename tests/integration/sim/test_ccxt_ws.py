"""ccxt.pro's websocket methods against the simulator's market streams and user-data WebSocket API."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from nonstop.sim.server import SimServer
from tests.simkit import pro_client, rest_client, running_sim, until_user_stream_subscribed


async def test_watch_ticker_receives_updates(sim: SimServer) -> None:
    async with pro_client(sim) as ex:
        first = await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
        second = await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
    assert first["symbol"] == "BTC/USDT" and first["last"] > 0
    assert second["timestamp"] > first["timestamp"]


async def test_watch_trades_sees_background_trades(sim: SimServer) -> None:
    async with pro_client(sim) as ex:
        trades = await asyncio.wait_for(ex.watch_trades("BTC/USDT"), 15)
    assert trades and all(t["price"] > 0 and t["amount"] > 0 for t in trades)


async def test_watch_order_book_stays_consistent_with_rest_depth() -> None:
    # a market that only moves when we trade: the websocket book must equal REST depth level for level
    async with running_sim(venues=1, endpoints=1, tick_ms=60_000) as sim, pro_client(sim) as ex:
        book = await asyncio.wait_for(ex.watch_order_book("BTC/USDT"), 15)
        best_bid = book["bids"][0][0]
        for i in range(1, 4):  # new levels below the best bid, and one at it
            price = round(best_bid - i * 1.37, 2) if i < 3 else best_bid
            await ex.create_order("BTC/USDT", "limit", "buy", 0.001 * i, price, {"clientOrderId": f"t-ob-{i}"})
        await ex.create_order("BTC/USDT", "market", "sell", 0.002, None, {"clientOrderId": "t-ob-mkt"})
        rest = await ex.fetch_order_book("BTC/USDT", 50)
        for _ in range(50):
            book = await asyncio.wait_for(ex.watch_order_book("BTC/USDT"), 15)
            if book["nonce"] >= rest["nonce"]:
                break
        assert book["nonce"] == rest["nonce"]
        assert book["bids"][:50] == rest["bids"] and book["asks"][:50] == rest["asks"]


async def test_watch_orders_and_my_trades_see_our_fill(sim: SimServer) -> None:
    async with pro_client(sim) as ex:
        orders_task = asyncio.create_task(ex.watch_orders("BTC/USDT"))
        trades_task = asyncio.create_task(ex.watch_my_trades("BTC/USDT"))
        await until_user_stream_subscribed(sim)  # both share one WebSocket API connection (was a 0.3 s sleep)
        placed = await ex.create_order("BTC/USDT", "market", "buy", 0.003, None, {"clientOrderId": "t-wo-1"})
        orders = await asyncio.wait_for(orders_task, 15)
        trades = await asyncio.wait_for(trades_task, 15)
        seen = {o["clientOrderId"]: o for o in orders}
        for _ in range(5):
            if seen.get("t-wo-1", {}).get("status") == "closed":
                break
            for o in await asyncio.wait_for(ex.watch_orders("BTC/USDT"), 15):
                seen[o["clientOrderId"]] = o
    assert seen["t-wo-1"]["status"] == "closed" and seen["t-wo-1"]["filled"] == pytest.approx(0.003)
    assert trades[0]["order"] == placed["id"] and trades[0]["amount"] > 0


async def test_watch_balance_follows_a_fill(sim: SimServer) -> None:
    async with pro_client(sim) as ex:
        start = (await ex.fetch_balance())["BTC"]["free"]
        task = asyncio.create_task(ex.watch_balance())
        await until_user_stream_subscribed(sim)  # (was a 0.3 s sleep)
        await ex.create_order("BTC/USDT", "market", "buy", 0.004, None, {"clientOrderId": "t-wb-1"})
        balance = await asyncio.wait_for(task, 15)
    assert balance["BTC"]["free"] == pytest.approx(start + 0.004 * 0.999)


async def test_user_data_subscription_with_bad_secret_is_refused(sim: SimServer) -> None:
    # ccxt 4.5.90 surfaces a refused WebSocket API subscription as a KeyError, not as
    # AuthenticationError (a ccxt bug): this test documents it, and fails once ccxt fixes it.
    async with pro_client(sim, secret="wrong") as ex:
        with pytest.raises(KeyError):
            await asyncio.wait_for(ex.watch_orders("BTC/USDT"), 15)


async def test_legacy_listen_key_stream_carries_execution_reports(sim: SimServer) -> None:
    base = sim.venues["alpha"].urls[0]
    headers = {"X-MBX-APIKEY": sim.credentials.api_key}
    async with aiohttp.ClientSession() as session, rest_client(sim) as ex:
        async with session.post(base + "/api/v3/userDataStream", headers=headers) as resp:
            listen_key = (await resp.json())["listenKey"]
        async with session.ws_connect(base.replace("http", "ws") + "/ws/" + listen_key) as ws:
            await ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "t-lk-1"})
            events = [await asyncio.wait_for(ws.receive_json(), 15) for _ in range(2)]
        async with session.put(
            base + "/api/v3/userDataStream", headers=headers, data={"listenKey": "not-a-key"}
        ) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == -1125
    kinds = {e["e"] for e in events}
    assert "executionReport" in kinds
    report = next(e for e in events if e["e"] == "executionReport")
    assert report["c"] == "t-lk-1"
