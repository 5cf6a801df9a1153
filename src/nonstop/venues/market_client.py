"""The part of a venue's ccxt.pro market-data client that sends every REST request it would make
through the venue adapter's gateway (rate limiter and its 429/418 pause, breakers, endpoint pool):
markets come from the adapter (loaded through the gateway), candles (history warm-up, `fetch_ohlcv`)
are fetched through it, and any other REST request is refused (`RequestNotSent`) and logged, since
it would bypass the limiter. Websocket frames themselves are not REST weight and go out as ccxt
sends them. Each dialect's client (`binance_market.py`, `okx_market.py`) mixes it into ccxt.pro's
own class for that exchange."""

from __future__ import annotations

from typing import Any, Protocol

import structlog

from nonstop.connectivity import RequestNotSent

log = structlog.get_logger("nonstop.venues.market_client")


class MarketDataVenue(Protocol):
    """What the client needs of its venue adapter."""

    name: str

    async def markets(self) -> Any: ...

    async def ohlcv(self, symbol: str, timeframe: str, since: Any, limit: Any) -> Any: ...


class GatewayRouted:
    """Mixed in before a ccxt.pro exchange class: `venue` answers the REST calls of the stream client."""

    markets: Any  # ccxt's own, as are `set_markets` and the rest

    def __init__(self, venue: MarketDataVenue, config: dict[str, Any]) -> None:
        super().__init__(config)  # type: ignore[call-arg]  # the ccxt exchange class
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
