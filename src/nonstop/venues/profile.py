"""Venue profiles: which exchange, on which network, reached at which endpoints.

A `VenueProfile` is an exchange x network (`live`, `testnet`, `sim`) with its endpoints. Each
`Endpoint` is one REST base plus the websocket bases that belong with it (market streams, and the
WebSocket API that carries the user-data stream). Every URL comes from ccxt's own exchange class
(`urls`, after `set_sandbox_mode(True)` for testnet): an alternative endpoint keeps ccxt's scheme
and path and changes only the host (`urllib.parse`, never a string replacement on the URL), and a
`sim` endpoint is the same template at a loopback host. One dialect per exchange turns an endpoint
into that exchange's ccxt config (`ExchangeDialect`); adding an exchange means adding a dialect.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from nonstop.errors import ConfigError


class Network(StrEnum):
    LIVE = "live"
    TESTNET = "testnet"
    SIM = "sim"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One way into a venue: a REST base (`https://api.binance.com`) and its websocket bases."""

    name: str
    rest: str  # scheme://host[:port], no path
    market_ws: str  # the market-stream base, with ccxt's path (`wss://stream.binance.com:9443/ws`)
    user_ws: str  # the WebSocket API base for the user-data stream (`wss://ws-api.binance.com:443/ws-api/v3`)
    public_only: bool = False  # a market-data-only host (no signed requests, no user stream)
    sandbox: bool = False  # the exchange's testnet (ccxt's sandbox mode)


@dataclass(frozen=True, slots=True)
class VenueProfile:
    """An exchange on a network, reached at `endpoints` (the pool routes over them)."""

    exchange: str
    network: Network
    endpoints: tuple[Endpoint, ...]

    @property
    def hosts(self) -> list[str]:
        """Every host any endpoint sends to (for the loopback and mixing rules)."""
        found: list[str] = []
        for e in self.endpoints:
            for url in (e.rest, e.market_ws, e.user_ws):
                host = urlsplit(url).hostname or ""
                if host not in found:
                    found.append(host)
        return found

    @property
    def loopback_only(self) -> bool:
        return all(is_loopback(h) for h in self.hosts)


def is_loopback(host: str) -> bool:
    """True for `localhost` and any loopback IP address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def with_host(url: str, scheme: str, netloc: str) -> str:
    """`url` with its scheme and host:port swapped (path, query kept) — parsed, not text-replaced."""
    parts = urlsplit(url)
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))


def pointed_at(template: Endpoint, base_url: str) -> Endpoint:
    """`template`'s paths (REST, market and user websockets) on the host of `base_url` (the `urls`
    of a venue: a simulator, a proxy, a regional host); http(s) gives ws(s)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"endpoint URL {base_url!r} must be http(s)://host[:port]")
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    return Endpoint(
        name=parts.netloc,
        rest=with_host(template.rest, parts.scheme, parts.netloc),
        market_ws=with_host(template.market_ws, ws_scheme, parts.netloc),
        user_ws=with_host(template.user_ws, ws_scheme, parts.netloc),
        sandbox=template.sandbox,
    )


def origin(url: str) -> str:
    """scheme://host[:port] of `url`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


class ExchangeDialect(Protocol):
    """What one exchange contributes: its endpoints per network and its ccxt config per endpoint."""

    name: str

    def endpoints(self, network: Network) -> dict[str, Endpoint]:
        """The named endpoints ccxt and the exchange document for `network` (first = ccxt's own)."""
        ...

    def default_endpoints(self, network: Network) -> list[str]:
        ...

    def pointed_at(self, network: Network, base_url: str) -> Endpoint:
        """ccxt's URL set for `network` with every host replaced by `base_url`'s (a simulator, a
        proxy, a test server): the same code path, other hosts."""
        ...

    def ccxt_config(self, endpoint: Endpoint, api_key: str, secret: str, passphrase: str = "") -> dict[str, Any]:
        ...


def _dialects() -> dict[str, ExchangeDialect]:
    from nonstop.venues.binance_profile import BINANCE
    from nonstop.venues.okx_profile import OKX

    return {BINANCE.name: BINANCE, OKX.name: OKX}


def dialect(exchange: str) -> ExchangeDialect:
    found = _dialects().get(exchange)
    if found is None:
        raise ConfigError(f"exchange {exchange!r} is not supported (supported: {sorted(_dialects())})")
    return found


def build_profile(
    exchange: str, network: Network | str, *, endpoints: list[str] | None = None, urls: list[str] | None = None
) -> VenueProfile:
    """The profile of `exchange` on `network`: the named `endpoints` (default: the exchange's usual
    set), or, when `urls` are given, ccxt's URL set pointed at each of those hosts."""
    net = Network(network)
    ex = dialect(exchange)
    if urls:
        chosen = tuple(ex.pointed_at(net, u) for u in urls)
    else:
        table = ex.endpoints(net)
        names = endpoints or ex.default_endpoints(net)
        unknown = [n for n in names if n not in table]
        if unknown:
            raise ConfigError(
                f"{exchange} {net.value} has no endpoint {unknown}; choose among {sorted(table)}"
            )
        chosen = tuple(table[n] for n in names)
    if not chosen:
        raise ConfigError(f"{exchange} {net.value}: no endpoint to connect to")
    return VenueProfile(ex.name, net, chosen)
