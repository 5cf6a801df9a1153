"""Binance spot endpoints and streams third-party bots call at start-up or while trading, answered
as Binance answers them (issue 15), through the unmodified ccxt client."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import ccxt.async_support as ccxt_async
import pytest

from nonstop.clock import LiveClock
from nonstop.sim.server import SimServer
from tests.simkit import pro_client, rest_client, sim_settings


async def test_system_fee_and_schedule_endpoints(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        status = await ex.fetch_status()
        fees = await ex.fetch_trading_fees()
        delist = await ex.sapi_get_spot_delist_schedule()
        commission = await ex.private_get_account_commission({"symbol": "BTCUSDT"})
        rate = await ex.private_get_ratelimit_order()
    assert status["status"] == "ok"
    assert fees["BTC/USDT"]["maker"] == 0.001 and fees["BTC/USDT"]["taker"] == 0.001
    assert delist == []
    assert commission["standardCommission"]["taker"] == "0.00100000"
    assert {(r["interval"], r["intervalNum"]) for r in rate} == {("SECOND", 10), ("DAY", 1)}


async def test_market_data_endpoints(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        avg = await ex.public_get_avgprice({"symbol": "BTCUSDT"})
        window = await ex.public_get_ticker({"symbol": "BTCUSDT", "windowSize": "1h"})
        many = await ex.public_get_ticker({"symbols": '["BTCUSDT","ETHUSDT"]'})
        day = await ex.public_get_ticker_tradingday({"symbol": "BTCUSDT"})
        ui = await ex.public_get_uiklines({"symbol": "BTCUSDT", "interval": "5m", "limit": 3})
        with pytest.raises(ccxt_async.BadRequest):
            await ex.public_get_ticker({"symbol": "BTCUSDT", "windowSize": "9d"})
    assert avg["mins"] == 5 and float(avg["price"]) > 0
    assert window["openTime"] == window["closeTime"] - 3_600_000 and float(window["lastPrice"]) > 0
    assert [t["symbol"] for t in many] == ["BTCUSDT", "ETHUSDT"]
    assert float(day["lastPrice"]) > 0
    assert len(ui) == 3 and ui[1][0] - ui[0][0] == 300_000


async def test_every_kline_interval_with_taker_buy_volume(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        await asyncio.sleep(1.2)  # at least one second of trades for 1s candles
        seconds = await ex.fetch_ohlcv("BTC/USDT", "1s", limit=5)
        weeks = await ex.public_get_klines({"symbol": "BTCUSDT", "interval": "1w", "limit": 2})
        months = await ex.public_get_klines({"symbol": "BTCUSDT", "interval": "1M", "limit": 2})
        minutes = await ex.public_get_klines({"symbol": "BTCUSDT", "interval": "1m", "limit": 30})
    assert seconds and all(c[0] % 1000 == 0 for c in seconds)
    monday = datetime.fromtimestamp(weeks[-1][0] / 1000, UTC)
    assert monday.weekday() == 0 and (monday.hour, monday.minute) == (0, 0)
    first = datetime.fromtimestamp(months[-1][0] / 1000, UTC)
    assert first.day == 1 and (first.hour, first.minute) == (0, 0)
    assert any(float(k[9]) > 0 for k in minutes) and all(float(k[9]) <= float(k[5]) for k in minutes)


async def test_order_test_validates_without_placing(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        ok = await ex.private_post_order_test(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
             "price": "50000"}
        )
        rates = await ex.private_post_order_test(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001",
             "computeCommissionRates": "true"}
        )
        with pytest.raises(ccxt_async.InvalidOrder):
            await ex.private_post_order_test(
                {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
             "price": "50000.001"}
            )
        assert await ex.fetch_open_orders("BTC/USDT") == []
    assert ok == {} and rates["standardCommissionForOrder"]["taker"] == "0.00100000"


async def test_depth_limit_is_honoured_up_to_5000(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        deep = await ex.fetch_order_book("BTC/USDT", 1000)
        top = await ex.fetch_order_book("BTC/USDT", 5)
    assert len(deep["bids"]) == 1000 and len(deep["asks"]) == 1000
    assert len(top["bids"]) == 5
    assert deep["asks"][0][0] - deep["bids"][0][0] <= 0.05  # a few ticks on a liquid pair


async def test_watch_ohlcv_5m_delivers_a_closed_candle() -> None:
    class NearBoundary(LiveClock):  # the simulator starts 4 s before a 5-minute boundary
        def __init__(self) -> None:
            now = datetime.now(UTC)
            boundary = now - timedelta(minutes=now.minute % 5, seconds=now.second, microseconds=now.microsecond)
            self.offset = boundary + timedelta(minutes=5, seconds=-4) - now

        def now(self) -> datetime:
            return datetime.now(UTC) + self.offset

    async with SimServer(sim_settings(venues=1, endpoints=1), NearBoundary()) as sim, pro_client(sim) as ex:
        closed = None
        for _ in range(20):
            candles = await asyncio.wait_for(ex.watch_ohlcv("BTC/USDT", "5m"), 15)
            stream = ex.ohlcvs["BTC/USDT"]["5m"]
            if len(stream) >= 2:
                closed = stream[-2]
                break
        assert candles and closed is not None
        assert closed[0] % 300_000 == 0 and stream[-1][0] == closed[0] + 300_000


async def test_partial_book_all_market_and_kline_streams_and_bad_names(sim: SimServer) -> None:
    url = sim.venues["alpha"].urls[0].replace("http", "ws") + "/ws"
    names = ["btcusdt@depth5", "btcusdt@depth20@100ms", "!ticker@arr", "btcusdt@kline_5m", "btcusdt@kline_1s"]
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@kline_7m"], "id": 1})
        refused = await asyncio.wait_for(ws.receive_json(), 15)
        await ws.send_json({"method": "SUBSCRIBE", "params": names, "id": 2})
        seen: dict[str, dict | list] = {}
        deadline = time.monotonic() + 10
        while len(seen) < len(names) and time.monotonic() < deadline:
            msg = await asyncio.wait_for(ws.receive_json(), 15)
            if isinstance(msg, list):
                seen["!ticker@arr"] = msg
            elif "lastUpdateId" in msg:
                seen[f"depth{len(msg['bids'])}"] = msg
            elif msg.get("e") == "kline":
                seen[f"kline_{msg['k']['i']}"] = msg
    assert refused["error"]["code"] == 2 and refused["id"] == 1
    assert len(seen["depth5"]["bids"]) == 5 and len(seen["depth20"]["asks"]) == 20
    assert {t["s"] for t in seen["!ticker@arr"]} == {"BTCUSDT", "ETHUSDT"}  # type: ignore[union-attr]
    assert seen["kline_5m"]["k"]["t"] % 300_000 == 0 and seen["kline_1s"]["k"]["i"] == "1s"  # type: ignore[index]


async def test_watch_tickers_over_the_all_market_stream(sim: SimServer) -> None:
    async with pro_client(sim) as ex:
        tickers = await asyncio.wait_for(ex.watch_tickers(), 15)
    assert tickers and all(t["last"] > 0 for t in tickers.values())


async def test_listen_key_on_the_combined_stream_path_delivers_execution_reports(sim: SimServer) -> None:
    base = sim.venues["alpha"].urls[0]
    headers = {"X-MBX-APIKEY": sim.credentials.api_key}
    async with aiohttp.ClientSession() as session, rest_client(sim) as ex:
        async with session.post(base + "/api/v3/userDataStream", headers=headers) as resp:
            key = (await resp.json())["listenKey"]
        ws_url = base.replace("http", "ws") + f"/stream?streams={key}/btcusdt@trade"
        async with session.ws_connect(ws_url) as ws:
            await ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "t-cs-1"})
            reports = []
            for _ in range(200):
                msg = await asyncio.wait_for(ws.receive_json(), 15)
                if msg["stream"] == key and msg["data"]["e"] == "executionReport":
                    reports.append(msg["data"])
                    if msg["data"]["X"] == "FILLED":
                        break
    assert reports and reports[-1]["c"] == "t-cs-1" and reports[-1]["X"] == "FILLED"


def _signed(params: dict[str, object], key: str, secret: str) -> dict[str, object]:
    params = {**params, "apiKey": key, "timestamp": int(time.time() * 1000)}
    payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
    return {**params, "signature": hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()}


async def test_websocket_api_trading_and_account_methods(sim: SimServer) -> None:
    url = sim.venues["alpha"].urls[0].replace("http", "ws") + "/ws-api/v3"
    key, secret = sim.credentials.api_key, sim.credentials.secret
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        async def ask(method: str, params: dict[str, object]) -> dict:
            await ws.send_json({"id": method, "method": method, "params": _signed(params, key, secret)})
            while True:
                msg = await asyncio.wait_for(ws.receive_json(), 15)
                if msg.get("id") == method:
                    return msg

        placed = await ask("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                           "timeInForce": "GTC", "quantity": "0.001", "price": "30000.00",
                                           "newClientOrderId": "t-wsapi-1"})
        status = await ask("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "t-wsapi-1"})
        account = await ask("account.status", {})
        canceled = await ask("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "t-wsapi-1"})
        missing = await ask("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "nope"})
    assert placed["status"] == 200 and placed["result"]["status"] == "NEW"
    assert status["result"]["orderId"] == placed["result"]["orderId"]
    assert any(b["asset"] == "USDT" for b in account["result"]["balances"])
    assert canceled["result"]["status"] == "CANCELED"
    assert missing["status"] == 400 and missing["error"]["code"] == -2013
