"""`JournalOutageGuard`: the engine's reaction when its journal stops taking writes (a full disk,
an I/O error, PostgreSQL going away mid-run).

Write-ahead (invariant 1) means nothing may be sent that was not recorded first, so while the
journal takes no writes no new order leaves (the recorder fails fast, the trading loop refuses,
the ladder goes to HALTED). Resting orders would otherwise sit on the venues unmanaged, so the
guard cancels every open order of this instance, unjournaled: a cancel can only shrink exposure,
and its outcome is read back from the venue once the journal writes again. One critical alert
names the journal and the free space there. Every `retry_s` the guard tries to write the outage's
own record (`JournalOutage`); the first that succeeds ends the outage: the canceled orders are
settled from the venue, the alert is resolved with the duration, and the ladder climbs back up
(fills that arrived meanwhile come in through the next reconciliation pass).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import structlog

from nonstop.clock import Clock
from nonstop.connectivity.errors import ConnectivityError
from nonstop.errors import JournalError, JournalWriteFailed
from nonstop.execution.order_manager import OrderManager
from nonstop.execution.recorder import Recorder
from nonstop.model import ClientOrderId, JournalOutage
from nonstop.monitor.alert_model import AlertLevel

log = structlog.get_logger("nonstop.outage")
ALERT_KEY = "journal_unwritable"
RETRY_S = 2.0

RaiseAlert = Callable[[str, AlertLevel, str, str], object]
ResolveAlert = Callable[[str, str], object]


class JournalOutageGuard:
    """Watches one recorder; `run` is the supervised task (see the module docstring)."""

    def __init__(
        self,
        recorder: Recorder,
        manager: OrderManager,
        *,
        instance: str,
        clock: Clock,
        raise_alert: RaiseAlert,
        resolve_alert: ResolveAlert,
        retry_s: float = RETRY_S,
    ) -> None:
        self.recorder = recorder
        self.manager = manager
        self.instance = instance
        self.clock = clock
        self._raise = raise_alert
        self._resolve = resolve_alert
        self.retry_s = retry_s
        self.started: datetime | None = None
        self.error: JournalWriteFailed | None = None
        self.canceled: list[ClientOrderId] = []
        self.outages = 0
        self._down = asyncio.Event()
        recorder.on_unwritable.append(self._on_unwritable)

    @property
    def active(self) -> bool:
        return self.started is not None

    def _on_unwritable(self, error: JournalWriteFailed) -> None:
        if self.started is None:
            self.started, self.error = self.clock.now(), error
            self._down.set()

    async def run(self) -> None:
        while True:
            await self._down.wait()
            await self.contain()
            await self._wait_until_writable()

    async def contain(self) -> None:
        """Alert, then cancel every open order of this instance (unjournaled). Idempotent."""
        error = self.error
        assert error is not None and self.started is not None
        free = await asyncio.to_thread(free_space, error.location)
        log.critical("journal_outage", location=error.location, free=free, error=str(error))
        self._raise(
            ALERT_KEY,
            AlertLevel.CRITICAL,
            "journal takes no writes: trading halted, resting orders canceled",
            f"{error} (journal {error.location}; free space there: {free}). No new order is sent; "
            "trading resumes by itself once the journal writes again.",
        )
        mine = [o.client_order_id for o in self.recorder.state.open_orders()
                if o.client_order_id.instance == self.instance and o.client_order_id not in self.canceled]
        for cid in mine:
            if await self.manager.cancel_unjournaled(cid):
                self.canceled.append(cid)

    async def _wait_until_writable(self) -> None:
        assert self.started is not None and self.error is not None
        while True:
            await self.clock.sleep(self.retry_s)
            record = JournalOutage(
                ts=self.clock.now(), started=self.started, error=str(self.error)[:500],
                canceled=tuple(c.value for c in self.canceled),
            )
            if await self.recorder.try_resume(record):
                break
        seconds = (self.clock.now() - self.started).total_seconds()
        for cid in self.canceled:
            try:
                await self.manager.refresh_from_venue(cid)
            except (ConnectivityError, JournalError) as err:  # the reconciliation pass settles it instead
                log.warning("outage_cancel_not_settled", client_order_id=cid.value, error=str(err))
        log.warning("journal_outage_ended", seconds=round(seconds, 3), canceled=len(self.canceled))
        self._resolve(ALERT_KEY, f"the journal writes again after {seconds:.1f} s; "
                                 f"{len(self.canceled)} order(s) had been canceled; trading resumes")
        self.outages += 1
        self.started, self.error, self.canceled = None, None, []
        self._down.clear()


def free_space(location: str) -> str:
    """Free space on the filesystem holding a journal file ("n/a" for a database server)."""
    folder = Path(location).parent
    if not Path(location).is_absolute() or not folder.is_dir():
        return "n/a (not a local file)"
    usage = shutil.disk_usage(folder)
    return f"{usage.free / 1e6:.1f} MB of {usage.total / 1e6:.1f} MB"
