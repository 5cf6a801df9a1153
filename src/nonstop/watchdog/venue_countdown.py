"""The venue-side dead man's switch (B3a), run by the engine: on every trading venue whose adapter
offers `CancelAllAfter`, arm the venue's countdown and re-arm it every `venue_rearm_s` while the
engine runs; if the engine hangs or dies, the re-arming stops and the venue cancels everything when
the countdown ends. Disarmed on a clean stop. A venue without it (Binance spot) is left to the local
watchdog (`nonstop watchdog`), and the engine says so once at start.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from nonstop.clock import Clock
from nonstop.connectivity.errors import ConnectivityError
from nonstop.venues.port import CancelAllAfter, VenuePort
from nonstop.watchdog.settings import WatchdogSettings

log = structlog.get_logger("nonstop.watchdog")


class VenueCountdown:
    def __init__(self, venues: Mapping[str, VenuePort], settings: WatchdogSettings, clock: Clock) -> None:
        self.capable: dict[str, CancelAllAfter] = {
            n: v for n, v in venues.items() if isinstance(v, CancelAllAfter)
        }
        self.without = sorted(set(venues) - set(self.capable))
        self.settings = settings
        self.clock = clock
        self.armed: set[str] = set()

    async def run(self) -> None:
        """Re-arm until cancelled; disarm what was armed on the way out."""
        if self.without:
            log.info("venue_countdown_unavailable", venues=self.without,
                     detail="no cancel-all-after on these venues: the local watchdog covers them")
        if not self.capable or self.settings.venue_countdown_s == 0:
            return
        try:
            while True:
                for name, venue in self.capable.items():
                    try:
                        await venue.arm_cancel_all_after(self.settings.venue_countdown_s)
                        self.armed.add(name)
                    except ConnectivityError as err:  # the next round tries again, well inside the countdown
                        log.warning("venue_countdown_not_armed", venue=name, error=str(err))
                await self.clock.sleep(self.settings.venue_rearm_s)
        finally:
            for name in sorted(self.armed):
                try:
                    await self.capable[name].disarm_cancel_all_after()
                except ConnectivityError as err:
                    log.warning("venue_countdown_not_disarmed", venue=name, error=str(err))
