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
from dataclasses import dataclass, field
from typing import Any

import structlog

from nonstop import logs
from nonstop.api import create_engine_app
from nonstop.api.server import ApiServer, ApiServerError
from nonstop.clock import Clock, LiveClock
from nonstop.config import EngineVenue, Settings, require_credentials
from nonstop.connectivity.errors import ConnectivityError, RequestNotSent, VenueError
from nonstop.embedded_sim import sim_urls, start_embedded_sim
from nonstop.errors import ConfigError, JournalError, JournalUnwritable
from nonstop.execution.order_manager import InDoubtPolicy, OrderManager
from nonstop.execution.reconcile import Reconciler
from nonstop.execution.recorder import Recorder
from nonstop.ha import ownership
from nonstop.ha.role import Leadership
from nonstop.journal import Journal, replay
from nonstop.journal_setup import journal_name, open_journal
from nonstop.killswitch import FLATTEN_STRATEGY, FlattenReport, record_halt, record_resume
from nonstop.killswitch import flatten as flatten_positions
from nonstop.model import ANY_VENUE, ClientOrderIdFactory, EngineState, InstrumentId
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
from nonstop.strategy.interface import TradingStrategy
from nonstop.trading_loop import DegradationStatus, MarketSource, TradingLoop
from nonstop.venues.clock_sync import ClockWatch
from nonstop.venues.factory import VenueOptions, build_venue, client_id_rules, credentials_for, profile_for
from nonstop.venues.identity import confirm_identities
from nonstop.venues.port import VenuePort
from nonstop.watchdog.venue_countdown import VenueCountdown

log = structlog.get_logger("nonstop.engine")
MAX_BACKOFF_S = 30.0
LOCAL_REFUSAL_RETRY_S = 1.0  # our own breakers refused (nothing sent): the probes reopen them, look again soon
STREAM_MAX_BACKOFF_S = 2.0  # a user stream reconnects at least this often; REST polling stands in meanwhile
UNWRITABLE_PAUSE_S = 1.0  # a user stream waits this long after updates it could not record
CLEAN_PASSES_TRIES = 5
STOP_ROUNDS = 3
STOP_CANCEL_TIMEOUT_S = 10.0
PRICE_WARMUP_S = 10.0  # longest wait for every feed source before the strategy starts anyway


