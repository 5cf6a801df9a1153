"""Average-cost PnL and exposure per strategy (what the engine probe publishes)."""

from __future__ import annotations

from decimal import Decimal as D

from nonstop.model import InstrumentId, Side
from nonstop.monitor.pnl import Position, StrategyBook

BTC = InstrumentId("binance-a", "BTC/USDT")
ETH_BTC = InstrumentId("binance-a", "ETH/BTC")


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
    book = StrategyBook()
    book.fill(BTC, Side.BUY, D("1"), D("100"), D("0.1"), "USDT")
    book.fill(BTC, Side.BUY, D("1"), D("110"), D("0.001"), "BTC")  # 0.001 BTC at 110 = 0.11 USDT
    book.fill(BTC, Side.SELL, D("1"), D("120"), D("0.05"), "BNB")
    pos = book.positions[BTC]
    assert pos.fees == D("0.21") and pos.unpriced_fees == 1
    figures = book.figures(lambda iid: D("130"))
    assert figures.pnl == D("15") + D("25") - D("0.21")
    assert figures.exposure == D("130")


def test_book_marks_at_last_fill_price_without_a_mark_and_leaves_other_quotes_out() -> None:
    book = StrategyBook()
    book.fill(BTC, Side.SELL, D("0.5"), D("200"), D("0"), "USDT")
    book.fill(ETH_BTC, Side.BUY, D("10"), D("0.05"), D("0"), "BTC")  # quoted in BTC: not addable to USDT
    figures = book.figures(lambda iid: None)
    assert figures.exposure == D("100") and figures.pnl == D("0")
    assert book.other_quote == {str(ETH_BTC)} and set(book.positions) == {BTC}
