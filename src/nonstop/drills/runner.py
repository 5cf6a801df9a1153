"""Runs a drill: the simulator and the engine as real processes, the scenarios one by one with a
calm period between, and — whatever happens — both processes stopped at the end.

Each scenario: wait until the engine trades normally (calm), inject, hold, clear, then wait until
it trades normally again (bounded by `recover_timeout_s`; a run that does not recover in time is
recorded as not recovered, and the drill goes on). Everything measured is read afterwards from the
journal and the simulator's records (`nonstop.drills.measure`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aiohttp
import ccxt.async_support as ccxt_async
import structlog

from nonstop.config import Credentials, Settings
from nonstop.drills import evidence
from nonstop.drills.journal_schema import drill_schema
from nonstop.drills.observe import Observer, Target
from nonstop.drills.processes import DrillError, EngineHandle, SimHandle, first_line, start_engine, start_sim
from nonstop.drills.scenarios import Scenario
from nonstop.drills.scorecard import Sample
from nonstop.drills.setup import DrillLayout, venue_names, write_engine_config, write_sim_config
from nonstop.venues.binance_profile import BINANCE
from nonstop.venues.profile import Network
from nonstop.venues.settings import DEMO_CREDENTIALS

log = structlog.get_logger("nonstop.drills")
MAX_DRILL_S = 3600  # the simulator stops by itself after this, whatever happens to the drill
CHECKPOINT_TRIES = 40
QUOTES_WAIT_S = 30.0  # venue_down_second_venue: how long to wait for our quotes to rest somewhere


@dataclass(frozen=True)
class DrillOptions:
    config: Path | None
    out: Path
    seed: int = 42
    repeat: int = 1
    calm_s: float = 5.0
    settle_timeout_s: float = 120.0
    recover_timeout_s: float = 120.0
    sample_interval_s: float = 0.5
    keep_alert_channels: bool = False
    keep_schema: bool = False  # keep the drill's PostgreSQL journal schema (drill_<time>) for inspection


@dataclass
class Checkpoint:
    """The venue's account at one moment: balances and the trade ids they include."""

    t: float
    balances: dict[str, Decimal]
    trade_ids: set[str]


@dataclass
class RunRecord:
    scenario: Scenario
    repeat: int
    fault_start: float
    fault_end: float
    ended: float = 0.0
    back_up: float | None = None  # sigkill: when the restarted engine's API answered
    fault_ids: list[int] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    counters: dict[str, int] = field(default_factory=dict)  # the venue's 429 / 418 answers during the run
    note: str = ""
    venue: str = ""  # the trading venue the fault hit, when it is not the drill's watched venue


@dataclass
class DrillRun:
    options: DrillOptions
    settings: Settings  # the engine's (as mapped onto the simulator)
    started: float
    finished: float
    venue: str
    data_venue: str
    prefix: str  # our client order ids start with this
    start_balances: dict[str, Decimal]
    runs: list[RunRecord]
    observer: Observer
    engine_logs: list[Path]
    sim: evidence.SimEvidence
    final_stop_rc: int | None = None
    # the other trading venues (a routed config): their start balances and records
    others: dict[str, tuple[dict[str, Decimal], evidence.SimEvidence]] = field(default_factory=dict)


async def _checkpoint(session: aiohttp.ClientSession, control: str, venue: str) -> Checkpoint:
    """Balances and the trade ids they include, read until two balance reads agree (bounded)."""
    for attempt in range(CHECKPOINT_TRIES):  # a busy market (fills on every tick) may need a few
        before = await evidence.balances(session, control, venue)
        trades = await evidence.control_get(session, f"{control}/control/venues/{venue}/trades")
        after = await evidence.balances(session, control, venue)
        if before == after:
            return Checkpoint(time.time(), after, {str(t["id"]) for t in trades})
        await asyncio.sleep(0.05 * (attempt % 4))
    raise DrillError(f"the balances of {venue} kept moving; no consistent checkpoint")


