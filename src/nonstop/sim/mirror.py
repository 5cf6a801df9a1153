"""Paper trading on a real venue's market data: a simulated venue whose book and trades mirror the
source venue's public data (ccxt.pro, no keys), instead of the seeded background flow.

* The book: the source's top `book_depth` levels are kept as background liquidity (the market
  maker's account); a level that would cross one of our resting orders is left out (a real order
  there would not have traded with ours: only trades fill us).
* Our fills: each source trade is replayed here as a background IOC taker at the trade's price and
  size. It takes the mirrored levels and our orders by price-time priority, so a resting order of ours
  fills only when the source trades at or through its price, after the mirrored quantity that was
  ahead of it at that price (its queue position, estimated from the book).
* Market and marketable orders of ours walk the mirrored book; fees are the venue's `maker_fee` /
  `taker_fee` (a paper venue's: the source's, see `sim.paper`). Nothing is ever sent to the source:
  its client has no keys and only watches public streams (`source_client`); the engine's
  `network = "paper"` builds such venues (`sim.paper`).
"""

from __future__ import annotations

import asyncio
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

import ccxt.pro as ccxt_pro
import structlog

from nonstop.config_sim import SimMirror, SimSymbol
from nonstop.errors import SimulatorError
from nonstop.sim.book import BUY, SELL
from nonstop.sim.records import MARKET_MAKER, TAKER_FLOW, SimOrder
from nonstop.venues.profile import Network, build_profile, dialect

if TYPE_CHECKING:
    from nonstop.sim.venue import SimVenue

log = structlog.get_logger("nonstop.sim.mirror")
RETRY_S = 2.0


def source_config(mirror: SimMirror) -> dict[str, Any]:
    """The ccxt config of the source venue's public data, through the venue profile, with no keys (so
    ccxt refuses any private call before sending it); on a network where the exchange has a
    public-data-only host (Binance live: data-api / data-stream.binance.vision) that host is used, so
    not even a bug could reach the private endpoints."""
    if mirror.url:
        profile = build_profile(mirror.exchange, mirror.network, urls=[mirror.url])
    else:
        public = [n for n, e in dialect(mirror.exchange).endpoints(Network(mirror.network)).items() if e.public_only]
        profile = build_profile(mirror.exchange, mirror.network, endpoints=public[:1] or None)
    return dialect(mirror.exchange).ccxt_config(profile.endpoints[0], "", "", "")


def source_client(mirror: SimMirror) -> Any:
    """A keyless ccxt.pro client of the source venue (public market data only)."""
    client = getattr(ccxt_pro, mirror.exchange)(source_config(mirror))
    if client.apiKey or client.secret:  # ccxt could have read keys from elsewhere: never for the source
        raise SimulatorError(f"the mirror source {mirror.exchange} {mirror.network} must get no API key")
    return client


