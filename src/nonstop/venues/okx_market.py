"""The market-data websocket client of an OKX venue: ccxt.pro's own `okx` client, with every REST
request it would make sent through the venue adapter's gateway — as `binance_market.py` does for
Binance (see there for why).

OKX's book channel starts with a snapshot on the websocket itself, so ccxt.pro fetches no REST
snapshot here; markets come from the adapter (loaded through the gateway), candles for the history
warm-up are fetched through it, and any other REST request is refused (`RequestNotSent`) and logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ccxt.pro as ccxt_pro
import structlog

from nonstop.connectivity import RequestNotSent
from nonstop.venues.ccxt_futures import RetrievedFutures

if TYPE_CHECKING:
    from nonstop.venues.okx import OkxVenue

__all__ = ["OkxMarketDataClient"]

log = structlog.get_logger("nonstop.venues.okx_market")


class OkxMarketDataClient(RetrievedFutures, ccxt_pro.okx):  # type: ignore[misc]
    """`ccxt.pro.okx` for public market-data channels; REST only through `venue`'s gateway."""

    def __init__(self, venue: OkxVenue, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._venue = venue

    async def load_markets(self, reload: bool = False, params: Any = None) -> Any:
        markets = await self._venue.markets()
        if self.markets is not markets:
            self.set_markets(markets)
        return self.markets

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", since: Any = None, limit: Any = None,
                          params: Any = None) -> Any:
        return await self._venue.ohlcv(symbol, timeframe, since, limit)

    async def fetch(self, url: Any, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        path = str(url).split("?", 1)[0]
        log.warning("market_data_rest_refused", venue=self._venue.name, method=method, path=path)
        raise RequestNotSent(
            f"market-data client of {self._venue.name}: {method} {path} refused, it would bypass the rate limiter"
        )
