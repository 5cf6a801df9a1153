"""The background market: deterministic per seed, and it keeps a two-sided book that moves."""

from __future__ import annotations

from decimal import Decimal as D

from nonstop.clock import ManualClock
from nonstop.config import SimSettings
from nonstop.sim.flow import MarketFlow, PricePath
from nonstop.sim.venue import SimVenue


def _path(seed: int, n: int = 200) -> list[D]:
    spec = SimSettings().venues[0].symbols[0]
    path = PricePath(seed, spec)
    return [path.step() for _ in range(n)]


def test_same_seed_gives_the_same_price_path_and_another_seed_does_not() -> None:
    assert _path(11) == _path(11)
    assert _path(11) != _path(12)


def _run(seed: int, ticks: int) -> tuple[list[tuple[D, D]], dict[str, D]]:
    settings = SimSettings()
    v = SimVenue("x", settings.venues[0].symbols, ManualClock())
    flow = MarketFlow(v, seed)
    for _ in range(ticks):
        flow.tick()
    bids, _ = v.books["BTCUSDT"].depth(5)
    return bids, dict(v.last_price)


def test_same_seed_gives_the_same_books_and_trades() -> None:
    assert _run(5, 300) == _run(5, 300)


def test_flow_keeps_a_two_sided_book_and_trades_move_the_last_price() -> None:
    settings = SimSettings()
    v = SimVenue("x", settings.venues[0].symbols, ManualClock())
    flow = MarketFlow(v, 3)
    lasts = set()
    for _ in range(200):
        flow.tick()
        lasts.add(v.last_price["BTCUSDT"])
        bid, ask = v.books["BTCUSDT"].best_bid(), v.books["BTCUSDT"].best_ask()
        assert bid is not None and ask is not None and bid < ask
    assert len(lasts) > 20
    assert not v.received  # background orders are not part of the venue's order record
    ladder = sum(2 * spec.book_levels for spec in v.symbols.values())
    assert ladder * 0.99 <= len(v.orders) <= ladder  # only the market maker's live ladder (a few eaten levels)
    bids, asks = v.books["BTCUSDT"].depth(5000)
    levels, tick = v.symbols["BTCUSDT"].book_levels, v.symbols["BTCUSDT"].tick_size
    assert levels - 20 <= len(bids) <= levels and levels - 20 <= len(asks) <= levels  # a taker may eat a few
    assert asks[0][0] - bids[0][0] <= 10 * tick  # a few ticks at most: a liquid pair
    flow._quote("BTCUSDT")
    bids, asks = v.books["BTCUSDT"].depth(5000)
    assert len(bids) == len(asks) == levels and asks[0][0] - bids[0][0] == tick  # freshly quoted: one tick


def test_frozen_flow_does_not_touch_the_book_and_spike_shifts_quotes() -> None:
    settings = SimSettings()
    v = SimVenue("x", settings.venues[0].symbols, ManualClock())
    flow = MarketFlow(v, 3)
    flow.control.frozen = True
    before = v.books["BTCUSDT"].depth(5)
    for _ in range(20):
        flow.tick()
    assert v.books["BTCUSDT"].depth(5) == before
    flow.control.frozen = False
    flow.control.spike_factor = D("1.2")
    flow.tick()
    bid = v.books["BTCUSDT"].best_bid()
    assert bid is not None and bid > flow.paths["BTCUSDT"].price * D("1.19")
