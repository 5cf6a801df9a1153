"""EngineSource / EngineControls over a stub engine: real EngineState, no venues, no network."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from nonstop.api import EngineControls, EngineSource, HaltSwitch, create_engine_app, known_secrets
from nonstop.clock import ManualClock
from nonstop.config import AlertChannelSettings, AlertSettings, MonitorSettings, Settings
from nonstop.connectivity.errors import OperationKind, TransientNetworkError
from nonstop.engine import EngineStatus
from nonstop.model import (
    Balance,
    BalanceSnapshot,
    ClientOrderId,
    EngineState,
    InstrumentId,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderIntent,
    OrderSubmitted,
    OrderType,
    Side,
    TradeId,
    VenueOrderId,
)
from nonstop.monitor import AlertLevel, Readiness
from tests.unit.api.fakes import TOKEN
from tests.unit.monitor.fakes import alert_settings, manager_with

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BTC = InstrumentId("binance-a", "BTC/USDT")
API_KEY = "k3Yq9ZPL2mXv8RtW4nB6cJ1dF5gH7sA0eU3iO9pQ2wE4rT6yU8iO0pA1sD3fG5hJ"  # 64 chars, like Binance's
API_SECRET = "s9Ec7RtYu1IoP3aSd5Fg7Hj9Kl2Zx4Cv6Bn8Mq0Wq2Er4Ty6Ui8Op0As2Df4Gh6J"


def cid(n: int) -> ClientOrderId:
    return ClientOrderId.build("a1", "mm", n)


def accepted_order(state: EngineState, n: int, side: Side = Side.BUY, price: str = "60000") -> ClientOrderId:
    c = cid(n)
    state.apply(OrderIntent(ts=T0, client_order_id=c, instrument_id=BTC, side=side, order_type=OrderType.LIMIT,
                            quantity=Decimal("0.001"), price=Decimal(price)))
    state.apply(OrderSubmitted(ts=T0, client_order_id=c))
    state.apply(OrderAccepted(ts=T0, client_order_id=c, venue_order_id=VenueOrderId(f"v{n}")))
    return c


def fill(state: EngineState, c: ClientOrderId, trade: int, price: str, ts: datetime = T0) -> None:
    state.apply(OrderFilled(ts=ts, client_order_id=c, trade_id=TradeId(str(trade)), price=Decimal(price),
                            quantity=Decimal("0.001"), fee=Decimal("0"), fee_asset="USDT"))


@dataclass
class FakeManager:
    state: EngineState
    fail: set[str] = field(default_factory=set)
    canceled: list[str] = field(default_factory=list)

    async def cancel(self, c: ClientOrderId) -> None:
        if c.value in self.fail:
            raise TransientNetworkError("boom", venue="binance-a", operation=OperationKind.CANCEL)
        self.canceled.append(c.value)
        self.state.apply(OrderCanceled(ts=T0, client_order_id=c))


def stub_engine(tmp_path: Path, **extra: Any) -> SimpleNamespace:
    state = EngineState()
    status = EngineStatus(phase="trading", reconciled=True, venues_connected={"binance-a": True})
    return SimpleNamespace(settings=Settings(data_dir=tmp_path), status=status, state=state, venues={},
                           manager=FakeManager(state), clock=ManualClock(T0), **extra)


def test_views_without_optional_parts_use_defaults(tmp_path: Path) -> None:
    engine = stub_engine(tmp_path)
    accepted_order(engine.state, 1)
    src = EngineSource(engine)
    assert src.alerts(10).active == [] and src.alerts(10).recent == []
    assert src.degradation().level == "normal"
    assert src.readiness()[0] == 200
    body, ctype = src.metrics()
    assert b"nonstop_orders_total" in body or b"nonstop_orders" in body
    assert ctype.startswith("text/plain")
    assert [o.client_order_id for o in src.orders()] == [cid(1).value]
    assert src.status().halted is False


def test_degradation_not_trading_halted_with_phase(tmp_path: Path) -> None:
    engine = stub_engine(tmp_path)
    engine.status.phase = "reconciling"
    src = EngineSource(engine)
    assert src.degradation().level == "halted" and "reconciling" in src.degradation().reason
    code, body = src.readiness()
    assert code == 503 and any("reconciling" in r for r in body["reasons"])


def test_degradation_read_from_engine_when_present(tmp_path: Path) -> None:
    level = SimpleNamespace(value="reduce-only")
    engine = stub_engine(tmp_path, degradation=SimpleNamespace(level=level, reason="binance-b down", since=T0))
    d = EngineSource(engine).degradation()
    assert (d.level, d.reason, d.since) == ("reduce_only", "binance-b down", T0)


def test_readiness_delegates_to_engine_readiness(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    readiness = Readiness(clock)
    engine = stub_engine(tmp_path, readiness=readiness)
    code, body = EngineSource(engine).readiness()
    assert code == 503 and "leader: no leader lease yet" in body["reasons"]


def test_fills_newest_first_and_limited(tmp_path: Path) -> None:
    engine = stub_engine(tmp_path)
    c = accepted_order(engine.state, 1)
    fill(engine.state, c, 0, "60000", ts=T0)
    c2 = accepted_order(engine.state, 2, Side.SELL, "61000")
    fill(engine.state, c2, 10, "61000", ts=T0.replace(second=5))
    fills = EngineSource(engine).fills(10)
    assert [f.trade_id for f in fills] == ["10", "0"]
    assert fills[0].side == "sell" and fills[0].venue == "binance-a" and fills[0].instrument == "BTC/USDT"
    assert len(EngineSource(engine).fills(1)) == 1


def test_equity_marks_assets_at_last_fill_price(tmp_path: Path) -> None:
    engine = stub_engine(tmp_path)
    engine.state.apply(BalanceSnapshot(ts=T0, venue="binance-a", balances=(
        Balance("USDT", Decimal("1000"), Decimal("10")), Balance("BTC", Decimal("2")), Balance("XRP", Decimal("5")))))
    c = accepted_order(engine.state, 1)
    fill(engine.state, c, 1, "50000")
    c2 = accepted_order(engine.state, 2)
    fill(engine.state, c2, 2, "60000")  # the newest fill is the mark
    src = EngineSource(engine)
    assert src.equity() == Decimal("1010") + 2 * Decimal("60000")
    src.sample()
    series = src.series()
    assert series.equity[-1].v == 121010.0 and series.unpriced_assets == ["XRP"]
    assert series.equity_currency == "USDT"


def test_equity_prefers_engine_marks(tmp_path: Path) -> None:
    engine = stub_engine(tmp_path, marks={"binance-a:BTC/USDT": Decimal("70000")})
    engine.state.apply(BalanceSnapshot(ts=T0, venue="binance-a", balances=(Balance("BTC", Decimal("1")),)))
    assert EngineSource(engine).equity() == Decimal("70000")


def test_alerts_active_and_recent_from_alert_manager(tmp_path: Path) -> None:
    manager, _ = manager_with(alert_settings("ops"), ManualClock(T0))
    manager.raise_("latency_rising:binance-a", AlertLevel.WARNING, "Latency rising", "400 ms vs 40 ms")
    manager.raise_("drift:balance:binance-a", AlertLevel.CRITICAL, "Drift", "BTC 1 vs 2")
    manager.resolve("latency_rising:binance-a")
    alerts = EngineSource(stub_engine(tmp_path, alerts=manager)).alerts(10)
    assert alerts.active[0].key == "drift:balance:binance-a" and alerts.active[0].level == "critical"
    assert alerts.recent[0].kind in ("clearing", "resolved")
    assert {e.kind for e in alerts.recent} >= {"raised"}


def test_known_secrets_reads_credentials_channels_and_dsn(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        monitor=MonitorSettings(alerts=AlertSettings(channels=[AlertChannelSettings(name="m", url_env="MAIL_URL")])),
    )
    env = {"NONSTOP_SIM_API_KEY": API_KEY, "NONSTOP_SIM_API_SECRET": API_SECRET,
           "MAIL_URL": "mailtos://u:hunter22@smtp.example.com", "NONSTOP_PG_DSN": "postgresql://u:pw123456@db/x"}
    assert set(known_secrets(settings, env)) == {API_KEY, API_SECRET, env["MAIL_URL"], env["NONSTOP_PG_DSN"]}


def test_scrub_masks_engine_credentials(tmp_path: Path) -> None:
    engine = stub_engine(tmp_path)
    src = EngineSource(engine, environ={"NONSTOP_SIM_API_KEY": "plainkey-abcdef", "NONSTOP_SIM_API_SECRET": API_SECRET})
    assert src.scrub("key plainkey-abcdef in an error") == "key *** in an error"


async def test_secret_in_order_reason_never_reaches_responses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NONSTOP_SIM_API_KEY", "plainkey-abcdef")
    monkeypatch.setenv("NONSTOP_SIM_API_SECRET", API_SECRET)
    engine = stub_engine(tmp_path)
    manager, _ = manager_with(alert_settings("ops"), ManualClock(T0))
    engine.alerts = manager
    # an alert body the alert manager does not know is secret (it was built without the credentials)
    manager.raise_("auth_failed:binance-a", AlertLevel.CRITICAL, "auth failed", "venue said: plainkey-abcdef refused")
    engine.degradation = SimpleNamespace(level="reduce_only", reason="auth error for plainkey-abcdef", since=None)
    accepted_order(engine.state, 1)
    app = create_engine_app(engine, token=TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        body = (await client.get("/api/snapshot")).text
    assert "plainkey-abcdef" not in body
    assert "venue said: *** refused" in body and "auth error for ***" in body


async def test_halt_without_engine_halt_cancels_every_open_order(tmp_path: Path) -> None:
    engine = stub_engine(tmp_path, readiness=Readiness(ManualClock(T0)))
    c1, c2, c3 = accepted_order(engine.state, 1), accepted_order(engine.state, 2), accepted_order(engine.state, 3)
    engine.manager.fail.add(c2.value)
    switch = HaltSwitch()
    result = await EngineControls(engine, switch).halt("test halt")
    assert result.canceled == [c1.value, c3.value]
    assert result.pending == [c2.value]  # its cancel failed: still open, and said so
    assert result.strategy_stopped is False and "engine.halt" in result.detail
    assert "1 cancel(s) failed" in result.detail
    assert switch.halted and switch.reason == "test halt"
    assert not engine.readiness.ready and "halted: test halt" in engine.readiness.body()["checks"]["trading"]["reason"]
    src = EngineSource(engine, switch=switch)
    assert src.degradation().level == "halted" and "test halt" in src.degradation().reason
    assert src.status().halted


async def test_halt_raises_critical_alert_when_engine_has_alerts(tmp_path: Path) -> None:
    manager, _ = manager_with(alert_settings("ops"), ManualClock(T0))
    engine = stub_engine(tmp_path, alerts=manager)
    accepted_order(engine.state, 1)
    await EngineControls(engine, HaltSwitch()).halt("dd")
    alert = manager.get("trading_halted")
    assert alert is not None and alert.level is AlertLevel.CRITICAL and "open orders at halt: 1" in alert.body


async def test_halt_delegates_to_engine_halt_when_present(tmp_path: Path) -> None:
    calls: list[str] = []
    engine = stub_engine(tmp_path)
    c = accepted_order(engine.state, 1)

    async def halt(reason: str) -> None:
        calls.append(reason)
        await engine.manager.cancel(c)

    engine.halt = halt
    result = await EngineControls(engine, HaltSwitch()).halt("why")
    assert calls == ["why"] and result.strategy_stopped is True and result.canceled == [c.value]
    assert engine.manager.canceled == [c.value]  # canceled once, by the engine, not again by the controls


async def test_halt_before_trading_latches_and_cancels_nothing(tmp_path: Path) -> None:
    engine = stub_engine(tmp_path)
    engine.manager, engine.state = None, None
    switch = HaltSwitch()
    result = await EngineControls(engine, switch).halt("early")
    assert switch.halted and result.canceled == [] and "not trading yet" in result.detail


async def test_run_samples_on_the_engine_clock(tmp_path: Path) -> None:
    import asyncio

    engine = stub_engine(tmp_path)
    engine.state.apply(BalanceSnapshot(ts=T0, venue="binance-a", balances=(Balance("USDT", Decimal("5")),)))
    src = EngineSource(engine, sample_interval_s=1.0)
    task = asyncio.create_task(src.run())
    try:
        for _ in range(3):
            await asyncio.sleep(0)
            engine.clock.advance(1.0)
        await asyncio.sleep(0)
        assert len(src.series().equity) >= 3
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_engine_halted_elsewhere_shown_as_halted(tmp_path: Path) -> None:
    src = EngineSource(stub_engine(tmp_path, halted="daily loss limit"))
    assert src.degradation().level == "halted" and "daily loss limit" in src.degradation().reason
    assert src.status().halted