class Drill:
    def __init__(self, options: DrillOptions, scenarios: list[Scenario]) -> None:
        self.options = options
        self.scenarios = scenarios
        self.layout = DrillLayout(options.out)
        self.rng = random.Random(options.seed)
        self.sim: SimHandle | None = None
        self.engine: EngineHandle | None = None  # the engine that trades (the leader)
        self.standbys: list[EngineHandle] = []
        self.engine_logs: list[Path] = []
        self.venues: list[str] = []  # every trading venue
        self.symbol = "BTC/USDT"
        self.recover_timeout_s = options.recover_timeout_s
        self.settings: Settings | None = None  # the engine's, once written (its journal schema is the drill's)

    # ------------------------------------------------------------------ processes
    async def _start_engine(self, observer: Observer, *, standby: bool = False) -> EngineHandle:
        path = self.layout.out / f"engine-{len(self.engine_logs):02d}.log"
        self.engine_logs.append(path)
        handle = await start_engine(self.layout.engine_config, path, max_s=MAX_DRILL_S)
        if standby:
            self.standbys.append(handle)
        else:
            self.engine = handle
            observer.target.engine_api = handle.api
        return handle

    async def _accepted_since(self, session: aiohttp.ClientSession, venue: str, prefix: str, since: float) -> bool:
        """An order of ours accepted since `since` on `venue`, or on any trading venue (routed configs)."""
        assert self.sim is not None
        for name in [venue] + [v for v in self.venues if v != venue]:
            orders = await evidence.control_get(session, f"{self.sim.control}/control/venues/{name}/orders")
            if any(o["order_id"] is not None and str(o["client_order_id"]).startswith(prefix)
                   and o["time"] >= since * 1000 for o in orders):
                return True
        return False

    async def _until_trading(
        self,
        session: aiohttp.ClientSession,
        observer: Observer,
        venue: str,
        prefix: str,
        since: float,
        timeout_s: float,
    ) -> bool:
        """Wait until the engine trades normally (healthy, and an order of ours accepted since `since`)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            latest = observer.latest()
            if (
                latest is not None
                and latest.healthy
                and latest.t > since
                and await self._accepted_since(session, venue, prefix, since)
            ):
                return True
            if self.engine is not None and not self.engine.process.running:
                raise DrillError(
                    f"the engine exited ({self.engine.process.proc.returncode}):\n{self.engine.process.tail()}"
                )
            await asyncio.sleep(0.5)
        return False

    # ------------------------------------------------------------------ scenarios
    async def _inject(
        self,
        session: aiohttp.ClientSession,
        scenario: Scenario,
        venue: str,
        data_venue: str,
        record: RunRecord,
        observer: Observer,
    ) -> None:
        assert self.sim is not None and self.engine is not None
        if scenario.action == "sigkill":
            record.fault_start = time.time()
            await self.engine.process.kill9()
            observer.target.engine_api = None
            await asyncio.sleep(scenario.hold_s)
            record.fault_end = time.time()
            await self._start_engine(observer)
            return
        if scenario.action == "takeover":
            await self._takeover(record, observer)
            return
        if scenario.action == "foreign_trade":
            record.fault_start = time.time()
            await self._foreign_trade(venue, self.symbol)
            await asyncio.sleep(scenario.hold_s)
            record.fault_end = time.time()
            return
        if scenario.requires == "two_venues":  # down the venue our quotes rest on, and watch it meanwhile
            venue = record.venue = await self._quoting_venue(session, venue)
            observer.target.venue = venue
        posted = time.time()
        for spec in scenario.faults:
            body = {
                "kind": spec.kind,
                "venue": venue if spec.target == "trading" else data_venue,
                "endpoint": spec.endpoint,
                "probability": spec.probability,
                "params": spec.params,
            }
            async with session.post(f"{self.sim.control}/control/faults", json=body) as resp:
                data = await resp.json()
                if resp.status != 201:
                    raise DrillError(f"scenario {scenario.name}: the simulator refused fault {body}: {data}")
                record.fault_ids.append(int(data["id"]))
        # the fault holds from the simulator's answer on (an order the venue took while the request was
        # on its way is not "during the fault"); the hold is counted from the request, as before
        record.fault_start = time.time()
        await asyncio.sleep(max(0.0, scenario.hold_s - (record.fault_start - posted)))
        for fault_id in record.fault_ids:
            async with session.delete(f"{self.sim.control}/control/faults/{fault_id}") as resp:
                await resp.read()
        record.fault_end = time.time()

    async def _quoting_venue(self, session: aiohttp.ClientSession, fallback: str) -> str:
        """The trading venue our quotes rest on, as the engine's API shows them: one holding open orders
        of ours and a position (exposure a downed venue strands), the largest; waits for one, bounded,
        then takes the venue with the most open orders of ours (`fallback` if none has any)."""
        deadline = time.monotonic() + QUOTES_WAIT_S
        held: Counter[str] = Counter()
        while time.monotonic() < deadline:
            api = self.engine.api if self.engine is not None else None
            if api is not None:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    snap = await evidence.control_get(session, f"{api}/api/snapshot")
                    held = Counter(str(o["venue"]) for o in snap.get("orders", []) if o.get("venue") in self.venues)
                    position = {str(p["venue"]): abs(Decimal(str(p["quantity"]))) for p in snap.get("positions", [])}
                    exposed = [v for v in held if position.get(v, Decimal(0)) > 0]
                    if exposed:
                        return max(exposed, key=lambda v: (position[v], held[v]))
            await asyncio.sleep(0.5)
        if held:
            return held.most_common(1)[0][0]
        log.warning("drill_no_resting_quotes", fallback=fallback, waited_s=QUOTES_WAIT_S)
        return fallback

    async def _takeover(self, record: RunRecord, observer: Observer) -> None:
        """A standby waits on the lease; the leader is SIGKILLed; detection is the standby leading
        (its `ha_leader` line), and from then on the drill watches it (the killed one stays dead)."""
        assert self.engine is not None
        standby = await self._start_engine(observer, standby=True)
        await first_line(standby.process, '"event": "ha_standby"', 60)
        record.fault_start = record.fault_end = time.time()
        await self.engine.process.kill9()
        observer.target.engine_api = None
        line = await first_line(standby.process, '"event": "ha_leader"', self.recover_timeout_s)
        record.back_up = datetime.fromisoformat(str(line["timestamp"]).replace("Z", "+00:00")).timestamp()
        self.standbys.remove(standby)
        self.engine = standby
        observer.target.engine_api = standby.api

    async def _foreign_trade(self, venue: str, symbol: str) -> None:
        """A market buy on the engine's account that the engine never placed (the self-test)."""
        assert self.sim is not None
        creds = Credentials.from_env("NONSTOP_SIM", default=DEMO_CREDENTIALS)
        endpoint = BINANCE.pointed_at(Network.SIM, self.sim.urls[venue][0])
        exchange = ccxt_async.binance(BINANCE.ccxt_config(endpoint, creds.api_key, creds.secret))
        try:
            await exchange.create_order(
                symbol, "market", "buy", 0.001, None, {"newClientOrderId": f"drill-foreign-{self.rng.randrange(10**6)}"}
            )
        finally:
            await exchange.close()

    # ------------------------------------------------------------------ the drill
    async def run(self) -> DrillRun:
        opts = self.options
        started = time.time()
        write_sim_config(self.layout, opts.config, seed=opts.seed)
        self.sim = await start_sim(self.layout.sim_config, self.layout.out / "sim.log", max_s=MAX_DRILL_S)
        try:
            return await self._run(started)
        finally:
            for handle in [*self.standbys, *([self.engine] if self.engine is not None else [])]:
                await handle.process.stop(30)
            await self.sim.process.stop(10)

    async def _run(self, started: float) -> DrillRun:
        assert self.sim is not None
        opts = self.options
        settings = write_engine_config(
            self.layout, opts.config, self.sim.urls, keep_alert_channels=opts.keep_alert_channels,
            schema=drill_schema(started),
        )
        self.settings = settings
        self.venues, data = venue_names(settings)
        venue = settings.engine.strategy.venue
        if venue not in {v.name for v in settings.engine.venues}:  # "auto" (routed): watch the first venue
            venue = settings.engine.venues[0].name
        data_venue = data[0] if data else venue
        prefix = f"ns-{settings.engine.instance}-"
        self.symbol = settings.engine.strategy.symbol
        # the ladder climbs one step per `recover_after_s` of calm: from halted that is 4 steps
        self.recover_timeout_s = max(opts.recover_timeout_s, 4 * settings.engine.degradation.recover_after_s + 60)
        async with aiohttp.ClientSession() as session:
            start_balances = await evidence.balances(session, self.sim.control, venue)
            others_start = {v: await evidence.balances(session, self.sim.control, v) for v in self.venues if v != venue}
            observer = Observer(
                Target(None, self.sim.control, venue, settings.engine.strategy.symbol), opts.sample_interval_s
            )
            runs: list[RunRecord] = []
            async with asyncio.TaskGroup() as tg:
                watching = tg.create_task(observer.run(), name="drill-observer")
                try:
                    await self._start_engine(observer)
                    if not await self._until_trading(session, observer, venue, prefix, started, opts.settle_timeout_s):
                        raise DrillError(
                            f"the engine did not trade normally within {opts.settle_timeout_s:.0f} s:\n"
                            f"{self.engine.process.tail() if self.engine else ''}"
                        )
                    for scenario in self.scenarios:
                        for n in range(opts.repeat):
                            runs.append(await self._scenario(session, observer, scenario, n, venue, data_venue, prefix))
                    final_rc = await self.engine.process.stop(30) if self.engine else None
                    observer.samples.append(Sample(time.time(), False))  # the clean stop closes the record
                finally:
                    watching.cancel()
            sim_records = await evidence.read_sim(self.sim.control, venue)
            others = {v: (b, await evidence.read_sim(self.sim.control, v)) for v, b in others_start.items()}
        return DrillRun(
            opts,
            settings,
            started,
            time.time(),
            venue,
            data_venue,
            prefix,
            start_balances,
            runs,
            observer,
            self.engine_logs,
            sim_records,
            final_rc,
            others,
        )

    async def _scenario(
        self,
        session: aiohttp.ClientSession,
        observer: Observer,
        scenario: Scenario,
        n: int,
        venue: str,
        data_venue: str,
        prefix: str,
    ) -> RunRecord:
        opts = self.options
        calm_since = time.time()
        await self._until_trading(session, observer, venue, prefix, calm_since - opts.calm_s, self.recover_timeout_s)
        await asyncio.sleep(opts.calm_s + self.rng.uniform(0, 1))  # the seed makes the fault timing repeatable
        record = RunRecord(scenario, n, 0.0, 0.0)
        assert self.sim is not None
        counters_url = f"{self.sim.control}/control/venues/{venue}/counters"
        before = await evidence.control_get(session, counters_url)
        log.info("drill_scenario_start", scenario=scenario.name, repeat=n, at=datetime.now(UTC).isoformat())
        try:
            await self._inject(session, scenario, venue, data_venue, record, observer)
        finally:
            if record.fault_ids:  # a failed inject never leaves a fault behind
                assert self.sim is not None
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.delete(f"{self.sim.control}/control/faults") as resp:
                        await resp.read()
        if scenario.action == "sigkill":
            record.back_up = next((s.t for s in observer.samples if s.t >= record.fault_end and s.up), None)
        recovered = await self._until_trading(
            session, observer, venue, prefix, record.fault_end, self.recover_timeout_s
        )
        if scenario.action == "sigkill" and record.back_up is None:
            record.back_up = next((s.t for s in observer.samples if s.t >= record.fault_end and s.up), None)
        if not recovered:
            record.note = f"not trading normally {self.recover_timeout_s:.0f} s after the fault ended"
        await asyncio.sleep(1.0)  # what was in flight at recovery lands before the checkpoint
        assert self.sim is not None
        observer.target.venue = venue  # back to the watched venue, if the fault hit another
        record.checkpoint = await _checkpoint(session, self.sim.control, venue)
        after = await evidence.control_get(session, counters_url)
        record.counters = {k: int(after[k]) - int(before.get(k, 0)) for k in after}
        record.ended = time.time()
        log.info("drill_scenario_end", scenario=scenario.name, repeat=n, recovered=recovered)
        return record
