"""Test doubles for the API: a DashboardSource with fixed data and Controls that record halts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from nonstop.api.views import (
    AlertEventView,
    AlertsView,
    AlertView,
    BalanceView,
    DegradationView,
    EndpointView,
    FillView,
    HaltResult,
    OrderView,
    PositionView,
    SeriesPoint,
    SeriesView,
    StatusView,
    VenueView,
)
from nonstop.monitor import CONTENT_TYPE, Metrics, Scrubber

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TOKEN = "unit-token-0123456789abcdef"
SECRET = "Zq8vN3kLr5Tx1Wm7Pc2Hb9Yd4Fg6Js0A"  # looks like nothing the patterns catch on their own: a literal


class FakeSource:
    """Fixed data; `leak` puts SECRET into every free-text field (the app must still not emit it)."""

    def __init__(self, *, leak: bool = False, ready: bool = True) -> None:
        self.leak = leak
        self.ready = ready
        self.metrics_obj = Metrics()
        self.metrics_obj.order_latency("binance-a", 0.012)
        self._scrubber = Scrubber([SECRET])
        self.runs = 0

    def _t(self, text: str) -> str:
        return f"{text} {SECRET}" if self.leak else text

    def status(self) -> StatusView:
        return StatusView(phase="trading", reconciled=True, ready=self.ready, halted=False, instance="a1")

    def degradation(self) -> DegradationView:
        return DegradationView(level="reduce_only", reason=self._t("venue binance-b breaker open"), since=T0)

    def venues(self) -> list[VenueView]:
        ep = EndpointView(url=self._t("http://127.0.0.1:8901"), health="healthy", breaker="closed", latency_ms=12.5,
                          p99_ms=40.0, error_rate=0.0, in_flight=0)
        return [VenueView(name="binance-a", connected=True, breaker="closed", endpoints=[ep])]

    def orders(self) -> list[OrderView]:
        return [OrderView(client_order_id="ns-a1-mm-1", venue="binance-a", instrument="BTC/USDT", side="buy",
                          order_type="limit", price="60000.1", quantity="0.001", filled="0", state=self._t("accepted"))]

    def positions(self) -> list[PositionView]:
        return [PositionView(venue="binance-a", instrument="BTC/USDT", quantity="0.002")]

    def balances(self) -> list[BalanceView]:
        return [BalanceView(venue="binance-a", asset="USDT", free="100", locked="5", total="105")]

    def fills(self, limit: int) -> list[FillView]:
        f = FillView(ts=T0, venue="binance-a", instrument="BTC/USDT", client_order_id="ns-a1-mm-1", side="buy",
                     price="60000.1", quantity="0.001", fee="0.01", fee_asset="USDT", liquidity="maker", trade_id="7")
        return [f][:limit]

    def alerts(self, limit: int) -> AlertsView:
        a = AlertView(key="latency_rising:binance-a", level="warning", title="Order latency rising",
                      body=self._t("recent median 400 ms vs baseline 40 ms"), status="active", first_seen=T0,
                      last_seen=T0, count=2)
        e = AlertEventView(at=T0, kind="raised", key=a.key, level="warning", title=a.title, detail=self._t(""))
        return AlertsView(active=[a], recent=[e][:limit])

    def series(self) -> SeriesView:
        return SeriesView(latency=[], equity=[SeriesPoint(t=1.0, v=100.0)], equity_currency="USDT",
                          unpriced_assets=[])

    def metrics(self) -> tuple[bytes, str]:
        return self.metrics_obj.render(), CONTENT_TYPE

    def liveness(self) -> dict[str, Any]:
        return {"status": "alive", "note": self._t("ok")}

    def readiness(self) -> tuple[int, dict[str, Any]]:
        if self.ready:
            return 200, {"ready": True, "reasons": []}
        return 503, {"ready": False, "reasons": [self._t("reconciled: not reconciled yet")]}

    def scrub(self, text: str) -> str:
        return self._scrubber.scrub(text)

    async def run(self) -> None:
        self.runs += 1
        await asyncio.Event().wait()


class FakeControls:
    def __init__(self, *, leak: bool = False) -> None:
        self.halts: list[str] = []
        self.leak = leak

    async def halt(self, reason: str) -> HaltResult:
        self.halts.append(reason)
        return HaltResult(halted=True, reason=reason, at=T0, canceled=["ns-a1-mm-1"], pending=[],
                          strategy_stopped=True, detail=f"done {SECRET}" if self.leak else "done")
