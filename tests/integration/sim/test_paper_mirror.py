"""Paper trading on a mirrored market (B6): a simulated venue whose book and trades follow a source
venue's public data. A second simulator stands in for the live venue (no internet here); the mirror
reaches it through the real ccxt.pro client and the venue profile path (`network = "sim"`)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from nonstop.config import SimMirror, SimSettings, SimSymbol, SimVenue
from nonstop.sim.server import SimServer
from tests.simkit import rest_client

WILD_BTC = SimSymbol(
    base="BTC", quote="USDT", start_price=Decimal("60000"), tick_size=Decimal("0.01"),
    step_size=Decimal("0.00001"), min_qty=Decimal("0.00001"), volatility_bps=Decimal("2"),
)


def _settings(name: str, mirror: SimMirror | None = None) -> SimSettings:
    return SimSettings(
        control_port=0, tick_ms=50, venues=[SimVenue(name=name, ports=[0], symbols=[WILD_BTC], mirror=mirror)]
    )


async def test_paper_orders_fill_only_when_the_source_trades_through_them_and_nothing_reaches_the_source() -> None:
    async with SimServer(_settings("source")) as source:
        mirror = SimMirror(network="sim", url=source.venues["source"].urls[0], book_depth=50)
        async with SimServer(_settings("paper", mirror)) as paper, rest_client(paper, "paper") as ex:
            for _ in range(100):  # the mirrored book arrives
                book = await ex.fetch_order_book("BTC/USDT", 50)
                if len(book["bids"]) >= 20 and len(book["asks"]) >= 20:
                    break
                await asyncio.sleep(0.1)
            source_book = source.venues["source"].venue.books["BTCUSDT"]
            assert source_book.best_bid() is not None
            bid, ask = round(book["bids"][0][0] - 15, 2), round(book["asks"][0][0] + 15, 2)
            buy = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, bid, {"clientOrderId": "paper-b"})
            sell = await ex.create_order("BTC/USDT", "limit", "sell", 0.001, ask, {"clientOrderId": "paper-s"})
            assert buy["status"] == sell["status"] == "open"  # nothing filled at placement: they rest
            filled = []
            for _ in range(300):  # bounded: 30 s
                states = [await ex.fetch_order(o["id"], "BTC/USDT") for o in (buy, sell)]
                filled = [s for s in states if s["filled"] > 0]
                if filled:
                    break
                await asyncio.sleep(0.1)
            fills = await ex.fetch_my_trades("BTC/USDT")
            market = await ex.create_order("BTC/USDT", "market", "buy", 0.001)  # walks the mirrored book
        tape = list(source.venues["source"].venue.trades["BTCUSDT"])
        source_venue = source.venues["source"].venue
    assert filled, "the source market moved 15 USD either way within 30 s"
    for trade in fills:
        limit = bid if trade["side"] == "buy" else ask
        assert trade["price"] == limit and trade["takerOrMaker"] == "maker"
        crossing = [t for t in tape if (t.price <= Decimal(str(limit)) if trade["side"] == "buy"
                                        else t.price >= Decimal(str(limit)))]
        assert crossing and min(t.time_ms for t in crossing) <= trade["timestamp"]  # the source traded through first
    assert market["status"] == "closed" and market["filled"] == 0.001
    assert source_venue.received == [] and source_venue.account_trades == {}  # nothing was sent to the source
    assert all(o.account.startswith("__") for o in source_venue.orders.values())
