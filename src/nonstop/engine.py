"""The composition root: wires journal, venues, order manager, reconciliation and the strategy,
and runs them as supervised tasks until stopped.

Start-up order (invariant 5): open the journal and replay it; connect every venue (waiting with
backoff while a venue is down or in maintenance, never exiting for it); start the market-data
feeds; settle what a previous run left unsettled and reconcile until a pass is clean; only then
does the strategy get control (`trading_loop.TradingLoop`: consensus-driven strategy, degradation
ladder). Data-only venues (`engine.data_venues`) feed the consensus and never receive an order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import structlog

from nonstop import logs
from nonstop.api.server import ApiServer
from nonstop.clock import Clock, LiveClock
from nonstop.config import EngineVenue, Settings, require_credentials
from nonstop.embedded_sim import sim_urls, start_embedded_sim
from nonstop.errors import JournalUnwritable
from nonstop.execution.order_manager import InDoubtPolicy, OrderManager
from nonstop.execution.reconcile import Reconciler
from nonstop.execution.recorder import Recorder
from nonstop.execution.watchdog_orders import halt_when_taken_in
from nonstop.ha import ownership
from nonstop.ha.role import Leadership
from nonstop.journal import Journal, replay
from nonstop.journal_setup import journal_name, open_journal
from nonstop.killswitch import FLATTEN_STRATEGY, FlattenReport, record_halt, record_resume
from nonstop.killswitch import flatten as flatten_positions
from nonstop.model import ClientOrderIdFactory, EngineState
from nonstop.monitor.alert_model import AlertLevel
from nonstop.monitor.alerts import AlertManager
from nonstop.monitor.console_report import ConsoleReport
from nonstop.monitor.engine_probe import EngineProbe
from nonstop.monitor.event_watch import EventWatch
from nonstop.monitor.health import Readiness
from nonstop.monitor.metrics import Metrics
from nonstop.monitor.record_keeper import RecordKeeper
from nonstop.monitor.sampler import SystemSampler
from nonstop.monitor.scrub import Scrubber
from nonstop.outage import JournalOutageGuard
from nonstop.supervision import (
    EngineStatus,
    ReconcileLoop,
    Supervision,
    UserStreams,
    connect_venues,
    stop_trading,
    write_snapshots,
)
from nonstop.supervision.api_service import start_api
from nonstop.trading_loop import DegradationStatus, MarketSource, TradingLoop
from nonstop.venues.clock_sync import ClockWatch
from nonstop.venues.factory import VenueOptions, build_venue, client_id_rules, credentials_for, profile_for
from nonstop.venues.identity import confirm_identities, refuse_mixed_markets
from nonstop.venues.port import VenuePort
from nonstop.watchdog.venue_countdown import VenueCountdown

log = structlog.get_logger("nonstop.engine")
PRICE_WARMUP_S = 10.0  # longest wait for every feed source before the strategy starts anyway

__all__ = ["Engine", "EngineStatus"]


class Engine:
    """One trading instance."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or LiveClock()
        self.status = EngineStatus()
        self.sim: Any = None  # the embedded simulator, in sim mode only (see `nonstop.embedded_sim`)
        self.state: EngineState | None = None
        self.recorder: Recorder | None = None
        self.owner: ownership.Ownership | None = None  # this process's claim on the journal
        self.venues: dict[str, VenuePort] = {}
        self.manager: OrderManager | None = None
        self.metrics = Metrics()
        self.readiness = Readiness(self.clock)
        self.alerts: AlertManager | None = None
        self.halted: str | None = None  # the reason, once the kill switch was pulled
        self.api: ApiServer | None = None
        self._began_trading = False  # a stop before this leaves the venue untouched
        self.data_venues: dict[str, VenuePort] = {}  # market data only, never an order
        self.trading: TradingLoop | None = None
        self.supervision = Supervision(self.clock, self.status, self.readiness, self._alert, self._clear)
        self.streams: UserStreams | None = None  # the user-data streams, once trading
        self._secrets: list[str] = []
        self.records = RecordKeeper(self._alert, self._clear)
        self.journal_guard: JournalOutageGuard | None = None
        self.ha: Leadership | None = None  # the HA role and lease (`engine.ha`)

    @property
    def fenced(self) -> str | None:
        """Why this engine was fenced (it lost the HA lease), or None."""
        return self.ha.fenced if self.ha is not None else None

    def _leadership(self, journal: Journal, state: EngineState) -> Leadership:
        dsn = os.environ.get(self.settings.engine.journal.dsn_env)
        return Leadership(self.settings, journal, state, self.clock, readiness=self.readiness,
                          metrics=self.metrics, alert=self._alert, drain_alerts=self._drain_alerts, dsn=dsn)

    async def _drain_alerts(self) -> None:
        if self.alerts is not None:
            await self.alerts.drain()

    # ----------------------------------------------------------------- wiring
    @property
    def degradation(self) -> DegradationStatus | None:
        """The degradation level and its reason (None until the strategy runs)."""
        return self.trading.degradation if self.trading is not None else None

    def _venue(self, cfg: EngineVenue, *, trading: bool = True) -> tuple[VenuePort, Any]:
        """The venue adapter (built from its profile) and a ccxt.pro client for its market data."""
        creds = credentials_for(cfg, trading=trading)
        self._secrets += [x for x in (creds.api_key, creds.secret, creds.passphrase) if x]
        eng = self.settings.engine
        venue, ws = build_venue(cfg, profile_for(cfg, sim_urls(self.sim)), creds,
                                VenueOptions(eng.request_timeout_ms, eng.recv_window_ms), self.clock, trading=trading)
        venue.on_breaker_change = self.records.breaker_sink  # journaled, logged, alerted
        return venue, ws

    async def run(self, duration: float | None = None) -> None:
        """Run until cancelled (or for `duration` seconds), then stop cleanly."""
        eng = self.settings.engine
        async with contextlib.AsyncExitStack() as stack:
            stack.enter_context(logs.loop_errors_logged(asyncio.get_running_loop()))  # structured, never plain
            require_credentials(self.settings)  # before the journal is opened
            if eng.ha.role == "auto":  # the HA lease is the claim (`ha.lead()` below), not the single-instance lock
                journal = open_journal(self.settings)
                await journal.open()
                stack.push_async_callback(journal.close)
            else:
                journal, self.owner = await ownership.open_owned(stack, self.settings, self.clock)  # or JournalHeld
            if eng.runs_embedded_sim:
                self.sim = await start_embedded_sim(self.settings, self.clock, stack)
            state = self.state = await replay(journal)
            networks = {c.name: (c.exchange, c.network) for c in eng.venues}
            refuse_mixed_markets(networks, state, journal_name(self.settings))  # before anything connects
            ha = self.ha = await stack.enter_async_context(self._leadership(journal, state))
            epoch = self.owner.epoch if self.owner is not None else 0  # HA: set by `ha.lead()` below
            recorder = self.recorder = Recorder(journal, state, epoch, archive_after_h=eng.journal.archive_after_h)
            venues = self.venues
            sources: list[MarketSource] = []
            data_venues = self.settings.data_venues_in_use()
            for cfg, trading in [(c, True) for c in eng.venues] + [(c, False) for c in data_venues]:
                venue, ws = self._venue(cfg, trading=trading)
                (venues if trading else self.data_venues)[cfg.name] = venue
                stack.push_async_callback(venue.close)
                stack.push_async_callback(ws.close)
                sources.append(MarketSource(venue, ws, trading))
            await self._start_monitoring(stack, recorder)
            self.api = await start_api(stack, self, self.settings.monitor.api, self.supervision)
            if ha.active:  # a standby waits here, following the journal, until it holds the lease
                self.status.phase = "standby"
                recorder.epoch = await ha.lead()
            last_alive = None  # when the previous run last wrote: no submit of it can be younger
            async for record in journal.read(max(state.last_seq, 1)):
                last_alive = record.ts
            manager = self.manager = OrderManager(
                recorder,
                venues,
                ClientOrderIdFactory(eng.instance, state.max_order_seq(eng.instance),
                                     rules=client_id_rules(venues.values())),
                self.clock,
                InDoubtPolicy(recv_window_s=eng.recv_window_ms / 1000, max_resend_age_s=eng.max_resend_age_s),
                last_alive=last_alive,
                may_send=ha.may_send,
            )
            stack.push_async_callback(manager.close)
            guard = self.journal_guard = JournalOutageGuard(
                recorder, manager, instance=eng.instance, clock=self.clock,
                raise_alert=self._alert, resolve_alert=self._clear,
            )
            trading_loop = self.trading = TradingLoop(
                self.settings,
                self.clock,
                recorder,
                manager,
                sources,
                metrics=self.metrics,
                alerts=self.alerts,
                readiness=self.readiness,
            )
            strategy = trading_loop.strategy
            if state.halt is not None:  # the kill switch survives restarts and takeovers, until `nonstop resume`
                self.halted = state.halt.reason
                log.warning("starting_halted", reason=state.halt.reason, source=state.halt.source)
            if self.halted is not None:
                trading_loop.halted = self.halted  # the ladder starts at HALTED
                self.readiness.set_trading_enabled(False, f"halted: {self.halted}")
            probe = EngineProbe(  # sampled metrics (endpoints, PnL, journal) and the degradation detectors
                self.metrics, self.alerts, self.clock, state=state, venues={**venues, **self.data_venues},
                hub=trading_loop.hub, symbols=trading_loop.runner.symbols, strategies=[strategy.id],
                recorder=recorder,
            )
            recorder.listeners.append(probe.on_event)
            report = ConsoleReport(state, self.clock, level=self._level_label, mark=probe.mark,
                                   interval_s=self.settings.log.summary_every_s)  # console lines
            recorder.listeners.append(report.on_event)
            sup = self.supervision
            streams = self.streams = UserStreams(sup, manager)
            try:
                async with asyncio.timeout(duration):
                    await connect_venues(sup, venues)
                    clock_watch = ClockWatch(venues, eng.recv_window_ms, self.clock, self._alert, self._clear)
                    await clock_watch.check_all()
                    await confirm_identities(venues, networks, state, recorder.record, self.clock,
                                             journal_name(self.settings))
                    reconciling = ReconcileLoop(sup, Reconciler(manager, venues, eng.instance, self.clock,
                                                                on_watchdog_orders=halt_when_taken_in(
                                                                    self.settings.watchdog.flatten, self.halt)),
                                                venues, state, strategy)
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(ownership.exit_when_lost(recorder), name="ownership")
                        tg.create_task(trading_loop.run_data(), name="market-data")
                        tg.create_task(guard.run(), name="journal-outage")
                        await reconciling.until_clean()
                        await trading_loop.wait_for_prices(PRICE_WARMUP_S)
                        history = self.settings.data.history.path or self.settings.data_dir / "history.sqlite"
                        await trading_loop.warm_up(history)
                        self.status.phase = "trading"
                        self._began_trading = True
                        log.info(
                            "trading",
                            instance=eng.instance,
                            strategy=strategy.id,
                            kind=eng.strategy.kind,
                            data_venues=sorted(self.data_venues),
                            last_seq=state.last_seq,
                        )
                        for venue in venues.values():
                            tg.create_task(streams.fills(venue), name=f"fills-{venue.name}")
                            tg.create_task(streams.orders(venue), name=f"orders-{venue.name}")
                        tg.create_task(reconciling.forever(eng.reconcile_interval_s, lambda: bool(streams.down),
                                                           trading_loop.reconcile_drift), name="reconcile")
                        tg.create_task(trading_loop.run(), name="strategy")
                        tg.create_task(write_snapshots(recorder, eng.journal.snapshot_every, self.clock),
                                       name="snapshots")
                        tg.create_task(self.records.run(recorder.record), name="record-keeper")
                        tg.create_task(probe.run(), name="engine-probe")
                        tg.create_task(report.run(), name="console-summary")
                        tg.create_task(VenueCountdown(venues, self.settings.watchdog, self.clock).run(),
                                       name="venue-countdown")
                        tg.create_task(trading_loop.risk.watch_daily_loss(
                            lambda why: self.halt(why, source="risk"), lambda: self.halted is not None),
                            name="daily-loss")
                        tg.create_task(clock_watch.run(), name="clock-watch")
            except TimeoutError:
                log.info("duration_reached", seconds=duration)
            finally:
                self.status.phase = "stopping"
                await self._stop(manager, recorder)
                report.stop_summary()
        self.status.phase = "stopped"

    # ------------------------------------------------------------ monitoring
    async def _start_monitoring(self, stack: contextlib.AsyncExitStack, recorder: Recorder) -> None:
        """Alerts (their history journaled), system metrics, and metrics/alerts from every event."""
        self.alerts = AlertManager.from_settings(
            self.settings.monitor.alerts,
            clock=self.clock,
            journal_sink=self.records.alert_sink,
            scrubber=Scrubber(self._secrets),
        )
        await self.alerts.start()
        stack.push_async_callback(self.alerts.close)
        await stack.enter_async_context(SystemSampler(self.metrics, clock=self.clock, data_dir=self.settings.data_dir))
        state = recorder.state

        def venue_of(cid: str) -> str:
            order = state.orders.get(cid)
            return order.instrument_id.venue if order is not None else "unknown"

        recorder.listeners.append(EventWatch(self.metrics, self.alerts, venue_of).on_event)
        if self.ha is None or not self.ha.active:
            self.readiness.set_leader(True, "single instance (no HA lease configured)")
        self.readiness.set_trading_enabled(True)

    def _level_label(self) -> str:
        return self.degradation.level if self.degradation is not None else self.status.phase

    def _alert(self, key: str, level: AlertLevel, title: str, body: str = "") -> None:
        if self.alerts is not None:
            self.alerts.raise_(key, level, title, body)

    def _clear(self, key: str, body: str) -> None:
        if self.alerts is not None:
            self.alerts.resolve(key, body)

    async def halt(self, reason: str, *, source: str = "operator", flatten: bool = False) -> FlattenReport | None:
        """The kill switch (CLI, dashboard and the daily loss rule all come here): journaled (so a
        restart stays halted), the degradation ladder to HALTED (alerted; the strategy's orders
        canceled, nothing but cancels sent from then on), then every open order of this instance is
        canceled; with `flatten`, every position is closed with reduce-only orders (the report)."""
        self.halted = reason
        self.readiness.set_trading_enabled(False, f"halted: {reason}")
        log.warning("halted", reason=reason, source=source)
        if self.recorder is not None:
            try:
                await record_halt(self.recorder, self.clock, reason, source)
            except JournalUnwritable as err:  # halted in memory all the same (the outage guard halts too)
                log.error("halt_not_journaled", error=str(err))
        if source == "risk":
            self._alert("risk_halt", AlertLevel.CRITICAL, "risk limit breached: trading halted", reason)
        if self.trading is not None and self.status.phase == "trading":
            await self.trading.halt(reason)
        else:
            self._alert("halted", AlertLevel.CRITICAL, "trading halted", reason)
            if self.trading is not None:
                self.trading.halted = reason  # the ladder starts at HALTED when trading begins
        if self.manager is not None and self.state is not None:
            instance = self.settings.engine.instance
            for order in self.state.open_orders():
                if order.client_order_id.instance == instance:
                    await self.manager.cancel(order.client_order_id)
        if not flatten or self.manager is None or self.state is None or self.trading is None:
            return None
        return await flatten_positions(
            state=self.state, manager=self.manager, risk=self.trading.risk, venues=self.venues,
            mid=self.trading.trusted_mid, clock=self.clock,
            collar_bps=self.settings.risk.limits_for(FLATTEN_STRATEGY).price_collar_bps,
        )

    async def resume(self, reason: str = "resumed by an operator", *, source: str = "operator") -> None:
        """Lift the kill switch (journaled): the ladder recovers from HALTED step by step."""
        if self.recorder is not None:
            await record_resume(self.recorder, self.clock, reason, source)
        self.halted = None
        self._clear("halted", reason)
        self._clear("risk_halt", reason)
        log.warning("resumed", reason=reason, source=source)
        if self.trading is not None:
            await self.trading.resume()

    async def _stop(self, manager: OrderManager, recorder: Recorder) -> None:
        """The orderly stop (`nonstop.supervision.stopping`); never raises."""
        final = None
        if self.trading is not None:  # one last pass with a fresh reconciler
            reconciler = Reconciler(manager, self.venues, self.settings.engine.instance, self.clock)
            final = ReconcileLoop(self.supervision, reconciler, self.venues, recorder.state, self.trading.strategy)
        await stop_trading(
            manager, recorder,
            instance=self.settings.engine.instance,
            cancel_on_stop=self.settings.engine.cancel_on_stop,
            wait_s=self.settings.engine.stop_wait_bound_s,
            began_trading=self._began_trading,
            may_send=self.ha is None or self.ha.may_send(),
            guard=self.journal_guard,
            final=final,
        )
