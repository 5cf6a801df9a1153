"""ccxt.pro's `okx` websockets against the OKX dialect: public channels, the business (candles)
path, the private path with login, OKX's ping/pong, and error events (never silence)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.pro as ccxt_pro
import pytest

from nonstop.sim.okx_streams import checksum
from nonstop.sim.server import SimServer
from tests.simkit import control, okx_pro_client, running_okx_sim, set_fault, until_user_stream_subscribed


@pytest.fixture
async def okx_sim() -> AsyncIterator[SimServer]:
    async with running_okx_sim() as sim:
        yield sim


def ws_url(sim: SimServer, kind: str) -> str:
    return sim.venues["okx"].urls[0].replace("http://", "ws://") + f"/ws/v5/{kind}"


async def test_watch_ticker_trades_and_candles(okx_sim: SimServer) -> None:
    async with okx_pro_client(okx_sim) as ex:
        first = await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
        second = await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 15)
        trades = await asyncio.wait_for(ex.watch_trades("BTC/USDT"), 15)
        candles = await asyncio.wait_for(ex.watch_ohlcv("BTC/USDT", "1m"), 15)
    assert first["symbol"] == "BTC/USDT" and 0 < first["bid"] < first["ask"]
    assert second["timestamp"] > first["timestamp"]
    assert trades and all(t["price"] > 0 and t["amount"] > 0 for t in trades)
    assert candles and candles[-1][0] % 60_000 == 0 and candles[-1][2] >= candles[-1][3]


async def test_watch_orders_and_balance_after_login_see_our_fill(okx_sim: SimServer) -> None:
    async with okx_pro_client(okx_sim) as ex:
        orders = asyncio.create_task(ex.watch_orders("BTC/USDT"))
        balance = asyncio.create_task(ex.watch_balance())
        trades = asyncio.create_task(ex.watch_my_trades("BTC/USDT"))
        # logged in and subscribed on the private path (was a 0.5 s sleep: too short on a loaded machine)
        await until_user_stream_subscribed(okx_sim, "okx", channels=("orders", "account"))
        placed = await ex.create_order("BTC/USDT", "market", "buy", 0.01, None, {"clOrdId": "okxws1"})
        got_orders = await asyncio.wait_for(orders, 15)
        got_balance = await asyncio.wait_for(balance, 15)
        got_trades = await asyncio.wait_for(trades, 15)
    assert any(o["id"] == placed["id"] and o["clientOrderId"] == "okxws1" for o in got_orders)
    assert got_balance["BTC"]["free"] > 0 and got_balance["USDT"]["free"] < 100_000
    assert {t["order"] for t in got_trades} == {placed["id"]}
    assert sum(Decimal(t["info"]["fillSz"]) for t in got_trades) <= Decimal("0.01")


async def test_private_login_with_a_bad_signature_is_refused(okx_sim: SimServer) -> None:
    async with okx_pro_client(okx_sim, secret="not-the-secret") as ex:
        with pytest.raises(ccxt_pro.AuthenticationError, match="60007|60009"):
            await asyncio.wait_for(ex.watch_balance(), 15)


async def test_ping_pong_unknown_channel_and_private_before_login_get_answers(okx_sim: SimServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url(okx_sim, "public")) as ws:
            await ws.send_str("ping")
            assert (await ws.receive(timeout=15)).data == "pong"
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "nope", "instId": "BTC-USDT"}]}))
            err = json.loads((await ws.receive(timeout=15)).data)
            assert err["event"] == "error" and err["code"] == "60018"
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "tickers", "instId": "XXX-USDT"}]}))
            assert json.loads((await ws.receive(timeout=15)).data)["code"] == "60018"
        async with session.ws_connect(ws_url(okx_sim, "private")) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "SPOT"}]}))
            err = json.loads((await ws.receive(timeout=15)).data)
            assert err["event"] == "error" and err["code"] == "60011"


def top(side: dict[str, str], sign: int) -> list[tuple[str, str]]:
    return sorted(side.items(), key=lambda kv: sign * Decimal(kv[0]))[:25]


async def test_order_book_checksum_and_sequence_hold_while_deep_levels_rise_into_view() -> None:
    """A raw subscriber rebuilds the book from OKX's updates and checks every checksum; ccxt.pro's
    book (it checks seqId/prevSeqId) runs beside it and ends equal to the venue's. A 1.2 % price
    spike and its end move the market past the 400 levels of the snapshot, so levels that rested
    deep (never sent, never changed) become the top 25 the checksum covers."""
    async with running_okx_sim() as sim, okx_pro_client(sim) as ex, aiohttp.ClientSession() as session:
        book = await asyncio.wait_for(ex.watch_order_book("BTC/USDT"), 15)
        bids: dict[str, str] = {}
        asks: dict[str, str] = {}
        updates = 0
        seq = -1

        def apply(msg: dict[str, Any]) -> None:
            nonlocal seq, updates
            row = msg["data"][0]
            if msg["action"] == "snapshot":
                bids.clear()
                asks.clear()
            for side, levels in ((bids, row["bids"]), (asks, row["asks"])):
                for px, sz, *_ in levels:
                    if Decimal(sz) == 0:
                        side.pop(px, None)
                    else:
                        side[px] = sz
            assert row["prevSeqId"] in (-1, seq), "the sequence broke"
            seq = row["seqId"]
            assert checksum(top(bids, -1), top(asks, 1)) == row["checksum"], f"checksum broke after {updates}"
            updates += 1

        async def follow(ws: aiohttp.ClientWebSocketResponse, until: Callable[[Decimal], bool], then: int) -> None:
            """Apply updates until `until(best ask)` holds, then `then` more (bounded: 300 messages)."""
            left = None
            for _ in range(300):
                msg = json.loads((await ws.receive(timeout=15)).data)
                if "data" not in msg:
                    continue
                apply(msg)
                if left is None and asks and until(min(Decimal(p) for p in asks)):
                    left = then
                if left is not None:
                    left -= 1
                    if left <= 0:
                        return
            raise AssertionError("the market never got there within 300 updates")

        async with session.ws_connect(ws_url(sim, "public")) as ws:
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]}))
            await follow(ws, lambda ask: True, 5)
            before = min(Decimal(p) for p in asks)
            await set_fault(sim, "price_spike", venue="okx", params={"pct": 1.2})
            await follow(ws, lambda ask: ask > before * Decimal("1.008"), 10)  # up past the snapshot's 400 asks
            await control(sim, "DELETE", "/control/faults?venue=okx")
            await follow(ws, lambda ask: ask < before * Decimal("1.004"), 10)  # and back past the bids
            for _ in range(400):  # both readers on the same update (whichever is behind reads on), bounded
                if book["nonce"] < seq:
                    book = await asyncio.wait_for(ex.watch_order_book("BTC/USDT"), 15)
                elif book["nonce"] > seq:
                    msg = json.loads((await ws.receive(timeout=15)).data)
                    if "data" in msg:
                        apply(msg)
                else:
                    break
            # copied with nothing awaited since the check: ccxt updates its book in place whenever the loop
            # runs (the test compared it after closing both clients, which a loaded machine had let move on)
            nonce, ccxt_bids, ccxt_asks = book["nonce"], [list(x) for x in book["bids"][:25]], [
                list(x) for x in book["asks"][:25]]
    assert updates > 20 and nonce == seq
    assert ccxt_bids == [[float(p), float(q)] for p, q in top(bids, -1)]
    assert ccxt_asks == [[float(p), float(q)] for p, q in top(asks, 1)]
