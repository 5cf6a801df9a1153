"""The console's PnL: this run's, added up per quote currency and labelled, never across two."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from structlog.testing import capture_logs

from nonstop.clock import ManualClock
from nonstop.model import EngineState, InstrumentId, Side
from nonstop.monitor.console_report import ConsoleReport
from tests.fillkit import T0, fill_order

ETH_USDT = InstrumentId("alpha", "ETH/USDT")
ETH_BTC = InstrumentId("alpha", "ETH/BTC")


def test_the_run_s_pnl_and_fees_are_shown_per_quote_currency() -> None:
    state = EngineState()
    marks = {ETH_BTC: Decimal("0.051")}
    report = ConsoleReport(state, ManualClock(T0), level=lambda: "normal", mark=marks.get)
    with capture_logs() as logs:
        for seq, iid, side, qty, price, fee in [(1, ETH_BTC, Side.BUY, "1", "0.05", "0.00001"),
                                                (2, ETH_USDT, Side.BUY, "1", "3000", "1.5"),
                                                (3, ETH_USDT, Side.SELL, "1", "2990", "0")]:
            for event in fill_order(state, seq, iid, side, qty, price, fee=fee, ts=T0 + timedelta(minutes=seq)):
                report.on_event(event)
        report.summary()
    assert report.pnl() == ({"BTC": Decimal("0.00099"), "USDT": Decimal("-11.5")},
                            {"BTC": Decimal("0.00001"), "USDT": Decimal("1.5")})
    summary = next(e for e in logs if e["event"] == "summary")
    assert summary["pnl"] == "+0.00099000 BTC, -11.50 USDT" and summary["fees"] == "0.00001000 BTC, 1.50 USDT"
    assert next(e["pnl"] for e in logs if e["event"] == "fill") == "+0.00099000 BTC"
