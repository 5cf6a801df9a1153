"""The watchdog's venue adapters: the same ccxt-based adapters and credentials the engine uses for
its trading venues (`engine.venues`), built from the config. The venues must have explicit `urls`:
the embedded simulator lives inside the engine process and stops with it."""

from __future__ import annotations

from nonstop.config import Credentials, Settings
from nonstop.errors import ConfigError
from nonstop.sim.server import DEMO_CREDENTIALS, ccxt_config
from nonstop.venues.binance import BinanceVenue


def trading_venues(settings: Settings) -> dict[str, BinanceVenue]:
    eng = settings.engine
    venues: dict[str, BinanceVenue] = {}
    for cfg in eng.venues:
        if not cfg.urls:
            raise ConfigError(
                f"watchdog: engine venue {cfg.name!r} has no urls (the embedded simulator stops with the engine; "
                "give the venue's base URLs)")
        default = DEMO_CREDENTIALS if cfg.credentials_env == "NONSTOP_SIM" else None
        creds = Credentials.from_env(cfg.credentials_env, default=default)
        configs = [ccxt_config(u, creds.api_key, creds.secret) for u in cfg.urls]
        for c in configs:
            c["options"]["recvWindow"] = eng.recv_window_ms
        venues[cfg.name] = BinanceVenue(cfg.name, configs, timeout_ms=eng.request_timeout_ms,
                                        connectivity=cfg.connectivity.gateway_config(cfg.weight_per_minute))
    return venues
