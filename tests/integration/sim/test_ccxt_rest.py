"""The unmodified ccxt async Binance client trades against the simulator over real sockets."""

from __future__ import annotations

import asyncio
import contextlib

import ccxt.async_support as ccxt_async
import pytest

from nonstop.sim.server import SimServer
from tests.simkit import control, rest_client


async def test_load_markets_lists_spot_markets_with_binance_filters(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        markets = await ex.load_markets()
        btc = markets["BTC/USDT"]
        assert btc["spot"] and btc["active"]
        assert btc["precision"]["price"] == 0.01
        assert btc["precision"]["amount"] == 0.00001
        assert btc["limits"]["cost"]["min"] == 5.0
        assert "ETH/USDT" in markets


async def test_market_data_calls_return_live_consistent_values(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        ticker = await ex.fetch_ticker("BTC/USDT")
        book = await ex.fetch_order_book("BTC/USDT", 10)
        candles = await ex.fetch_ohlcv("BTC/USDT", "1m", limit=50)
        trades = await ex.fetch_trades("BTC/USDT")
        server_time = await ex.fetch_time()
    assert ticker["last"] > 0 and ticker["bid"] < ticker["ask"]
    assert len(book["bids"]) == 10 and len(book["asks"]) == 10  # the depth asked for, of a deep ladder
    assert book["bids"][0][0] < book["asks"][0][0]
    assert len(candles) == 50 and all(c[2] >= max(c[1], c[4]) and c[3] <= min(c[1], c[4]) for c in candles)
    assert candles[1][0] - candles[0][0] == 60_000
    assert isinstance(trades, list)
    assert server_time > 1_700_000_000_000


async def test_limit_order_lifecycle_by_id_and_client_id(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        book = await ex.fetch_order_book("BTC/USDT", 5)
        price = round(book["bids"][0][0] * 0.9, 2)
        order = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, price, {"clientOrderId": "t-life-1"})
        assert order["status"] == "open" and order["clientOrderId"] == "t-life-1"
        by_id = await ex.fetch_order(order["id"], "BTC/USDT")
        by_client = await ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": "t-life-1"})
        assert by_id["id"] == by_client["id"] == order["id"]
        assert [o["id"] for o in await ex.fetch_open_orders("BTC/USDT")] == [order["id"]]
        balance = await ex.fetch_balance()
        assert balance["USDT"]["used"] == pytest.approx(price * 0.01)
        canceled = await ex.cancel_order(order["id"], "BTC/USDT")
        assert canceled["status"] == "canceled"
        assert await ex.fetch_open_orders("BTC/USDT") == []
        assert (await ex.fetch_balance())["USDT"]["used"] == 0


async def test_market_orders_fill_and_move_balances_and_my_trades(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        before = await ex.fetch_balance()
        buy = await ex.create_order("BTC/USDT", "market", "buy", 0.02, None, {"clientOrderId": "t-mkt-1"})
        sell = await ex.create_order("BTC/USDT", "market", "sell", 0.01, None, {"clientOrderId": "t-mkt-2"})
        after = await ex.fetch_balance()
        trades = await ex.fetch_my_trades("BTC/USDT")
    assert buy["status"] == "closed" and buy["filled"] == 0.02 and buy["average"] > 0
    assert sell["status"] == "closed" and sell["filled"] == 0.01
    fee_btc = 0.02 * 0.001
    assert after["BTC"]["total"] == pytest.approx(before["BTC"]["total"] + 0.02 - fee_btc - 0.01)
    spent = buy["cost"] - (sell["cost"] - sell["cost"] * 0.001)
    assert after["USDT"]["total"] == pytest.approx(before["USDT"]["total"] - spent, rel=1e-9)
    assert {t["order"] for t in trades} == {buy["id"], sell["id"]}
    assert all(t["fee"]["cost"] > 0 for t in trades)


async def test_resting_order_fills_from_background_flow(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        # the market moves between the book read and the order (it failed under load: the bid rested below a
        # market that had moved up, and 100 immediate lookups took under a second): each try waits up to
        # ~5 s for the flow, and a bid the market left behind is canceled and placed again (bounded)
        for attempt in range(5):
            book = await ex.fetch_order_book("BTC/USDT", 5)
            price = book["asks"][0][0]  # join the best ask level's price on the bid: crosses, fills now or soon
            order = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, price,
                                          {"clientOrderId": f"t-rest-{attempt}"})
            for _ in range(50):
                state = await ex.fetch_order(order["id"], "BTC/USDT")
                if state["status"] == "closed":
                    break
                await asyncio.sleep(0.1)
            if state["status"] == "closed":
                break
            with contextlib.suppress(ccxt_async.OrderNotFound):  # filled just now: seen below
                await ex.cancel_order(order["id"], "BTC/USDT")
            state = await ex.fetch_order(order["id"], "BTC/USDT")
            if state["status"] == "closed":
                break
        assert state["status"] == "closed" and state["filled"] == 0.001


async def test_cancel_all_orders_for_a_symbol(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        bid = (await ex.fetch_order_book("BTC/USDT", 5))["bids"][0][0]
        for i in range(3):
            await ex.create_order(
                "BTC/USDT", "limit", "buy", 0.001, round(bid * 0.8 - i, 2), {"clientOrderId": f"t-ca-{i}"}
            )
        canceled = await ex.cancel_all_orders("BTC/USDT")
        assert len(canceled) == 3 and await ex.fetch_open_orders("BTC/USDT") == []


async def test_duplicate_client_id_of_open_order_is_rejected_and_recorded(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        bid = (await ex.fetch_order_book("BTC/USDT", 5))["bids"][0][0]
        await ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.8, 2), {"clientOrderId": "t-dup"})
        with pytest.raises(ccxt_async.InvalidOrder, match="Duplicate order sent"):
            await ex.create_order("BTC/USDT", "limit", "buy", 0.001, round(bid * 0.8, 2), {"clientOrderId": "t-dup"})
    received = await control(sim, "GET", "/control/venues/alpha/orders?client_order_id=t-dup")
    assert [r["rejected"] for r in received] == [None, "Duplicate order sent."]
    assert await control(sim, "GET", "/control/venues/alpha/duplicates") == {}


async def test_rejections_map_to_ccxt_exception_classes(sim: SimServer) -> None:
    async with rest_client(sim) as ex:
        await ex.load_markets()
        with pytest.raises(ccxt_async.InvalidOrder, match="LOT_SIZE"):
            await ex.create_order("BTC/USDT", "limit", "buy", 100_000, 10, {"clientOrderId": "t-rej-1"})
        with pytest.raises(ccxt_async.InsufficientFunds):
            await ex.create_order("BTC/USDT", "limit", "buy", 5, 59_000, {"clientOrderId": "t-rej-2"})
        with pytest.raises(ccxt_async.OrderNotFound):
            await ex.fetch_order("987654321", "BTC/USDT")
        with pytest.raises(ccxt_async.OrderNotFound):
            await ex.cancel_order("987654321", "BTC/USDT")
        with pytest.raises(ccxt_async.BadRequest, match="NOTIONAL"):
            await ex.create_order("BTC/USDT", "limit", "buy", 0.00001, 100, {"clientOrderId": "t-rej-3"})


async def test_bad_credentials_and_stale_timestamp_map_to_auth_and_nonce_errors(sim: SimServer) -> None:
    async with rest_client(sim, secret="wrong-secret") as ex:
        with pytest.raises(ccxt_async.AuthenticationError, match="-1022"):
            await ex.fetch_balance()
    async with rest_client(sim, apiKey="unknown-key") as ex:
        with pytest.raises(ccxt_async.AuthenticationError, match="-2015"):
            await ex.fetch_balance()
    async with rest_client(sim) as ex:
        ex.options["recvWindow"] = 1000
        ex.options["timeDifference"] = 120_000  # our clock runs two minutes behind the venue's
        with pytest.raises(ccxt_async.InvalidNonce, match="-1021"):
            await ex.fetch_balance()


async def test_every_endpoint_of_a_venue_serves_the_same_venue_state(sim: SimServer) -> None:
    async with rest_client(sim, endpoint=0) as first, rest_client(sim, endpoint=2) as third:
        bid = (await first.fetch_order_book("BTC/USDT", 5))["bids"][0][0]
        order = await first.create_order(
            "BTC/USDT", "limit", "buy", 0.001, round(bid * 0.8, 2), {"clientOrderId": "t-ep-1"}
        )
        seen = await third.fetch_order(order["id"], "BTC/USDT")
        assert seen["clientOrderId"] == "t-ep-1"
    async with rest_client(sim, venue="beta") as other:
        assert await other.fetch_open_orders("BTC/USDT") == []  # another venue, another book and account
