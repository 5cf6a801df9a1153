"""Connecting every trading venue at start-up: wait with backoff while a venue is down or in
maintenance, never exit for it (invariant 5)."""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from nonstop.connectivity.errors import ConnectivityError, RequestNotSent
from nonstop.monitor.alert_model import AlertLevel
from nonstop.supervision.status import Supervision
from nonstop.venues.port import VenuePort

log = structlog.get_logger("nonstop.engine")
MAX_BACKOFF_S = 30.0
LOCAL_REFUSAL_RETRY_S = 1.0  # our own breakers refused (nothing sent): the probes reopen them, look again soon


async def connect_venues(sup: Supervision, venues: Mapping[str, VenuePort]) -> None:
    """Connect each venue in turn, retrying until it answers (readiness and alerts say why not)."""
    sup.status.phase = "connecting"
    for name, venue in venues.items():
        backoff = 0.5
        while True:
            try:
                await venue.connect()
            except ConnectivityError as err:
                log.warning("venue_unreachable", venue=name, error=str(err), retry_in_s=backoff)
                sup.readiness.set_venue_ok(name, False, str(err))
                sup.alert(
                    f"venue_unreachable:{name}",
                    AlertLevel.CRITICAL,
                    f"venue {name} unreachable",
                    f"{err}; retrying in {backoff:.1f} s",
                )
                if isinstance(err, RequestNotSent):  # refused by our breakers: probes close them on an answer
                    await sup.clock.sleep(LOCAL_REFUSAL_RETRY_S)
                    continue
                await sup.clock.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            sup.status.venues_connected[name] = True
            sup.readiness.set_venue_ok(name, True)
            sup.clear(f"venue_unreachable:{name}", "connected")
            log.info("venue_connected", venue=name, instruments=len(venue.instruments()))
            break
