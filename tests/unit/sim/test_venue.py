"""The simulated venue's matching engine: price-time priority, partial fills, balances, filters."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from nonstop.clock import ManualClock
from nonstop.config import SimSymbol
from nonstop.sim.book import OrderBook, Resting
from nonstop.sim.rejects import BinanceReject
from nonstop.sim.venue import SimVenue

BTC = SimSymbol(
    base="BTC",
    quote="USDT",
    start_price=D("100"),
    tick_size=D("0.01"),
    step_size=D("0.001"),
    min_qty=D("0.001"),
    min_notional=D("1"),
)


def venue() -> SimVenue:
    v = SimVenue("t", [BTC], ManualClock())
    for key in ("maker1", "maker2", "taker"):
        v.add_account(key, "s", {"USDT": D("100000"), "BTC": D("100")})
    return v


def limit(v: SimVenue, acct: str, side: str, qty: str, price: str, cid: str, tif: str = "GTC"):
    return v.new_order(
        acct, "BTCUSDT", side, "LIMIT", quantity=D(qty), price=D(price), time_in_force=tif, client_order_id=cid
    )


def test_book_orders_levels_best_first_and_tracks_update_ids() -> None:
    book = OrderBook("X")
    for i, (side, price) in enumerate([("BUY", "99"), ("BUY", "100"), ("SELL", "102"), ("SELL", "101")]):
        book.add(Resting(i, "a", side, D(price), D(1)))
    bids, asks = book.depth(5)
    assert [p for p, _ in bids] == [D(100), D(99)] and [p for p, _ in asks] == [D(101), D(102)]
    diff = book.take_diff()
    assert diff is not None and (diff.first_id, diff.last_id) == (2, 5)
    assert book.take_diff() is None
    book.remove(1)
    diff = book.take_diff()
    assert diff is not None and diff.bids == [(D(100), D(0))] and diff.first_id == 6


def test_price_time_priority_fills_the_earlier_order_at_a_level_first() -> None:
    v = venue()
    first = limit(v, "maker1", "SELL", "1", "100", "a")
    second = limit(v, "maker2", "SELL", "1", "100", "b")
    better = limit(v, "maker2", "SELL", "0.5", "99.5", "c")
    taker = limit(v, "taker", "BUY", "1.2", "100", "t")
    assert better.status == "FILLED" and better.fills[0]["price"] == D("99.5")
    assert first.executed_qty == D("0.7") and first.status == "PARTIALLY_FILLED"
    assert second.executed_qty == 0
    assert taker.status == "FILLED" and taker.cum_quote == D("0.5") * D("99.5") + D("0.7") * D("100")


def test_balances_lock_on_rest_and_settle_on_fill_with_price_improvement_and_fees() -> None:
    v = venue()
    limit(v, "maker1", "SELL", "1", "100", "s")
    buyer = v.accounts["taker"]
    order = limit(v, "taker", "BUY", "2", "101", "b")
    # 1 filled at 100 (taker, improved from 101), 1 rests at 101 with its quote locked
    assert order.status == "PARTIALLY_FILLED"
    assert buyer.locked["USDT"] == D("101")
    assert buyer.free["USDT"] == D("100000") - D("100") - D("101")
    assert buyer.free["BTC"] == D("100") + D("1") - D("0.001")
    seller = v.accounts["maker1"]
    assert seller.free["USDT"] == D("100000") + D("100") - D("0.1")
    assert seller.locked["BTC"] == 0 and seller.free["BTC"] == D("99")
    v.cancel("taker", "BTCUSDT", order.order_id, None)
    assert buyer.locked["USDT"] == 0 and buyer.free["USDT"] == D("100000") - D("100")


def test_filters_and_balance_and_duplicates_are_rejected_with_binance_codes() -> None:
    v = venue()
    cases = [
        (("0.0015", "100"), "LOT_SIZE"),
        (("1", "100.001"), "PRICE_FILTER"),
        (("0.001", "100"), "NOTIONAL"),
        (("5000", "100"), "insufficient balance"),
    ]
    for (qty, price), words in cases:
        with pytest.raises(BinanceReject, match=words):
            limit(v, "taker", "BUY", qty, price, f"x{qty}")
    limit(v, "taker", "BUY", "1", "50", "dup")
    with pytest.raises(BinanceReject, match="Duplicate order sent"):
        limit(v, "taker", "BUY", "1", "50", "dup")
    v.cancel("taker", "BTCUSDT", None, "dup")
    limit(v, "taker", "BUY", "1", "50", "dup")  # a closed order's client id may be used again
    assert len([r for r in v.received if r.client_order_id == "dup"]) == 3
    assert v.duplicates() == {"dup": 2}


def test_ioc_fok_limit_maker_and_market_without_liquidity() -> None:
    v = venue()
    limit(v, "maker1", "SELL", "1", "100", "s")
    ioc = limit(v, "taker", "BUY", "3", "100", "ioc", tif="IOC")
    assert ioc.status == "EXPIRED" and ioc.executed_qty == 1
    assert v.accounts["taker"].locked["USDT"] == 0
    limit(v, "maker1", "SELL", "1", "100", "s2")
    fok = limit(v, "taker", "BUY", "2", "100", "fok", tif="FOK")
    assert fok.status == "EXPIRED" and fok.executed_qty == 0
    with pytest.raises(BinanceReject, match="immediately match"):
        v.new_order("taker", "BTCUSDT", "BUY", "LIMIT_MAKER", quantity=D("1"), price=D("100"), client_order_id="lm")
    v.cancel_all("maker1", "BTCUSDT")
    market = v.new_order("taker", "BTCUSDT", "BUY", "MARKET", quantity=D("1"), client_order_id="m")
    assert market.status == "EXPIRED" and market.executed_qty == 0


def test_self_trade_expires_the_resting_maker() -> None:
    v = venue()
    resting = limit(v, "taker", "SELL", "1", "100", "mine")
    other = limit(v, "maker1", "SELL", "1", "100.5", "theirs")
    buy = limit(v, "taker", "BUY", "1", "101", "cross")
    assert resting.status == "EXPIRED_IN_MATCH" and resting.executed_qty == 0
    assert buy.status == "FILLED" and other.status == "FILLED"
    assert v.accounts["taker"].locked["BTC"] == 0


def test_unknown_orders_and_symbols() -> None:
    v = venue()
    with pytest.raises(BinanceReject, match="Unknown order sent"):
        v.cancel("taker", "BTCUSDT", 123, None)
    with pytest.raises(BinanceReject, match="Invalid symbol"):
        v.open_orders("taker", "XYZ")
    order = limit(v, "taker", "BUY", "1", "50", "mine")
    with pytest.raises(BinanceReject, match="Order does not exist"):
        from nonstop.sim import rejects

        v.find("maker1", "BTCUSDT", order.order_id, None, rejects.NO_SUCH_ORDER)  # not their order


def test_venue_charges_its_maker_fee_to_the_maker_and_its_taker_fee_to_the_taker() -> None:
    v = venue()
    v.maker_fee, v.taker_fee = D("0.0008"), D("0.001")  # OKX's regular tier, say
    limit(v, "maker1", "SELL", "1", "100", "m")
    limit(v, "taker", "BUY", "1", "100", "t")
    maker_fill = v.account_trades["maker1"][0]
    taker_fill = v.account_trades["taker"][0]
    assert (maker_fill["commission"], maker_fill["commissionAsset"]) == (D("0.08"), "USDT")  # 100 USDT x 0.08 %
    assert (taker_fill["commission"], taker_fill["commissionAsset"]) == (D("0.001"), "BTC")  # 1 BTC x 0.1 %
