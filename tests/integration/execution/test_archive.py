"""Finished orders leave the live state (`OrdersArchived`) and stay in the journal: replay from a
snapshot equals the full fold, an archived client id is never reused, a late report for an archived
order is not recorded, and `journal inspect`, history replay and exports still find the order."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from nonstop.errors import IllegalTransition, ModelError
from nonstop.execution.archive import ARCHIVE_AFTER
from nonstop.execution.recorder import Recorder
from nonstop.exports import order_rows
from nonstop.journal import Durability, SQLiteJournal, replay
from nonstop.model import (
    AlertRecorded,
    ClientOrderId,
    EngineState,
    Event,
    InstrumentId,
    Liquidity,
    OrderCanceled,
    OrderFilled,
    OrdersArchived,
    Side,
    TradeId,
)
from tests.journalkit import order_lifecycle

T0 = datetime(2026, 11, 1, tzinfo=UTC)
BTC = InstrumentId("binance-a", "BTC/USDT")


def cid(seq: int) -> ClientOrderId:
    return ClientOrderId.build("a1", "mm", seq)


def lifecycle(seq: int, ts: datetime, *, fill: bool, cancel: bool = True) -> list[Event]:
    """An order's events: placed and accepted; then filled, or canceled, or left open."""
    return order_lifecycle(cid(seq), BTC, ts, side=Side.BUY, quantity=Decimal("1"), price=Decimal("100"),
                           venue_order_id=f"v{seq}", trade_id=f"t{seq}" if fill else None, fee=Decimal("0.1"),
                           cancel=cancel)


async def _archived_journal(path: Path) -> Recorder:
    """Orders 1-6 a day and more ago (odd: canceled unfilled, even: filled), 7 canceled just now,
    8 still open; a snapshot archives 1, 3, 5; then a tail of more records."""
    journal = SQLiteJournal(path, durability=Durability.FSYNC)
    await journal.open()
    recorder = Recorder(journal, await replay(journal), 1)
    old = T0
    for seq in range(1, 7):
        await recorder.record(*lifecycle(seq, old, fill=seq % 2 == 0))
    now = old + ARCHIVE_AFTER + timedelta(minutes=1)
    await recorder.record(*lifecycle(7, now, fill=False))
    await recorder.record(*lifecycle(8, now, fill=False, cancel=False))
    await recorder.snapshot()
    await recorder.record(*lifecycle(9, now, fill=True), AlertRecorded(ts=now, key="k", level="info",
                                                                       transition="raised"))
    return recorder


async def test_archived_orders_leave_the_state_and_replay_from_a_snapshot_equals_the_full_fold(
    tmp_path: Path,
) -> None:
    recorder = await _archived_journal(tmp_path / "j.sqlite")
    journal = recorder.journal
    try:
        state = recorder.state
        assert sorted(state.orders) == sorted(cid(s).value for s in (2, 4, 6, 7, 8, 9))
        assert state.archived_orders == 3 and state.archived_seq == {"a1": 5}
        assert len(state.fills) == 4  # fills are never archived
        snapshot = await journal.latest_snapshot()
        assert snapshot is not None and snapshot.seq < state.last_seq  # there is a tail after it
        full, from_snapshot = await replay(journal, use_snapshot=False), await replay(journal)
        assert full.state_hash() == from_snapshot.state_hash() == state.state_hash()
        assert EngineState.from_dict(json.loads(state.canonical_json())) == state  # the archive survives a snapshot
        history = await replay(journal, history=True)
        assert sorted(o.client_order_id.seq for o in history.orders.values()) == list(range(1, 10))
        assert {r["client_order_id"] for r in order_rows(history, None, None)} >= {cid(1).value, cid(3).value}
    finally:
        await journal.close()


async def test_an_archived_client_order_id_is_never_used_again(tmp_path: Path) -> None:
    recorder = await _archived_journal(tmp_path / "j.sqlite")
    try:
        for seq in (3, 1):  # archived, and below the watermark
            with pytest.raises(IllegalTransition, match="archived"):
                await recorder.record(lifecycle(seq, T0, fill=False)[0])
        with pytest.raises(IllegalTransition):  # the fold itself refuses it too (replay of a foreign write)
            recorder.state.copy().apply(lifecycle(5, T0, fill=False)[0])
        assert recorder.state.max_order_seq("a1") == 9  # the id factory is seeded above every used id
    finally:
        await recorder.journal.close()


async def test_a_late_report_for_an_archived_order_is_not_recorded(tmp_path: Path) -> None:
    recorder = await _archived_journal(tmp_path / "j.sqlite")
    try:
        last = recorder.state.last_seq
        late = OrderFilled(ts=T0, client_order_id=cid(1), trade_id=TradeId("late"), price=Decimal("100"),
                           quantity=Decimal("1"), fee=Decimal(0), fee_asset="USDT", liquidity=Liquidity.TAKER)
        assert await recorder.record(late, OrderCanceled(ts=T0, client_order_id=cid(3))) == []
        assert recorder.state.last_seq == await recorder.journal.last_seq() == last
    finally:
        await recorder.journal.close()


async def test_an_order_that_trades_again_before_its_archive_record_is_folded_stays(tmp_path: Path) -> None:
    async with SQLiteJournal(tmp_path / "j.sqlite", durability=Durability.FSYNC) as journal:
        recorder = Recorder(journal, await replay(journal), 1)
        await recorder.record(*lifecycle(1, T0, fill=False), *lifecycle(2, T0, fill=False))
        late = OrderFilled(ts=T0, client_order_id=cid(1), trade_id=TradeId("t"), price=Decimal("100"),
                           quantity=Decimal("0.5"), fee=Decimal(0), fee_asset="USDT", liquidity=Liquidity.TAKER)
        archive = OrdersArchived(ts=T0, client_order_ids=(cid(1).value, cid(2).value))
        blocker = asyncio.create_task(recorder.record(AlertRecorded(ts=T0, key="k", level="info",
                                                                    transition="raised")))
        # the late fill and the archive record share a batch: only order 2 is still archivable
        results = await asyncio.gather(recorder.record(late), recorder.record(archive))
        await blocker
        assert results[0] == [late]
        assert isinstance(results[1][0], OrdersArchived) and results[1][0].client_order_ids == (cid(2).value,)
        assert sorted(recorder.state.orders) == [cid(1).value]
        assert recorder.state.state_hash() == (await replay(journal, use_snapshot=False)).state_hash()
        with pytest.raises(ModelError):  # the fold refuses to archive an order with fills
            recorder.state.copy().apply(OrdersArchived(ts=T0, client_order_ids=(cid(1).value,)))


def test_journal_inspect_still_shows_an_archived_order(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"

    async def build() -> None:
        recorder = await _archived_journal(path)
        await recorder.journal.close()

    asyncio.run(build())
    config = tmp_path / "engine.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[engine.journal]\npath = "{path}"\n')
    out = subprocess.run([sys.executable, "-m", "nonstop.cli", "journal", "inspect", "--config", str(config),
                          "--client-order-id", cid(3).value, "--json"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    types = [json.loads(line)["type"] for line in out.stdout.splitlines()]
    assert types == ["OrderIntent", "OrderSubmitted", "OrderAccepted", "OrderCancelRequested", "OrderCanceled",
                     "OrdersArchived"]