class MirrorBook:
    """The mirrored levels of one symbol: (side, price) -> the background order ids resting there."""

    def __init__(self, venue: SimVenue, spec: SimSymbol) -> None:
        self.venue, self.spec = venue, spec
        self.levels: dict[tuple[str, Decimal], list[int]] = {}

    def _qty(self, value: float) -> Decimal:
        step = self.spec.step_size
        return (Decimal(str(value)) / step).to_integral_value(rounding=ROUND_DOWN) * step

    def _price(self, value: float) -> Decimal:
        return Decimal(str(value)).quantize(self.spec.tick_size, rounding=ROUND_HALF_EVEN)

    def sync(self, bids: list[list[float]], asks: list[list[float]]) -> None:
        book = self.venue.books[self.spec.symbol]
        want: dict[tuple[str, Decimal], Decimal] = {}
        for side, rows in ((BUY, bids), (SELL, asks)):
            for row in rows:
                qty = self._qty(row[1])
                if qty > 0:
                    want[(side, self._price(row[0]))] = qty
        for key in list(self.levels):
            ids = [i for i in self.levels[key] if book.get(i) is not None]
            self.levels[key] = ids
            have = sum((book.get(i).remaining for i in ids), Decimal(0))  # type: ignore[union-attr]
            target = want.pop(key, Decimal(0))
            while have > target and ids:  # shrink from the back of the queue: what is ahead of us stays
                resting = book.get(ids[-1])
                assert resting is not None
                cut = min(resting.remaining, have - target)
                have -= cut
                if cut >= resting.remaining:
                    book.remove(ids.pop())
                    self.venue.orders.pop(resting.order_id, None)
                else:
                    book.reduce(resting, cut)
            if have < target:
                want[key] = target - have
            if not ids and key not in want:
                del self.levels[key]
        for (side, price), qty in want.items():
            order_id = self.venue.rest_background(MARKET_MAKER, self.spec.symbol, side, price, qty, match=False)
            if order_id is not None:
                self.levels.setdefault((side, price), []).append(order_id)

    def replay_trade(self, price: float, amount: float, taker_side: str) -> None:
        """A source trade, replayed as a background taker that may reach our resting orders."""
        qty, px = self._qty(amount), self._price(price)
        if qty <= 0:
            return
        venue = self.venue
        order = SimOrder(next(venue._order_ids), "mirror", TAKER_FLOW, self.spec.symbol, taker_side, "LIMIT", "IOC",
                         px, qty, Decimal(0), venue._now(), update_ms=venue._now())
        venue.orders[order.order_id] = order
        venue._match(order)  # filters are the source's business: its trades happened
        venue.orders.pop(order.order_id, None)
        venue.fire_triggers(self.spec.symbol)


class MirrorFeed:
    """Watches the source's books and trades and applies them; reconnects after errors."""

    def __init__(self, venue: SimVenue, mirror: SimMirror) -> None:
        self.venue, self.mirror = venue, mirror
        self.books = {sym: MirrorBook(venue, spec) for sym, spec in venue.symbols.items()}
        self.trades_seen = 0
        self._clear_flow_ladder()

    def _clear_flow_ladder(self) -> None:
        """The seeded flow's ladder (built at start, or again by a state restore) gives way to the mirror."""
        mirrored = {i for m in self.books.values() for ids in m.levels.values() for i in ids}
        for book in self.venue.books.values():
            for resting in book.resting_of(MARKET_MAKER):
                if resting.order_id not in mirrored:
                    book.remove(resting.order_id)
                    self.venue.orders.pop(resting.order_id, None)

    async def run(self) -> None:
        self._clear_flow_ladder()
        client = source_client(self.mirror)  # public data only: no keys
        try:
            async with asyncio.TaskGroup() as tg:
                for sym, spec in self.venue.symbols.items():
                    market = f"{spec.base}/{spec.quote}"
                    tg.create_task(self._follow_book(client, market, self.books[sym]))
                    tg.create_task(self._follow_trades(client, market, self.books[sym]))
        finally:
            await client.close()

    async def _follow_book(self, client: Any, market: str, mirror: MirrorBook) -> None:
        while True:
            try:
                book = await client.watch_order_book(market, self.mirror.book_depth)
                mirror.sync(book["bids"][: self.mirror.book_depth], book["asks"][: self.mirror.book_depth])
            except (ccxt_pro.NetworkError, ccxt_pro.ExchangeError) as err:
                log.warning("mirror_book_failed", market=market, error=str(err))
                await asyncio.sleep(RETRY_S)

    async def _follow_trades(self, client: Any, market: str, mirror: MirrorBook) -> None:
        while True:
            try:
                trades = await client.watch_trades(market)
            except (ccxt_pro.NetworkError, ccxt_pro.ExchangeError) as err:
                log.warning("mirror_trades_failed", market=market, error=str(err))
                await asyncio.sleep(RETRY_S)
                continue
            for trade in trades:
                mirror.replay_trade(trade["price"], trade["amount"], BUY if trade["side"] == "buy" else SELL)
                self.trades_seen += 1
