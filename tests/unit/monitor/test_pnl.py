"""Average-cost PnL and exposure per strategy and quote currency (what the engine probe publishes)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from nonstop.errors import ModelError
from nonstop.model import InstrumentId, Side
from nonstop.monitor.pnl import Position, StrategyBook, StrategyBooks, signed_amount

BTC = InstrumentId("binance-a", "BTC/USDT")
ETH_BTC = InstrumentId("binance-a", "ETH/BTC")
ETH_USDT = InstrumentId("binance-a", "ETH/USDT")


def test_position_adding_averages_and_reducing_realizes_at_the_average() -> None:
    p = Position()
    p.apply(Side.BUY, D("1"), D("100"))
    p.apply(Side.BUY, D("1"), D("110"))
    assert (p.qty, p.avg_price, p.realized) == (D("2"), D("105"), D("0"))
    p.apply(Side.SELL, D("1"), D("120"))
    assert (p.qty, p.avg_price, p.realized) == (D("1"), D("105"), D("15"))
    assert p.unrealized(D("130")) == D("25")


def test_position_short_then_crossing_zero_opens_the_rest_at_the_fill_price() -> None:
    p = Position()
    p.apply(Side.SELL, D("2"), D("100"))
    p.apply(Side.BUY, D("3"), D("90"))  # covers 2 at +10 each, then 1 long at 90
    assert (p.qty, p.avg_price, p.realized) == (D("1"), D("90"), D("20"))
    p.apply(Side.SELL, D("1"), D("95"))
    assert (p.qty, p.avg_price, p.realized) == (D("0"), D("0"), D("25"))


def test_book_fees_in_quote_and_base_count_other_assets_are_tallied() -> None:
    book = StrategyBook("USDT")
    book.fill(BTC, Side.BUY, D("1"), D("100"), D("0.1"), "USDT")
    book.fill(BTC, Side.BUY, D("1"), D("110"), D("0.001"), "BTC")  # 0.001 BTC at 110 = 0.11 USDT
    book.fill(BTC, Side.SELL, D("1"), D("120"), D("0.05"), "BNB")
    pos = book.positions[BTC]
    assert pos.fees == D("0.21") and pos.unpriced_fees == 1
    figures = book.figures(lambda iid: D("130"))
    assert figures.pnl == D("15") + D("25") - D("0.21")
    assert figures.exposure == D("130")


def test_book_marks_at_last_fill_price_without_a_mark_and_refuses_another_quote() -> None:
    book = StrategyBook("USDT")
    book.fill(BTC, Side.SELL, D("0.5"), D("200"), D("0"), "USDT")
    figures = book.figures(lambda iid: None)
    assert figures.exposure == D("100") and figures.pnl == D("0")
    with pytest.raises(ModelError, match="ETH/BTC.*quoted in BTC.*USDT book"):  # never added to USDT amounts
        book.fill(ETH_BTC, Side.BUY, D("10"), D("0.05"), D("0"), "BTC")
    assert set(book.positions) == {BTC}


def test_books_keep_a_strategy_s_quote_currencies_apart_whatever_fill_comes_first() -> None:
    fills = [(ETH_BTC, Side.BUY, D("10"), D("0.05"), D("0.001"), "BTC"),
             (ETH_USDT, Side.BUY, D("1"), D("3000"), D("1"), "USDT"),
             (ETH_USDT, Side.SELL, D("1"), D("3100"), D("1"), "USDT"),
             (ETH_BTC, Side.SELL, D("4"), D("0.06"), D("0"), "BTC")]
    one, other = StrategyBooks(), StrategyBooks()
    for fill in fills:
        one.fill("mm", *fill)
    for fill in sorted(fills, key=lambda f: f[0].quote):  # the BTC fills first: the order changes no book
        other.fill("mm", *fill)
    marks = {ETH_BTC: D("0.055")}
    for books in (one, other):
        assert [k for k, _ in books.items()] == [("mm", "BTC"), ("mm", "USDT")]
        # BTC: bought 10 @ 0.05, sold 4 @ 0.06 (+0.04), fee 0.001; 6 left marked at 0.055 (+0.03)
        assert books.by_quote(marks.get) == {"BTC": D("0.069"), "USDT": D("98")}  # 100 - 2 fees
    assert one.books["mm", "BTC"].positions == other.books["mm", "BTC"].positions


def test_an_amount_is_written_with_its_currency_and_the_decimals_it_needs() -> None:
    assert signed_amount(D("-5.7"), "USDT") == "-5.70 USDT"
    assert signed_amount(D("0.000012"), "BTC") == "+0.00001200 BTC"
    assert signed_amount(D("5.02"), "USDT", sign=False) == "5.02 USDT"
    assert signed_amount(D("-0.12003423"), "USDT") == "-0.12 USDT"  # cents in a dollar-like currency
