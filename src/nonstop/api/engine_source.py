"""`EngineSource`: the API's read port over a running engine (`EngineControls` is the write port).

It reads an engine-like object (see `EngineLike`) and never changes it.
Parts the engine may not have yet are optional and read with `getattr`:

    engine.metrics      nonstop.monitor.Metrics      - absent: an empty registry is served
    engine.alerts       nonstop.monitor.AlertManager - absent: no alerts
    engine.readiness    nonstop.monitor.Readiness    - absent: derived from engine.status
    engine.degradation  .level / .reason / .since    - absent: "normal" while trading, else "halted"
    engine.halt(reason) async kill switch            - absent: see EngineControls.halt
    engine.halted       str | None, the halt reason  - absent: only this API's HaltSwitch counts
    engine.marks        {"venue:BASE/QUOTE": Decimal} marks for equity - absent: last fill prices
    engine.ha           nonstop.ha.role.Leadership   - absent: role "single"

Every string is scrubbed of the engine's secrets (API keys and secrets from the credential
environment variables, alert channel URLs, the journal DSN) before it leaves (invariant 9).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, get_args

import structlog

from nonstop.api import book_views
from nonstop.api.book_views import as_text
from nonstop.api.equity import equity as equity_of
from nonstop.api.market_panel import MarketPanel
from nonstop.api.plain_text import plain
from nonstop.api.series import Series
from nonstop.api.views import (
    AlertEventView,
    AlertsView,
    AlertView,
    BalanceView,
    DegradationLevel,
    DegradationView,
    EndpointView,
    FillView,
    LatencySeries,
    OrderView,
    PositionView,
    RoutingView,
    SeriesView,
    StatusView,
    VenueView,
)
from nonstop.clock import Clock, LiveClock
from nonstop.config import DEMO_CREDENTIALS, DEMO_ENV, Settings
from nonstop.errors import NonstopError
from nonstop.model import EngineState
from nonstop.monitor import CONTENT_TYPE, Liveness, Metrics, Scrubber
from nonstop.venues.port import VenuePort

log = structlog.get_logger("nonstop.api.engine")
_LEVELS = frozenset(get_args(DegradationLevel))
_QUIET_ALERT_KINDS = frozenset({"delivered", "digested"})  # delivery bookkeeping, not news for a trader


class _StatusLike(Protocol):
    phase: str
    reconciled: bool
    venues_connected: dict[str, bool]


class EngineLike(Protocol):
    """What the adapters need of the engine (`nonstop.engine.Engine` has it after start-up)."""

    settings: Settings
    status: _StatusLike
    state: EngineState | None
    venues: Mapping[str, VenuePort]
    manager: Any  # OrderManager | None: `await manager.cancel(ClientOrderId)`


@dataclass(slots=True)
class HaltSwitch:
    """The kill switch's latch, shared by `EngineControls` (sets it) and `EngineSource` (shows it).

    Until the engine has `halt()`, its strategy loop should skip placing orders while `halted`.
    """

    halted: bool = False
    reason: str = ""
    since: datetime | None = None

    def engage(self, reason: str, at: datetime) -> None:
        if not self.halted:
            self.halted, self.reason, self.since = True, reason, at

    def release(self) -> None:
        self.halted, self.reason, self.since = False, "", None


def known_secrets(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every secret the engine's config points at: credentials, alert channel URLs, journal DSN."""
    env = os.environ if environ is None else environ
    found: list[str] = []
    for venue in settings.engine.venues:
        key, secret = env.get(f"{venue.credentials_env}_API_KEY"), env.get(f"{venue.credentials_env}_API_SECRET")
        if key and secret:
            found += [key, secret]
        elif venue.is_sim and venue.credentials_env == DEMO_ENV:
            found += list(DEMO_CREDENTIALS)
    found += [env.get(c.url_env, "") for c in settings.monitor.alerts.channels]
    found.append(env.get(settings.engine.journal.dsn_env, ""))
    return [s for s in found if s]


def _mid(trading: Any, symbol: str) -> Decimal | None:
    hub = getattr(trading, "hub", None)
    if hub is None:
        return None
    return hub.latest(symbol).mid


