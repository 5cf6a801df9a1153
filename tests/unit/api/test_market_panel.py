"""The dashboard's strategy PnL: one series per (strategy, quote currency), each in its currency, the
archived fills' books folded first; a strategy with no fill shows 0 in its symbols' quote currencies."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from nonstop.api.market_panel import MarketPanel
from nonstop.model import Balance, BalanceSnapshot, EngineState, InstrumentId, OrdersArchived, Side
from tests.fillkit import T0, fill_order

ETH_USDT = InstrumentId("alpha", "ETH/USDT")
ETH_BTC = InstrumentId("alpha", "ETH/BTC")


def _engine(state: EngineState, mids: dict[str, Decimal]) -> Any:
    hub = SimpleNamespace(latest=lambda symbol: SimpleNamespace(mid=mids.get(symbol), bid=None, ask=None,
                                                                quality=(), reason=""))
    trading = SimpleNamespace(hub=hub, runner=SimpleNamespace(symbols=["ETH/BTC", "ETH/USDT"]),
                              strategy=SimpleNamespace(id="mm"))
    return SimpleNamespace(trading=trading, state=state)


def test_a_strategy_s_pnl_is_a_series_per_quote_currency_archived_fills_included() -> None:
    state = EngineState()
    fill_order(state, 1, ETH_BTC, Side.BUY, "2", "0.05")  # BTC first: it used to decide the one currency shown
    fill_order(state, 2, ETH_USDT, Side.BUY, "1", "3000", ts=T0 + timedelta(minutes=1))
    state.apply(BalanceSnapshot(ts=T0 + timedelta(minutes=1), venue="alpha", balances=(Balance("USDT", Decimal(1)),),
                                includes=tuple(state.balance_pending["alpha"])))
    state.apply(OrdersArchived(ts=T0 + timedelta(minutes=1), client_order_ids=tuple(sorted(state.orders))))
    fill_order(state, 3, ETH_USDT, Side.SELL, "1", "3050", ts=T0 + timedelta(minutes=2))  # a live fill on top
    panel = MarketPanel(_engine(state, {"ETH/BTC": Decimal("0.055")}))
    panel.sample(1.0)
    shown = {(s.strategy, s.currency): s.pnl for s in panel.pnl()}
    assert shown == {("mm", "BTC"): "0.01000000", ("mm", "USDT"): "50.00"}
    assert all(len(s.points) == 1 for s in panel.pnl())


def test_a_strategy_without_fills_shows_zero_in_its_symbols_quote_currencies() -> None:
    panel = MarketPanel(_engine(EngineState(), {}))
    panel.sample(1.0)
    assert [(s.strategy, s.currency, s.pnl) for s in panel.pnl()] == [("mm", "BTC", "0.00"), ("mm", "USDT", "0.00")]
