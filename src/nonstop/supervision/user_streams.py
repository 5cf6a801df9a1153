"""The user-data streams of every trading venue: fills and order updates go to the order manager as
they arrive. A broken stream reconnects with a short backoff (longer when the venue said wait);
meanwhile REST polling (the reconcile loop, faster) stands in and an alert says so."""

from __future__ import annotations

import structlog

from nonstop.connectivity.errors import ConnectivityError, VenueError
from nonstop.errors import JournalUnwritable
from nonstop.execution.order_manager import OrderManager
from nonstop.monitor.alert_model import AlertLevel
from nonstop.supervision.status import Supervision
from nonstop.venues.port import VenuePort

log = structlog.get_logger("nonstop.engine")
STREAM_MAX_BACKOFF_S = 2.0  # a user stream reconnects at least this often; REST polling stands in meanwhile
UNWRITABLE_PAUSE_S = 1.0  # a user stream waits this long after updates it could not record


class UserStreams:
    """Runs each venue's fill and order-update streams; `down` names the venues whose fill stream
    is broken."""

    def __init__(self, sup: Supervision, manager: OrderManager) -> None:
        self.sup = sup
        self.manager = manager
        self.down: set[str] = set()

    async def fills(self, venue: VenuePort) -> None:
        sup = self.sup
        backoff = 0.5
        while True:
            try:
                fills = await venue.watch_fills()
            except ConnectivityError as err:
                self.down.add(venue.name)
                sup.alert(
                    f"user_stream_down:{venue.name}",
                    AlertLevel.WARNING,
                    f"user-data stream of {venue.name} is down",
                    f"{err}; REST polling stands in",
                )
                log.warning("user_stream_down", venue=venue.name, error=str(err), retry_in_s=backoff)
                await sup.clock.sleep(stream_wait(err, backoff))
                backoff = min(backoff * 2, STREAM_MAX_BACKOFF_S)
                continue
            if venue.name in self.down:
                self.down.discard(venue.name)
                sup.clear(f"user_stream_down:{venue.name}", "stream restored")
            backoff = 0.5
            try:
                orphans = await self.manager.apply_fills(fills)
            except JournalUnwritable:  # the next reconciliation pass brings them in
                log.warning("fills_not_journaled", venue=venue.name, count=len(fills))
                await sup.clock.sleep(UNWRITABLE_PAUSE_S)  # never spin on a stream while nothing can be recorded
                continue
            for fill in orphans:
                log.info("fill_not_ours", venue=venue.name, trade_id=fill.trade_id.value)

    async def orders(self, venue: VenuePort) -> None:
        backoff = 0.5
        while True:
            try:
                reports = await venue.watch_order_updates()
            except ConnectivityError as err:
                log.info("order_stream_down", venue=venue.name, error=str(err), retry_in_s=backoff)
                await self.sup.clock.sleep(stream_wait(err, backoff))
                backoff = min(backoff * 2, STREAM_MAX_BACKOFF_S)
                continue
            backoff = 0.5
            try:
                for report in reports:
                    await self.manager.apply_report(report)
            except JournalUnwritable:  # settled from the venue once the journal writes again
                log.warning("order_updates_not_journaled", venue=venue.name, count=len(reports))
                await self.sup.clock.sleep(UNWRITABLE_PAUSE_S)


def stream_wait(err: ConnectivityError, backoff: float) -> float:
    """How long a user stream waits before reconnecting: its short backoff, or longer when the venue
    asked for it (Retry-After on a 429 / ban): reconnects never hammer a venue that said wait."""
    retry_after = err.retry_after if isinstance(err, VenueError) else None
    return max(backoff, retry_after or 0.0)
