"""Filled orders leave the live state with their fills (`OrdersArchived`, issue 17 item 4): replay from
a snapshot equals the full fold, every figure equals the full history's (portfolio, strategy PnL, the
daily loss day, balances), `nonstop status` still counts every fill, exports still list the archived
fills (read from the journal), `journal inspect` still shows an archived filled order, and a trading
run against the simulator keeps the live state bounded."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from nonstop import exports, status
from nonstop.config import load_settings
from nonstop.execution.archive import ARCHIVE_AFTER
from nonstop.execution.recorder import Recorder
from nonstop.journal import Durability, SQLiteJournal, replay
from nonstop.model import (
    Balance,
    BalanceSnapshot,
    ClientOrderId,
    EngineState,
    Event,
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
from nonstop.risk.daily_loss import DailyPnl
from nonstop.routing.portfolio import portfolio_of
from nonstop.status_figures import current_balances, strategy_pnl
from tests.enginekit import rig
from tests.simkit import running_sim

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
NOW = T0 + ARCHIVE_AFTER + timedelta(hours=1)  # a day later: the old orders are due
BTC = InstrumentId("binance-a", "BTC/USDT")


def cid(seq: int) -> ClientOrderId:
    return ClientOrderId.build("a1", "mm", seq)


def traded(seq: int, ts: datetime, side: Side, price: str, qty: str = "1") -> list[Event]:
    """An order placed, accepted and filled whole (in two executions)."""
    c, half = cid(seq), Decimal(qty) / 2
    events: list[Event] = [
        OrderIntent(ts=ts, client_order_id=c, instrument_id=BTC, side=side, order_type=OrderType.LIMIT,
                    quantity=Decimal(qty), price=Decimal(price)),
        OrderSubmitted(ts=ts, client_order_id=c),
        OrderAccepted(ts=ts, client_order_id=c, venue_order_id=VenueOrderId(f"v{seq}")),
    ]
    for n in range(2):
        events.append(OrderFilled(ts=ts + timedelta(seconds=n), client_order_id=c, trade_id=TradeId(f"t{seq}-{n}"),
                                  price=Decimal(price) + n, quantity=half, fee=Decimal("0.05"), fee_asset="USDT",
                                  liquidity=Liquidity.MAKER))
    return events


def balances_seen(state: EngineState, ts: datetime) -> BalanceSnapshot:
    """The reconciler's snapshot: its balances contain every fill so far."""
    return BalanceSnapshot(ts=ts, venue=BTC.venue, balances=(Balance("USDT", Decimal(5000), Decimal(0)),
                                                             Balance("BTC", Decimal(2), Decimal(0))),
                           includes=tuple(state.balance_pending.get(BTC.venue, ())))


async def _journal(path: Path) -> Recorder:
    """Six filled orders a day ago (buys and sells at several prices) and a balance snapshot that saw
    them; one filled order now; a snapshot archives the old six; then a tail with a fill after it."""
    journal = SQLiteJournal(path, durability=Durability.FSYNC)
    await journal.open()
    recorder = Recorder(journal, await replay(journal), 1)
    for seq, (side, price) in enumerate([(Side.BUY, "100"), (Side.BUY, "104"), (Side.SELL, "110"),
                                         (Side.SELL, "97"), (Side.SELL, "95"), (Side.BUY, "101")], 1):
        await recorder.record(*traded(seq, T0 + timedelta(minutes=seq), side, price))
    await recorder.record(balances_seen(recorder.state, T0 + timedelta(hours=1)))
    await recorder.record(*traded(7, NOW, Side.BUY, "120"))
    await recorder.snapshot()
    await recorder.record(*traded(8, NOW + timedelta(minutes=1), Side.SELL, "125", "3"))
    return recorder


def _figures(state: EngineState) -> dict[str, object]:
    mark = {BTC: Decimal("123")}
    return {"positions": state.positions, "portfolio": portfolio_of(state).to_dict({BTC.symbol: Decimal(123)}),
            "pnl": strategy_pnl(state), "balances": current_balances(state),
            "daily": DailyPnl(state, NOW).pnl(NOW, mark.get)}


