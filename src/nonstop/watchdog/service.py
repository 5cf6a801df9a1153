"""Running the watchdog as its own process: venues connected, alerts started, then `Watchdog.run`."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from nonstop.clock import LiveClock
from nonstop.config import Settings
from nonstop.connectivity.errors import ConnectivityError
from nonstop.monitor.alerts import AlertManager
from nonstop.watchdog.runner import Watchdog
from nonstop.watchdog.venues import trading_venues

log = structlog.get_logger("nonstop.watchdog")
MAX_BACKOFF_S = 30.0


async def run_watchdog(settings: Settings, duration: float | None = None) -> None:
    clock = LiveClock()
    venues = await trading_venues(settings, clock)
    async with contextlib.AsyncExitStack() as stack:
        for venue in venues.values():
            stack.push_async_callback(venue.close)
            backoff = 0.5
            while True:  # a venue down at start is waited for, never a reason to exit
                try:
                    await venue.connect()
                    break
                except ConnectivityError as err:
                    log.warning("watchdog_venue_unreachable", venue=venue.name, error=str(err), retry_in_s=backoff)
                    await clock.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
        alerts = AlertManager.from_settings(settings.monitor.alerts, clock=clock, source="nonstop-watchdog")
        await alerts.start()
        stack.push_async_callback(alerts.close)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(duration):
                await Watchdog(settings, venues, clock=clock, alerts=alerts).run()
