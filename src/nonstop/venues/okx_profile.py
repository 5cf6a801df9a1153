"""OKX spot's endpoints per network, from ccxt's own `okx.urls`, and its ccxt config.

Live: ccxt's REST host (`https://{hostname}` with `hostname = www.okx.com`) and its websocket base
(`wss://ws.okx.com:443/ws/v5`; ccxt.pro appends `/public`, `/private` or `/business`). OKX documents
`aws.okx.com` as an alternative host for the same API (ccxt's `hostname` option). Testnet is OKX's
demo trading: ccxt's `set_sandbox_mode(True)` — the same REST host with the
`x-simulated-trading: 1` header, and the `wspap.okx.com` websockets. Sim: ccxt's live set pointed
at a loopback simulator speaking the OKX dialect.
"""

from __future__ import annotations

import functools
from typing import Any

import ccxt.pro as ccxt_pro

from nonstop.errors import ConfigError
from nonstop.venues.profile import Endpoint, Network, origin, pointed_at, with_host

_LIVE_ALTERNATIVES = (("aws", "aws.okx.com", "wsaws.okx.com:8443"),)


@functools.cache
def ccxt_urls(network: Network) -> dict[str, str]:
    """ccxt's own REST host and websocket base of okx on `network` (testnet via sandbox mode)."""
    exchange = ccxt_pro.okx()
    if network is Network.TESTNET:
        exchange.set_sandbox_mode(True)
    api = exchange.urls["api"]
    rest = str(api["rest"]).replace("{hostname}", str(exchange.hostname))  # ccxt's own implode_hostname
    return {"rest": rest, "ws": str(api["ws"]), "headers": ",".join(f"{k}={v}" for k, v in exchange.headers.items())}


def _own_endpoint(network: Network) -> Endpoint:
    urls = ccxt_urls(network)
    return Endpoint(name="api", rest=origin(urls["rest"]), market_ws=urls["ws"], user_ws=urls["ws"],
                    sandbox=network is Network.TESTNET)


class OkxDialect:
    name = "okx"

    def endpoints(self, network: Network) -> dict[str, Endpoint]:
        if network is Network.SIM:
            return {}
        own = _own_endpoint(network)
        table = {own.name: own}
        if network is Network.LIVE:
            for name, rest, ws in _LIVE_ALTERNATIVES:
                table[name] = Endpoint(
                    name=name, rest=with_host(own.rest, "https", rest),
                    market_ws=with_host(own.market_ws, "wss", ws), user_ws=with_host(own.user_ws, "wss", ws),
                )
        return table

    def default_endpoints(self, network: Network) -> list[str]:
        if network is Network.SIM:
            raise ConfigError("a sim venue needs `urls` (or the embedded simulator)")
        return ["api", "aws"] if network is Network.LIVE else ["api"]

    def pointed_at(self, network: Network, base_url: str) -> Endpoint:
        return pointed_at(_own_endpoint(Network.LIVE if network is Network.SIM else network), base_url)

    def ccxt_config(self, endpoint: Endpoint, api_key: str, secret: str, passphrase: str = "") -> dict[str, Any]:
        """The ccxt `okx` config for one endpoint (deep-merged by ccxt over its defaults)."""
        config: dict[str, Any] = {
            "apiKey": api_key,
            "secret": secret,
            "password": passphrase,
            "enableRateLimit": False,
            "urls": {"api": {"rest": endpoint.rest, "ws": endpoint.market_ws}},
            # currencies need the funding API (asset/currencies), which a trading key may lack
            "has": {"fetchCurrencies": False},
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "adjustForTimeDifference": False,  # measured and applied by `venues.clock_sync`
                "sandboxMode": endpoint.sandbox,
            },
        }
        if endpoint.sandbox:  # what ccxt's set_sandbox_mode(True) adds to every request
            config["headers"] = {"x-simulated-trading": "1"}
        return config


OKX = OkxDialect()
