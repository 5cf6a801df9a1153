"""One factory from a configured venue to its adapter and its market-data websocket client.

`profile_for` resolves the venue's profile (exchange x network x endpoints; a `sim` venue without
urls, and every `paper` venue, takes the embedded simulator's loopback URLs), `build_venue` makes
the adapter with one ccxt client per endpoint, plus the adapter's ccxt.pro client for its market streams
(`market_data_client()`: its REST snapshots go through the adapter's rate limiter). Credentials: a
trading venue's key pair from its environment variables (the demo pair only for `sim` venues, which
are loopback by the config rules); a data-only venue on a real network reads public data and is
sent no key at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nonstop.clock import Clock
from nonstop.config import DEMO_CREDENTIALS, DEMO_ENV, Credentials, EngineVenue
from nonstop.errors import ConfigError
from nonstop.model import ClientIdRule
from nonstop.venues.binance import BinanceVenue
from nonstop.venues.ccxt_venue import CcxtVenue
from nonstop.venues.okx import OkxVenue
from nonstop.venues.profile import Network, VenueProfile, build_profile, dialect

# the adapter of each exchange (one per exchange; the profile's dialect gives its ccxt config)
ADAPTERS: dict[str, Callable[..., CcxtVenue]] = {"binance": BinanceVenue, "okx": OkxVenue}


@dataclass(frozen=True)
class VenueOptions:
    """Engine-wide settings every adapter gets."""

    timeout_ms: int
    recv_window_ms: int


def profile_for(cfg: EngineVenue, sim_urls: Mapping[str, list[str]] | None = None) -> VenueProfile:
    """The venue's profile; a `sim` venue without urls is one of the embedded simulator's venues."""
    urls = cfg.urls
    if cfg.is_sim and not urls:
        urls = (sim_urls or {}).get(cfg.name, [])
        if not urls:
            raise ConfigError(f"engine venue {cfg.name!r} has no urls and is not a venue of the embedded simulator")
    if cfg.is_paper:  # the embedded simulator at loopback, whatever the mirrored source is
        profile = build_profile(cfg.exchange, Network.SIM, urls=urls)
        if not profile.loopback_only:
            raise ConfigError(f"engine venue {cfg.name!r} (paper) would send to {profile.hosts}: paper orders go "
                              "to the embedded simulator at loopback only")
        return profile
    return build_profile(cfg.exchange, cfg.network, endpoints=cfg.endpoints or None, urls=urls or None)


def credentials_for(cfg: EngineVenue, *, trading: bool) -> Credentials:
    """The key pair sent to this venue (see the module docstring)."""
    if not trading and not cfg.is_sim:
        return Credentials(api_key="", secret="")  # a real venue's public data needs no key: send none
    demo = DEMO_CREDENTIALS if cfg.is_sim and cfg.credentials_env == DEMO_ENV else None
    try:
        return Credentials.from_env(cfg.credentials_env, default=demo)
    except ConfigError:
        if trading:
            raise ConfigError(f"engine venue {cfg.name!r}: {cfg.credentials_env}_API_KEY and "
                              f"{cfg.credentials_env}_API_SECRET must both be set") from None
        return Credentials(api_key="", secret="")  # market data is public


def build_venue(
    cfg: EngineVenue, profile: VenueProfile, creds: Credentials, options: VenueOptions, clock: Clock,
    *, trading: bool = True,
) -> tuple[CcxtVenue, Any]:
    """The venue adapter (one ccxt client per endpoint) and a ccxt.pro client for its market data."""
    if trading and any(e.public_only for e in profile.endpoints):
        names = [e.name for e in profile.endpoints if e.public_only]
        raise ConfigError(f"engine venue {cfg.name!r}: endpoints {names} serve public market data only")
    ex = dialect(profile.exchange)
    configs = [ex.ccxt_config(e, creds.api_key, creds.secret, creds.passphrase) for e in profile.endpoints]
    for c in configs:
        c["options"]["recvWindow"] = options.recv_window_ms
        if cfg.ca_file is not None:
            c["cafile"] = str(cfg.ca_file)
    venue = ADAPTERS[profile.exchange](
        cfg.name,
        configs,
        timeout_ms=options.timeout_ms,
        connectivity=cfg.connectivity.gateway_config(cfg.weight_per_minute),
        clock=clock,
        profile=profile,
        **({"order_entry": cfg.order_entry} if profile.exchange == "binance" else {}),
    )
    return venue, venue.market_data_client()  # its REST requests go through the venue's rate limiter


def client_id_rules(venues: Iterable[object]) -> tuple[ClientIdRule, ...]:
    """Each trading venue's client-id rule, for the id factory to honour."""
    return tuple(rule for v in venues if isinstance(rule := getattr(v, "client_ids", None), ClientIdRule))
