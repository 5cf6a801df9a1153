"""The market-data websocket client of a Binance venue: ccxt.pro's own client, with every REST request
it makes sent through the venue adapter's gateway (`market_client.GatewayRouted`: rate limiter and its
429/418 pause, breakers, endpoint pool).

Why: ccxt.pro keeps an order book in sync from the diff stream plus a REST snapshot fetched after
every (re)subscription — by default up to three times back to back (`fetch_rest_order_book_safe`),
outside any limiter of ours. Under a 429 storm with websockets dropping, those snapshots collect the
strikes that turn the venue's 429s into a 418 IP ban for the whole engine. Here:

* the snapshot is one request through the adapter (`BinanceVenue.order_book_snapshot`: MARKET_DATA
  priority, droppable, weight by depth): while the limiter grants nothing it is not sent at all
  (`DataDropped`, whose `retry_in` tells the feed how long the pause lasts, so it waits it out);
* markets come from the adapter, which loads them through the gateway, and candles (history
  warm-up, `fetch_ohlcv`) are fetched through it too;
* any other REST request this client would make is refused (`RequestNotSent`) and logged: it would
  bypass the limiter. Websocket frames themselves are not REST weight and go out as ccxt sends them;
* its websocket futures are retrieved (`ccxt_futures.py`), so failed reconnects log no plain tracebacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ccxt.pro as ccxt_pro

from nonstop.venues.ccxt_futures import RetrievedFutures
from nonstop.venues.market_client import GatewayRouted

if TYPE_CHECKING:
    from nonstop.venues.binance import BinanceVenue

__all__ = ["MarketDataClient"]


class MarketDataClient(GatewayRouted, RetrievedFutures, ccxt_pro.binance):  # type: ignore[misc]
    """`ccxt.pro.binance` for public market-data streams; REST only through `venue`'s gateway."""

    _venue: BinanceVenue

    async def fetch_rest_order_book_safe(self, symbol: Any, limit: Any = None, params: Any = None) -> Any:
        # one attempt through the limiter; ccxt's book sync rejects the watch on failure and the feed retries
        return await self._venue.order_book_snapshot(symbol, limit, params or {})
