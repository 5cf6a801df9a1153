"""Source adapters: turn a ccxt client or a `VenuePort` into the two callables a feed needs.

A feed (feeds.py) needs at most two things per source, both returning a `Quote` in our types:

- `Watch`: wait for the next websocket update (ccxt.pro `watch_order_book` / `watch_ticker`), or
  for a batch: every update received since the previous call, oldest first (a source reading raw
  frames; ccxt.pro's caches conflate on their own and return the newest state);
- `Fetch`: one REST request for the current top of book (`VenuePort.quote`, ccxt `fetch_ticker`).

Floats from ccxt are converted through their shortest repr (`Decimal(str(x))`), which is the text
the venue sent for prices of ordinary precision. Nothing here retries or times out: the feed owns
the time boxes, and the venue adapter owns retries and rate limits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from nonstop.clock import Clock
from nonstop.model import InstrumentId
from nonstop.venues.port import Quote, VenuePort

Watch = Callable[[], Awaitable[Quote | Sequence[Quote]]]
Fetch = Callable[[], Awaitable[Quote]]

__all__ = ["Fetch", "Watch", "ccxt_book_watch", "ccxt_ticker_fetch", "ccxt_ticker_watch", "venue_quote_fetch"]


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    d = Decimal(str(value))
    return d if d.is_finite() and d > 0 else None


def _ts(ms: Any, clock: Clock) -> datetime:
    if isinstance(ms, int | float) and ms > 0:
        return datetime.fromtimestamp(ms / 1000, UTC)
    return clock.now()


def venue_quote_fetch(venue: VenuePort, instrument_id: InstrumentId) -> Fetch:
    """REST polling through the engine's venue adapter (rate limits, breakers, endpoint pool included)."""

    async def fetch() -> Quote:
        return await venue.quote(instrument_id)

    return fetch


def ccxt_ticker_fetch(client: Any, instrument_id: InstrumentId, clock: Clock) -> Fetch:
    """REST polling with a ccxt client's `fetch_ticker` (bid, ask, last)."""

    async def fetch() -> Quote:
        t = await client.fetch_ticker(instrument_id.symbol)
        return Quote(instrument_id, _dec(t.get("bid")), _dec(t.get("ask")), _dec(t.get("last")), clock.now())

    return fetch


def ccxt_book_watch(client: Any, instrument_id: InstrumentId, clock: Clock, *, limit: int = 5) -> Watch:
    """Top of book from ccxt.pro `watch_order_book`.

    ccxt keeps the book in sync from the diff stream (update ids checked, a REST snapshot after every
    (re)subscription), so a resubscribed book is rebuilt, not patched onto stale levels. A book that is
    still inconsistent shows up as EMPTY or CROSSED in the validator.
    """

    async def watch() -> Quote:
        ob = await client.watch_order_book(instrument_id.symbol, limit)
        bids, asks = ob.get("bids") or [], ob.get("asks") or []
        bid = _dec(bids[0][0]) if bids else None
        ask = _dec(asks[0][0]) if asks else None
        return Quote(instrument_id, bid, ask, None, _ts(ob.get("timestamp"), clock))

    return watch


def ccxt_ticker_watch(client: Any, instrument_id: InstrumentId, clock: Clock) -> Watch:
    """Ticker updates from ccxt.pro `watch_ticker` (Binance's @ticker stream: once a second)."""

    async def watch() -> Quote:
        t = await client.watch_ticker(instrument_id.symbol)
        return Quote(
            instrument_id, _dec(t.get("bid")), _dec(t.get("ask")), _dec(t.get("last")), _ts(t.get("timestamp"), clock)
        )

    return watch
