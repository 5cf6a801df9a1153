"""The market-data websocket client of an OKX venue: ccxt.pro's own `okx` client, with every REST
request it would make sent through the venue adapter's gateway (`market_client.GatewayRouted`) — as
`binance_market.py` does for Binance (see there for why).

OKX's book channel starts with a snapshot on the websocket itself, so ccxt.pro fetches no REST
snapshot here; markets come from the adapter (loaded through the gateway), candles for the history
warm-up are fetched through it, and any other REST request is refused (`RequestNotSent`) and logged.
"""

from __future__ import annotations

import ccxt.pro as ccxt_pro

from nonstop.venues.ccxt_futures import RetrievedFutures
from nonstop.venues.market_client import GatewayRouted

__all__ = ["OkxMarketDataClient"]


class OkxMarketDataClient(GatewayRouted, RetrievedFutures, ccxt_pro.okx):  # type: ignore[misc]
    """`ccxt.pro.okx` for public market-data channels; REST only through `venue`'s gateway."""
