"""The unmodified ccxt async `okx` client trades against the simulator's OKX v5 dialect over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import ccxt.async_support as ccxt_async
import pytest

from nonstop.sim.server import SimServer
from tests.integration.venues.kit import eventually
from tests.simkit import okx_rest_client, running_okx_sim


@pytest.fixture
async def okx_sim() -> AsyncIterator[SimServer]:
    async with running_okx_sim() as sim:
        yield sim


async def test_load_markets_lists_spot_instruments_with_tick_lot_and_min_size(okx_sim: SimServer) -> None:
    async with okx_rest_client(okx_sim) as ex:
        markets = await ex.load_markets()
        btc = markets["BTC/USDT"]
    assert btc["id"] == "BTC-USDT" and btc["spot"] and btc["active"]
    assert btc["precision"]["amount"] == 0.00001 and btc["precision"]["price"] == 0.01
    assert btc["limits"]["amount"]["min"] == 0.00001
    assert btc["info"]["tickSz"] == "0.01" and btc["info"]["lotSz"] == "0.00001"
    assert set(markets) == {"BTC/USDT", "ETH/USDT"}


async def test_market_data_ticker_book_candles_trades_and_time(okx_sim: SimServer) -> None:
    async with okx_rest_client(okx_sim) as ex:
        ticker = await ex.fetch_ticker("BTC/USDT")
        book = await ex.fetch_order_book("BTC/USDT", 5)
        candles = await ex.fetch_ohlcv("BTC/USDT", "1m", limit=50)
        old = await ex.fetch_ohlcv("BTC/USDT", "1m", since=candles[0][0] - 600_000, limit=5)
        trades: list = []
        for _ in range(200):  # the background takers trade every few ticks; wait for the first
            if trades := await ex.fetch_trades("BTC/USDT", limit=5):
                break
            await asyncio.sleep(0.05)
        server_time = await ex.fetch_time()
    assert 0 < ticker["bid"] < ticker["ask"] and ticker["last"] > 0
    assert len(book["bids"]) == 5 and book["bids"][0][0] < book["asks"][0][0]
    assert len(candles) == 50 and candles[1][0] - candles[0][0] == 60_000
    assert all(c[2] >= max(c[1], c[4]) and c[3] <= min(c[1], c[4]) for c in candles)
    assert [c[0] for c in old] == [candles[0][0] - 600_000 + i * 60_000 for i in range(5)]
    assert trades and all(t["price"] > 0 for t in trades)
    assert server_time > 1_700_000_000_000


async def test_limit_order_by_clordid_fetch_open_cancel_and_balance(okx_sim: SimServer) -> None:
    async with okx_rest_client(okx_sim) as ex:
        book = await ex.fetch_order_book("BTC/USDT", 5)
        price = round(book["bids"][0][0] * 0.9, 2)
        placed = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, price, {"clOrdId": "okxlife1"})
        assert placed["clientOrderId"] == "okxlife1"
        by_client = await ex.fetch_order(None, "BTC/USDT", {"clOrdId": "okxlife1"})
        by_id = await ex.fetch_order(placed["id"], "BTC/USDT")
        assert by_client["id"] == by_id["id"] == placed["id"] and by_client["status"] == "open"
        assert by_client["info"]["px"] == str(price) and by_client["info"]["sz"] == "0.01"
        assert [o["id"] for o in await ex.fetch_open_orders("BTC/USDT")] == [placed["id"]]
        assert (await ex.fetch_balance())["USDT"]["used"] == pytest.approx(price * 0.01)
        await ex.cancel_order(placed["id"], "BTC/USDT")
        assert (await ex.fetch_order(placed["id"], "BTC/USDT"))["status"] == "canceled"
        assert await ex.fetch_open_orders("BTC/USDT") == []
        assert (await ex.fetch_balance())["USDT"]["used"] == 0
        with pytest.raises(ccxt_async.OrderNotFound, match="51400"):
            await ex.cancel_order(placed["id"], "BTC/USDT")
        with pytest.raises(ccxt_async.OrderNotFound, match="51603"):
            await ex.fetch_order(None, "BTC/USDT", {"clOrdId": "neverseen"})


async def test_market_orders_fill_with_fills_and_history(okx_sim: SimServer) -> None:
    async with okx_rest_client(okx_sim, options={"createOrder": "privatePostTradeOrder"}) as ex:
        before = await ex.fetch_balance()
        buy = await ex.create_order("BTC/USDT", "market", "buy", 0.02, None, {"clOrdId": "okxmkt1"})
        sell = await ex.create_order("BTC/USDT", "market", "sell", 0.01, None, {"clOrdId": "okxmkt2"})
        filled = await ex.fetch_order(buy["id"], "BTC/USDT")
        trades = await ex.fetch_my_trades("BTC/USDT")
        closed = await ex.fetch_closed_orders("BTC/USDT")
        after = await ex.fetch_balance()
    assert filled["status"] == "closed" and filled["filled"] == 0.02
    assert {t["order"] for t in trades} == {buy["id"], sell["id"]}
    assert sum(t["amount"] for t in trades if t["order"] == buy["id"]) == pytest.approx(0.02)
    assert all(t["fee"]["cost"] > 0 for t in trades)  # OKX reports fees negative; ccxt flips the sign
    assert {o["id"] for o in closed} >= {buy["id"], sell["id"]}
    assert after["BTC"]["total"] == pytest.approx(before["BTC"]["total"] + 0.01 - 0.00002)


async def test_duplicate_clordid_is_rejected_while_the_first_is_open(okx_sim: SimServer) -> None:
    async with okx_rest_client(okx_sim) as ex:
        price = round((await ex.fetch_ticker("BTC/USDT"))["bid"] * 0.8, 2)
        await ex.create_order("BTC/USDT", "limit", "buy", 0.01, price, {"clOrdId": "okxdup1"})
        with pytest.raises(ccxt_async.InvalidOrder, match="51016"):
            await ex.create_order("BTC/USDT", "limit", "buy", 0.01, price, {"clOrdId": "okxdup1"})
    assert okx_sim.venues["okx"].venue.duplicates() == {}


async def test_insufficient_funds_and_filter_violations_get_okx_codes(okx_sim: SimServer) -> None:
    async with okx_rest_client(okx_sim) as ex:
        price = round((await ex.fetch_ticker("BTC/USDT"))["bid"] * 0.9, 2)
        with pytest.raises(ccxt_async.InsufficientFunds, match="51008"):
            await ex.create_order("BTC/USDT", "limit", "buy", 50, price, {"clOrdId": "okxpoor1"})
        with pytest.raises(ccxt_async.InvalidOrder, match="51020|51121"):
            await ex.private_post_trade_order({"instId": "BTC-USDT", "tdMode": "cash", "side": "buy",
                                               "ordType": "limit", "px": str(price), "sz": "0.000001"})
        with pytest.raises(ccxt_async.BadRequest, match="51000"):
            await ex.private_post_trade_order({"instId": "BTC-USDT", "tdMode": "cash", "side": "buy",
                                               "ordType": "limit", "px": str(price), "sz": "0.01",
                                               "clOrdId": "has-dash"})


async def test_bad_signature_stale_timestamp_and_wrong_passphrase_get_okx_auth_codes(okx_sim: SimServer) -> None:
    async with okx_rest_client(okx_sim, secret="not-the-secret") as ex:
        with pytest.raises(ccxt_async.AuthenticationError, match="50113"):
            await ex.fetch_balance()
    async with okx_rest_client(okx_sim, password="wrong-passphrase") as ex:
        with pytest.raises(ccxt_async.AuthenticationError, match="50105"):
            await ex.fetch_balance()
    async with okx_rest_client(okx_sim) as ex:
        ex.options["timeDifference"] = 60_000  # our clock one minute behind the venue's
        with pytest.raises(ccxt_async.InvalidNonce, match="50102"):
            await ex.fetch_balance()


async def test_per_endpoint_rate_limit_answers_429_with_50011(okx_sim: SimServer) -> None:
    async with okx_rest_client(okx_sim) as ex:
        results = await asyncio.gather(*(ex.private_get_account_config() for _ in range(12)), return_exceptions=True)
        other = await ex.fetch_balance()  # another endpoint's budget is untouched
    limited = [r for r in results if isinstance(r, BaseException)]
    assert limited and all(isinstance(r, ccxt_async.RateLimitExceeded) and "50011" in str(r) for r in limited)
    assert len(results) - len(limited) <= 5 * 2  # 5 per 2 s window, at most two windows touched
    assert other["USDT"]["free"] > 0
    assert okx_sim.venues["okx"].okx_limits.counts["429"] == len(limited)


async def test_cancel_batch_orders_reports_each_order(okx_sim: SimServer) -> None:
    async with okx_rest_client(okx_sim) as ex:
        price = round((await ex.fetch_ticker("BTC/USDT"))["bid"] * 0.8, 2)
        a = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, price, {"clOrdId": "okxbatcha"})
        b = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, price, {"clOrdId": "okxbatchb"})
        await ex.cancel_orders([a["id"], b["id"]], "BTC/USDT")
        assert await ex.fetch_open_orders("BTC/USDT") == []


async def test_binance_dialect_on_the_same_simulator_is_untouched(okx_sim: SimServer) -> None:
    from tests.simkit import rest_client

    async with rest_client(okx_sim, "alpha") as ex:
        assert (await ex.fetch_ticker("BTC/USDT"))["last"] > 0


@pytest.mark.slow
async def test_cancel_all_after_cancels_only_when_not_rearmed(okx_sim: SimServer) -> None:
    async with okx_rest_client(okx_sim) as ex:
        price = round((await ex.fetch_ticker("BTC/USDT"))["bid"] * 0.8, 2)
        order = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, price, {"clOrdId": "okxdms1"})
        armed = await ex.cancel_all_orders_after(10_000)
        assert int(armed["data"][0]["triggerTime"]) > 0
        rt = okx_sim.venues["okx"]
        for _ in range(4):  # re-armed every 3 s for 12 s: past the first deadline, still open
            await asyncio.sleep(3)
            await ex.cancel_all_orders_after(10_000)
        assert (await ex.fetch_order(order["id"], "BTC/USDT"))["status"] == "open" and rt.dead_mans_switch.fired == []
        await eventually(lambda: bool(rt.dead_mans_switch.fired), within=15)
        assert (await ex.fetch_order(order["id"], "BTC/USDT"))["status"] == "canceled"
        assert await ex.fetch_open_orders("BTC/USDT") == []
