"""The role state machine of one engine: single, or standby → leader → fenced (M13).

    single   no HA (`engine.ha.role = "single"`): the engine claims the journal and trades
    standby  follows the journal (warm state, `standby.py`) and tries to acquire the lease
    leader   holds the lease: a supervised task renews it every TTL/3; every send checks
             `may_send()` (the lease's own monotonic deadline, `lease.py`) first
    fenced   the deadline passed without a renewal, or the lease was taken over, or a journal
             append was fenced: nothing is sent any more, and the engine stops and exits with a
             message naming the new holder

Takeover: the lease's epoch is bumped atomically on acquire; `Journal.claim_epoch(epoch)` then
fences every append of an older leader (invariant 6); the follower reads what was written up to
that moment, so the state — and the client order id sequence the engine seeds from it — includes
every intent the old leader made durable. The engine then goes on with its normal start
(connect, settle in-doubt orders, reconcile, trade).

`Leadership.lead()` is the one call the engine makes: it returns the epoch to write with once
this engine leads. A clean stop releases the lease, so a standby takes over without waiting out
the TTL.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
import threading
from collections.abc import Awaitable, Callable
from enum import StrEnum
from types import TracebackType

import structlog

from nonstop.clock import Clock
from nonstop.config import Settings
from nonstop.errors import ConfigError, FencedOut
from nonstop.ha.lease import LeaseClock, LeaseError, LeaseRow, LeaseStore
from nonstop.ha.ownership import this_process
from nonstop.ha.standby import JournalFollower
from nonstop.journal import Journal
from nonstop.model import EngineState
from nonstop.monitor.alert_model import AlertLevel
from nonstop.monitor.errors import MonitorError
from nonstop.monitor.health import Readiness
from nonstop.monitor.metrics import Metrics

log = structlog.get_logger("nonstop.ha")
AlertFn = Callable[[str, AlertLevel, str, str], None]
RELEASE_TIMEOUT_S = 2.0
ALERT_DRAIN_S = 3.0  # a fenced engine waits this long at most for its alert to be delivered
FENCED_EXIT_S = 15.0  # a fenced engine that has not finished stopping by then exits hard (status 3)
FENCED_EXIT_CODE = 3


class Role(StrEnum):
    SINGLE = "single"
    STANDBY = "standby"
    LEADER = "leader"
    FENCED = "fenced"


def default_holder() -> str:
    """`host:pid:random`: names the machine and process; the random part survives pid reuse."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(2)}"


def _contains(exc: BaseException | None, kind: type[BaseException]) -> bool:
    if exc is None:
        return False
    if isinstance(exc, kind):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_contains(e, kind) for e in exc.exceptions)
    return _contains(exc.__cause__, kind) if exc.__cause__ is not exc else False