async def test_filled_orders_are_archived_and_replay_and_figures_are_unchanged(tmp_path: Path) -> None:
    recorder = await _journal(tmp_path / "j.sqlite")
    journal = recorder.journal
    try:
        state = recorder.state
        assert sorted(state.orders) == [cid(7).value, cid(8).value]  # the six old filled orders left
        assert len(state.fills) == 4 and state.carried.fills == 12 and state.archived_orders == 6
        snapshot = await journal.latest_snapshot()
        assert snapshot is not None and snapshot.seq < state.last_seq and snapshot.state.carried.fills == 12
        full, from_snapshot = await replay(journal, use_snapshot=False), await replay(journal)
        assert full.canonical_json() == from_snapshot.canonical_json() == state.canonical_json()
        history = await replay(journal, history=True)  # nothing archived: the full fill history
        assert len(history.fills) == 16 and not history.carried.fills
        assert _figures(state) == _figures(from_snapshot) == _figures(history)
        assert portfolio_of(state).position(BTC.venue, BTC.symbol).realized != 0  # the figures are not trivial
    finally:
        await journal.close()


def test_status_exports_and_journal_inspect_still_see_archived_fills(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"

    async def build() -> None:
        recorder = await _journal(path)
        await recorder.journal.close()

    asyncio.run(build())
    config = tmp_path / "engine.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[engine.journal]\npath = "{path}"\n')
    settings = load_settings(config)
    fills = asyncio.run(exports.collect(settings, "fills", None, None))
    assert len(fills) == 16 and {r["client_order_id"] for r in fills} == {cid(s).value for s in range(1, 9)}
    shown = asyncio.run(status.collect(settings))
    assert shown["fills"] == 16
    assert shown["pnl"] == strategy_pnl(asyncio.run(_history(path)))
    out = subprocess.run([sys.executable, "-m", "nonstop.cli", "journal", "inspect", "--config", str(config),
                          "--client-order-id", cid(2).value, "--json"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    types = [json.loads(line)["type"] for line in out.stdout.splitlines()]
    assert types == ["OrderIntent", "OrderSubmitted", "OrderAccepted", "OrderFilled", "OrderFilled",
                     "OrdersArchived"]


async def _history(path: Path) -> EngineState:
    async with SQLiteJournal(path, durability=Durability.FSYNC) as journal:
        return await replay(journal, history=True)


async def test_a_trading_run_keeps_the_live_state_bounded(tmp_path: Path) -> None:
    """Real orders filled by the simulator, reconciled and archived round after round: the live state
    stays at one round's orders and fills while the history grows, and the figures stay the history's."""
    async with running_sim(venues=1, endpoints=1) as sim, rig(sim, tmp_path / "j.sqlite") as r:
        r.recorder.archive_after = timedelta(0)  # accelerated: finished orders go at the next pass
        live: list[tuple[int, int]] = []
        for _ in range(6):
            for side in (Side.BUY, Side.SELL, Side.BUY):
                await r.manager.place("mm", r.btc, side, Decimal("0.001"), order_type=OrderType.MARKET)
            await r.reconciler.reconcile("alpha", [r.btc])  # the balance snapshot sees the fills
            await r.recorder.archive_finished()
            live.append((len(r.recorder.state.orders), len(r.recorder.state.fills)))
        state = r.recorder.state
        assert state.archived_orders == 18 and state.carried.fills >= 18
        assert max(live) <= (3, 9) and len(state.orders) == 0 == len(state.fills)  # nothing accumulates
        assert not r.manager.venue_ids.by_id and not r.manager.venue_ids.finished  # the index follows the state
        history = await replay(r.journal, history=True)
        assert len(history.orders) == 18 and len(history.fills) == state.carried.fills
        assert portfolio_of(state).to_dict() == portfolio_of(history).to_dict()
        assert strategy_pnl(state) == strategy_pnl(history)
        assert (await replay(r.journal, use_snapshot=False)).canonical_json() == state.canonical_json()
