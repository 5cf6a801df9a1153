"""The watchdog's venue adapters: built by the engine's own venue factory (profiles, credentials,
ccxt clients) for the config's trading venues (`engine.venues`). A simulator venue must have explicit
`urls`: the embedded simulator lives inside the engine process and stops with it.

A paper venue (`network = "paper"`) is refused: its simulator is embedded in the engine, on ports only
the engine knows, and freezes or dies with it. A silent paper engine's orders therefore cannot fill
(its market stands still with it) and no other process can reach them; there is nothing a watchdog
could cancel, and a real venue is never touched in paper mode."""

from __future__ import annotations

from nonstop.clock import Clock
from nonstop.config import Settings
from nonstop.errors import ConfigError
from nonstop.venues.factory import VenueOptions, build_venue, credentials_for, profile_for
from nonstop.venues.port import VenuePort


async def trading_venues(settings: Settings, clock: Clock) -> dict[str, VenuePort]:
    """Every trading venue's adapter (not connected); their market-data clients are closed at once."""
    eng = settings.engine
    venues: dict[str, VenuePort] = {}
    for cfg in eng.venues:
        if cfg.is_paper:
            raise ConfigError(
                f"watchdog: engine venue {cfg.name!r} is a paper venue (network = \"paper\"): its simulator runs "
                "inside the engine process, on ports only the engine knows, and freezes or stops with it, so a "
                "silent paper engine's orders cannot fill and no other process can cancel them; the watchdog "
                "guards live, testnet and standalone-simulator (`urls`) venues, and has nothing to do in paper mode")
        if cfg.is_sim and not cfg.urls:
            raise ConfigError(
                f"watchdog: engine venue {cfg.name!r} has no urls (the embedded simulator stops with the engine; "
                "give the simulator's base URLs)")
        venue, ws = build_venue(cfg, profile_for(cfg), credentials_for(cfg, trading=True),
                                VenueOptions(eng.request_timeout_ms, eng.recv_window_ms), clock)
        await ws.close()  # the watchdog reads no market data: its websocket client was never opened
        venues[cfg.name] = venue
    return venues