@dataclass
class EngineStatus:
    """What the engine is doing, for logs and (later) the API."""

    phase: str = "starting"  # starting | standby | connecting | reconciling | trading | stopping | stopped
    reconciled: bool = False
    venues_connected: dict[str, bool] = field(default_factory=dict)


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
        self._stream_down: set[str] = set()
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

    def _data_venue_configs(self) -> list[EngineVenue]:
        eng = self.settings.engine
        if eng.data_venues is not None:
            return list(eng.data_venues)
        if not eng.runs_embedded_sim or eng.runs_paper:  # no hidden data venues: a real/paper config lists its own
            return []
        trading = {v.name for v in eng.venues}
        return [EngineVenue(name=v.name, exchange=v.dialect) for v in self.settings.sim.venues if v.name not in trading]

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
            ha = self.ha = await stack.enter_async_context(self._leadership(journal, state))
            epoch = self.owner.epoch if self.owner is not None else 0  # HA: set by `ha.lead()` below
            recorder = self.recorder = Recorder(journal, state, epoch)
            venues = self.venues
            sources: list[MarketSource] = []
            for cfg, trading in [(c, True) for c in eng.venues] + [(c, False) for c in self._data_venue_configs()]:
                venue, ws = self._venue(cfg, trading=trading)
                (venues if trading else self.data_venues)[cfg.name] = venue
                stack.push_async_callback(venue.close)
                stack.push_async_callback(ws.close)
                sources.append(MarketSource(venue, ws, trading))
            await self._start_monitoring(stack, recorder)
            await self._start_api(stack)
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
            try:
                async with asyncio.timeout(duration):
                    await self._connect(venues)
                    clock_watch = ClockWatch(venues, eng.recv_window_ms, self.clock, self._alert, self._clear)
                    await clock_watch.check_all()
                    networks = {c.name: (c.exchange, c.network) for c in eng.venues}
                    await confirm_identities(venues, networks, state, recorder.record, self.clock,
                                             journal_name(self.settings))
                    reconciler = Reconciler(manager, venues, eng.instance, self.clock)
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(ownership.exit_when_lost(recorder), name="ownership")
                        tg.create_task(trading_loop.run_data(), name="market-data")
                        tg.create_task(guard.run(), name="journal-outage")
                        await self._reconcile_until_clean(reconciler, venues, strategy)
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
                            tg.create_task(self._stream_fills(venue, manager), name=f"fills-{venue.name}")
                            tg.create_task(self._stream_orders(venue, manager), name=f"orders-{venue.name}")
                        tg.create_task(self._reconcile_forever(reconciler, venues, strategy), name="reconcile")
                        tg.create_task(trading_loop.run(), name="strategy")
                        tg.create_task(self._snapshots(recorder), name="snapshots")
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

    async def _start_api(self, stack: contextlib.AsyncExitStack) -> None:
        """Serve /metrics, /healthz, /readyz, the JSON API and the dashboard beside the engine.

        The API only observes (and offers the kill switch): if its port is taken the engine logs,
        alerts and keeps trading without it.
        """
        cfg = self.settings.monitor.api
        if not cfg.enabled:
            return
        try:
            app = create_engine_app(self, token=os.environ.get(cfg.token_env) or None, bind_host=cfg.host)
        except ValueError as err:
            raise ConfigError(f"monitor.api: {err} (token from environment variable {cfg.token_env})") from None
        self.api = ApiServer(app, cfg.host, cfg.port)
        if cfg.required:  # a taken port stops start-up here (monitor.api.required = false: warn and retry)
            try:
                self.api.bind()
            except ApiServerError as err:
                raise ConfigError(
                    f"{err}: the HTTP API and dashboard cannot start; stop what uses the port, set "
                    "monitor.api.port to a free one, or set monitor.api.required = false to trade without it"
                ) from None
        task = asyncio.create_task(self._serve_api(self.api), name="api")

        async def stop_api() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        stack.push_async_callback(stop_api)

    async def _serve_api(self, server: ApiServer) -> None:
        retry_s = self.settings.monitor.api.retry_s
        while True:  # only with monitor.api.required = false can the port be taken here
            try:
                server.bind()
                break
            except ApiServerError as err:
                log.warning("api_unavailable", error=str(err), retry_in_s=retry_s)
                self._alert("api_unavailable", AlertLevel.WARNING, "HTTP API and dashboard unavailable",
                            f"{err}; the engine keeps trading and tries again every {retry_s:g} s")
            await self.clock.sleep(retry_s)
        self._clear("api_unavailable", f"listening on {server.url}")
        try:
            await server.serve()
        except (ApiServerError, OSError) as err:
            log.error("api_failed", error=str(err))
            self._alert("api_unavailable", AlertLevel.WARNING, "HTTP API and dashboard unavailable",
                        f"{err}; the engine keeps trading")

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

    # --------------------------------------------------------------- phases
    async def _connect(self, venues: dict[str, VenuePort]) -> None:
        self.status.phase = "connecting"
        for name, venue in venues.items():
            backoff = 0.5
            while True:
                try:
                    await venue.connect()
                except ConnectivityError as err:
                    log.warning("venue_unreachable", venue=name, error=str(err), retry_in_s=backoff)
                    self.readiness.set_venue_ok(name, False, str(err))
                    self._alert(
                        f"venue_unreachable:{name}",
                        AlertLevel.CRITICAL,
                        f"venue {name} unreachable",
                        f"{err}; retrying in {backoff:.1f} s",
                    )
                    if isinstance(err, RequestNotSent):  # refused by our breakers: probes close them on an answer
                        await self.clock.sleep(LOCAL_REFUSAL_RETRY_S)
                        continue
                    await self.clock.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                self.status.venues_connected[name] = True
                self.readiness.set_venue_ok(name, True)
                self._clear(f"venue_unreachable:{name}", "connected")
                log.info("venue_connected", venue=name, instruments=len(venue.instruments()))
                break

    def _instruments(self, venue: VenuePort, strategy: TradingStrategy) -> list[InstrumentId]:
        assert self.state is not None
        wanted = {o.instrument_id for o in self.state.orders.values() if o.instrument_id.venue == venue.name}
        wanted.update(InstrumentId(venue.name, i.symbol) for i in strategy.instruments
                      if i.venue in (venue.name, ANY_VENUE))  # "auto": routed to any venue (M12)
        return sorted(wanted, key=str)

    async def _reconcile_until_clean(
        self, reconciler: Reconciler, venues: dict[str, VenuePort], strategy: TradingStrategy
    ) -> None:
        self.status.phase = "reconciling"
        backoff = 0.5
        passes = 0
        while True:
            results = [await reconciler.reconcile(name, self._instruments(v, strategy)) for name, v in venues.items()]
            passes += 1
            if all(r.clean for r in results):
                self.status.reconciled = True
                self.readiness.set_reconciled(True)
                log.info("reconcile_clean", passes=passes)
                return
            reasons = [f"{r.venue}: {d.kind.value}: {d.detail}" for r in results for d in r.differences]
            reasons += [f"{r.venue}: error: {e}" for r in results for e in r.errors]
            log.warning("reconcile_not_clean", passes=passes, reasons=reasons)
            if all(not r.errors for r in results) and passes >= CLEAN_PASSES_TRIES:
                log.error("reconcile_not_converging", passes=passes)
            await self.clock.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _reconcile_forever(
        self, reconciler: Reconciler, venues: dict[str, VenuePort], strategy: TradingStrategy
    ) -> None:
        while True:
            fast = bool(self._stream_down)  # REST polling stands in for a broken user stream
            await self.clock.sleep(2.0 if fast else self.settings.engine.reconcile_interval_s)
            for name, venue in venues.items():
                result = await reconciler.reconcile(name, self._instruments(venue, strategy))
                self.status.reconciled = result.clean
                self.readiness.set_reconciled(result.clean, "; ".join(result.errors))
                if self.trading is not None:  # differences not yet cleared by a clean pass: reduce-only
                    self.trading.reconcile_drift[name] = len(result.differences)

    async def _stream_fills(self, venue: VenuePort, manager: OrderManager) -> None:
        backoff = 0.5
        while True:
            try:
                fills = await venue.watch_fills()
            except ConnectivityError as err:
                self._stream_down.add(venue.name)
                self._alert(
                    f"user_stream_down:{venue.name}",
                    AlertLevel.WARNING,
                    f"user-data stream of {venue.name} is down",
                    f"{err}; REST polling stands in",
                )
                log.warning("user_stream_down", venue=venue.name, error=str(err), retry_in_s=backoff)
                await self.clock.sleep(_stream_wait(err, backoff))
                backoff = min(backoff * 2, STREAM_MAX_BACKOFF_S)
                continue
            if venue.name in self._stream_down:
                self._stream_down.discard(venue.name)
                self._clear(f"user_stream_down:{venue.name}", "stream restored")
            backoff = 0.5
            try:
                orphans = await manager.apply_fills(fills)
            except JournalUnwritable:  # the next reconciliation pass brings them in
                log.warning("fills_not_journaled", venue=venue.name, count=len(fills))
                await self.clock.sleep(UNWRITABLE_PAUSE_S)  # never spin on a stream while nothing can be recorded
                continue
            for fill in orphans:
                log.info("fill_not_ours", venue=venue.name, trade_id=fill.trade_id.value)

    async def _stream_orders(self, venue: VenuePort, manager: OrderManager) -> None:
        backoff = 0.5
        while True:
            try:
                reports = await venue.watch_order_updates()
            except ConnectivityError as err:
                log.info("order_stream_down", venue=venue.name, error=str(err), retry_in_s=backoff)
                await self.clock.sleep(_stream_wait(err, backoff))
                backoff = min(backoff * 2, STREAM_MAX_BACKOFF_S)
                continue
            backoff = 0.5
            try:
                for report in reports:
                    await manager.apply_report(report)
            except JournalUnwritable:  # settled from the venue once the journal writes again
                log.warning("order_updates_not_journaled", venue=venue.name, count=len(reports))
                await self.clock.sleep(UNWRITABLE_PAUSE_S)

    async def _snapshots(self, recorder: Recorder) -> None:
        every = self.settings.engine.journal.snapshot_every
        last = recorder.state.last_seq
        while True:
            await self.clock.sleep(5.0)
            if recorder.state.last_seq - last >= every:
                try:
                    last = await recorder.snapshot()
                except JournalError as err:  # replay just takes longer; the next round tries again
                    log.warning("snapshot_failed", error=str(err))
                    continue
                log.info("snapshot_written", seq=last)

    async def _stop(self, manager: OrderManager, recorder: Recorder) -> None:
        """Once trading has begun: cancel our open orders (if configured), then reconcile one last
        time, each time-boxed; never raises. A stop before trading began leaves the venue untouched
        (start-up reconciliation had not settled it yet)."""
        manager.stopping = True  # a lookup during the stop never re-sends an order
        fenced = recorder.lost is not None or (self.ha is not None and not self.ha.may_send())
        if not self._began_trading or fenced:  # fenced: the orders are the new holder's
            return
        if recorder.unwritable is not None and self.journal_guard is not None:
            # nothing can be recorded: cancel what rests (unjournaled); the next start reconciles
            if self.settings.engine.cancel_on_stop:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(STOP_CANCEL_TIMEOUT_S):
                        await self.journal_guard.contain()
            log.warning("stopped_with_journal_unwritable", error=str(recorder.unwritable))
            return
        state = recorder.state
        instance = self.settings.engine.instance
        for _ in range(STOP_ROUNDS):  # a submit cut short by the stop settles in the reconcile: cancel it too
            mine = [o for o in state.open_orders() if o.client_order_id.instance == instance]
            if self.settings.engine.cancel_on_stop and mine:
                try:
                    async with asyncio.timeout(STOP_CANCEL_TIMEOUT_S):
                        for order in mine:
                            await manager.cancel(order.client_order_id)
                except TimeoutError:
                    log.warning("stop_cancel_timed_out", still_open=len(state.open_orders()))
                except ConnectivityError as err:
                    log.warning("stop_cancel_failed", error=str(err))
            await self._final_reconcile(manager)
            if not self.settings.engine.cancel_on_stop or not state.open_orders():
                break
        log.info("stopped", open_orders=len(state.open_orders()), last_seq=state.last_seq)

    async def _final_reconcile(self, manager: OrderManager) -> None:
        """One last pass after the cancels, so the journal ends with the venue's fills and balances."""
        if self.trading is None:
            return
        final = Reconciler(manager, self.venues, self.settings.engine.instance, self.clock)
        try:
            async with asyncio.timeout(STOP_CANCEL_TIMEOUT_S):
                for name, venue in self.venues.items():
                    await final.reconcile(name, self._instruments(venue, self.trading.strategy))
        except TimeoutError:
            log.warning("stop_reconcile_timed_out")


def _stream_wait(err: ConnectivityError, backoff: float) -> float:
    """How long a user stream waits before reconnecting: its short backoff, or longer when the venue
    asked for it (Retry-After on a 429 / ban): reconnects never hammer a venue that said wait."""
    retry_after = err.retry_after if isinstance(err, VenueError) else None
    return max(backoff, retry_after or 0.0)
