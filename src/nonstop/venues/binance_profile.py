"""Binance spot's endpoints per network, from ccxt's own `binance.urls`, and its ccxt config.

Live: ccxt's set is the `api` endpoint (api.binance.com, stream.binance.com:9443,
ws-api.binance.com:443). Binance documents alternative hosts for the same API — api-gcp and
api1..api4 for REST, stream.binance.com on 443 as well as 9443, ws-api.binance.com on 9443 as well
as 443, and data-api / data-stream.binance.vision for public market data only; each alternative
keeps ccxt's scheme and paths and changes only the host. Testnet: ccxt's sandbox set
(`set_sandbox_mode(True)`). Sim: ccxt's live set pointed at a loopback simulator.

Caveat (ccxt 4.5.90): ccxt applies its spot-only error table only when the URL starts with
api.binance.com, so on an alternative host a few codes map to a plainer class; our classifier reads
the raw code first, so the classification does not change.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

import ccxt.pro as ccxt_pro

from nonstop.errors import ConfigError
from nonstop.venues.profile import Endpoint, Network, origin, pointed_at, with_host

# REST API families the spot adapter uses; every other family is pointed at a path that answers 404
# when the endpoint is not one of Binance's own hosts, so a stray call fails loudly
_SPOT_APIS = ("public", "private", "v1", "sapi")
# (name, REST host, market-stream host:port, WebSocket API host:port, public data only)
_LIVE_ALTERNATIVES = (
    ("api-gcp", "api-gcp.binance.com", "stream.binance.com:443", "ws-api.binance.com:9443", False),
    ("api1", "api1.binance.com", "stream.binance.com:9443", "ws-api.binance.com:443", False),
    ("api2", "api2.binance.com", "stream.binance.com:443", "ws-api.binance.com:9443", False),
    ("api3", "api3.binance.com", "stream.binance.com:9443", "ws-api.binance.com:443", False),
    ("api4", "api4.binance.com", "stream.binance.com:443", "ws-api.binance.com:9443", False),
    ("data", "data-api.binance.vision", "data-stream.binance.vision:443", "", True),
)


@functools.cache
def ccxt_urls(network: Network) -> dict[str, Any]:
    """ccxt's own `urls["api"]` of binance on `network` (live, or testnet via sandbox mode)."""
    exchange = ccxt_pro.binance()
    if network is Network.TESTNET:
        exchange.set_sandbox_mode(True)
    return dict(exchange.urls["api"])


def _own_endpoint(network: Network) -> Endpoint:
    api = ccxt_urls(network)
    return Endpoint(
        name="api",
        rest=origin(api["public"]),
        market_ws=api["ws"]["spot"],
        user_ws=api["ws"]["ws-api"]["spot"],
        sandbox=network is Network.TESTNET,
    )


class BinanceDialect:
    name = "binance"

    def endpoints(self, network: Network) -> dict[str, Endpoint]:
        if network is Network.SIM:
            return {}
        own = _own_endpoint(network)
        table = {own.name: own}
        if network is Network.LIVE:
            for name, rest, market, user, public in _LIVE_ALTERNATIVES:
                table[name] = Endpoint(
                    name=name,
                    rest=with_host(own.rest, "https", rest),
                    market_ws=with_host(own.market_ws, "wss", market),
                    user_ws=with_host(own.user_ws, "wss", user) if user else "",
                    public_only=public,
                )
        return table

    def default_endpoints(self, network: Network) -> list[str]:
        if network is Network.SIM:
            raise ConfigError("a sim venue needs `urls` (or the embedded simulator)")
        return ["api", "api-gcp", "api1"] if network is Network.LIVE else ["api"]

    def pointed_at(self, network: Network, base_url: str) -> Endpoint:
        return pointed_at(_own_endpoint(Network.LIVE if network is Network.SIM else network), base_url)

    def ccxt_config(self, endpoint: Endpoint, api_key: str, secret: str, passphrase: str = "") -> dict[str, Any]:
        """The ccxt `binance` config for one endpoint (deep-merged by ccxt over its defaults)."""
        own = ccxt_urls(Network.LIVE)
        api: dict[str, Any] = {}
        for key in _SPOT_APIS:
            path = urlsplit(own[key]).path
            api[key] = endpoint.rest + path
        if not _is_binance_host(endpoint.rest):
            stray = endpoint.rest + "/unsupported"
            api.update({k: stray for k, v in own.items() if isinstance(v, str) and k not in _SPOT_APIS})
        user_ws = endpoint.user_ws or endpoint.market_ws  # a public-only endpoint never subscribes user data
        api["ws"] = {"spot": endpoint.market_ws, "margin": endpoint.market_ws, "ws-api": {"spot": user_ws}}
        return {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": False,
            "urls": {"api": api},
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
                # the venue's clock offset is measured and applied by `venues.clock_sync`
                "adjustForTimeDifference": False,
                "sandboxMode": endpoint.sandbox,
            },
        }


def _is_binance_host(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith((".binance.com", ".binance.vision"))


BINANCE = BinanceDialect()
