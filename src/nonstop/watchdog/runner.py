"""`Watchdog`: the dead man's switch (B3b). It polls the engine's heartbeat; once the engine has
answered at least once (so a slow start is never mistaken for a death) and then stays silent for
`silence_s`, it cancels every open order whose client id carries the instance's prefix on every
trading venue, through the real venue adapters; it writes what it did to its own journal and raises
a critical alert. With `flatten = true` it then closes the instance's positions (`flatten`), once
per silence (again at the next sweep if something was left). While the engine stays silent it
sweeps again every `resweep_s`; when the engine answers again it re-arms (and says so). The engine,
back, finds the cancellations (and takes in the flatten orders) in reconciliation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import structlog

from nonstop.clock import Clock, LiveClock
from nonstop.config import Settings
from nonstop.connectivity.errors import ConnectivityError, OrderNotFoundError
from nonstop.killswitch.flatten import FlattenReport
from nonstop.model import ClientOrderId, InstrumentId
from nonstop.monitor.alert_model import AlertLevel
from nonstop.monitor.alerts import AlertManager
from nonstop.venues.port import VenuePort
from nonstop.watchdog.flatten import WatchdogFlatten
from nonstop.watchdog.heartbeat import HealthProbe
from nonstop.watchdog.journal import WatchdogJournal
from nonstop.watchdog.settings import WatchdogSettings

log = structlog.get_logger("nonstop.watchdog")
ALERT_KEY = "watchdog_engine_silent"


def health_url(settings: Settings) -> str:
    if settings.watchdog.health_url:
        return settings.watchdog.health_url
    api = settings.monitor.api
    host = "127.0.0.1" if api.host in ("0.0.0.0", "::", "") else api.host
    return f"http://{host}:{api.port}/healthz"


class Watchdog:
    def __init__(self, settings: Settings, venues: Mapping[str, VenuePort], *, clock: Clock | None = None,
                 alerts: AlertManager | None = None) -> None:
        self.settings = settings
        self.cfg: WatchdogSettings = settings.watchdog
        self.venues = dict(venues)
        self.clock = clock or LiveClock()
        self.alerts = alerts
        self.instance = settings.engine.instance
        self.prefix = ClientOrderId.prefix(self.instance)
        self.symbols = self.cfg.symbols or [settings.engine.strategy.symbol]
        self.journal = WatchdogJournal(self.cfg.journal_path or settings.data_dir / "watchdog.jsonl")
        token = os.environ.get(settings.monitor.api.token_env) or None
        self.probe = HealthProbe(health_url(settings), self.cfg.request_timeout_s, token)
        self.armed = False  # the engine answered at least once
        self.triggered = False
        self.canceled: list[str] = []
        self.flattened = False  # this silence's flatten is done (nothing left, no problem)
        self.flattens: list[FlattenReport] = []

    async def run(self) -> None:
        await self.journal.write(self.clock.now(), "started", url=self.probe.url, silence_s=self.cfg.silence_s,
                                 venues=sorted(self.venues), symbols=self.symbols, prefix=self.prefix)
        log.info("watchdog_started", url=self.probe.url, silence_s=self.cfg.silence_s, prefix=self.prefix)
        last_good = self.clock.monotonic()
        last_sweep = 0.0
        try:
            while True:
                alive = await self.probe.alive()
                now = self.clock.monotonic()
                if alive:
                    last_good = now
                    if not self.armed or self.triggered:
                        await self._heard(first=not self.armed)
                elif self.armed:
                    silent = now - last_good
                    if silent >= self.cfg.silence_s and (not self.triggered or now - last_sweep >= self.cfg.resweep_s):
                        last_sweep = now
                        await self._trigger(silent)
                await self.clock.sleep(self.cfg.poll_interval_s)
        finally:
            await self.probe.close()

    async def _heard(self, *, first: bool) -> None:
        what = "armed" if first else "engine_back"
        self.armed, self.triggered, self.flattened = True, False, False
        await self.journal.write(self.clock.now(), what)
        log.info(f"watchdog_{what}", url=self.probe.url)
        if not first and self.alerts is not None:
            self.alerts.resolve(ALERT_KEY, "the engine answers again")

    async def _trigger(self, silent_s: float) -> None:
        first = not self.triggered
        self.triggered = True
        if first:
            await self.journal.write(self.clock.now(), "engine_silent", silent_s=round(silent_s, 3),
                                     last_error=self.probe.last_error)
            log.critical("watchdog_engine_silent", silent_s=round(silent_s, 3), error=self.probe.last_error)
        canceled, failed = await self.sweep()
        flat = None
        if self.cfg.flatten and not self.flattened:
            flat = await WatchdogFlatten(self.settings, self.venues, self.journal, self.clock).run()
            self.flattened = flat.complete
            self.flattens.append(flat)
        if first or canceled or failed or (flat is not None and (flat.sent or not flat.complete)):
            detail = f"silent for {silent_s:.1f}s; canceled {len(canceled)} open order(s) of {self.prefix}*"
            if failed:
                detail += f"; {len(failed)} cancel(s) failed: {'; '.join(failed[:5])}"
            if flat is not None:
                detail += f"; {flat.detail}"
            if self.alerts is not None:
                self.alerts.raise_(ALERT_KEY, AlertLevel.CRITICAL, f"engine {self.instance} silent: watchdog acted",
                                   detail)

    async def sweep(self) -> tuple[list[str], list[str]]:
        """Cancel every open order with our prefix on every venue and symbol; (canceled, failures)."""
        canceled: list[str] = []
        failed: list[str] = []
        for name, venue in sorted(self.venues.items()):
            for symbol in self.symbols:
                iid = InstrumentId(name, symbol)
                try:
                    reports = await venue.open_orders(iid)
                except ConnectivityError as err:
                    failed.append(f"{iid}: open orders: {err}")
                    continue
                for report in reports:
                    if not report.client_order_id.startswith(self.prefix):
                        continue  # not ours: never touched
                    outcome = await self._cancel(venue, iid, report.client_order_id)
                    (canceled if outcome is None else failed).append(
                        report.client_order_id if outcome is None else f"{report.client_order_id}: {outcome}")
        await self.journal.write(self.clock.now(), "swept", canceled=canceled, failed=failed)
        self.canceled += canceled
        log.warning("watchdog_swept", canceled=len(canceled), failed=len(failed))
        return canceled, failed

    async def _cancel(self, venue: VenuePort, iid: InstrumentId, cid: str) -> str | None:
        try:
            await venue.cancel(iid, cid)
        except OrderNotFoundError:
            return None  # closed meanwhile: nothing left to cancel
        except ConnectivityError as err:
            return str(err)
        return None


def summary(journal: WatchdogJournal) -> dict[str, Any]:
    rows = journal.read()
    return {"events": len(rows), "canceled": [c for r in rows if r["event"] == "swept" for c in r["canceled"]],
            "flatten_orders": [c for r in rows if r["event"] == "flattened" for c in r["sent"]],
            "left": next((r["left"] for r in reversed(rows) if r["event"] == "flattened"), {})}