class EngineSource:
    """`DashboardSource` over an engine; samples latency and equity series in `run()`."""

    def __init__(
        self,
        engine: EngineLike,
        *,
        switch: HaltSwitch | None = None,
        clock: Clock | None = None,
        sample_interval_s: float = 1.0,
        series_len: int = 900,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if sample_interval_s <= 0:
            raise ValueError("sample_interval_s must be > 0")
        self._engine = engine
        self.switch = switch or HaltSwitch()
        self._clock: Clock = clock or getattr(engine, "clock", None) or LiveClock()
        self._interval = sample_interval_s
        self._series_len = series_len
        self._scrubber = Scrubber(known_secrets(engine.settings, environ))
        self._liveness = Liveness(self._clock)
        self._own_metrics: Metrics | None = None
        self._latency: dict[tuple[str, str], Series] = {}
        self._equity = Series(series_len)
        self._unpriced: list[str] = []
        self.market = MarketPanel(engine, series_len)  # price panel, data venues' feeds, strategy PnL
        quote = engine.settings.engine.strategy.symbol.split("/")[1]
        self.equity_currency = quote

    # ---- helpers -------------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        return self._scrubber.scrub(text)

    @property
    def _state(self) -> EngineState | None:
        return self._engine.state

    # ---- DashboardSource -----------------------------------------------------------------------

    def status(self) -> StatusView:
        st = self._engine.status
        halted = self.switch.halted or self._engine_halted()
        return StatusView(
            phase="halted" if halted and st.phase == "trading" else st.phase,  # never "trading" beside HALTED
            reconciled=st.reconciled,
            ready=self.readiness()[0] == 200,
            halted=halted,
            instance=self._engine.settings.engine.instance,
            **self._ha(),
        )

    def _ha(self) -> dict[str, Any]:
        ha = getattr(self._engine, "ha", None)
        if ha is None or not getattr(ha, "active", False):
            return {"role": "single"}
        remaining = ha.lease_remaining_s
        return {"role": str(ha.role), "epoch": ha.epoch or None, "holder": self.scrub(ha.holder),
                "lease_remaining_s": round(remaining, 3) if remaining is not None else None}

    def _engine_halted(self) -> bool:
        if isinstance(getattr(self._engine, "halted", None), str):
            return True
        d = getattr(self._engine, "degradation", None)
        return d is not None and as_text(getattr(d, "level", "")) == "halted"

    def degradation(self) -> DegradationView:
        if self.switch.halted:
            return DegradationView(level="halted", reason=f"kill switch: {self.switch.reason}", since=self.switch.since)
        halted = getattr(self._engine, "halted", None)
        if isinstance(halted, str):  # halted by other means than this API (engine.halted holds the reason)
            return DegradationView(level="halted", reason=f"halted: {halted}")
        d = getattr(self._engine, "degradation", None)
        if d is not None:
            raw = as_text(getattr(d, "level", "unknown")).replace("-", "_").replace(" ", "_")
            level = raw if raw in _LEVELS else "unknown"
            reason = str(getattr(d, "reason", "") or "")
            if level == "unknown":
                reason = f"level {raw!r}: {reason}"
            since = getattr(d, "since", None)
            return DegradationView(level=level, reason=reason, since=since if isinstance(since, datetime) else None)
        phase = self._engine.status.phase
        if phase != "trading":
            return DegradationView(level="halted", reason=f"not trading: engine is {phase}")
        return DegradationView(level="normal", reason="trading normally")

    def venues(self) -> list[VenueView]:
        out = []
        connected = self._engine.status.venues_connected
        feeds = self.market.feed_quality()
        data = getattr(self._engine, "data_venues", None) or {}
        every = [(n, v, "trading") for n, v in sorted(self._engine.venues.items())]
        every += [(n, v, "data") for n, v in sorted(data.items())]
        for name, venue, role in every:
            pool = getattr(getattr(venue, "gateway", None), "pool", None)
            was = bool(connected.get(name)) or (role == "data" and feeds.get(name, "").startswith("ok"))
            if pool is None:
                out.append(VenueView(name=name, connected=was, breaker="unknown", endpoints=[], role=role,
                                     feed=feeds.get(name)))
                continue
            endpoints = [
                EndpointView(
                    url=snap.url,
                    health=as_text(snap.health),
                    breaker=as_text(pool.breaker.endpoint(snap.url).state),
                    latency_ms=None if snap.ewma is None else round(snap.ewma * 1000, 3),
                    p99_ms=None if snap.tail is None else round(snap.tail * 1000, 3),
                    error_rate=round(snap.error_rate, 4),
                    in_flight=snap.in_flight,
                )
                for snap in pool.snapshot()
            ]
            breaker = as_text(pool.breaker.state)
            reachable = breaker != "open" and any(e.health != "ejected" for e in endpoints)
            if role == "data":  # never "connected" by the engine's order path: its feed tells
                was = bool(endpoints) or name in feeds
            out.append(
                VenueView(
                    name=name,
                    connected=was and reachable,  # an outage (every endpoint ejected, breaker open) says no
                    breaker=breaker,
                    endpoints=endpoints,
                    role=role,
                    feed=feeds.get(name),
                )
            )
        return out

    def orders(self) -> list[OrderView]:
        return [] if self._state is None else book_views.open_orders(self._state)

    def positions(self) -> list[PositionView]:
        if self._state is None:
            return []
        trading = getattr(self._engine, "trading", None)
        return book_views.positions(self._state, lambda symbol: _mid(trading, symbol))

    def routing(self) -> RoutingView:
        router = getattr(getattr(self._engine, "trading", None), "router", None)
        return RoutingView() if router is None else RoutingView(**router.status())

    def balances(self) -> list[BalanceView]:
        return [] if self._state is None else book_views.balances(self._state)

    def fills(self, limit: int) -> list[FillView]:
        return [] if self._state is None else book_views.recent_fills(self._state, limit)

    def alerts(self, limit: int) -> AlertsView:
        manager = getattr(self._engine, "alerts", None)
        if manager is None:
            return AlertsView(active=[], recent=[])
        active = [
            AlertView(
                key=a.key,
                level=a.level.label,
                title=plain(a.title),
                body=plain(a.body),
                status=a.status.value,
                first_seen=a.first_seen,
                last_seen=a.last_seen,
                count=a.count,
            )
            for a in manager.active()
        ]
        recent: list[AlertEventView] = []
        for t in reversed(manager.history()):
            if t.kind.value in _QUIET_ALERT_KINDS:
                continue
            recent.append(
                AlertEventView(
                    at=t.at,
                    kind=t.kind.value,
                    key=t.key,
                    level=t.level.label,
                    title=plain(t.alert.title) if t.alert else "",
                    detail=plain(t.detail),
                )
            )
            if len(recent) >= limit:
                break
        return AlertsView(active=active, recent=recent)

    def series(self) -> SeriesView:
        return SeriesView(
            latency=[
                LatencySeries(venue=v, endpoint=e, points=s.points()) for (v, e), s in sorted(self._latency.items())
            ],
            equity=self._equity.points(),
            equity_currency=self.equity_currency,
            unpriced_assets=list(self._unpriced),
            prices=self.market.prices(),
            pnl=self.market.pnl(),
        )

    def metrics(self) -> tuple[bytes, str]:
        m = getattr(self._engine, "metrics", None)
        if m is None:
            if self._own_metrics is None:
                self._own_metrics = Metrics()
            m = self._own_metrics
        return m.render(), CONTENT_TYPE

    def liveness(self) -> dict[str, Any]:
        return {**self._liveness.body(), "phase": self._engine.status.phase}

    def readiness(self) -> tuple[int, dict[str, Any]]:
        r = getattr(self._engine, "readiness", None)
        if r is not None:
            code, body = r.response()
            return int(code), dict(body)
        st = self._engine.status
        reasons = []
        if st.phase != "trading":
            reasons.append(f"phase: engine is {st.phase}")
        if not st.reconciled:
            reasons.append("reconciled: not reconciled yet")
        if self.switch.halted:
            reasons.append(f"trading: halted ({self.switch.reason})")
        if not any(st.venues_connected.values()):
            reasons.append("venues: none connected")
        body = {"ready": not reasons, "reasons": reasons, "phase": st.phase, "venues": dict(st.venues_connected)}
        return (200 if not reasons else 503), body

    # ---- sampling ------------------------------------------------------------------------------

    def sample(self) -> None:
        """Append one point to every series (latency per endpoint, equity)."""
        t = self._clock.now().timestamp()
        for venue in self.venues():
            for ep in venue.endpoints:
                if ep.latency_ms is not None:
                    key = (venue.name, ep.url)
                    if key not in self._latency:
                        self._latency[key] = Series(self._series_len)
                    self._latency[key].add(t, ep.latency_ms)
        equity = self.equity()
        if equity is not None:
            self._equity.add(t, float(equity))
        self.market.sample(t)

    def equity(self) -> Decimal | None:
        """Total balances valued in the equity currency (assets without a mark are left out)."""
        state = self._state
        if state is None or not state.balances:
            return None
        total, self._unpriced = equity_of(state, self.equity_currency, getattr(self._engine, "marks", None) or {})
        return total

    async def run(self) -> None:
        """Sample every `sample_interval_s` until cancelled; a failed sample is logged, not fatal."""
        while True:
            try:
                self.sample()
            except (NonstopError, ArithmeticError, LookupError, ValueError) as err:
                log.error("dashboard_sample_failed", error=self.scrub(repr(err)))
            await self._clock.sleep(self._interval)