class Leadership:
    """This engine's role and, in `auto`, its lease (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        state: EngineState,
        clock: Clock,
        *,
        readiness: Readiness,
        metrics: Metrics,
        alert: AlertFn,
        drain_alerts: Callable[[], Awaitable[None]] | None = None,
        dsn: str | None = None,
    ) -> None:
        ha = settings.engine.ha
        self.instance = settings.engine.instance
        self.active = ha.role == "auto"
        self.ttl_s = ha.lease_ttl_s
        self.poll_s = ha.poll_s
        self.holder = ha.holder or default_holder()
        self.journal = journal
        self.state = state
        self.clock = clock
        self.readiness = readiness
        self.metrics = metrics
        self.alert = alert
        self.drain_alerts = drain_alerts
        self.role = Role.STANDBY if self.active else Role.SINGLE
        self.epoch = 0
        self.lease: LeaseRow | None = None  # the row as last seen (ours when leading)
        self.fenced: str | None = None  # why this engine was fenced (the message it exits with)
        self.took_over_from: str | None = None
        self._lease_clock = LeaseClock(clock, self.ttl_s)
        self._store: LeaseStore | None = None
        if self.active:
            if settings.engine.journal.backend != "postgres" or not dsn:
                raise ConfigError("engine.ha.role = 'auto' needs engine.journal.backend = 'postgres' and its DSN")
            self._store = LeaseStore(dsn, schema=settings.engine.journal.schema_name, instance=self.instance,
                                     timeout_s=max(self.ttl_s, 1.0))
        self._keeper: asyncio.Task[None] | None = None
        self._run_task: asyncio.Task[object] | None = None

    # ------------------------------------------------------------------ the send check
    def may_send(self) -> bool:
        """The check before any byte of an order or cancel leaves: no I/O, a clock comparison."""
        if self.role is Role.SINGLE:
            return True
        return self.role is Role.LEADER and self._lease_clock.may_send()

    @property
    def lease_remaining_s(self) -> float | None:
        """Seconds left before this leader's own deadline (None unless leading)."""
        return max(self._lease_clock.remaining_s, 0.0) if self.role is Role.LEADER else None

    def _set_role(self, role: Role, reason: str) -> None:
        self.role = role
        self.readiness.set_leader(role in (Role.LEADER, Role.SINGLE), reason)
        self.metrics.ha_role(str(role), self.epoch, self.lease_remaining_s or 0.0)

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Leadership:
        if self.active:
            self._set_role(Role.STANDBY, "standby: waiting for the lease")
        else:
            self.metrics.ha_role(str(Role.SINGLE), 0, 0.0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.role is Role.LEADER and self.fenced is None:
            if not self._lease_clock.may_send():
                await self._fence("the lease was not renewed before its deadline", cancel_run=False)
            elif _contains(exc, FencedOut):
                await self._fence("a journal append was fenced by a newer epoch", cancel_run=False)
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        if self._store is not None:
            if self.role is Role.LEADER and self.fenced is None:
                try:
                    async with asyncio.timeout(RELEASE_TIMEOUT_S):
                        await self._store.release(self.holder, self.epoch)
                    log.info("ha_lease_released", instance=self.instance, epoch=self.epoch)
                except (LeaseError, TimeoutError) as err:
                    log.warning("ha_lease_release_failed", error=str(err), detail="a standby takes over at expiry")
            await self._store.close()

    # ------------------------------------------------------------------ standby → leader
    async def lead(self) -> int:
        """Wait as a standby until the lease is ours, fence the journal with its epoch, catch up;
        return the epoch. Only for `auto` (the single role claims the journal in the engine)."""
        assert self._store is not None, "lead() is for engine.ha.role = 'auto'"
        store = self._store
        self._run_task = asyncio.current_task()
        follower = JournalFollower(self.journal, self.state, self.clock, poll_s=self.poll_s)
        await self._until_ready(store)
        listening = await follower.subscribe(store)
        log.info("ha_standby", instance=self.instance, holder=self.holder, listening=listening,
                 last_seq=self.state.last_seq, ttl_s=self.ttl_s)
        following = asyncio.create_task(follower.run(), name="ha-follow")
        try:
            row = await self._acquire(store)
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
        self.epoch, self.lease = row.epoch, row
        self.role = Role.LEADER
        self._keeper = asyncio.create_task(self._keep(store), name="ha-lease")
        # every older leader's append is refused from here on; the journal records who holds it
        await self.journal.claim_epoch(row.epoch, this_process(self.instance, self.clock))
        caught_up = await follower.catch_up()
        self._set_role(Role.LEADER, f"leader: lease held at epoch {row.epoch}")
        self.took_over_from = row.previous_holder
        log.warning("ha_leader", instance=self.instance, holder=self.holder, epoch=row.epoch,
                    previous_holder=row.previous_holder, caught_up=caught_up, last_seq=self.state.last_seq,
                    lease_expires_at=row.expires_at.isoformat())
        if row.previous_holder is not None and row.previous_holder != self.holder:
            self.alert("ha_takeover", AlertLevel.WARNING, f"instance {self.instance}: standby took over",
                       f"{self.holder} leads at epoch {row.epoch}; the lease of {row.previous_holder} had expired")
        return row.epoch

    async def _until_ready(self, store: LeaseStore) -> None:
        backoff = 0.2
        while True:
            try:
                await store.ensure_schema()
                return
            except LeaseError as err:
                log.warning("ha_lease_store_unreachable", error=str(err), retry_in_s=backoff)
                await self.clock.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _acquire(self, store: LeaseStore) -> LeaseRow:
        every = min(max(self.ttl_s / 10, 0.05), 1.0)
        while True:
            started = self.clock.monotonic()
            try:
                row = await store.acquire(self.holder, self.ttl_s)
            except LeaseError as err:
                log.warning("ha_acquire_failed", error=str(err))
                row = None
            if row is not None:
                self._lease_clock.renewed(started)
                return row
            await self.clock.sleep(every)

    # ------------------------------------------------------------------ leader
    async def _keep(self, store: LeaseStore) -> None:
        """Renew every TTL/3; fence the moment the own deadline passes without a renewal."""
        lc, interval = self._lease_clock, self.ttl_s / 3
        last = self.clock.monotonic()
        while True:
            now = self.clock.monotonic()
            wake = min(last + interval, lc.deadline)
            if wake > now:
                await self.clock.sleep(wake - now)
            if not lc.may_send():
                await self._fence("the lease was not renewed before its deadline")
                return
            started = self.clock.monotonic()
            try:
                async with asyncio.timeout(max(lc.deadline - started, 0.001)):
                    row = await store.renew(self.holder, self.epoch, self.ttl_s)
            except (LeaseError, TimeoutError) as err:
                log.warning("ha_renew_failed", error=str(err) or type(err).__name__,
                            remaining_s=round(lc.remaining_s, 3))
                await self.clock.sleep(min(0.1, max(lc.remaining_s, 0.0)))
                continue
            if row is None:
                await self._fence("the lease is no longer ours")
                return
            lc.renewed(started)
            last, self.lease = started, row
            self.metrics.ha_role(str(self.role), self.epoch, self.lease_remaining_s or 0.0)

    async def _fence(self, reason: str, *, cancel_run: bool = True) -> None:
        self._lease_clock.expire()  # first: nothing is sent from this instant
        self._set_role(Role.FENCED, f"fenced: {reason}")
        holder = await self._describe_holder()
        self.fenced = (f"fenced: instance {self.instance} lost its lease at epoch {self.epoch} ({reason}); "
                       f"{holder}; this process sent nothing since and stops")
        log.error("ha_fenced", instance=self.instance, holder=self.holder, epoch=self.epoch, reason=reason,
                  now=holder)
        self.alert("ha_fenced", AlertLevel.CRITICAL, f"instance {self.instance}: leader fenced", self.fenced)
        if cancel_run and self.drain_alerts is not None:
            try:  # nothing is sent any more: let the alert leave before the process does
                async with asyncio.timeout(ALERT_DRAIN_S):
                    await self.drain_alerts()
            except (TimeoutError, MonitorError) as err:
                log.warning("ha_fenced_alert_not_delivered", error=str(err) or type(err).__name__)
        terminate = getattr(self.journal, "terminate", None)
        if cancel_run and terminate is not None:
            terminate()  # its writes are refused now; do not wait for a partitioned database on the way out
        if cancel_run and self._run_task is not None and not self._run_task.done():
            self._arm_exit_watchdog()
            self._run_task.cancel()

    def _arm_exit_watchdog(self) -> None:
        """A fenced process must not linger: it sends nothing (every send is refused, the journal's
        connections are dropped), and if its orderly stop has not finished within FENCED_EXIT_S —
        a task that does not honour its cancellation, a close waiting on a partitioned network —
        it exits from a timer thread, with the fencing message and status 3. Nothing is lost: what
        it journaled is in PostgreSQL, and the new leader owns the venue orders."""
        message = self.fenced or "fenced"

        def hard_exit() -> None:
            sys.stderr.write(f"error: {message} (forced exit: the stop did not finish within {FENCED_EXIT_S:g} s)\n")
            sys.stderr.flush()
            os._exit(FENCED_EXIT_CODE)

        timer = threading.Timer(FENCED_EXIT_S, hard_exit)
        timer.daemon = True
        timer.start()

    async def _describe_holder(self) -> str:
        assert self._store is not None
        try:
            async with asyncio.timeout(1.0):
                row = await self._store.read()
        except (LeaseError, TimeoutError) as err:
            return f"the lease store did not answer ({type(err).__name__})"
        if row is None or row.holder == self.holder:
            return "no other holder yet (a standby takes over when the lease expires)"
        return f"the lease is held by {row.holder} at epoch {row.epoch}"
