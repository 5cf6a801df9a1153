"""`nonstop status`'s figures from a hand-built journal state: PnL per strategy, balances that move with
the fills since the last snapshot, and whether the holder still runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from nonstop.journal.base import JournalHolder
from nonstop.model import (
    ClientOrderIdFactory,
    EngineState,
    InstrumentId,
    Liquidity,
    OrderAccepted,
    OrderFilled,
    OrderIntent,
    OrderSubmitted,
    OrderType,
    Side,
    TradeId,
    VenueOrderId,
)
from nonstop.model.balance import Balance
from nonstop.model.events import BalanceSnapshot
from nonstop.status import render
from nonstop.status_figures import current_balances, running, strategy_pnl
from tests.fillkit import fill_order

BTC = InstrumentId("binance-a", "BTC/USDT")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _state() -> EngineState:
    """A snapshot (2 BTC, 1000 USDT), then: buy 0.5 @ 100 (fee 0.1 USDT), sell 0.2 @ 110 (fee 0.0001 BTC)."""
    state = EngineState()
    ids = ClientOrderIdFactory("a1")
    seq = 0

    def apply(event: object) -> None:
        nonlocal seq
        seq += 1
        state.apply(event, seq=seq)  # type: ignore[arg-type]

    apply(BalanceSnapshot(ts=T0, venue="binance-a", balances=(Balance("BTC", Decimal(2)),
                                                             Balance("USDT", Decimal(1000)))))
    for n, (side, qty, price, fee, fee_asset) in enumerate(
            [(Side.BUY, "0.5", "100", "0.1", "USDT"), (Side.SELL, "0.2", "110", "0.0001", "BTC")], 1):
        ts = T0 + timedelta(seconds=n)
        coid = ids.next("mm")
        apply(OrderIntent(ts=ts, client_order_id=coid, instrument_id=BTC, side=side, order_type=OrderType.LIMIT,
                          quantity=Decimal(qty), price=Decimal(price)))
        apply(OrderSubmitted(ts=ts, client_order_id=coid))
        apply(OrderAccepted(ts=ts, client_order_id=coid, venue_order_id=VenueOrderId(str(n))))
        apply(OrderFilled(ts=ts, client_order_id=coid, trade_id=TradeId(str(n)), price=Decimal(price),
                          quantity=Decimal(qty), fee=Decimal(fee), fee_asset=fee_asset, liquidity=Liquidity.MAKER))
    return state


def test_balances_move_with_the_fills_since_the_snapshot() -> None:
    shown = current_balances(_state())["binance-a"]
    assert shown["BTC"] == {"snapshot": "2", "fills_since": "0.2999", "now": "2.2999"}  # +0.5 -0.2 -0.0001 fee
    assert Decimal(shown["USDT"]["fills_since"]) == Decimal("-50") - Decimal("0.1") + Decimal("22")
    assert Decimal(shown["USDT"]["now"]) == Decimal("971.9")


def test_pnl_per_strategy_realized_unrealized_and_fees() -> None:
    by_quote = strategy_pnl(_state())["mm"]
    assert list(by_quote) == ["USDT"]
    pnl = by_quote["USDT"]
    assert Decimal(pnl["realized"]) == Decimal("2")  # 0.2 x (110 - 100)
    assert Decimal(pnl["unrealized"]) == Decimal("3")  # 0.3 left, marked at the last fill (110)
    assert Decimal(pnl["fees"]) == Decimal("0.1") + Decimal("0.0001") * 110
    assert Decimal(pnl["pnl"]) == Decimal("2") + Decimal("3") - Decimal("0.111")


def test_running_only_while_the_holder_process_lives() -> None:
    here = socket.gethostname()
    alive = JournalHolder(host=here, pid=os.getpid(), instance="a1", since=T0, epoch=1)
    assert running(alive)["state"] == "running"
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    gone = JournalHolder(host=here, pid=int(done.stdout), instance="a1", since=T0, epoch=1)
    assert running(gone)["state"] == "stopped"
    elsewhere = JournalHolder(host=here + "-other", pid=os.getpid(), instance="a1", since=T0, epoch=1)
    assert running(elsewhere)["state"] == "unknown"
    assert running(None)["state"] == "stopped"


def test_a_strategy_trading_two_quote_currencies_shows_a_figure_in_each() -> None:
    state = EngineState()
    eth_usdt, eth_btc = InstrumentId("binance-a", "ETH/USDT"), InstrumentId("binance-a", "ETH/BTC")
    fill_order(state, 1, eth_btc, Side.BUY, "2", "0.05", fee="0.0001")  # the first fill is BTC-quoted
    fill_order(state, 2, eth_usdt, Side.BUY, "1", "3000", ts=T0 + timedelta(minutes=1))
    fill_order(state, 3, eth_usdt, Side.SELL, "1", "3100", fee="1", ts=T0 + timedelta(minutes=2))
    pnl = strategy_pnl(state)["mm"]
    assert list(pnl) == ["BTC", "USDT"]
    assert Decimal(pnl["BTC"]["pnl"]) == Decimal("-0.0001") and Decimal(pnl["USDT"]["pnl"]) == Decimal("99")
    data = {"ha": {"role": "single", "lease_ttl_s": 2.0},
            "journal": {"backend": "sqlite", "last_seq": 12, "epoch": 1, "snapshot_seq": None,
                        "state_hash": "ab" * 16, "holder": None},
            "orders": {"by_state": {}, "open": []}, "fills": 3, "positions": {}, "balances": {},
            "reconcile_differences": {}, "degradation": {"level": "normal", "reason": "x", "since": None},
            "pnl": {"mm": pnl}}
    lines = [line for line in render(data).splitlines() if line.startswith("pnl")]
    assert lines == [
        "pnl       mm           -0.00010000 BTC  (realized +0.00 BTC, unrealized +0.00 BTC at the last fill, "
        "fees 0.00010000 BTC)",
        "pnl       mm           +99.00 USDT  (realized +100.00 USDT, unrealized +0.00 USDT at the last fill, "
        "fees 1.00 USDT)"]
    data["pnl"] = {"mm": {"quote": "USDT", "realized": "2", "unrealized": "0", "fees": "0", "pnl": "2"}}  # older
    assert "pnl       mm           +2.00 USDT" in render(data)
